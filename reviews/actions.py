"""What a reviewer asks to do with a case, checked before anything is published.

An approval carries an offer within the product's policy (an allowed term, at least the
minimum amount, at most the largest amount any grade may get; price from the case's
grade); a decline carries adverse-action reasons from the catalogue. Four eyes: approving
an application the engine DECLINED, or above the case's grade limit, is held pending
until a *different* senior reviewer countersigns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from decisions.policy import GradeOffer, Policy, ProductPolicy
from reviews.catalogue import Reason
from reviews.roles import Permission, allowed
from schemas.errors import LoanRiskError


class ActionRefused(LoanRiskError):
    """The action breaks a rule; the message says which and what to do instead."""


class Action(StrEnum):
    APPROVE = "APPROVE"
    DECLINE = "DECLINE"
    CONFIRM_FRAUD = "CONFIRM_FRAUD"
    CLEAR_GENUINE = "CLEAR_GENUINE"
    REQUEST_DOCUMENTS = "REQUEST_DOCUMENTS"
    BLOCK_IDENTIFIERS = "BLOCK_IDENTIFIERS"
    NOTE = "NOTE"
    COUNTERSIGN = "COUNTERSIGN"


#: actions that settle a case with a final decision, and that decision
FINAL_OUTCOME: dict[Action, str] = {Action.APPROVE: "APPROVE", Action.DECLINE: "DECLINE",
                                    Action.CONFIRM_FRAUD: "DECLINE"}
#: what an applicant is told when a case is declined as fraud (never "fraud")
FRAUD_DECLINE_REASON = "P-FRAUD-DECLINE"
BLOCKABLE = ("id", "device", "phone", "email", "ip")


@dataclass(frozen=True, slots=True)
class OfferTerms:
    amount: float
    term_months: int
    apr: float
    price_tier: str


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the checks need to know about a case."""

    application_id: str
    product: str
    original_decision: str
    risk_grade: str | None
    application_event_time: int = 0
    original_decided_at: int = 0
    rule_hits: tuple[str, ...] = ()
    original_reasons: tuple[str, ...] = ()
    settled: bool = False
    pending: PendingAction | None = None


@dataclass(frozen=True, slots=True)
class PendingAction:
    """A four-eyes action waiting for its countersignature."""

    event_id: str
    action: Action
    reviewer: str
    offer: OfferTerms | None
    reasons: tuple[Reason, ...]
    note: str


@dataclass(frozen=True, slots=True)
class Request:
    action: Action
    reviewer: str
    role: str
    reason_codes: Sequence[str] = ()
    amount: float | None = None
    term_months: int | None = None
    identifiers: Sequence[str] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Checked:
    """A request that passed: what will be published."""

    request: Request
    offer: OfferTerms | None = None
    reasons: tuple[Reason, ...] = ()
    needs_second_reviewer: bool = False
    countersigned: PendingAction | None = None  # COUNTERSIGN: the action it settles
    identifiers: tuple[str, ...] = field(default=())

    @property
    def final_outcome(self) -> str | None:
        """APPROVE/DECLINE when this settles the case now, else None."""
        if self.needs_second_reviewer:
            return None
        if self.countersigned is not None:
            return FINAL_OUTCOME[self.countersigned.action]
        return FINAL_OUTCOME.get(self.request.action)


def check(req: Request, case: CaseFacts, policy: Policy,
          catalogue: Mapping[str, Reason]) -> Checked:
    """The request as it will be published, or ``ActionRefused`` saying why not."""
    if not allowed(req.role, Permission.WORK_CASES):
        raise ActionRefused(f"role {req.role} cannot act on cases")
    if case.settled and req.action is not Action.NOTE:
        raise ActionRefused(f"{case.application_id} is already decided; only notes can be added")
    if req.action is Action.COUNTERSIGN:
        return _countersign(req, case)
    if case.pending is not None and req.action in FINAL_OUTCOME:
        raise ActionRefused(f"{case.pending.action} by {case.pending.reviewer} awaits a "
                            "senior countersignature; countersign it or add a note")
    if req.action is Action.APPROVE:
        return _approve(req, case, policy)
    if req.action is Action.DECLINE:
        return Checked(req, reasons=_reasons(req.reason_codes, catalogue))
    if req.action is Action.CONFIRM_FRAUD:
        codes = req.reason_codes or (FRAUD_DECLINE_REASON,)
        return Checked(req, reasons=_reasons(codes, catalogue))
    if req.action is Action.BLOCK_IDENTIFIERS:
        bad = [k for k in req.identifiers if k not in BLOCKABLE]
        if bad or not req.identifiers:
            raise ActionRefused(f"choose identifiers to block among {', '.join(BLOCKABLE)}"
                                + (f" (not {', '.join(bad)})" if bad else ""))
        return Checked(req, identifiers=tuple(req.identifiers))
    if req.action is Action.NOTE and not req.note.strip():
        raise ActionRefused("a note needs some text")
    return Checked(req)


def _reasons(codes: Sequence[str], catalogue: Mapping[str, Reason]) -> tuple[Reason, ...]:
    if not codes:
        raise ActionRefused("a decline needs at least one adverse-action reason from the "
                            "catalogue")
    unknown = [c for c in codes if c not in catalogue]
    if unknown:
        raise ActionRefused(f"reason codes not in the catalogue: {', '.join(unknown)}")
    if len(codes) > 4:
        raise ActionRefused("give at most 4 reasons, the most important first")
    return tuple(catalogue[c] for c in dict.fromkeys(codes))


def grade_offer(pp: ProductPolicy, grade: str | None) -> tuple[str, GradeOffer]:
    """The case's grade and its offer terms; an ungraded case gets the most cautious grade."""
    by_grade = pp.offer.by_grade
    if grade in by_grade:
        return grade, by_grade[grade]
    last = sorted(by_grade)[-1]
    return last, by_grade[last]


def _approve(req: Request, case: CaseFacts, policy: Policy) -> Checked:
    pp = policy.for_product(case.product)
    op = pp.offer
    if req.amount is None or req.term_months is None:
        raise ActionRefused("an approval needs an offer: amount and term")
    if req.term_months not in op.terms:
        raise ActionRefused(f"term {req.term_months} is not offered for {case.product}; "
                            f"allowed: {', '.join(map(str, op.terms))}")
    ceiling = max(g.max_amount for g in op.by_grade.values())
    if not op.min_amount <= req.amount <= ceiling:
        raise ActionRefused(f"amount {req.amount:,.0f} is outside the {case.product} policy "
                            f"({op.min_amount:,.0f} to {ceiling:,.0f})")
    _grade, terms = grade_offer(pp, case.risk_grade)
    offer = OfferTerms(float(req.amount), int(req.term_months), terms.apr, terms.price_tier)
    above_limit = req.amount > terms.max_amount
    overturn = case.original_decision == "DECLINE"
    return Checked(req, offer=offer, needs_second_reviewer=above_limit or overturn)


def _countersign(req: Request, case: CaseFacts) -> Checked:
    pending = case.pending
    if pending is None:
        raise ActionRefused(f"nothing on {case.application_id} awaits a countersignature")
    if not allowed(req.role, Permission.COUNTERSIGN):
        raise ActionRefused("only a senior reviewer can countersign")
    if pending.reviewer == req.reviewer:
        raise ActionRefused("four eyes: a different senior reviewer must countersign your "
                            "own action")
    return Checked(req, offer=pending.offer, reasons=pending.reasons, countersigned=pending)
