"""What the workers' ``fetch.wait.max.ms`` costs: broker CPU while a consumer idles, and the
latency of a message at a steady 200/s, for the old 5 ms and today's
``streams.kafka.WORKER_FETCH_WAIT_MS``, alternated in one run on one broker.

With ``fetch.min.bytes`` at 1 the broker answers a held fetch as soon as a message arrives,
so a longer wait should not delay messages; a short one makes an idle consumer ask again
and again. This bench measures both sides of that claim. Its broker has a port of its own
(33092 + ``LOANRISK_BENCH_PORT_OFFSET``) and lives in a temporary directory;
``LOANRISK_BENCH_QUICK=1`` shortens every probe to seconds (a smoke run, not a figure).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.pipeline.plan import PORT_OFFSET

PORT = 33092 + PORT_OFFSET
_QUICK = os.environ.get("LOANRISK_BENCH_QUICK", "") not in ("", "0")  # seconds, not minutes
IDLE_S = 2.0 if _QUICK else 8.0
LATENCY_S = 2.0 if _QUICK else 8.0
SETTLE_S = 2.0 if _QUICK else 4.0
RATE = 200
ROUNDS = 1 if _QUICK else 2

if TYPE_CHECKING:
    from confluent_kafka import Consumer


@dataclass(frozen=True)
class Probe:
    wait_ms: int
    broker_idle_pct: float
    p50_ms: float
    p99_ms: float
    n: int


def _broker_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _worker_consumer(bootstrap: str, wait_ms: int, group: str) -> Consumer:
    from streams import kafka
    from streams.settings import Settings
    from streams.worker.kafka_loop import consumer_options

    options = {**consumer_options(Settings(), group), "fetch.wait.max.ms": wait_ms,
               "auto.offset.reset": "latest"}
    return kafka.consumer(bootstrap, group, options)


def _idle_cpu(bootstrap: str, pid: int, wait_ms: int, topics: list[str]) -> float:
    """Broker CPU (% of one core) while one worker-like consumer polls topics with no traffic."""
    consumer = _worker_consumer(bootstrap, wait_ms, f"fw-idle-{wait_ms}-{time.time_ns()}")
    consumer.subscribe(topics)
    settle = time.monotonic() + SETTLE_S
    while time.monotonic() < settle:  # joined and fetching
        consumer.poll(0.05)
    t0, w0 = _broker_ticks(pid), time.monotonic()
    while time.monotonic() - w0 < IDLE_S:
        consumer.poll(0.05)
    pct = (_broker_ticks(pid) - t0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - w0) * 100
    consumer.close()
    return pct


def _latency(bootstrap: str, wait_ms: int, topic: str) -> tuple[float, float, int]:
    """p50, p99 (ms) and count of produce -> consume at RATE messages/s."""
    from streams import kafka

    consumer = _worker_consumer(bootstrap, wait_ms, f"fw-lat-{wait_ms}-{time.time_ns()}")
    consumer.subscribe([topic])
    settle = time.monotonic() + SETTLE_S
    while time.monotonic() < settle:
        consumer.poll(0.05)
    producer = kafka.producer(bootstrap, {"linger.ms": 1})
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            producer.produce(topic, str(time.time()).encode())
            producer.poll(0)
            time.sleep(1 / RATE)

    sender = threading.Thread(target=produce, daemon=True)
    sender.start()
    lat: list[float] = []
    end = time.monotonic() + LATENCY_S
    while time.monotonic() < end:
        m = consumer.poll(0.05)
        if m is not None and m.error() is None:
            lat.append((time.time() - float(m.value() or b"nan")) * 1000)
    stop.set()
    sender.join()
    producer.flush(10)
    consumer.close()
    if not lat:
        raise RuntimeError(f"no message came back within {LATENCY_S}s (wait {wait_ms} ms)")
    lat.sort()
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], len(lat)


def main() -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    from infra.kafka import KafkaNode
    from streams.kafka import WORKER_FETCH_WAIT_MS
    from streams.worker.core import INPUTS

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        node = KafkaNode(Path(tmp), PORT, PORT + 1)
        node.start()
        try:
            bootstrap = f"127.0.0.1:{PORT}"
            topics = [*INPUTS]
            admin = AdminClient({"bootstrap.servers": bootstrap})
            for f in admin.create_topics([NewTopic(t, 6, 1) for t in [*topics, "fw-probe"]]
                                         ).values():
                f.result(30)
            pid = node.process.pid()
            assert pid is not None
            _idle_cpu(bootstrap, pid, 5, topics)  # the broker's JIT warms up: not counted
            probes = []
            for _ in range(ROUNDS):
                for wait in (5, WORKER_FETCH_WAIT_MS):
                    idle = _idle_cpu(bootstrap, pid, wait, topics)
                    p50, p99, n = _latency(bootstrap, wait, "fw-probe")
                    probes.append(Probe(wait, idle, p50, p99, n))
                    print(f"  fetch.wait.max.ms {wait:>4}: broker {idle:5.1f}% of a core with one "
                          f"idle consumer; at {RATE}/s p50 {p50:5.1f} ms p99 {p99:6.1f} ms "
                          f"(n={n})", flush=True)
            _summary(probes, WORKER_FETCH_WAIT_MS)
        finally:
            node.stop()


def _summary(probes: list[Probe], chosen: int) -> None:
    def mean(wait: int, attr: str) -> float:
        values = [getattr(p, attr) for p in probes if p.wait_ms == wait]
        return sum(values) / len(values)

    old, new = mean(5, "broker_idle_pct"), mean(chosen, "broker_idle_pct")
    print(f"idle broker CPU: {old:.1f}% at 5 ms vs {new:.1f}% at {chosen} ms "
          f"({old / max(new, 0.1):.1f}x); p50 {mean(5, 'p50_ms'):.1f} vs "
          f"{mean(chosen, 'p50_ms'):.1f} ms, p99 {mean(5, 'p99_ms'):.1f} vs "
          f"{mean(chosen, 'p99_ms'):.1f} ms")


if __name__ == "__main__":
    main()
