"""Per-worker monitoring counters, snapshotted every few seconds into a WorkerMetrics record,
and folded at the same moment into the worker's Prometheus metrics (``WorkerTelemetry``):
the hot path only appends to lists, as it always did."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schemas.records import DecisionRecord
from streams.worker.telemetry import WorkerTelemetry

ANOMALY_THRESHOLD = 0.8  # an anomaly score above this counts towards the anomaly rate


@dataclass
class WorkerStats:
    worker: str
    window_start: float = field(default_factory=time.time)
    decisions: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    pds: list[float] = field(default_factory=list)
    frauds: list[float] = field(default_factory=list)
    anomalies: int = 0
    scored_anomaly: int = 0
    dead_letters: int = 0
    steps_us: list[Mapping[str, float]] = field(default_factory=list)
    telemetry: WorkerTelemetry | None = None

    def record(self, decision: DecisionRecord) -> None:
        self.decisions[f"{decision['product']}:{decision['decision']}"] += 1
        self.latencies_ms.append(decision["decided_at"] - decision["event_time"])
        self.steps_us.append(decision["timings_us"])
        pd, fraud = decision.get("pd"), decision.get("fraud_probability")
        if pd is not None:
            self.pds.append(pd)
        if fraud is not None:
            self.frauds.append(fraud)
        a = decision.get("anomaly_score")
        if a is not None:
            self.scored_anomaly += 1
            self.anomalies += a > ANOMALY_THRESHOLD

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """The WorkerMetrics record for the window so far, and start a new window."""
        now = time.time() if now is None else now
        if self.telemetry is not None:
            self.telemetry.fold(self)
        n = sum(self.decisions.values())
        approvals = sum(v for k, v in self.decisions.items() if k.endswith(":APPROVE"))
        lat = np.asarray(self.latencies_ms, dtype=float)

        def pct(q: float) -> float | None:
            return float(np.percentile(lat, q)) if lat.size else None

        rec = {
            "worker": self.worker,
            "window_start": int(self.window_start * 1000), "window_end": int(now * 1000),
            "decisions": dict(self.decisions), "applications": n,
            "approval_rate": approvals / n if n else None,
            "latency_p50_ms": pct(50), "latency_p95_ms": pct(95), "latency_p99_ms": pct(99),
            "throughput_per_s": n / max(now - self.window_start, 1e-3),
            "dead_letters": self.dead_letters,
            "mean_pd": float(np.mean(self.pds)) if self.pds else None,
            "mean_fraud_probability": float(np.mean(self.frauds)) if self.frauds else None,
            "anomaly_rate": self.anomalies / self.scored_anomaly if self.scored_anomaly else None,
        }
        self.window_start = now
        self.decisions = Counter()
        self.latencies_ms, self.pds, self.frauds, self.steps_us = [], [], [], []
        self.anomalies = self.scored_anomaly = self.dead_letters = 0
        return rec
