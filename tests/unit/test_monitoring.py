"""Worker metrics snapshots and the monitor's totals."""

from __future__ import annotations

import time

from streams.ops.monitor import MonitorState
from streams.worker.metrics import WorkerStats
from tests import records


def test_snapshot_counts_rates_and_percentiles_then_resets() -> None:
    stats = WorkerStats("w1", window_start=100.0)
    for i, outcome in enumerate(["APPROVE", "APPROVE", "DECLINE", "REVIEW"]):
        stats.record(records.decision(decision=outcome, event_time=1000,
                                      decided_at=1000 + 10 * (i + 1),
                                      anomaly_score=0.9 if i == 0 else 0.1))
    stats.dead_letters = 2
    snap = stats.snapshot(now=102.0)
    assert snap["applications"] == 4
    assert snap["approval_rate"] == 0.5
    assert snap["decisions"] == {"PERSONAL_LOAN:APPROVE": 2, "PERSONAL_LOAN:DECLINE": 1,
                                 "PERSONAL_LOAN:REVIEW": 1}
    assert snap["latency_p50_ms"] == 25.0
    assert snap["throughput_per_s"] == 2.0
    assert snap["anomaly_rate"] == 0.25
    assert snap["dead_letters"] == 2
    empty = stats.snapshot(now=104.0)
    assert empty["applications"] == 0 and empty["approval_rate"] is None
    assert empty["latency_p99_ms"] is None


def test_monitor_totals_ignore_stale_workers() -> None:
    now = int(time.time() * 1000)

    def snap(worker: str, end: int, n: int, approvals: int) -> dict:
        return {"worker": worker, "window_end": end, "applications": n,
                "decisions": {"CREDIT_CARD:APPROVE": approvals,
                              "CREDIT_CARD:DECLINE": n - approvals},
                "throughput_per_s": n / 5, "latency_p99_ms": 12.0, "dead_letters": 1}

    state = MonitorState(latest={"a": snap("a", now, 10, 5), "b": snap("b", now, 30, 27),
                                 "old": snap("old", now - 120_000, 100, 0)}, lag=7)
    t = state.totals()
    assert t["workers"] == 2
    assert t["applications"] == 40
    assert t["approval_rate"] == 32 / 40
    assert t["lag"] == 7
