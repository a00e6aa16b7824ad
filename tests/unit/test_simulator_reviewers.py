"""The simulated review team: verdict rates match the configured accuracy, the queue never
runs more cases at once than there are reviewers and never idles a reviewer while a
ready case waits, and a case's verdict does not depend on the order cases arrive in."""

from __future__ import annotations

import numpy as np

from simulator.config import SimConfig
from simulator.reviewers import (
    CLEAR_APPROVE,
    CLEAR_DECLINE,
    CONFIRM,
    ReviewersConfig,
    ReviewTeam,
)


def _rate(team: ReviewTeam, fraud_type: str, n: int, pd: float = 0.05) -> float:
    return float(np.mean([team.verdict_actions(f"{fraud_type}-{i}", fraud_type, pd) == CONFIRM
                          for i in range(n)]))


def test_confirmation_rates_follow_the_configured_accuracy() -> None:
    cfg = ReviewersConfig(fraud_caught=0.8, fraud_caught_by_type={"first_party": 0.4},
                          genuine_cleared=0.9)
    team = ReviewTeam(cfg, seed=3)
    n = 6000
    four_sigma = 4 * np.sqrt(0.25 / n)
    assert abs(_rate(team, "third_party", n) - 0.8) < four_sigma
    assert abs(_rate(team, "first_party", n) - 0.4) < four_sigma  # the per-type override
    assert abs(_rate(team, "none", n) - 0.1) < four_sigma  # genuine wrongly confirmed


def test_cleared_applicants_are_approved_or_declined_by_their_credit_risk() -> None:
    team = ReviewTeam(ReviewersConfig(genuine_cleared=1.0, decline_pd=0.3), seed=1)
    assert team.verdict_actions("a", "none", 0.29) == CLEAR_APPROVE
    assert team.verdict_actions("a", "none", 0.30) == CLEAR_DECLINE
    assert ReviewTeam(ReviewersConfig(fraud_caught=1.0), 1).verdict_actions(
        "b", "ring", 0.9) == CONFIRM


def test_the_queue_is_work_conserving_and_bounded_by_the_team() -> None:
    cfg = ReviewersConfig(reviewers=3, handle_seconds=2.0, handle_sigma=0.6,
                          pickup_seconds=1.0)
    team = ReviewTeam(cfg, seed=7)
    rng = np.random.default_rng(0)
    arrivals = np.cumsum(rng.exponential(400, 400)).astype(int)  # faster than 3 can handle
    verdicts = [team.plan(f"app-{i}", int(t), "none", 0.05) for i, t in enumerate(arrivals)]
    starts, dones = [], []
    for v, t in zip(verdicts, arrivals, strict=True):
        starts.append(v.started_ms)
        dones.append(v.due_ms)
        assert v.due_ms > v.started_ms >= t + 1000  # never before the case reached the store
    # never more cases in hand than reviewers
    events = sorted([(s, 1) for s in starts] + [(d, -1) for d in dones],
                    key=lambda e: (e[0], e[1]))
    assert max(np.cumsum([e[1] for e in events])) <= 3
    # work-conserving: a case starts when it is ready or the moment a reviewer frees up
    done_set = set(dones)
    for s, t in zip(starts, arrivals, strict=True):
        assert s == t + 1000 or s in done_set
    assert {v.reviewer for v in verdicts} == {"sim-reviewer-1", "sim-reviewer-2",
                                              "sim-reviewer-3"}
    assert max(dones) - arrivals[-1] > 10_000  # the backlog built up: delays are real
    handling = np.array(dones) - np.array(starts)
    assert 1600 < np.median(handling) < 2400  # lognormal around the 2 s median


def test_a_verdict_does_not_depend_on_arrival_order() -> None:
    a, b = ReviewTeam(ReviewersConfig(), 5), ReviewTeam(ReviewersConfig(), 5)
    ids = [f"x{i}" for i in range(50)]
    first = {i: a.verdict_actions(i, "synthetic", 0.1) for i in ids}
    second = {i: b.verdict_actions(i, "synthetic", 0.1) for i in reversed(ids)}
    assert first == second


def test_the_team_is_part_of_the_simulator_config() -> None:
    cfg = SimConfig.model_validate({"reviewers": {"reviewers": 2, "fraud_caught": 0.7}})
    assert (cfg.reviewers.reviewers, cfg.reviewers.fraud_caught) == (2, 0.7)
    assert "reviewers:" in cfg.to_yaml()
