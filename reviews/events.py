"""The records a checked action becomes: the review event, and the final decision when it
settles the case. Field for field the ``review_event`` and ``final_decision`` schemas."""

from __future__ import annotations

from typing import Any

from reviews.actions import CaseFacts, Checked, OfferTerms, PendingAction


def _offer(offer: OfferTerms | None) -> dict[str, Any] | None:
    if offer is None:
        return None
    return {"amount": offer.amount, "term_months": offer.term_months, "apr": offer.apr,
            "price_tier": offer.price_tier}


def review_event(checked: Checked, case: CaseFacts, event_id: str, now_ms: int
                 ) -> dict[str, Any]:
    req = checked.request
    return {
        "event_id": event_id,
        "application_id": case.application_id,
        "product": case.product,
        "action": req.action.value,
        "reviewer": req.reviewer,
        "role": req.role,
        "acted_at": now_ms,
        "application_event_time": case.application_event_time,
        "original_decision": case.original_decision,
        "original_decided_at": case.original_decided_at,
        "rule_hits": list(case.rule_hits),
        "original_reasons": list(case.original_reasons),
        "reason_codes": [r.code for r in checked.reasons],
        "offer": _offer(checked.offer),
        "identifiers": list(checked.identifiers),
        "note": req.note,
        "needs_second_reviewer": checked.needs_second_reviewer,
        "countersigns": checked.countersigned.event_id if checked.countersigned else None,
        "final": checked.final_outcome is not None,
    }


def final_decision(checked: Checked, case: CaseFacts, event_id: str, now_ms: int
                   ) -> dict[str, Any] | None:
    """The downstream record, or None while the case is not settled."""
    outcome = checked.final_outcome
    if outcome is None:
        return None
    first: PendingAction | None = checked.countersigned
    reviewer = first.reviewer if first else checked.request.reviewer
    action = first.action.value if first else checked.request.action.value
    return {
        "application_id": case.application_id,
        "product": case.product,
        "decision": outcome,
        "decided_at": now_ms,
        "application_event_time": case.application_event_time,
        "original_decision": case.original_decision,
        "original_decided_at": case.original_decided_at,
        "reviewer": reviewer,
        "second_reviewer": checked.request.reviewer if first else None,
        "review_action": action,
        "review_event_id": first.event_id if first else event_id,
        "reason_codes": [{"code": r.code, "text": r.text} for r in checked.reasons]
        if outcome == "DECLINE" else [],
        "offer": _offer(checked.offer) if outcome == "APPROVE" else None,
    }


def pending_from_event(ev: dict[str, Any], catalogue: Any) -> PendingAction:
    """A pending four-eyes action rebuilt from its review event."""
    from reviews.actions import Action

    offer = ev.get("offer")
    return PendingAction(
        event_id=ev["event_id"], action=Action(ev["action"]), reviewer=ev["reviewer"],
        offer=OfferTerms(**offer) if offer else None,
        reasons=tuple(catalogue[c] for c in ev.get("reason_codes", []) if c in catalogue),
        note=ev.get("note", ""))
