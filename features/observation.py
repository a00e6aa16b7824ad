"""Observation-point tables: training rows for the behaviour and collection scores.

An observation point is an account at one of its statements. Its features come from
that statement and the ones before (`features.behaviour.frame_features`); its label
from the statements after it only. ``observation_points`` gives one row per account and
month for accounts open and under 60 days past due (the B-score's population), labelled
``label_bscore`` = 60+ DPD (or charged off) on any of the next ``horizon`` statements;
``delinquency_entries`` one row per account entering 30 DPD with its treatment,
labelled cured (back to current), rolled (60+) and charged off. A row is kept only
when its whole label window is in the data (``_future``: the rule looks at time, never
at the outcome); the others are counted in ``dropped``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.behaviour import BEHAVIOUR_NAMES, BEHAVIOUR_SPEC, frame_features
from features.spec import FeatureDef, FeatureSpec
from schemas.servicing import TREATMENTS

BAD_DPD = 60
TREATMENT_FLAGS = tuple(f"treat_{t.lower()}" for t in TREATMENTS[1:])
#: the collection score's features: behaviour at entry plus the treatment applied, so one
#: model gives P(roll) under each treatment (the policy compares them)
COLLECTION_SPEC = FeatureSpec([
    *BEHAVIOUR_SPEC.defs,
    *(FeatureDef(f, "flag", 0.0, f"1 when the treatment is {t}.", "collections", "C0" + str(i),
                 f"Treatment {t}") for i, (f, t) in enumerate(
                     zip(TREATMENT_FLAGS, TREATMENTS[1:], strict=True), start=1)),
])
#: which feature spec a servicing target is trained on (``loanrisk train --target``)
SPEC_FOR_TARGET = {"label_bscore": BEHAVIOUR_SPEC, "label_rolled": COLLECTION_SPEC,
                   "label_cured": COLLECTION_SPEC, "label_chargeoff": COLLECTION_SPEC}
TERMINAL = ("CHARGED_OFF", "CLOSED")
_KEEP = ("account_id", "application_id", "statement_id", "event_time", "month_on_book",
         "product", "balance", "credit_limit")


@dataclass(frozen=True)
class ObservationTable:
    """Rows with final labels, and how many observation points were left out as not final."""

    rows: pd.DataFrame
    dropped: int


def _future(st: pd.DataFrame, flag: pd.Series, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: did ``flag`` hold on any of the next ``k`` statements of the account, and is
    the whole window in the data? The window is complete when ``k`` more months fit before
    the account's data ends -- its last statement, or for an account that charged off or
    closed, the last month of the data -- so which rows are kept never depends on what
    happened in the window (keeping the rows whose bad event was seen early would)."""
    g = flag.groupby(st["account_id"], sort=False)
    any_ = np.zeros(len(st), bool)
    for j in range(1, k + 1):
        any_ |= g.shift(-j).fillna(False).to_numpy(bool)
    mob = st["month_on_book"]
    last = mob.groupby(st["account_id"], sort=False).transform("max")
    ended = st["status"].isin(TERMINAL).groupby(st["account_id"], sort=False).transform("any")
    data_end = np.where(ended, mob.max(), last)
    return any_, (mob + k <= data_end).to_numpy()


def _first_time(st: pd.DataFrame, flag: pd.Series, k: int) -> np.ndarray:
    """Event time of the first later statement (within ``k``) where ``flag`` holds, else of
    the last statement looked at: when the label became known."""
    t = st["event_time"]
    g = st.groupby("account_id", sort=False)
    known = np.full(len(st), np.nan)
    for j in range(k, 0, -1):
        tj = g["event_time"].shift(-j).to_numpy(float)
        fj = flag.groupby(st["account_id"], sort=False).shift(-j).fillna(False).to_numpy(bool)
        known = np.where(fj, tj, np.where(np.isnan(known), tj, known))
    return np.where(np.isnan(known), t.to_numpy(float), known).astype(np.int64)


def _sorted(statements: pd.DataFrame) -> pd.DataFrame:
    return statements.sort_values(["account_id", "month_on_book"], kind="stable").reset_index(
        drop=True)


def _base(st: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in _KEEP if c in st.columns]
    oracle = [c for c in st.columns if str(c).startswith(("oracle_", "latent_"))]
    return pd.concat([st[keep + oracle], frame_features(st)], axis=1)


def observation_points(statements: pd.DataFrame, horizon: int = 6) -> ObservationTable:
    """B-score rows: open accounts under 60 DPD, label = 60+ DPD within ``horizon``."""
    st = _sorted(statements)
    bad = st["days_past_due"] >= BAD_DPD
    label, final = _future(st, bad, horizon)
    eligible = (~bad & ~st["status"].isin(TERMINAL)).to_numpy()
    rows = _base(st)
    rows["label_bscore"] = label.astype(np.int8)
    rows["label_date"] = _first_time(st, bad, horizon)
    keep = eligible & final
    out = rows[keep].rename(columns={"event_time": "observation_time"})
    out = out.sort_values(["observation_time", "account_id"], kind="stable")
    return ObservationTable(out.reset_index(drop=True), int((eligible & ~final).sum()))


def delinquency_entries(statements: pd.DataFrame, cure_months: int = 3,
                        chargeoff_months: int = 9) -> ObservationTable:
    """Collection rows: accounts entering 30 DPD (a treatment is chosen then), labelled
    ``label_cured`` / ``label_rolled`` within ``cure_months`` and ``label_chargeoff``
    within ``chargeoff_months``; rows whose charge-off label is not final are left out."""
    st = _sorted(statements)
    prev = st.groupby("account_id", sort=False)["days_past_due"].shift(1).fillna(0)
    entry = ((st["days_past_due"] == 30) & (prev == 0)).to_numpy()
    cured, _ = _future(st, st["days_past_due"] == 0, cure_months)
    rolled, _ = _future(st, st["days_past_due"] >= BAD_DPD, cure_months)
    charged, final = _future(st, st["status"] == "CHARGED_OFF", chargeoff_months)
    rows = _base(st)
    treatment = st["treatment"].fillna("NONE").astype(str)
    rows["treatment"] = treatment
    for flag, name in zip(TREATMENT_FLAGS, TREATMENTS[1:], strict=True):
        rows[flag] = (treatment == name).astype(float)
    _actual_oracle(rows, treatment)
    rows["label_cured"] = cured.astype(np.int8)
    rows["label_rolled"] = rolled.astype(np.int8)
    rows["label_chargeoff"] = charged.astype(np.int8)
    keep = entry & final
    out = rows[keep].rename(columns={"event_time": "observation_time"})
    out = out.sort_values(["observation_time", "account_id"], kind="stable")
    return ObservationTable(out.reset_index(drop=True), int((entry & ~final).sum()))


def _actual_oracle(rows: pd.DataFrame, treatment: pd.Series) -> None:
    """``oracle_roll`` etc.: the oracle's probability under the treatment actually given
    (the per-treatment columns stay, for strategy evaluation)."""
    for outcome in ("cure", "roll", "chargeoff"):
        cols = [f"oracle_{outcome}_{t.lower()}" for t in TREATMENTS]
        if not all(c in rows.columns for c in cols):
            continue
        pick = treatment.map({t: i for i, t in enumerate(TREATMENTS)}).fillna(0).astype(int)
        values = rows[cols].to_numpy(float)
        rows[f"oracle_{outcome}"] = values[np.arange(len(rows)), pick.to_numpy()]


__all__ = ["BEHAVIOUR_NAMES", "COLLECTION_SPEC", "SPEC_FOR_TARGET", "ObservationTable",
           "delinquency_entries", "observation_points"]
