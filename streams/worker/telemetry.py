"""A worker's Prometheus metrics and probes (``streams.telemetry`` serves them).

Cumulative since the worker started, as Prometheus expects: decisions by product and
outcome, dead letters, degraded decisions, the end-to-end latency and per-step
histograms (buckets that sum across workers, unlike the per-worker percentiles of the
metrics topic), consumer lag per topic, partitions assigned, and the versions in force
(models, rules, policy). ``fold`` takes a window of ``WorkerStats`` (every
``LOANRISK_METRICS_INTERVAL_S``); everything else is read when scraped.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from streams.settings import Settings
from streams.telemetry import (
    LATENCY_BUCKETS,
    STEP_BUCKETS,
    Check,
    FoldedHistogram,
    Heartbeat,
    TelemetryServer,
    discovery_file,
    histogram_family,
    new_registry,
)

if TYPE_CHECKING:
    from streams.worker.core import WorkerCore
    from streams.worker.metrics import WorkerStats
    from streams.worker.pipeline import DecisionPipeline
    from streams.worker.quotes import QuoteDesk

STEPS = ("features", "score", "anomaly", "decide")
#: Kafka lag per topic (summed over the worker's partitions), read when scraped
Lag = Callable[[], Mapping[str, int]]


class WorkerTelemetry:
    def __init__(self, worker: str, pipeline: DecisionPipeline, assigned: Callable[[], int],
                 lag: Lag | None, heartbeat: Heartbeat, quotes: QuoteDesk | None = None) -> None:
        self.worker, self.pipeline, self.assigned, self.lag = worker, pipeline, assigned, lag
        self.quotes = quotes
        self.heartbeat = heartbeat
        self.decisions: Counter[tuple[str, str]] = Counter()
        self.dead_letters = 0
        self.latency = FoldedHistogram(LATENCY_BUCKETS)
        self.steps = {s: FoldedHistogram(STEP_BUCKETS) for s in STEPS}
        self._lock = threading.Lock()

    def fold(self, stats: WorkerStats) -> None:
        """Add one window of the worker's stats (called by ``WorkerStats.snapshot``)."""
        self.latency.fold(np.asarray(stats.latencies_ms, dtype=float) / 1000)
        if stats.steps_us:
            table = np.array([[t.get(s, np.nan) for s in STEPS] for t in stats.steps_us]) / 1e6
            for i, step in enumerate(STEPS):
                column = table[:, i]
                self.steps[step].fold(column[~np.isnan(column)])
        with self._lock:
            for key, n in stats.decisions.items():
                product, _, outcome = key.rpartition(":")
                self.decisions[(product, outcome)] += n
            self.dead_letters += stats.dead_letters
        self.heartbeat.beat()

    # --- read by the scrape ---------------------------------------------------------
    def collect(self) -> Iterator[Metric]:
        decisions = CounterMetricFamily("loanrisk_decisions", "Decisions published (first "
                                        "decisions; redeliveries not counted)",
                                        labels=["product", "outcome"])
        with self._lock:
            for (product, outcome), n in sorted(self.decisions.items()):
                decisions.add_metric([product, outcome], n)
            dead = self.dead_letters
        yield decisions
        yield CounterMetricFamily("loanrisk_dead_letters", "Input messages sent to the "
                                  "dead-letter topic", value=dead)
        yield CounterMetricFamily("loanrisk_degraded_decisions", "Decisions made without "
                                  "feature state (Redis unavailable): REVIEW",
                                  value=self.pipeline.degraded_count)
        if self.quotes is not None:
            quotes = CounterMetricFamily("loanrisk_quotes", "Quotes published (indicative "
                                         "decisions on quote requests)",
                                         labels=["product", "decision"])
            for (product, decision), n in sorted(list(self.quotes.outcomes.items())):
                quotes.add_metric([product, decision], n)
            yield quotes
            yield CounterMetricFamily("loanrisk_degraded_quotes", "Quotes made without "
                                      "feature state (Redis unavailable): REVIEW",
                                      value=self.quotes.degraded)
        yield histogram_family("loanrisk_decision_latency_seconds", "Application event time "
                               "to decision", {"": self.latency})
        yield histogram_family("loanrisk_decision_step_seconds", "Time per decision step",
                               self.steps, label="step")
        yield GaugeMetricFamily("loanrisk_partitions_assigned", "Input partitions this worker "
                                "owns", value=self.assigned())
        if self.lag is not None:
            lag = GaugeMetricFamily("loanrisk_consumer_lag", "Messages not yet consumed, "
                                    "by topic (this worker's partitions)", labels=["topic"])
            for topic, n in sorted(self.lag().items()):
                lag.add_metric([topic], n)
            yield lag
        yield self._versions()

    def _versions(self) -> GaugeMetricFamily:
        info = GaugeMetricFamily("loanrisk_version_info", "Versions in force (value 1)",
                                 labels=["kind", "version"])
        decider = self.pipeline.decider
        versions: dict[str, Any] = {**self.pipeline.models.current.versions(),
                                    "rules": decider.rules.current.version,
                                    "policy": decider.policy.version, "worker": self.worker}
        for kind, version in sorted(versions.items()):
            info.add_metric([kind, str(version)], 1)
        return info

    def describe(self) -> list[Metric]:
        return []  # collected fresh on every scrape

    def readiness(self) -> dict[str, Check]:
        """``/readyz``: partitions assigned, models loaded, Redis reachable."""
        def partitions() -> tuple[bool, str]:
            n = self.assigned()
            return n > 0, f"{n} partitions assigned"

        def models() -> tuple[bool, str]:
            slots = self.pipeline.models
            versions = slots.current.versions() or "none (cold-start policy)"
            if slots.last_error:
                return False, f"{slots.last_error}; serving {versions}"
            return True, f"loaded: {versions}"

        def redis() -> tuple[bool, str]:
            self.pipeline.features.redis.ping()
            return True, "PING answered"

        return {"partitions": partitions, "models": models, "redis": redis}


def serve_worker_telemetry(settings: Settings, core: WorkerCore, assigned: Callable[[], int],
                           lag: Lag | None = None) -> TelemetryServer | None:
    """Attach Prometheus metrics to the worker's stats and serve them with the probes on
    ``LOANRISK_METRICS_PORT`` (None when it is -1: off)."""
    if settings.metrics_port < 0:
        return None
    heartbeat = Heartbeat(max(30.0, 3 * settings.metrics_interval_s))
    telemetry = WorkerTelemetry(core.stats.worker, core.pipeline, assigned, lag, heartbeat,
                                core.quotes)
    core.stats.telemetry = telemetry
    registry = new_registry()
    registry.register(telemetry)  # a custom collector
    server = TelemetryServer(registry, heartbeat.check, telemetry.readiness(),
                             settings.metrics_host, settings.metrics_port)
    return server.start(discovery_file(settings.state_dir, f"worker-{core.stats.worker}"))
