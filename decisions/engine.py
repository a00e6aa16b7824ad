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
before review), then policy reasons, then model reasons, deduplicated, top 4. Model reasons
come from the caller's ``model_reasons`` callable, asked only for DECLINE and
REVIEW (a TreeSHAP pass is not paid on approvals); the model gives only reasons that are
true of the applicant (`models.reasons`). A DECLINE never carries review-band text
("requires further review"): a review finding or review rule that a decline outranks
says nothing the applicant is being told. For APPROVE only an affordability-capped
offer gives a reason (P-AFFORD-CAP).

Test cells (`decisions.cells`): the engine draws each applicant's cell from the keyed
identity hash and records it (``cell``); an ``explore`` applicant whom only the PD cutoff
stops is approved at a capped exposure, a ``strategy:<name>`` applicant is decided by that
cell's challenger policy (whose version is the one recorded).

Determinism: the outcome depends only on the inputs, the rule set, the
policy and the cells file (all versioned in ``versions``); list expiry is judged at the
application's event time unless ``now_ms`` is given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from decisions.cells import EXPLORE, NO_CELLS, Cells, Exploration
from decisions.fairness import age_band
from decisions.lists import ListHit, ListIndex
from decisions.policy import Policy, ProductPolicy, grade_for_pd, grade_for_score, make_offer
from decisions.rules import RuleHit, RuleSet, RuleStore
from schemas.records import (
    Decision,
    DecisionOutcome,
    LoanApplication,
    ModelReasons,
    Offer,
    ReasonCode,
    ReasonSource,
    Scores,
)

APPROVE: Final = "APPROVE"
REVIEW: Final = "REVIEW"
DECLINE: Final = "DECLINE"
_RANK: dict[DecisionOutcome, int] = {APPROVE: 0, REVIEW: 1, DECLINE: 2}
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

#: policy reasons that only say a case goes to a person: never given on a DECLINE
REVIEW_BAND: frozenset[str] = frozenset({"P-FRAUD-REVIEW", "P-PD-REVIEW", "P-ANOMALY",
                                         "P-COLD-REVIEW"})
#: the same wording in a rule's text (rules are YAML an analyst writes)
REVIEW_WORDING = re.compile(r"\b(requires?|needs?)\b.*\b(review|verification)\b|\bmanual\b",
                            re.IGNORECASE)

#: one policy finding: the outcome it asks for at least, and its reason code
Finding = tuple[DecisionOutcome, str]


@dataclass(slots=True)
class Outcome:
    """The pure result of one decision pass (champion or challenger)."""

    decision: DecisionOutcome
    risk_grade: str | None
    offer: Offer | None
    reasons: list[ReasonCode]
    rule_hits: list[RuleHit] = field(default_factory=list)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def _reason(code: str, source: ReasonSource, text: str | None = None) -> ReasonCode:
    return {"code": code, "text": text or POLICY_TEXTS[code], "source": source}


def _worst(outcomes: Iterable[DecisionOutcome]) -> DecisionOutcome:
    return max(outcomes, key=_RANK.__getitem__, default=APPROVE)


def decide_outcome(
    ruleset: RuleSet,
    policy: Policy,
    application: Mapping[str, Any],
    features: Mapping[str, float | None],
    scores: Mapping[str, Any],
    list_hits: Sequence[ListHit],
    rule_hits: list[RuleHit] | None = None,
    model_reasons: ModelReasons | None = None,
    explore: Exploration | None = None,
) -> Outcome:
    """Lists -> rules -> policy -> offer -> reasons for one application; pure (no I/O, no clock).

    ``application`` and ``scores`` are a LoanApplication and Scores from the worker, or
    one history row in a backtest (hence plain mappings). ``rule_hits``: already-evaluated
    hits of the enabled rules (backtests), else the rules are evaluated here.
    ``model_reasons``: asked only for a DECLINE or REVIEW that the models must explain.
    ``explore``: the exploration cell's limits when the applicant is in it.
    """
    pp = policy.for_product(str(application["product"]))
    # 1. lists: a block ends it; an allow sets the fraud rules and cutoff aside
    if any(h.list_type == "BLOCK" for h in list_hits):
        pd = _num(scores.get("pd"))
        grade = grade_for_pd(pp, pd) if pd is not None else None
        return Outcome(DECLINE, grade, None, [_reason("L-BLOCK", "LIST")])
    allowed = any(h.list_type == "ALLOW" for h in list_hits)
    # 2. rules, 3. policy: the most severe outcome any of them asks for
    hits = _rule_hits(ruleset, application, features, scores, allowed, rule_hits)
    grade, findings = _policy_findings(pp, application, scores, allowed)
    decision = _worst([*(_RULE_OUTCOME[h.action] for h in hits), *(o for o, _ in findings)])
    # 4. offer: an approval stands only with an affordable one
    if decision == APPROVE:
        return _approval(pp, grade, application, hits)
    if explore is not None and _explorable(explore, scores, hits, findings):
        explored = _explore_approval(pp, explore, grade, application, hits)
        if explored is not None:
            return explored
    # 5. reasons for the adverse action
    reasons = _adverse_reasons(decision, hits, findings, model_reasons)
    return Outcome(decision, grade, None, reasons, hits)


# --- rules -----------------------------------------------------------------------------
_RULE_OUTCOME: dict[str, DecisionOutcome] = {"decline": DECLINE, "review": REVIEW,
                                             "flag": APPROVE}


def _rule_hits(
    ruleset: RuleSet, application: Mapping[str, Any], features: Mapping[str, float | None],
    scores: Mapping[str, Any], allowed: bool, given: list[RuleHit] | None,
) -> list[RuleHit]:
    """The rule hits that count: an allow-list hit sets the fraud rules aside."""
    if given is not None:
        return [h for h in given if not (allowed and h.category == "fraud")]
    ctx = ruleset.context_for(application, features, scores)
    return ruleset.evaluate(ctx, ("fraud",) if allowed else ())


# --- policy ----------------------------------------------------------------------------
def _policy_findings(
    pp: ProductPolicy, application: Mapping[str, Any], scores: Mapping[str, Any], allowed: bool,
) -> tuple[str | None, list[Finding]]:
    """The risk grade and the policy findings, most severe first (stable within a rank)."""
    pd = _num(scores.get("pd"))
    findings = [] if allowed else _fraud_findings(pp, _num(scores.get("fraud_probability")))
    if pd is not None:
        grade: str | None = grade_for_pd(pp, pd)
        findings += _pd_findings(pp, pd)
    else:  # cold start: no PD model -> bureau-score policy
        grade, cold = _cold_start(pp, _num(application.get("bureau_score")))
        findings += cold
    anomaly = _num(scores.get("anomaly_score"))
    if anomaly is not None and anomaly >= pp.anomaly_review_at:
        findings.append((REVIEW, "P-ANOMALY"))
    findings.sort(key=lambda f: -_RANK[f[0]])
    return grade, findings


def _fraud_findings(pp: ProductPolicy, fraud: float | None) -> list[Finding]:
    if fraud is None:
        return []
    if fraud >= pp.fraud.decline_at:
        return [(DECLINE, "P-FRAUD-DECLINE")]
    if fraud >= pp.fraud.review_at:
        return [(REVIEW, "P-FRAUD-REVIEW")]
    return []


def _pd_findings(pp: ProductPolicy, pd: float) -> list[Finding]:
    if pd >= pp.pd.decline_at:
        return [(DECLINE, "P-PD-DECLINE")]
    if pd >= pp.pd.approve_below:
        return [(REVIEW, "P-PD-REVIEW")]
    return []


def _cold_start(pp: ProductPolicy, bureau: float | None) -> tuple[str | None, list[Finding]]:
    """Grade and findings from the bureau score alone; no bureau file means REVIEW."""
    if bureau is None:
        return None, [(REVIEW, "P-NO-FILE")]
    grade = grade_for_score(pp, bureau)
    if bureau < pp.cold_start.decline_below:
        return grade, [(DECLINE, "P-COLD-DECLINE")]
    if bureau < pp.cold_start.approve_at:
        return grade, [(REVIEW, "P-COLD-REVIEW")]
    return grade, []


# --- offer -----------------------------------------------------------------------------
def _approval(pp: ProductPolicy, grade: str | None, application: Mapping[str, Any],
              hits: list[RuleHit]) -> Outcome:
    """An approval needs an affordable offer at or above the product minimum (P-AFFORD)."""
    made = make_offer(pp, grade or "E", application)
    if made is None:
        return Outcome(DECLINE, grade, None, [_reason("P-AFFORD", "POLICY")], hits)
    reasons = [_reason("P-AFFORD-CAP", "POLICY")] if made.capped_by_affordability else []
    return Outcome(APPROVE, grade, made.record(), reasons, hits)


# --- exploration cell ------------------------------------------------------------------
_PD_CUTOFF = frozenset({"P-PD-DECLINE", "P-PD-REVIEW"})


def _explorable(explore: Exploration, scores: Mapping[str, Any], hits: list[RuleHit],
                findings: list[Finding]) -> bool:
    """Only the PD cutoff stands in the way, and the PD is under the cell's ceiling: no
    rule, fraud, anomaly or cold-start finding is ever explored away."""
    pd = _num(scores.get("pd"))
    if pd is None or pd >= explore.max_pd:
        return False
    if any(h.action != "flag" for h in hits):
        return False
    return all(o == APPROVE or code in _PD_CUTOFF for o, code in findings)


def _explore_approval(pp: ProductPolicy, explore: Exploration, grade: str | None,
                      application: Mapping[str, Any], hits: list[RuleHit]) -> Outcome | None:
    """The affordable offer capped at the cell's exposure; None when there is none (the
    decision then stands as the policy made it)."""
    cap = explore.max_amount.get(str(application["product"]))
    made = make_offer(pp, grade or "E", application) if cap is not None else None
    if made is None or cap is None:
        return None
    amount = math.floor(min(made.amount, cap) / pp.offer.round_to) * pp.offer.round_to
    if amount < pp.offer.min_amount:
        return None
    offer = made.record()
    offer["amount"] = float(amount)
    reasons = [_reason("P-AFFORD-CAP", "POLICY")] if made.capped_by_affordability else []
    return Outcome(APPROVE, grade, offer, reasons, hits)


# --- reasons ---------------------------------------------------------------------------
def _adverse_reasons(decision: DecisionOutcome, hits: list[RuleHit], findings: list[Finding],
                     model_reasons: ModelReasons | None) -> list[ReasonCode]:
    """Rule reasons, policy reasons, then the driving model's reasons; the top distinct
    ones, without review-band texts on a DECLINE (a review the decline outranks)."""
    reasons = [_reason(h.reason_code, "RULE", h.reason_text) for h in hits if h.action != "flag"]
    reasons += [_reason(code, "POLICY") for _, code in findings]
    if model_reasons is not None:  # computed only now, for declines and reviews (TreeSHAP)
        reasons += [{"code": str(code), "text": str(text), "source": "MODEL"}
                    for code, text in model_reasons(_fraud_driven(decision, hits, findings))]
    if decision == DECLINE:
        reasons = [r for r in reasons if not _review_band(r)]
    return _top(reasons)


def _fraud_driven(decision: DecisionOutcome, hits: list[RuleHit],
                  findings: list[Finding]) -> bool:
    """Whether a fraud rule or fraud cutoff asked for the outcome itself: then the fraud
    model explains it. A fraud review that a credit decline outranks did not drive the
    decline, so the PD model explains that one."""
    return any(h.category == "fraud" and _RULE_OUTCOME[h.action] == decision for h in hits) or any(
        o == decision and code.startswith("P-FRAUD") for o, code in findings)


def _review_band(r: ReasonCode) -> bool:
    """Whether a reason only says that a person will look at the case."""
    return r["code"] in REVIEW_BAND or REVIEW_WORDING.search(r["text"]) is not None


def _top(reasons: list[ReasonCode]) -> list[ReasonCode]:
    """The first MAX_REASONS distinct reasons. A model reason whose text a rule, list or
    policy reason already gives is dropped too: an applicant should not read the same
    reason twice (e.g. a DTI rule and the DTI feature), and the slot goes to the next one."""
    seen_codes: set[str] = set()
    seen_texts: set[str] = set()
    out: list[ReasonCode] = []
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
    two rule sets in one decision; ``policy`` and ``cells`` may be replaced the same way.
    """

    def __init__(self, lists: ListIndex, rules: RuleStore, policy: Policy,
                 cells: Cells = NO_CELLS) -> None:
        self.lists = lists
        self.rules = rules
        self.policy = policy
        self.cells = cells

    def use_policy(self, policy: Policy) -> None:
        """Decide with ``policy`` from the next decision on (one attribute swap)."""
        self.policy = policy

    def outcome(
        self,
        application: LoanApplication,
        features: Mapping[str, float | None],
        scores: Scores,
        versions: Mapping[str, str],
        *,
        hashed: Mapping[str, str] | None = None,
        now_ms: int | None = None,
        rules: RuleSet | None = None,
        policy: Policy | None = None,
        model_reasons: ModelReasons | None = None,
        explore: Exploration | None = None,
    ) -> tuple[Outcome, list[ListHit], dict[str, str]]:
        """Lists -> rules -> policy with the current rules and policy (or the given ones,
        for a challenger): the outcome, the list hits and ``versions`` plus rules/policy."""
        ruleset = rules or self.rules.current
        pol = policy or self.policy
        when = int(application["event_time"]) if now_ms is None else now_ms
        list_hits = self.lists.check(application, hashed or {}, when)
        out = decide_outcome(ruleset, pol, application, features, scores, list_hits,
                             model_reasons=model_reasons, explore=explore)
        return out, list_hits, {**versions, "rules": ruleset.version, "policy": pol.version}

    def decide(
        self,
        application: LoanApplication,
        features: Mapping[str, float | None],
        scores: Scores,
        versions: Mapping[str, str],
        hashed: Mapping[str, str] | None = None,
        now_ms: int | None = None,
        *,
        model_reasons: ModelReasons | None = None,
    ) -> Decision:
        """The decision record (decision.avsc) without decided_at, timings_us and worker.

        ``scores``: each may be None. ``model_reasons(fraud_driven)``: the model's reason
        codes, called only for declines and reviews (see ``ModelReasons``); None gives a
        decision without model reasons. ``hashed``: keyed hashes of identifiers, e.g.
        {"NATIONAL_ID_HASH": ...}. ``versions``: model and feature-spec versions; rules
        and policy versions are added here (a strategy cell's policy is its challenger's),
        and the cells file's when there is one.
        """
        cells = self.cells
        cell = cells.assign(hashed)
        out, list_hits, all_versions = self.outcome(
            application, features, scores, versions, hashed=hashed, now_ms=now_ms,
            policy=cells.policy_for(cell), model_reasons=model_reasons,
            explore=cells.exploration if cell == EXPLORE else None)
        if cells is not NO_CELLS:
            all_versions["cells"] = cells.version
        event_time = int(application["event_time"])
        return {
            "application_id": application["application_id"],
            "event_time": event_time,
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
            "age_band": age_band(application.get("date_of_birth"), event_time),
            "cell": cell,
        }
