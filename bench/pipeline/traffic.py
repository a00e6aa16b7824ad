"""The bench's traffic: generated and Avro-encoded before any timing, then published
paced (in ~1 ms bursts) or unpaced, each application ``lead`` after its session events."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

from bench.pipeline.plan import HOUR_MS, Plan
from streams import kafka

# one application: (application id, key, value, event_time ms, [(topic, key, value), ...])
App = tuple[str, bytes, bytes, int, list[tuple[str, bytes, bytes]]]
# one scheduled message: (seconds from the start, app index, topic, key, value, app id
# when it is the application itself, None for a session event)
Scheduled = tuple[float, int, str, bytes, bytes, str | None]


def generate(seed: int, start_ms: int, rate: float, n: int) -> list[App]:
    """``n`` applications with their session events, encoded; event times at ``rate``/s."""
    from schemas import codec_for
    from schemas.topics import APPLICATIONS, BY_NAME
    from simulator.config import SimConfig
    from simulator.live import LiveGenerator

    codecs = {name: codec_for(t.schema) for name, t in BY_NAME.items()}
    gen = LiveGenerator(SimConfig(), seed, start_ms, rate)
    out: list[App] = []
    while len(out) < n:
        for events in gen.next_chunk():
            session = [(t, k.encode(), codecs[t].encode(r)) for t, k, r in events[:-1]]
            topic, key, rec = events[-1]
            assert topic == APPLICATIONS.name
            out.append((key, key.encode(), codecs[topic].encode(rec), rec["event_time"],
                        session))
    return out[:n]


@dataclass(frozen=True)
class Traffic:
    """Every application a run publishes: the rates and backlogs draw from ``pool``, the
    warm-ups from ``warm``; ``hour`` spans more than a simulated hour of event time."""

    pool: list[App]
    warm: list[App]
    hour: list[App]

    @property
    def hour_span_h(self) -> float:
        return (self.hour[-1][3] - self.hour[0][3]) / HOUR_MS

    @property
    def messages_per_application(self) -> float:
        apps = (*self.pool, *self.warm, *self.hour)
        return sum(1 + len(a[4]) for a in apps) / len(apps)


def make_traffic(plan: Plan) -> Traffic:
    """Generate it all up front, then freeze the heap so the collector skips it later."""
    t0 = time.monotonic()
    pool = generate(101, int(time.time() * 1000), 1000.0, plan.paced_apps + plan.backlog)
    warm = generate(202, pool[-1][3] + 60_000, 100.0, 3 * plan.warmup)
    # Poisson arrivals at hour_apps per 65 minutes of event time: > 1 simulated hour
    hour = generate(303, warm[-1][3] + 60_000, plan.hour_apps / 3900.0, plan.hour_apps)
    traffic = Traffic(pool, warm, hour)
    n = len(pool) + len(warm) + len(hour)
    msgs = sum(1 + len(a[4]) for a in (*pool, *warm, *hour))
    print(f"traffic: {n:,} applications, {msgs:,} messages generated and encoded in "
          f"{time.monotonic() - t0:.1f}s (hour phase spans {traffic.hour_span_h:.2f} h of "
          "event time)", flush=True)
    gc.collect()
    gc.freeze()
    return traffic


def schedule(apps: list[App], rate: float, lead_s: float) -> list[Scheduled]:
    """When each message goes: applications at ``rate``/s, their sessions ``lead_s`` before."""
    from schemas.topics import APPLICATIONS

    plan: list[Scheduled] = []
    for i, (app_id, key, value, _t, session) in enumerate(apps):
        at = lead_s + i / rate
        plan.extend((at - lead_s, i, t, k, v, None) for t, k, v in session)
        plan.append((at, i, APPLICATIONS.name, key, value, app_id))
    plan.sort(key=lambda p: (p[0], p[1], p[5] is not None))
    return plan


class Publisher:
    """Publishes applications (after their session events) paced or unpaced, recording the
    wall time each application was handed to the producer."""

    def __init__(self, conn: kafka.Connection) -> None:
        self.producer = kafka.producer(conn, {
            "linger.ms": 1, "acks": "1", "enable.idempotence": False,
            "batch.num.messages": 10_000, "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        })

    def send(self, apps: list[App], rate: float | None, lead_s: float = 0.1) -> dict[str, float]:
        sent = self._unpaced(apps) if rate is None else self._paced(schedule(apps, rate, lead_s))
        self.producer.flush(60)
        return sent

    def _unpaced(self, apps: list[App]) -> dict[str, float]:
        from schemas.topics import APPLICATIONS

        sent: dict[str, float] = {}
        for app_id, key, value, _t, session in apps:
            for t, k, v in session:
                kafka.produce(self.producer, t, v, k)
            kafka.produce(self.producer, APPLICATIONS.name, value, key)
            sent[app_id] = time.time()
            self.producer.poll(0)
        return sent

    def _paced(self, plan: list[Scheduled]) -> dict[str, float]:
        sent: dict[str, float] = {}
        t0 = time.perf_counter()
        j, n = 0, len(plan)
        while j < n:
            now = time.perf_counter() - t0
            while j < n and plan[j][0] <= now:
                _at, _i, t, k, v, planned_id = plan[j]
                kafka.produce(self.producer, t, v, k)
                if planned_id is not None:
                    sent[planned_id] = time.time()
                j += 1
            self.producer.poll(0)
            if j < n:
                wait = plan[j][0] - (time.perf_counter() - t0)
                if wait > 0:
                    time.sleep(wait)
        return sent
