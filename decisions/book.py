"""The applications a policy is judged on: a history prepared once, decided by any policy.

The optimiser, ``policy compare`` and the constraint checks all need the same thing: every
application of a history decided by a candidate policy with the real engine
(`decisions.engine.decide_outcome`; the rules evaluated once, since they do not change),
and the portfolio that results -- approval rate, bad rate, expected loss, profit and the
fair-lending screen. Labels are used where they exist; an application without one (the
declined, in a history logged under a real policy) counts with its PD, the model's best
estimate of the label nobody observed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from decisions.backtest import UnevaluableError, find_gaps, without
from decisions.engine import APPROVE, decide_outcome
from decisions.errors import BacktestError
from decisions.fairness import MIN_BAND_APPLICATIONS, adverse_impact, age_band
from decisions.history import with_application_fields
from decisions.policy import Policy
from decisions.profit import ProfitModel, loan_profit, loss_at_default
from decisions.rules import SCORE_VARS, RuleHit, RuleSet

if TYPE_CHECKING:
    import pandas as pd


#: scores a history may lack (a fraud model not yet trained; the online anomaly model has no
#: offline score): their cutoffs then never apply, and `Book.missing_scores` says so
OPTIONAL_SCORES = ("fraud_probability", "anomaly_score")


@dataclass(frozen=True)
class Book:
    """Prepared history: one entry per application, in the frame's order."""

    rows: list[dict[str, Any]]  # application fields, features and scores
    scores: list[dict[str, Any]]
    hits: list[list[RuleHit]]  # enabled rules' hits
    ruleset: RuleSet
    product: np.ndarray  # str
    pd: np.ndarray
    label: np.ndarray  # 0/1, NaN when not known
    band: list[str | None]
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> rows
    skipped_rules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: scores the history lacks: the policy's cutoffs on them never apply (say so)
    missing_scores: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def bad(self) -> np.ndarray:
        """The label where known, else the PD (the best estimate of each outcome)."""
        return np.where(np.isnan(self.label), self.pd, self.label)

    @property
    def labelled_share(self) -> float:
        return float(np.mean(~np.isnan(self.label))) if len(self.label) else 0.0


def prepare_book(df: pd.DataFrame, ruleset: RuleSet, *, skip_unevaluable: bool = False,
                 label: str = "label_default") -> Book:
    """A history frame (feature columns, ``pd``, application fields or the features they are
    rebuilt from, ``age_band`` or ``date_of_birth``, labels) as a `Book`.

    Rows without a PD or a logged feature vector are left out and counted; rules the
    history cannot feed are refused (`UnevaluableError`) or, with ``skip_unevaluable``,
    left out and listed."""
    if len(df) == 0:
        raise BacktestError("the history has no rows; check the file or the time range")
    if "pd" not in df.columns:
        raise BacktestError("the history has no pd column: score it with a PD model first "
                            "(--model), or read decisions from ClickHouse")
    df, rebuilt = with_application_fields(df)
    left_out = {"no logged feature vector": rebuilt.without_vector} if rebuilt.without_vector \
        else {}
    no_pd = df["pd"].isna().to_numpy()
    if no_pd.any():
        left_out["no PD (cold start)"] = int(no_pd.sum())
        df = df[~no_pd].reset_index(drop=True)
    gaps = find_gaps(df.columns, ruleset, None, Policy.default(), rebuilt.partial)
    lacking = [g for g in gaps.policy if g not in OPTIONAL_SCORES]
    if lacking:
        raise BacktestError(f"the history cannot feed the policy: it lacks "
                            f"{', '.join(lacking)}")
    if gaps.candidate and not skip_unevaluable:
        raise UnevaluableError(f"the history has no column for what these rules read: "
                               f"{gaps.describe()}; give a history with them or skip them "
                               "explicitly (--skip-unevaluable)")
    ruleset = without(ruleset, gaps.candidate)
    rows = df.to_dict("records")
    score_cols = [c for c in SCORE_VARS if c in df.columns]
    scores = [{c: row[c] for c in score_cols} for row in rows]
    hits = [ruleset.evaluate(ruleset.context_for(row, row, s)) for row, s in zip(rows, scores,
                                                                                 strict=True)]
    return Book(rows, scores, hits, ruleset, df["product"].astype(str).to_numpy(),
                df["pd"].astype("float64").to_numpy(), _labels(df, label), _bands(df),
                left_out, dict(gaps.candidate),
                tuple(g for g in gaps.policy if g in OPTIONAL_SCORES))


def _labels(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return np.asarray(df[name].astype("float64").to_numpy(), dtype=np.float64)


def _bands(df: pd.DataFrame) -> list[str | None]:
    """The age band of each row: the logged ``age_band``, or from ``date_of_birth``."""
    if "age_band" in df.columns:
        return [b if isinstance(b, str) and b else None for b in df["age_band"]]
    if "date_of_birth" in df.columns and "event_time" in df.columns:
        return [age_band(d if isinstance(d, str) else None, int(t))
                for d, t in zip(df["date_of_birth"], _epoch_ms(df["event_time"]), strict=True)]
    return [None] * len(df)


def _epoch_ms(col: Any) -> list[int]:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(col):
        return [int(x) for x in col.astype("int64") // 1_000_000]
    return [int(x) for x in col]


@dataclass(frozen=True)
class Decided:
    """Every application of a book decided by one policy."""

    policy_version: str
    decision: np.ndarray  # APPROVE / REVIEW / DECLINE
    amount: np.ndarray  # offered (0 when not approved)
    apr: np.ndarray
    term: np.ndarray
    kind: np.ndarray  # offer kind of the product (card, loan, bnpl)

    @property
    def approved(self) -> np.ndarray:
        return np.asarray(self.decision == APPROVE)


def decide_book(book: Book, policy: Policy) -> Decided:
    """``policy`` on every application of ``book``, with the real engine (no lists)."""
    n = len(book)
    decision = np.empty(n, dtype=object)
    amount, apr, term = np.zeros(n), np.zeros(n), np.zeros(n)
    for i, (row, s, h) in enumerate(zip(book.rows, book.scores, book.hits, strict=True)):
        out = decide_outcome(book.ruleset, policy, row, row, s, [], rule_hits=h)
        decision[i] = out.decision
        if out.offer is not None:
            amount[i], apr[i], term[i] = (out.offer["amount"], out.offer["apr"],
                                          out.offer["term_months"])
    kinds = {p: policy.for_product(p).offer.kind for p in set(book.product.tolist())}
    kind = np.array([kinds[p] for p in book.product], dtype=object)
    return Decided(policy.version, decision, amount, apr, term, kind)


@dataclass(frozen=True)
class Portfolio:
    """What a policy books from a history (``bad``: labels where known, else the PD)."""

    applications: int
    approvals: int
    approval_rate: float
    bad_rate: float | None  # best estimate
    model_bad_rate: float | None  # mean PD of the approved
    observed_bad_rate: float | None  # labelled approvals only
    labelled_approvals: int
    exposure: float
    expected_loss_rate: float | None  # sum PD x LGD x EAD / exposure
    profit: float  # best estimate: realised where labelled, expected elsewhere
    expected_profit: float
    adverse_impact: dict[str, dict[str, float | None]]  # product -> band -> ratio

    @property
    def min_adverse_impact(self) -> float | None:
        ratios = [r for r in map(self.product_adverse_impact, self.adverse_impact)
                  if r is not None]
        return min(ratios) if ratios else None

    def product_adverse_impact(self, product: str) -> float | None:
        """The worst screened band's ratio for ``product``."""
        ratios = [r for r in self.adverse_impact.get(product, {}).values() if r is not None]
        return min(ratios) if ratios else None

    def record(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {
            "min_adverse_impact": self.min_adverse_impact}


def profits(book: Book, d: Decided, profit: ProfitModel, bad: np.ndarray) -> np.ndarray:
    """Each approved loan's profit with ``bad`` (PD or label) as its default; 0 elsewhere."""
    out = np.zeros(len(book))
    for p in set(book.product.tolist()):
        m = (book.product == p) & d.approved
        if m.any():
            out[m] = loan_profit(profit.economics(p), str(d.kind[m][0]), bad[m], d.amount[m],
                                 d.apr[m], d.term[m])
    return out


def portfolio(book: Book, d: Decided, profit: ProfitModel, mask: np.ndarray | None = None,
              min_band: int = MIN_BAND_APPLICATIONS) -> Portfolio:
    """The figures of the applications in ``mask`` (default all) under decisions ``d``."""
    m = np.ones(len(book), dtype=bool) if mask is None else mask
    ok = d.approved & m
    n, k = int(m.sum()), int(ok.sum())
    bad = book.bad
    labelled = ok & ~np.isnan(book.label)
    el = np.zeros(len(book))
    for p in set(book.product[ok].tolist()):
        pm = ok & (book.product == p)
        el[pm] = book.pd[pm] * loss_at_default(profit.economics(p), d.amount[pm])
    exposure = float(d.amount[ok].sum())
    air = {p: adverse_impact(d.approved[m & (book.product == p)],
                             [b for b, keep in zip(book.band, m & (book.product == p),
                                                   strict=True) if keep], min_band)
           for p in sorted(set(book.product[m].tolist()))}
    return Portfolio(
        applications=n, approvals=k, approval_rate=k / n if n else 0.0,
        bad_rate=float(bad[ok].mean()) if k else None,
        model_bad_rate=float(book.pd[ok].mean()) if k else None,
        observed_bad_rate=float(book.label[labelled].mean()) if labelled.any() else None,
        labelled_approvals=int(labelled.sum()), exposure=exposure,
        expected_loss_rate=float(el.sum() / exposure) if exposure > 0 else None,
        profit=float(profits(book, d, profit, bad)[ok].sum()),
        expected_profit=float(profits(book, d, profit, book.pd)[ok].sum()),
        adverse_impact=air,
    )


@dataclass(frozen=True)
class Constraints:
    """What an optimised policy must meet on the history (None: not constrained)."""

    max_bad_rate: float | None = None
    min_approval_rate: float | None = None
    max_expected_loss_rate: float | None = None
    min_adverse_impact: float = 0.8
    #: product -> a lower floor for the screen (``no_worse_than``), else min_adverse_impact
    adverse_impact_floors: Mapping[str, float] = field(default_factory=dict)

    def air_floor(self, product: str) -> float:
        return self.adverse_impact_floors.get(product, self.min_adverse_impact)

    def no_worse_than(self, base: Portfolio) -> Constraints:
        """The screen at ``min_adverse_impact`` for every product the base policy passes,
        and no worse than the base policy's ratio for a product it fails: never less fair
        than today, the four-fifths screen wherever today's policy meets it."""
        floors = {p: min(self.min_adverse_impact, r) for p in base.adverse_impact
                  if (r := base.product_adverse_impact(p)) is not None}
        return replace(self, adverse_impact_floors=floors)

    def check(self, f: Portfolio) -> list[tuple[str, float | None, float, bool]]:
        """(constraint, value, limit, met) for each constraint set."""
        out: list[tuple[str, float | None, float, bool]] = []
        limits: dict[str, tuple[float | None, float | None, bool]] = {
            "bad rate ≤": (self.max_bad_rate, f.bad_rate, True),
            "approval rate ≥": (self.min_approval_rate, f.approval_rate, False),
            "expected loss rate ≤": (self.max_expected_loss_rate, f.expected_loss_rate, True),
        }
        for p in sorted(f.adverse_impact):
            limits[f"{p} adverse impact ratio ≥"] = (self.air_floor(p),
                                                     f.product_adverse_impact(p), False)
        for name, (limit, value, upper) in limits.items():
            if limit is None:
                continue
            met = value is None or (value <= limit + 1e-12 if upper else value >= limit - 1e-12)
            out.append((name, value, limit, met))
        return out


def products_of(book: Book) -> Collection[str]:
    return sorted(set(book.product.tolist()))
