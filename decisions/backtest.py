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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from decisions.engine import APPROVE, decide_outcome
from decisions.errors import BacktestError
from decisions.policy import Policy
from decisions.rules import SCORE_VARS, RuleHit, RuleSet

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

    @property
    def approval_rate_change(self) -> float | None:
        if self.current_approval_rate is None:
            return None
        return self.candidate_approval_rate - self.current_approval_rate


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
    ids = [r.id for r in candidate.rules]
    col = {rid: i for i, rid in enumerate(ids)}
    hit_matrix = np.zeros((len(df), len(ids)), dtype=bool)
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

    n = len(df)
    bad = _label(df, "label_default")
    fraud = _label(df, "label_fraud")
    enabled_cols = [col[r] for r in ids if r in enabled]
    records: list[dict[str, Any]] = []
    for r in candidate.rules:
        j = col[r.id]
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
    m = hit_matrix.astype(np.int64)
    co = pd.DataFrame(m.T @ m, index=ids, columns=ids)
    return BacktestResult(
        rows=n,
        per_rule=pd.DataFrame.from_records(records),
        co_hits=co,
        candidate_version=candidate.version,
        current_version=current.version if current is not None else None,
        candidate_approval_rate=float(cand_ok.mean()),
        current_approval_rate=float(cur_ok.mean()) if current is not None else None,
        mode="policy" if policy is not None else "rules-only",
    )


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
