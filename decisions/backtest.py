"""Backtest a rules file on history before it ships.

Input: one row per application (Parquet/CSV/ClickHouse) with feature columns,
application columns (``product``, ``annual_income``...), score columns
(``pd``, ``fraud_probability``, ``anomaly_score``, ``scorecard_points``) where
present, and labels ``label_default`` / ``label_fraud`` where known (null =
not yet known; those rows count for hits but not for bad/fraud rates).

Per rule (disabled rules too, so a rule can be measured before enabling it):
hits and hit rate, bad and fraud rate among hits, and overlap (share of its
hits that some other enabled rule also hits). Overall: approval rate under the
candidate and under the current rules and the change. With a policy the
approval rate is the full decision (rules + policy + offer, no lists);
without, it is the share of rows no enabled decline/review rule hits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from decisions.engine import APPROVE, decide_outcome
from decisions.errors import BacktestError
from decisions.policy import Policy
from decisions.rules import _BUREAU, SCORE_VARS, RuleHit, RuleSet

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class BacktestResult:
    rows: int
    per_rule: pd.DataFrame  # one row per rule of the candidate
    co_hits: pd.DataFrame  # rule x rule counts of rows both hit
    candidate_version: str
    current_version: str | None
    candidate_approval_rate: float
    current_approval_rate: float | None
    mode: str  # "policy" or "rules-only"
    # rule id -> names its condition reads that the history has no column for: such a
    # rule (with missing: skip) cannot hit, so its numbers say nothing about it
    missing_inputs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def approval_rate_change(self) -> float | None:
        if self.current_approval_rate is None:
            return None
        return self.candidate_approval_rate - self.current_approval_rate

    def record(self) -> dict[str, Any]:
        """Every figure as plain JSON-able values (NaN as None), for scripts."""
        def clean(v: Any) -> Any:
            if hasattr(v, "item"):  # numpy scalars
                v = v.item()
            return None if isinstance(v, float) and v != v else v

        return {
            "candidate_version": self.candidate_version,
            "current_version": self.current_version,
            "rows": self.rows,
            "mode": self.mode,
            "candidate_approval_rate": self.candidate_approval_rate,
            "current_approval_rate": self.current_approval_rate,
            "approval_rate_change": self.approval_rate_change,
            "rules": [{k: clean(v) for k, v in r.items()}
                      for r in self.per_rule.to_dict("records")],
            "missing_inputs": {k: list(v) for k, v in self.missing_inputs.items()},
        }


def missing_inputs(rules: RuleSet, columns: Collection[str]) -> dict[str, tuple[str, ...]]:
    """Per rule, the names its condition reads that no column of the history provides
    (a column of that name, ``customer_id`` for ``has_customer_id``, or a ``bureau``
    column for the ``bureau_*`` fields, as `RuleSet.context_for` reads them)."""
    have = set(columns)

    def provided(name: str) -> bool:
        if name in have:
            return True
        if name == "has_customer_id":
            return "customer_id" in have
        return name.startswith("bureau_") and name[7:] in _BUREAU and "bureau" in have

    out = {r.id: tuple(v for v in r.variables if not provided(v)) for r in rules.rules}
    return {rid: names for rid, names in out.items() if names}


def backtest(
    df: pd.DataFrame,
    candidate: RuleSet,
    current: RuleSet | None = None,
    policy: Policy | None = None,
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Evaluate ``candidate`` (and ``current``) on every row of ``df``.

    ``progress`` is called with the number of rows done every 1,000 rows.
    """
    import numpy as np
    import pandas as pd

    if len(df) == 0:
        raise BacktestError("backtest input has no rows; check the file or the time range")
    if policy is not None and "product" not in df.columns:
        raise BacktestError("a policy backtest needs a 'product' column; pass no policy for "
                            "a rules-only backtest")
    hit_matrix, cand_ok, cur_ok = _run_rows(df, candidate, current, policy, progress)
    ids = [r.id for r in candidate.rules]
    m = hit_matrix.astype(np.int64)
    co = pd.DataFrame(m.T @ m, index=ids, columns=ids)
    return BacktestResult(
        rows=len(df),
        per_rule=pd.DataFrame.from_records(_per_rule(df, candidate, hit_matrix)),
        co_hits=co,
        candidate_version=candidate.version,
        current_version=current.version if current is not None else None,
        candidate_approval_rate=float(cand_ok.mean()),
        current_approval_rate=float(cur_ok.mean()) if current is not None else None,
        mode="policy" if policy is not None else "rules-only",
        missing_inputs=missing_inputs(candidate, df.columns),
    )


def _run_rows(
    df: pd.DataFrame, candidate: RuleSet, current: RuleSet | None, policy: Policy | None,
    progress: Callable[[int], None] | None,
) -> tuple[Any, Any, Any]:
    """Per row: which candidate rules hit (disabled ones too, one column per rule), and
    whether the candidate and the current rules approve."""
    import numpy as np

    col = {r.id: i for i, r in enumerate(candidate.rules)}
    hit_matrix = np.zeros((len(df), len(col)), dtype=bool)
    cand_ok = np.zeros(len(df), dtype=bool)
    cur_ok = np.zeros(len(df), dtype=bool)
    enabled = {r.id for r in candidate.enabled}
    score_cols = [c for c in SCORE_VARS if c in df.columns]
    for i, row in enumerate(df.to_dict("records")):
        scores = {c: row[c] for c in score_cols}
        ctx = candidate.context_for(row, row, scores)
        all_hits = candidate.evaluate(ctx, include_disabled=True)
        for h in all_hits:
            hit_matrix[i, col[h.rule_id]] = True
        live = [h for h in all_hits if h.rule_id in enabled]
        cand_ok[i] = _approved(candidate, policy, row, scores, live)
        if current is not None:
            cur_hits = current.evaluate(current.context_for(row, row, scores))
            cur_ok[i] = _approved(current, policy, row, scores, cur_hits)
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1)
    return hit_matrix, cand_ok, cur_ok


def _per_rule(df: pd.DataFrame, candidate: RuleSet, hit_matrix: Any) -> list[dict[str, Any]]:
    """Hits, rates among hits and overlap with the other enabled rules, rule by rule."""
    import numpy as np

    n = len(df)
    bad = _label(df, "label_default")
    fraud = _label(df, "label_fraud")
    enabled_cols = [j for j, r in enumerate(candidate.rules) if r.spec.enabled]
    records: list[dict[str, Any]] = []
    for j, r in enumerate(candidate.rules):
        hits = hit_matrix[:, j]
        others = [k for k in enabled_cols if k != j]
        overlap_rows = hit_matrix[:, others].any(axis=1) & hits if others else hits & False
        k = int(hits.sum())
        records.append({
            "rule_id": r.id,
            "action": r.spec.action,
            "category": r.spec.category,
            "enabled": r.spec.enabled,
            "hits": k,
            "hit_rate": k / n,
            "bad_rate": _rate(bad, hits),
            "bad_labelled": int((hits & ~np.isnan(bad)).sum()),
            "fraud_rate": _rate(fraud, hits),
            "fraud_labelled": int((hits & ~np.isnan(fraud)).sum()),
            "overlap": (int(overlap_rows.sum()) / k) if k else None,
        })
    return records


def _approved(
    ruleset: RuleSet, policy: Policy | None, row: dict[str, Any], scores: dict[str, Any],
    hits: list[RuleHit],
) -> bool:
    if policy is None:
        return not any(h.action in ("decline", "review") for h in hits)
    out = decide_outcome(ruleset, policy, row, row, scores, [], rule_hits=hits)
    return out.decision == APPROVE


def _label(df: pd.DataFrame, name: str) -> Any:
    import numpy as np

    if name not in df.columns:
        return np.full(len(df), np.nan)
    return df[name].astype("float64").to_numpy()


def _rate(labels: Any, mask: Any) -> float | None:
    import numpy as np

    sel = labels[mask]
    sel = sel[~np.isnan(sel)]
    return float(sel.mean()) if len(sel) else None
