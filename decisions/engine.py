"""The decision: lists, then rules, then model scores through the product policy.

Precedence (most severe outcome wins; DECLINE > REVIEW > APPROVE):

1. BLOCK list hit -> DECLINE. Nothing else is evaluated.
2. ALLOW list hit -> fraud-category rules and the fraud cutoff are skipped;
   credit rules and the credit policy still apply (an allow list never
   approves on its own).
3. Rules: any ``decline`` rule -> DECLINE; any ``review`` rule -> at least
   REVIEW; ``flag`` rules only record a hit.
4. Policy: fraud probability cutoffs, PD cutoffs with the review band (or the
   bureau-score cold start when ``pd`` is None), anomaly review; then an
   approval needs an affordable offer at or above the product minimum, else
   DECLINE (P-AFFORD).

Reason codes: for DECLINE and REVIEW, list reasons, then rule reasons (decline
before review), then policy reasons, then model reasons, deduplicated, top 4.
For APPROVE only an affordability-capped offer gives a reason (P-AFFORD-CAP).

Determinism: the outcome depends only on the inputs, the rule set and the
policy (both versioned in ``versions``); list expiry is judged at the
application's event time unless ``now_ms`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from decisions.fairness import age_band
from decisions.lists import ListHit, ListIndex
from decisions.policy import Policy, grade_for_pd, grade_for_score, make_offer
from decisions.rules import RuleHit, RuleSet, RuleStore

APPROVE, REVIEW, DECLINE = "APPROVE", "REVIEW", "DECLINE"
_RANK = {APPROVE: 0, REVIEW: 1, DECLINE: 2}
MAX_REASONS = 4

# Adverse-action style texts for list and policy reasons (what an applicant may be told).
POLICY_TEXTS: dict[str, str] = {
    "L-BLOCK": "Unable to verify the identity or contact information provided",
    "P-FRAUD-DECLINE": "Unable to verify the identity information provided",
    "P-FRAUD-REVIEW": "Identity information requires further verification",
    "P-PD-DECLINE": "Credit risk assessment outside our lending criteria",
    "P-PD-REVIEW": "Credit risk assessment requires further review",
    "P-ANOMALY": "Application details require manual verification",
    "P-AFFORD": "Income insufficient for the amount of credit requested",
    "P-AFFORD-CAP": "Amount offered limited by income and existing commitments",
    "P-COLD-DECLINE": "Credit bureau score below our lending criteria",
    "P-COLD-REVIEW": "Credit bureau score requires further review",
    "P-NO-FILE": "No credit file found at the credit reference agency",
}


@dataclass(slots=True)
class Outcome:
    """The pure result of one decision pass (champion or challenger)."""

    decision: str
    risk_grade: str | None
    offer: dict[str, Any] | None
    reasons: list[dict[str, str]]
    rule_hits: list[RuleHit] = field(default_factory=list)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def _reason(code: str, source: str, text: str | None = None) -> dict[str, str]:
    return {"code": code, "text": text or POLICY_TEXTS[code], "source": source}


def decide_outcome(
    ruleset: RuleSet,
    policy: Policy,
    application: Mapping[str, Any],
    features: Mapping[str, float | None],
    scores: Mapping[str, Any],
    list_hits: Sequence[ListHit],
    rule_hits: list[RuleHit] | None = None,
) -> Outcome:
    """Lists -> rules -> policy for one application; pure (no I/O, no clock).

    ``rule_hits``: already-evaluated hits of the enabled rules (backtests),
    else the rules are evaluated here.
    """
    pp = policy.for_product(str(application["product"]))
    pd = _num(scores.get("pd"))
    grade = grade_for_pd(pp, pd) if pd is not None else None
    if any(h.list_type == "BLOCK" for h in list_hits):
        reasons = [_reason("L-BLOCK", "LIST")]
        return Outcome(DECLINE, grade, None, reasons)
    allowed = any(h.list_type == "ALLOW" for h in list_hits)

    # Rules
    if rule_hits is None:
        ctx = ruleset.context_for(application, features, scores)
        hits = ruleset.evaluate(ctx, ("fraud",) if allowed else ())
    else:
        hits = [h for h in rule_hits if not (allowed and h.category == "fraud")]
    decision = APPROVE
    rule_reasons: list[dict[str, str]] = []
    for h in hits:
        if h.action == "decline":
            decision = DECLINE
        elif h.action == "review" and decision == APPROVE:
            decision = REVIEW
        if h.action != "flag":
            rule_reasons.append(_reason(h.reason_code, "RULE", h.reason_text))

    # Policy: (rank, code) pairs, most severe first after sorting
    pol: list[tuple[str, str]] = []
    fraud = _num(scores.get("fraud_probability"))
    if not allowed and fraud is not None:
        if fraud >= pp.fraud.decline_at:
            pol.append((DECLINE, "P-FRAUD-DECLINE"))
        elif fraud >= pp.fraud.review_at:
            pol.append((REVIEW, "P-FRAUD-REVIEW"))
    if pd is not None:
        if pd >= pp.pd.decline_at:
            pol.append((DECLINE, "P-PD-DECLINE"))
        elif pd >= pp.pd.approve_below:
            pol.append((REVIEW, "P-PD-REVIEW"))
    else:  # cold start: no PD model -> bureau-score policy
        bureau = _num(application.get("bureau_score"))
        cs = pp.cold_start
        if bureau is None:
            pol.append((REVIEW, "P-NO-FILE"))
        else:
            grade = grade_for_score(pp, bureau)
            if bureau < cs.decline_below:
                pol.append((DECLINE, "P-COLD-DECLINE"))
            elif bureau < cs.approve_at:
                pol.append((REVIEW, "P-COLD-REVIEW"))
    anomaly = _num(scores.get("anomaly_score"))
    if anomaly is not None and anomaly >= pp.anomaly_review_at:
        pol.append((REVIEW, "P-ANOMALY"))
    for outcome, _ in pol:
        if _RANK[outcome] > _RANK[decision]:
            decision = outcome
    pol.sort(key=lambda p: -_RANK[p[0]])
    policy_reasons = [_reason(code, "POLICY") for _, code in pol]

    offer: dict[str, Any] | None = None
    if decision == APPROVE:
        made = make_offer(pp, grade or "E", dict(application))
        if made is None:
            return Outcome(DECLINE, grade, None, [_reason("P-AFFORD", "POLICY")], hits)
        offer = made.record()
        reasons = [_reason("P-AFFORD-CAP", "POLICY")] if made.capped_by_affordability else []
        return Outcome(APPROVE, grade, offer, reasons, hits)

    reasons = rule_reasons + policy_reasons
    model_reasons = scores.get("reasons")
    if callable(model_reasons):  # computed only now, for declines and reviews (TreeSHAP)
        fraud_driven = any(h.category == "fraud" and h.action != "flag" for h in hits) or any(
            code.startswith("P-FRAUD") for _, code in pol)
        model_reasons = model_reasons(fraud_driven)
    for code, text in model_reasons or ():
        reasons.append({"code": str(code), "text": str(text), "source": "MODEL"})
    return Outcome(decision, grade, None, _top(reasons), hits)


def _top(reasons: list[dict[str, str]]) -> list[dict[str, str]]:
    """The first MAX_REASONS distinct reasons. A model reason whose text a rule, list or
    policy reason already gives is dropped too: an applicant should not read the same
    reason twice (e.g. a DTI rule and the DTI feature), and the slot goes to the next one."""
    seen_codes: set[str] = set()
    seen_texts: set[str] = set()
    out: list[dict[str, str]] = []
    for r in reasons:
        if r["code"] in seen_codes or r["text"] in seen_texts:
            continue
        seen_codes.add(r["code"])
        seen_texts.add(r["text"])
        out.append(r)
        if len(out) == MAX_REASONS:
            break
    return out


class DecisionEngine:
    """Decides one application from its features and scores; holds lists, rules, policy.

    ``rules.current`` is read once per decision, so a hot reload never mixes
    two rule sets in one decision; ``policy`` may be replaced the same way.
    """

    def __init__(self, lists: ListIndex, rules: RuleStore, policy: Policy) -> None:
        self.lists = lists
        self.rules = rules
        self.policy = policy

    def use_policy(self, policy: Policy) -> None:
        """Decide with ``policy`` from the next decision on (one attribute swap)."""
        self.policy = policy

    def outcome(
        self,
        application: Mapping[str, Any],
        features: Mapping[str, float | None],
        scores: Mapping[str, Any],
        versions: Mapping[str, str],
        *,
        hashed: Mapping[str, str] | None = None,
        now_ms: int | None = None,
        rules: RuleSet | None = None,
        policy: Policy | None = None,
    ) -> tuple[Outcome, list[ListHit], dict[str, str]]:
        """Lists -> rules -> policy with the current rules and policy (or the given ones,
        for a challenger): the outcome, the list hits and ``versions`` plus rules/policy."""
        ruleset = rules or self.rules.current
        pol = policy or self.policy
        when = int(application["event_time"]) if now_ms is None else now_ms
        list_hits = self.lists.check(application, hashed or {}, when)
        out = decide_outcome(ruleset, pol, application, features, scores, list_hits)
        return out, list_hits, {**versions, "rules": ruleset.version, "policy": pol.version}

    def decide(
        self,
        application: Mapping[str, Any],
        features: Mapping[str, float | None],
        scores: Mapping[str, Any],
        versions: Mapping[str, str],
        hashed: Mapping[str, str] | None = None,
        now_ms: int | None = None,
    ) -> dict[str, Any]:
        """The decision record (decision.avsc) without decided_at, timings_us and worker.

        ``scores``: ``pd``, ``fraud_probability``, ``anomaly_score``,
        ``scorecard_points`` (each may be None) and ``reasons``: model reason
        codes as (code, text), most important first -- or a callable
        ``reasons(fraud_driven: bool)`` returning them, called only for declines and
        reviews (``fraud_driven``: a fraud rule or fraud cutoff contributed, so the fraud
        model should explain rather than the PD model). ``hashed``: keyed hashes
        of identifiers, e.g. {"NATIONAL_ID_HASH": ...}. ``versions``: model
        and feature-spec versions; rules and policy versions are added here.
        """
        out, list_hits, all_versions = self.outcome(application, features, scores, versions,
                                                    hashed=hashed, now_ms=now_ms)
        return {
            "application_id": application["application_id"],
            "event_time": int(application["event_time"]),
            "product": str(application["product"]),
            "decision": out.decision,
            "pd": _num(scores.get("pd")),
            "fraud_probability": _num(scores.get("fraud_probability")),
            "anomaly_score": _num(scores.get("anomaly_score")),
            "scorecard_points": _num(scores.get("scorecard_points")),
            "risk_grade": out.risk_grade,
            "offer": out.offer,
            "reason_codes": out.reasons,
            "list_hits": [h.label for h in list_hits],
            "rule_hits": [h.rule_id for h in out.rule_hits],
            "versions": all_versions,
            "shadow": None,
            "age_band": age_band(application.get("date_of_birth"), int(application["event_time"])),
        }
