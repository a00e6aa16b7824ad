"""``loanrisk monitor``: a live terminal view of the workers' metrics and the consumer lag.

Reads the metrics topic (each worker's latest snapshot) and the committed
offsets of the worker group, so it needs neither ClickHouse nor the sink.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_END, TopicPartition

from schemas import codec_for
from schemas.topics import APPLICATIONS, METRICS
from streams import kafka


@dataclass
class MonitorState:
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # worker -> snapshot
    lag: int | None = None

    def live(self, stale_after_ms: int = 30_000) -> dict[str, dict[str, Any]]:
        """Workers that reported within ``stale_after_ms`` (stopped ones drop out)."""
        now = int(time.time() * 1000)
        return {w: m for w, m in self.latest.items() if now - m["window_end"] < stale_after_ms}

    def totals(self, stale_after_ms: int = 30_000) -> dict[str, Any]:
        live = list(self.live(stale_after_ms).values())
        n = sum(m["applications"] for m in live)
        approvals = sum(v for m in live for k, v in m["decisions"].items()
                        if k.endswith(":APPROVE"))
        return {
            "workers": len(live), "applications": n,
            "approval_rate": approvals / n if n else None,
            "throughput_per_s": sum(m["throughput_per_s"] for m in live),
            "latency_p99_ms": max((m["latency_p99_ms"] or 0 for m in live), default=None),
            "dead_letters": sum(m["dead_letters"] for m in live), "lag": self.lag,
        }


class Monitor:
    def __init__(self, conn: kafka.Connection, worker_group: str) -> None:
        self.codec = codec_for(METRICS.schema)
        self.metrics = kafka.consumer(conn, "loanrisk-monitor", {"enable.auto.commit": False})
        # start a little before the end: the last snapshot of every live worker
        parts = [TopicPartition(METRICS.name, p) for p in range(METRICS.partitions)]
        starts = []
        for tp in parts:
            low, high = self.metrics.get_watermark_offsets(tp, timeout=5)
            starts.append(TopicPartition(tp.topic, tp.partition, max(low, high - 200)))
        self.metrics.assign(starts)
        self.group = kafka.consumer(conn, worker_group, {"enable.auto.commit": False})
        self.app_parts = [TopicPartition(APPLICATIONS.name, p)
                          for p in range(APPLICATIONS.partitions)]
        self.state = MonitorState()

    def poll(self) -> MonitorState:
        for msg in self.metrics.consume(num_messages=1000, timeout=0.2):
            if msg.error() is None:
                rec = self.codec.decode(msg.value())
                self.state.latest[rec["worker"]] = rec
        self.state.lag = self._lag()
        return self.state

    def _lag(self) -> int | None:
        try:
            committed = self.group.committed(self.app_parts, timeout=5)
            lag = 0
            for tp in committed:
                low, high = self.group.get_watermark_offsets(tp, timeout=5)
                pos = tp.offset if tp.offset >= 0 and tp.offset != OFFSET_END else low
                lag += max(high - pos, 0)
            return lag
        except Exception:
            return None

    def close(self) -> None:
        self.metrics.close()
        self.group.close()


def snapshot(state: MonitorState) -> dict[str, Any]:
    """What ``monitor --once --json`` prints: the totals and each live worker's last metrics
    record (the metrics topic's schema fields), workers sorted by name."""
    live = state.live()
    return {"totals": state.totals(), "workers": [live[w] for w in sorted(live)],
            "stopped_workers": len(state.latest) - len(live)}


def render(state: MonitorState) -> Any:
    from rich.table import Table

    t = state.totals()

    def fmt(v: Any, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    head = Table.grid(padding=(0, 3))
    head.add_row(
        f"workers [bold]{t['workers']}[/]",
        f"throughput [bold]{t['throughput_per_s']:.0f}/s[/]",
        f"approval rate [bold]{fmt(t['approval_rate'], '.1%')}[/]",
        f"p99 latency [bold]{fmt(t['latency_p99_ms'], '.1f')} ms[/]",
        f"lag [bold]{fmt(t['lag'], 'd')}[/]",
        f"dead letters [bold]{t['dead_letters']}[/]",
    )
    live = state.live()
    stale = len(state.latest) - len(live)
    title = "last interval per worker" + (f" ({stale} stopped worker(s) hidden)" if stale else "")
    table = Table("worker", "apps", "approve %", "p50 ms", "p95 ms", "p99 ms", "per s",
                  "mean PD", "mean fraud", "anomaly %", "dead", title=title)
    for w, m in sorted(live.items()):
        table.add_row(w, str(m["applications"]), fmt(m["approval_rate"], ".1%"),
                      fmt(m["latency_p50_ms"], ".1f"), fmt(m["latency_p95_ms"], ".1f"),
                      fmt(m["latency_p99_ms"], ".1f"), f"{m['throughput_per_s']:.0f}",
                      fmt(m["mean_pd"], ".3f"), fmt(m["mean_fraud_probability"], ".3f"),
                      fmt(m["anomaly_rate"], ".1%"), str(m["dead_letters"]))
    from rich.console import Group

    return Group(head, table)
