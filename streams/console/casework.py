"""One action on one case, end to end: the holder check, the rules (``reviews.actions``),
settling exactly once, and the messages it publishes (review event, final decision,
block-list entries) -- all acknowledged before the reviewer sees "done"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from decisions.policy import Policy
from reviews.actions import Action, ActionRefused, CaseFacts, Checked, Request, check
from reviews.catalogue import Reason
from reviews.claims import CaseState
from reviews.events import final_decision, pending_from_event, review_event
from reviews.privacy import Sealer
from schemas.topics import FINAL_DECISIONS, REVIEWS
from streams.console.outbox import Outbox, new_id, now_ms
from streams.console.store import CaseData

#: block-list identifier types for each identifier kind (hashed where the lists hash them)
BLOCK_TYPES = {"id": "NATIONAL_ID_HASH", "phone": "PHONE_HASH", "email": "EMAIL_HASH",
               "device": "DEVICE_ID", "ip": "IP"}


@dataclass
class Casework:
    state: CaseState
    outbox: Outbox
    policy: Policy
    catalogue: Mapping[str, Reason]
    sealer: Sealer
    hash_key: bytes

    def facts(self, case: CaseData) -> CaseFacts:
        d = case.decision
        aid = d["application_id"]
        pending = self.state.pending(aid)
        return CaseFacts(
            application_id=aid, product=d["product"], original_decision=d["decision"],
            risk_grade=d.get("risk_grade"), application_event_time=int(d["event_ms"]),
            original_decided_at=int(d["decided_ms"]), rule_hits=tuple(d["rule_hits"]),
            original_reasons=tuple(d["reason_codes"]),
            settled=case.final is not None or self.state.settled([aid])[0],
            pending=pending_from_event(pending, self.catalogue) if pending else None)

    def act(self, case: CaseData, req: Request) -> str:
        """Do ``req``; returns what happened in a sentence, or raises ``ActionRefused``."""
        facts = self.facts(case)
        checked = check(req, facts, self.policy, self.catalogue)
        holder = self.state.holder(facts.application_id)
        if req.action not in (Action.NOTE, Action.COUNTERSIGN) and holder != req.reviewer:
            raise ActionRefused("claim the case first" if holder is None
                                else f"{holder} is working this case")
        event_id, at = new_id(), now_ms()
        event = review_event(checked, facts, event_id, at)
        final = final_decision(checked, facts, event_id, at)
        if final is not None and not self.state.settle(facts.application_id, event_id):
            raise ActionRefused(f"{facts.application_id} was decided a moment ago by someone "
                                "else; reload the case")
        if checked.needs_second_reviewer and not self.state.set_pending(facts.application_id,
                                                                        event):
            raise ActionRefused("another action already awaits a countersignature")
        messages: list[tuple[str, str, dict[str, Any]]] = [
            (REVIEWS.name, facts.application_id, event)]
        if final is not None:
            messages.append((FINAL_DECISIONS.name, facts.application_id, final))
        try:
            self.outbox.send(messages)
            if checked.identifiers:
                self._block(case, checked, req.reviewer)
        except Exception:
            if final is not None:
                self.state.unsettle(facts.application_id, event_id)
            if checked.needs_second_reviewer:
                self.state.clear_pending(facts.application_id)
            raise
        if final is not None:
            self.state.clear_pending(facts.application_id)
            if holder is not None:
                self.state.release(facts.application_id, holder)
        return _said(checked, final)

    def _block(self, case: CaseData, checked: Checked, reviewer: str) -> None:
        from features.identity import hash_identifier
        from streams.control.lists import publish

        if case.application is None:
            raise ActionRefused("the application's identifiers are not in the store yet")
        clear = self.sealer.unseal(case.application["sealed"])
        fields = {"id": "national_id", "phone": "phone", "email": "email",
                  "device": "device_id", "ip": "ip"}
        updates = []
        for kind in checked.identifiers:
            value = str(clear[fields[kind]])
            if BLOCK_TYPES[kind].endswith("_HASH"):
                value = hash_identifier(self.hash_key, kind, value)
            updates.append({"list_type": "BLOCK", "identifier_type": BLOCK_TYPES[kind],
                            "value": value, "action": "ADD", "author": reviewer,
                            "reason": f"review of {case.decision['application_id']}",
                            "expires_at": None, "event_time": now_ms()})
        publish(self.outbox.conn, updates)


def _said(checked: Checked, final: dict[str, Any] | None) -> str:
    action = checked.request.action.value.replace("_", " ").lower()
    if checked.needs_second_reviewer:
        return f"{action}: waiting for a senior reviewer's countersignature (four eyes)"
    if final is not None:
        return f"{action}: final decision {final['decision']} published"
    return f"{action}: recorded"
