"""The live simulator's reviewers at work: verdicts planned by ``simulator.reviewers`` are
carried out through the review console's own path (claim the case, ``Casework.act`` with
the console's checks, audit), so their review events, final decisions and labels are
exactly those a person's clicks would publish; the reviewer is a simulated user
(``sim-reviewer-N``, role reviewer).

A case is worked when its verdict is due and it is in ClickHouse (the console reads it
there); one a person has claimed or already decided is left to them.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from reviews.actions import Action, ActionRefused, grade_offer
from reviews.actions import Request as ActionRequest
from reviews.roles import Role
from simulator.reviewers import CREDIT_DECLINE_REASON, ReviewTeam, Verdict
from streams.console.app import Console
from streams.console.store import CaseData

RETRY_MS = 1000
#: a case not in the store this long after its verdict was due is given up (and counted)
GIVE_UP_MS = 60_000


@dataclass
class ShiftStats:
    planned: int = 0
    worked: int = 0
    confirmed_fraud: int = 0
    cleared: int = 0
    correct: int = 0
    left_to_people: int = 0  # claimed or decided by someone else first
    refused: int = 0  # the console's checks said no (e.g. decided a moment ago): in errors
    not_in_store: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.worked if self.worked else None


class _Taken(Exception):
    """A person holds the case."""


TruthOf = Callable[[str], tuple[str, float] | None]  # application id -> (fraud type, oracle PD)


class ReviewShift:
    """Feed it the decisions the simulator sees; call ``service`` often."""

    def __init__(self, team: ReviewTeam, console: Console, truth_of: TruthOf) -> None:
        self.team, self.console, self.truth_of = team, console, truth_of
        self.stats = ShiftStats()
        self.records: list[dict[str, Any]] = []  # what was done, for --reviews-out
        self._due: list[tuple[int, int, Verdict, int]] = []  # (when, seq, verdict, first due)
        self._seen: set[str] = set()
        self._seq = 0

    @property
    def pending(self) -> int:
        return len(self._due)

    def see(self, decisions: Iterable[dict[str, Any]]) -> None:
        """Plan a verdict for every new REVIEW decision of an application with a truth."""
        for d in sorted((d for d in decisions if d.get("decision") == "REVIEW"),
                        key=lambda d: int(d["decided_at"])):
            aid = d["application_id"]
            truth = self.truth_of(aid)
            if truth is None or aid in self._seen:  # not ours, or a redelivery
                continue
            self._seen.add(aid)
            v = self.team.plan(aid, int(d["decided_at"]), truth[0], truth[1])
            self._push(v.due_ms, v, v.due_ms)
            self.stats.planned += 1

    def _push(self, when: int, v: Verdict, first_due: int) -> None:
        heapq.heappush(self._due, (when, self._seq, v, first_due))
        self._seq += 1

    def service(self, now_ms: int, budget_s: float = 0.025) -> None:
        """Work due cases for about ``budget_s`` (at least one): each costs a few ClickHouse
        reads and acknowledged sends, and the caller is pacing live traffic."""
        t_end = time.monotonic() + budget_s
        first = True
        while self._due and self._due[0][0] <= now_ms and (first or time.monotonic() < t_end):
            first = False
            _, _, v, first_due = heapq.heappop(self._due)
            try:
                case = self.console.store.case(v.application_id)
                if case is None or case.application is None:
                    if now_ms - first_due > GIVE_UP_MS:
                        self.stats.not_in_store += 1
                    else:
                        self._push(now_ms + RETRY_MS, v, first_due)
                    continue
                self._work(v, case)
            except _Taken:
                self.stats.left_to_people += 1
            except ActionRefused as exc:
                self.stats.refused += 1
                if len(self.stats.errors) < 10:
                    self.stats.errors.append(f"{v.application_id}: refused: {exc}")
            except Exception as exc:  # Kafka or ClickHouse trouble: counted, shift goes on
                if len(self.stats.errors) < 10:
                    self.stats.errors.append(f"{v.application_id}: {exc}")

    def _work(self, v: Verdict, case: CaseData) -> None:
        casework, outbox = self.console.casework, self.console.outbox
        if casework.facts(case).settled:  # a person decided it already
            raise _Taken(v.application_id)
        won, _holder = casework.state.claim(v.application_id, v.reviewer)
        if not won:
            raise _Taken(v.application_id)
        outbox.audit(v.reviewer, Role.REVIEWER.value, "CLAIM", v.application_id,
                     "claimed: the case is yours", "simulator")
        try:
            for name in v.actions:
                req = self._request(Action(name), v.reviewer, case)
                said = casework.act(case, req)
                outbox.audit(v.reviewer, Role.REVIEWER.value, "ACTION", v.application_id,
                             f"{name}: {said}", "simulator")
        finally:
            casework.state.release(v.application_id, v.reviewer)
        self.stats.worked += 1
        self.stats.correct += v.correct
        if v.says_fraud:
            self.stats.confirmed_fraud += 1
        else:
            self.stats.cleared += 1
        self.records.append({"application_id": v.application_id, "reviewer": v.reviewer,
                             "actions": ",".join(v.actions), "truth_fraud": v.truth_fraud,
                             "due_ms": v.due_ms})

    def _request(self, action: Action, reviewer: str, case: CaseData) -> ActionRequest:
        role = Role.REVIEWER.value
        if action is Action.APPROVE:
            amount, term = approvable_offer(self.console, case)
            return ActionRequest(action, reviewer, role, amount=amount, term_months=term)
        if action is Action.DECLINE:
            return ActionRequest(action, reviewer, role, reason_codes=(CREDIT_DECLINE_REASON,))
        return ActionRequest(action, reviewer, role)


def approvable_offer(console: Console, case: CaseData) -> tuple[float, int]:
    """What the applicant asked for, brought within the case's grade limit and the
    product's terms (a simulated reviewer never needs a countersignature)."""
    app = case.application or {}
    d = case.decision
    pp = console.casework.policy.for_product(d["product"])
    _grade, terms = grade_offer(pp, d.get("risk_grade"))
    amount = min(max(float(app.get("requested_amount") or 0.0), pp.offer.min_amount),
                 terms.max_amount)
    asked = int(app.get("requested_term_months") or 0)
    term = min(pp.offer.terms, key=lambda t: (abs(t - asked), t))
    return float(amount), int(term)
