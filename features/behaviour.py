"""Behaviour features of a booked account, from its monthly statements (servicing).

One definition, two computations that must agree (tested on every row):
``window_features(statements)`` for one account's latest statements (the servicing
worker keeps the last ``WINDOW`` per account) and ``frame_features(frame)`` for every
statement of a history at once (the observation-point builder). Both read only
statements up to and including the one scored, never a later one.

Windows count statements, which are monthly: ``worst_dpd_6m`` is the worst days past
due on the last 6 statements including this one; ``utilisation_trend_3m`` and
``balance_trend_3m`` compare with the statement 3 months earlier (missing before);
``payment_ratio`` is the payment on this statement over the minimum due on the one
before (missing on the first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.spec import FeatureDef, FeatureSpec

WINDOW = 12  # statements the longest feature looks at


def _f(name: str, description: str, code: str, text: str, monotone: int = 0,
       default: float | None = None) -> FeatureDef:
    return FeatureDef(name, "float", default, description, "behaviour", code, text, monotone)


BEHAVIOUR_SPEC = FeatureSpec([
    _f("months_on_book", "Statements since the account opened.", "B01",
       "Account opened recently", -1, 0.0),
    _f("days_past_due", "Days past due on this statement.", "B02",
       "Account is past due", 1, 0.0),
    _f("worst_dpd_3m", "Worst days past due on the last 3 statements.", "B03",
       "Recent missed payments", 1, 0.0),
    _f("worst_dpd_6m", "Worst days past due on the last 6 statements.", "B04",
       "Missed payments in the last 6 months", 1, 0.0),
    _f("worst_dpd_12m", "Worst days past due on the last 12 statements.", "B05",
       "Missed payments in the last 12 months", 1, 0.0),
    _f("times_30dpd_12m", "Statements 30+ days past due among the last 12.", "B06",
       "Repeated missed payments", 1, 0.0),
    _f("utilisation", "Balance over limit (cards) or over the amount lent (loans).", "B07",
       "High use of the credit available", 1),
    _f("utilisation_avg_3m", "Mean utilisation over the last 3 statements.", "B08",
       "High use of the credit available", 1),
    _f("utilisation_trend_3m", "Utilisation now minus 3 statements ago.", "B09",
       "Rising use of the credit available", 1),
    _f("payment_ratio", "Payment made over the previous minimum due.", "B10",
       "Payments close to the minimum due", -1),
    _f("payment_ratio_avg_3m", "Mean payment ratio over the last 3 statements.", "B11",
       "Payments close to the minimum due", -1),
    _f("balance_trend_3m", "Balance now over balance 3 statements ago, minus 1.", "B12",
       "Rising balance", 0),
    _f("cash_advance_months_6m", "Statements with a cash advance among the last 6.", "B13",
       "Cash advances taken", 1, 0.0),
    _f("is_card", "1 for a credit card (revolving), 0 for an instalment loan.", "B14",
       "Product type", 0, 0.0),
])
BEHAVIOUR_NAMES = tuple(BEHAVIOUR_SPEC.names)
#: the columns of a statement the features read
STATEMENT_COLUMNS = ("account_id", "month_on_book", "days_past_due", "utilisation", "balance",
                     "minimum_due", "payment_amount", "cash_advance", "product")


@dataclass(frozen=True, slots=True)
class StatementFacts:
    """What the features read of one statement."""

    month_on_book: int
    days_past_due: int
    utilisation: float
    balance: float
    minimum_due: float
    payment_amount: float
    cash_advance: float
    is_card: bool


def _ratio(pay: float, due_before: float) -> float:
    return pay / max(due_before, 1.0)


def window_features(window: Sequence[StatementFacts]) -> dict[str, float]:
    """The features on the last statement of ``window`` (one account, oldest first)."""
    if not window:
        raise ValueError("window_features needs at least one statement")
    w = list(window)[-WINDOW:]
    now = w[-1]
    dpd = [s.days_past_due for s in w]
    ratios = [_ratio(w[i].payment_amount, w[i - 1].minimum_due) for i in range(1, len(w))]
    three_ago = w[-4] if len(w) >= 4 else None
    nan = float("nan")
    return {
        "months_on_book": float(now.month_on_book),
        "days_past_due": float(now.days_past_due),
        "worst_dpd_3m": float(max(dpd[-3:])),
        "worst_dpd_6m": float(max(dpd[-6:])),
        "worst_dpd_12m": float(max(dpd[-12:])),
        "times_30dpd_12m": float(sum(d >= 30 for d in dpd[-12:])),
        "utilisation": float(now.utilisation),
        "utilisation_avg_3m": float(np.mean([s.utilisation for s in w[-3:]])),
        "utilisation_trend_3m": nan if three_ago is None
        else now.utilisation - three_ago.utilisation,
        "payment_ratio": ratios[-1] if ratios else nan,
        "payment_ratio_avg_3m": float(np.mean(ratios[-3:])) if ratios else nan,
        "balance_trend_3m": nan if three_ago is None or three_ago.balance <= 0
        else now.balance / three_ago.balance - 1,
        "cash_advance_months_6m": float(sum(s.cash_advance > 0 for s in w[-6:])),
        "is_card": float(now.is_card),
    }


def facts_from_frame(frame: pd.DataFrame) -> list[StatementFacts]:
    """The rows of a statements frame as `StatementFacts` (in the frame's order)."""
    cols = [frame[c].tolist() for c in STATEMENT_COLUMNS[1:-1]]
    card = (frame["product"] == "CREDIT_CARD").tolist()
    return [StatementFacts(int(m), int(d), float(u), float(b), float(md), float(p), float(c), k)
            for m, d, u, b, md, p, c, k in zip(*cols, card, strict=True)]


def frame_features(statements: pd.DataFrame) -> pd.DataFrame:
    """Every statement's behaviour features (same index as ``statements``), computed per
    account over its earlier statements only."""
    missing = [c for c in STATEMENT_COLUMNS if c not in statements.columns]
    if missing:
        raise ValueError(f"statements lack {missing}; they need {list(STATEMENT_COLUMNS)}")
    st = statements.sort_values(["account_id", "month_on_book"], kind="stable")
    g = st.groupby("account_id", sort=False)
    out = pd.DataFrame(index=st.index)
    dpd = st["days_past_due"].astype(float)
    out["months_on_book"] = st["month_on_book"].astype(float)
    out["days_past_due"] = dpd
    gd = dpd.groupby(st["account_id"], sort=False)
    for k in (3, 6, 12):
        out[f"worst_dpd_{k}m"] = gd.rolling(k, min_periods=1).max().to_numpy()
    thirty = (dpd >= 30).astype(float).groupby(st["account_id"], sort=False)
    out["times_30dpd_12m"] = thirty.rolling(12, min_periods=1).sum().to_numpy()
    util = st["utilisation"].astype(float)
    out["utilisation"] = util
    out["utilisation_avg_3m"] = util.groupby(st["account_id"], sort=False).rolling(
        3, min_periods=1).mean().to_numpy()
    out["utilisation_trend_3m"] = util - g["utilisation"].shift(3)
    ratio = st["payment_amount"] / g["minimum_due"].shift(1).clip(lower=1.0)
    out["payment_ratio"] = ratio
    out["payment_ratio_avg_3m"] = ratio.groupby(st["account_id"], sort=False).rolling(
        3, min_periods=1).mean().to_numpy()
    before = g["balance"].shift(3)
    out["balance_trend_3m"] = (st["balance"] / before - 1).where(before > 0)
    cash = (st["cash_advance"] > 0).astype(float).groupby(st["account_id"], sort=False)
    out["cash_advance_months_6m"] = cash.rolling(6, min_periods=1).sum().to_numpy()
    out["is_card"] = (st["product"] == "CREDIT_CARD").astype(float)
    return out.loc[statements.index, list(BEHAVIOUR_NAMES)]
