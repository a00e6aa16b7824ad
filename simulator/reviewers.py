"""Simulated reviewers: who works which REVIEW case, when, and with what verdict.

A small team works the queue in arrival order: each case waits until a reviewer is free
(and at least ``pickup_seconds`` after its decision, the time it takes to reach the
store), then takes a lognormal handling time. The verdict comes from the simulator's
truth at a configured accuracy: a fraud is confirmed with ``fraud_caught`` (per fraud
type if given), a genuine applicant cleared with ``genuine_cleared``; a cleared applicant
whose oracle PD is at least ``decline_pd`` is then declined for credit, otherwise
approved. Time is compressed like the rest of live mode (seconds stand for hours).

Pure: the caller feeds decisions and truth and publishes what comes out.
"""

from __future__ import annotations

import heapq
import zlib
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

#: what each verdict does, in order (the review actions of ``reviews.actions``)
CONFIRM = ("CONFIRM_FRAUD",)
CLEAR_APPROVE = ("CLEAR_GENUINE", "APPROVE")
CLEAR_DECLINE = ("CLEAR_GENUINE", "DECLINE")
#: the adverse-action reason a simulated reviewer gives on a credit decline
CREDIT_DECLINE_REASON = "H-INCOME"


class ReviewersConfig(BaseModel):
    """The simulated review team (``reviewers:`` in the simulator config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reviewers: int = Field(default=4, ge=1, le=100, description="Simulated reviewers.")
    handle_seconds: float = Field(
        default=2.0, gt=0, description="Median wall seconds a reviewer spends on one case.")
    handle_sigma: float = Field(
        default=0.5, ge=0, description="Log-scale spread of the handling time (lognormal).")
    pickup_seconds: float = Field(
        default=2.0, ge=0,
        description="Earliest a case is picked after its decision (it must reach the store).")
    fraud_caught: float = Field(
        default=0.85, ge=0, le=1, description="Chance a reviewer confirms a true fraud.")
    fraud_caught_by_type: dict[str, float] = Field(
        default_factory=lambda: {"first_party": 0.5, "synthetic": 0.75},
        description="Per fraud type, overriding fraud_caught (first-party fraud hides well).")
    genuine_cleared: float = Field(
        default=0.95, ge=0, le=1, description="Chance a reviewer clears a genuine applicant.")
    decline_pd: float = Field(
        default=0.3, ge=0, le=1,
        description="A cleared applicant with at least this oracle PD is declined for credit.")


@dataclass(frozen=True, slots=True)
class Verdict:
    """One planned review: the case, who works it, when it is done, what they do."""

    application_id: str
    reviewer: str
    started_ms: int
    due_ms: int
    actions: tuple[str, ...]
    truth_fraud: bool

    @property
    def says_fraud(self) -> bool:
        return self.actions == CONFIRM

    @property
    def correct(self) -> bool:
        return self.says_fraud == self.truth_fraud


def reviewer_name(i: int) -> str:
    """Simulated users are named so nobody mistakes them for people."""
    return f"sim-reviewer-{i + 1}"


class ReviewTeam:
    """Plans verdicts for REVIEW cases as they arrive; deterministic for (config, seed)."""

    def __init__(self, config: ReviewersConfig, seed: int) -> None:
        self.config, self.seed = config, seed
        # (free at ms, reviewer index): who is free first takes the next case
        self._free: list[tuple[int, int]] = [(0, i) for i in range(config.reviewers)]

    def _draws(self, application_id: str) -> tuple[float, float]:
        # per case, not per arrival order: the same case gets the same draws
        rng = np.random.default_rng([self.seed, zlib.crc32(application_id.encode())])
        return float(rng.random()), float(rng.standard_normal())

    def verdict_actions(self, application_id: str, fraud_type: str, oracle_pd: float
                        ) -> tuple[str, ...]:
        c = self.config
        u = self._draws(application_id)[0]
        if fraud_type not in ("", "none"):
            says_fraud = u < c.fraud_caught_by_type.get(fraud_type, c.fraud_caught)
        else:
            says_fraud = u >= c.genuine_cleared
        if says_fraud:
            return CONFIRM
        return CLEAR_DECLINE if oracle_pd >= c.decline_pd else CLEAR_APPROVE

    def plan(self, application_id: str, decided_at_ms: int, fraud_type: str,
             oracle_pd: float) -> Verdict:
        """The verdict on one case; cases must be planned in arrival order."""
        c = self.config
        free_at, who = heapq.heappop(self._free)
        start = max(free_at, decided_at_ms + int(c.pickup_seconds * 1000))
        z = self._draws(application_id)[1]
        handle_ms = int(1000 * c.handle_seconds * float(np.exp(c.handle_sigma * z)))
        done = start + max(handle_ms, 1)
        heapq.heappush(self._free, (done, who))
        return Verdict(application_id, reviewer_name(who), start, done,
                       self.verdict_actions(application_id, fraud_type, oracle_pd),
                       fraud_type not in ("", "none"))
