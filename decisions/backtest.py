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

A rule (of the candidate, or enabled in the current set) or a policy whose inputs the
history has no column for would count as never hitting -- a silent zero. ``backtest``
refuses such a history (`UnevaluableError`, naming the rules and the fields) unless told
to ``skip_unevaluable``: then those rules are left out of both sets (and the policy, if
its inputs are missing, so the approval rate is rules-only) and listed in the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from decisions.engine import APPROVE, decide_outcome
from decisions.errors import BacktestError
from decisions.policy import Policy
from decisions.rules import _BUREAU, SCORE_VARS, RuleHit, RuleSet

if TYPE_CHECKING:
    import pandas as pd

#: what the policy reads of a history row besides ``pd`` (or, cold start, ``bureau_score``)
POLICY_INPUTS = ("product", "annual_income", "monthly_debt_payments", "requested_amount",
                 "requested_term_months", "bureau", "fraud_probability", "anomaly_score")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'')


class UnevaluableError(BacktestError):
    """The history lacks what some rules or the policy read; their figures would be zeros."""


@dataclass(frozen=True)
class Gaps:
    """What a history cannot feed: candidate rules, current (enabled) rules and the policy,
    each with the input names it lacks."""

    candidate: dict[str, tuple[str, ...]] = field(default_factory=dict)
    current: dict[str, tuple[str, ...]] = field(default_factory=dict)
    policy: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.candidate or self.current or self.policy)

    def describe(self) -> str:
        """One line per part: ``candidate rules R-020 (requested_amount); policy (...)``."""
        def rules(d: Mapping[str, tuple[str, ...]]) -> str:
            return "; ".join(f"{rid} ({', '.join(names)})" for rid, names in d.items())

        parts = []
        if self.candidate:
            parts.append(f"candidate rules {rules(self.candidate)}")
        if self.current:
            parts.append(f"current rules {rules(self.current)}")
        if self.policy:
            parts.append(f"policy ({', '.join(self.policy)})")
        return "; ".join(parts)


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
    # candidate rule id -> names its condition reads that the history has no column for;
    # such rules were skipped (skip_unevaluable), never reported as zero hits
    missing_inputs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    skipped: Gaps = field(default_factory=Gaps)  # every rule and policy left out, and why

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
            "skipped": {"candidate": {k: list(v) for k, v in self.skipped.candidate.items()},
                        "current": {k: list(v) for k, v in self.skipped.current.items()},
                        "policy": list(self.skipped.policy)},
        }


def missing_inputs(
    rules: RuleSet, columns: Collection[str], partial: Mapping[str, Collection[str]] | None = None,
    enabled_only: bool = False,
) -> dict[str, tuple[str, ...]]:
    """Per rule, the names its condition reads that no column of the history provides
    (a column of that name, ``customer_id`` for ``has_customer_id``, or a ``bureau``
    column for the ``bureau_*`` fields, as `RuleSet.context_for` reads them).

    ``partial``: fields whose column tells only some levels apart (field -> the levels it
    lumps together, `decisions.history.Reconstruction`); a rule comparing such a field
    with a lumped level lacks it too."""
    have = set(columns)
    lumped = partial or {}

    def provided(name: str) -> bool:
        if name in have:
            return True
        if name == "has_customer_id":
            return "customer_id" in have
        return name.startswith("bureau_") and name[7:] in _BUREAU and "bureau" in have

    def lacking(rule: Any) -> tuple[str, ...]:
        out = [v for v in rule.variables if not provided(v)]
        literals = {a or b for a, b in _STRING.findall(rule.spec.condition)}
        for f in rule.variables:
            untold = sorted(literals & set(lumped.get(f, ())))
            if untold:
                out.append(f"{f} ({', '.join(untold)}: not told apart in the logged features)")
        return tuple(out)

    chosen = rules.enabled if enabled_only else rules.rules
    found = {r.id: lacking(r) for r in chosen}
    return {rid: names for rid, names in found.items() if names}


def policy_missing(columns: Collection[str]) -> tuple[str, ...]:
    """The inputs of a policy decision that no column of the history provides."""
    have = set(columns)
    out = [c for c in POLICY_INPUTS if c not in have]
    if "pd" not in have and "bureau_score" not in have:
        out.insert(1, "pd (or bureau_score)")
    return tuple(out)


def find_gaps(
    columns: Collection[str], candidate: RuleSet, current: RuleSet | None,
    policy: Policy | None, partial: Mapping[str, Collection[str]] | None = None,
) -> Gaps:
    """Every rule (all of the candidate's, the current set's enabled ones) and the policy
    that the history cannot feed."""
    return Gaps(
        missing_inputs(candidate, columns, partial),
        missing_inputs(current, columns, partial, enabled_only=True) if current else {},
        policy_missing(columns) if policy is not None else (),
    )


def without(rules: RuleSet, ids: Collection[str]) -> RuleSet:
    """``rules`` less the rules ``ids``, under the same version (the skips are reported)."""
    if not ids:
        return rules
    kept = RuleSet(rules.declared_version, "0" * 12, [r for r in rules.rules if r.id not in ids])
    kept.version = rules.version
    return kept


def backtest(
    df: pd.DataFrame,
    candidate: RuleSet,
    current: RuleSet | None = None,
    policy: Policy | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    skip_unevaluable: bool = False,
    partial: Mapping[str, Collection[str]] | None = None,
) -> BacktestResult:
    """Evaluate ``candidate`` (and ``current``) on every row of ``df``.

    ``progress`` is called with the number of rows done every 1,000 rows. Rules and a
    policy the history cannot feed raise `UnevaluableError`, or with ``skip_unevaluable``
    are left out and reported in ``skipped`` (``partial``: see `missing_inputs`).
    """
    import numpy as np
    import pandas as pd

    if len(df) == 0:
        raise BacktestError("backtest input has no rows; check the file or the time range")
    gaps = find_gaps(df.columns, candidate, current, policy, partial)
    if gaps and not skip_unevaluable:
        raise UnevaluableError(
            f"the history has no column for what these read, so their figures would be "
            f"silent zeros: {gaps.describe()}. Give a history with those fields, or skip "
            "them explicitly (--skip-unevaluable) to backtest the rest")
    candidate = without(candidate, gaps.candidate)
    current = without(current, gaps.current) if current is not None else None
    policy = None if gaps.policy else policy
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
        missing_inputs=gaps.candidate,
        skipped=gaps,
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
