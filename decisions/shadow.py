"""Champion/challenger: a challenger's would-be decision, and the report comparing them.

The challenger (other model scores, and optionally another rule set or
policy) is decided with the same pure function as the champion, on the same
list hits, and returned as a ``ShadowDecision`` record for the ``shadow``
field. It is computed from copies of nothing the champion uses, so it can
never change the published decision; the worker only attaches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from decisions.engine import APPROVE, DECLINE, REVIEW, DecisionEngine, _num
from decisions.errors import BacktestError
from decisions.policy import Policy
from decisions.rules import RuleSet
from schemas.records import LoanApplication, Scores, ShadowDecision

if TYPE_CHECKING:
    import pandas as pd

OUTCOMES = (APPROVE, REVIEW, DECLINE)


def shadow_decide(
    engine: DecisionEngine,
    application: LoanApplication,
    features: Mapping[str, float | None],
    challenger_scores: Scores,
    challenger_versions: Mapping[str, str],
    *,
    rules: RuleSet | None = None,
    policy: Policy | None = None,
    hashed: Mapping[str, str] | None = None,
    now_ms: int | None = None,
) -> ShadowDecision:
    """The ShadowDecision record: what the challenger would decide (never acted on).

    No model reasons are asked for: a shadow record carries no reason codes, so no
    TreeSHAP pass is paid for the challenger."""
    out, _, versions = engine.outcome(application, features, challenger_scores,
                                      challenger_versions, hashed=hashed, now_ms=now_ms,
                                      rules=rules, policy=policy)
    return {
        "decision": out.decision,
        "pd": _num(challenger_scores.get("pd")),
        "fraud_probability": _num(challenger_scores.get("fraud_probability")),
        "versions": versions,
    }


@dataclass(frozen=True)
class ShadowReport:
    n: int  # rows with a shadow decision
    champion_approval_rate: float
    challenger_approval_rate: float
    approval_rate_diff: float  # challenger - champion
    agreement_rate: float
    matrix: pd.DataFrame  # rows champion, columns challenger, counts
    bad_rate: dict[str, dict[str, float | int | None]]  # side -> {labelled, bad_rate, fraud_rate}


def shadow_report(df: pd.DataFrame) -> ShadowReport:
    """Compare champion ``decision`` with ``shadow_decision`` on the rows that have both.

    Bad rate among approvals uses ``label_default`` (and ``label_fraud``)
    where known (non-null); a side's approvals without labels give None.
    """
    import pandas as pd

    for col in ("decision", "shadow_decision"):
        if col not in df.columns:
            raise BacktestError(f"shadow report needs a {col!r} column; got {list(df.columns)}")
    d = df[df["shadow_decision"].notna()]
    n = len(d)
    if n == 0:
        raise BacktestError(
            "no rows with a shadow decision; is a challenger configured for the workers?"
        )
    champ = d["decision"].astype(str)
    chall = d["shadow_decision"].astype(str)
    matrix = pd.crosstab(
        pd.Categorical(champ, OUTCOMES), pd.Categorical(chall, OUTCOMES),
        rownames=["champion"], colnames=["challenger"], dropna=False,
    )
    champ_rate = float((champ == APPROVE).mean())
    chall_rate = float((chall == APPROVE).mean())
    bad: dict[str, dict[str, float | int | None]] = {}
    for side, col in (("champion", champ), ("challenger", chall)):
        approved = d[col == APPROVE]
        bad[side] = {"approved": len(approved), **_label_rates(approved)}
    return ShadowReport(
        n=n,
        champion_approval_rate=champ_rate,
        challenger_approval_rate=chall_rate,
        approval_rate_diff=chall_rate - champ_rate,
        agreement_rate=float((champ == chall).mean()),
        matrix=matrix,
        bad_rate=bad,
    )


def _label_rates(rows: pd.DataFrame) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for label, name in (("label_default", "bad_rate"), ("label_fraud", "fraud_rate")):
        if label in rows.columns:
            known = rows[label].dropna()
            out[f"{name}_labelled"] = len(known)
            out[name] = float(known.astype(float).mean()) if len(known) else None
        else:
            out[f"{name}_labelled"] = 0
            out[name] = None
    return out
