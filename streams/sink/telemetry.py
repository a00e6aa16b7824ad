"""The sink's Prometheus metrics and probes (``streams.telemetry`` serves them).

Rows written per table, insert batches and failures, undecodable messages (kept in
``dead_letters``), consumer lag per topic and partitions assigned; all read from the
sink's own counters when scraped. Alive: its loop went round within 30 s (an insert
that keeps failing still goes round: it backs off while polling). Ready: partitions
assigned.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from streams import kafka
from streams.settings import Settings
from streams.sink.writer import ClickHouseSink
from streams.telemetry import TelemetryServer, discovery_file, new_registry

ALIVE_S = 30.0


class SinkTelemetry:
    def __init__(self, sink: ClickHouseSink) -> None:
        self.sink = sink

    def collect(self) -> Iterator[Metric]:
        stats = self.sink.stats
        rows = CounterMetricFamily("loanrisk_sink_rows", "Rows inserted into ClickHouse",
                                   labels=["table"])
        for table, n in sorted(dict(stats.written).items()):
            rows.add_metric([table], n)
        yield rows
        yield CounterMetricFamily("loanrisk_sink_batches", "Insert batches committed",
                                  value=stats.batches)
        yield CounterMetricFamily("loanrisk_sink_insert_failures", "Inserts that failed "
                                  "(retried with backoff)", value=stats.failures)
        yield CounterMetricFamily("loanrisk_sink_undecodable", "Messages the sink could not "
                                  "decode (written to dead_letters)", value=stats.undecodable)
        lag = GaugeMetricFamily("loanrisk_consumer_lag", "Messages not yet consumed, by topic",
                                labels=["topic"])
        for topic, n in sorted(kafka.consumer_lag(self.sink.consumer, self.sink.owned).items()):
            lag.add_metric([topic], n)
        yield lag
        yield GaugeMetricFamily("loanrisk_partitions_assigned", "Partitions this sink owns",
                                value=len(self.sink.owned))

    def describe(self) -> list[Metric]:
        return []

    def alive(self) -> tuple[bool, str]:
        age = time.monotonic() - self.sink.last_loop
        return age < ALIVE_S, f"main loop last went round {age:.1f}s ago"

    def partitions(self) -> tuple[bool, str]:
        n = len(self.sink.consumer.assignment())
        return n > 0, f"{n} partitions assigned"


def serve_sink_telemetry(settings: Settings, sink: ClickHouseSink) -> TelemetryServer | None:
    if settings.metrics_port < 0:
        return None
    telemetry = SinkTelemetry(sink)
    registry = new_registry()
    registry.register(telemetry)  # a custom collector
    server = TelemetryServer(registry, telemetry.alive, {"partitions": telemetry.partitions},
                             settings.metrics_host, settings.metrics_port)
    return server.start(discovery_file(settings.state_dir, "sink"))
