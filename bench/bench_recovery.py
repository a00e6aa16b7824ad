"""How long a worker crash holds decisions back: two workers, steady traffic, one SIGKILLed.

Measured for the workers' session timeout (``LOANRISK_WORKER_SESSION_TIMEOUT_MS``, 6 s)
against the previous 10 s as the same-run baseline: the worst decision latency
(event time to decision) of applications published after the kill, and how long after
the kill latencies are back under a second. Its own stack (ports 19392/19393, Redis
16579, state under ``.loanrisk/bench-recovery``); no models (cold-start policy), which
does not change the rebalance.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from schemas import codec_for
from schemas.topics import DECISIONS
from simulator.config import SimConfig
from streams import kafka
from streams.ops import services
from streams.ops.live_traffic import run_live
from streams.ops.stack import LocalStack
from streams.settings import Settings

RATE = 200.0
BEFORE_KILL_S = 12.0
AFTER_KILL_S = 25.0
TIMEOUTS_MS = (10_000, 6_000)  # baseline first


@dataclass
class Recovery:
    session_timeout_ms: int
    worst_latency_ms: float
    back_under_1s_after_s: float | None
    decided: int


def _settings() -> Settings:
    return Settings(state_dir=Path(".loanrisk/bench-recovery"), kafka_port=19392,
                    kafka_controller_port=19393, redis_port=16579, hash_key=SecretStr("bench"))


def _watch(settings: Settings, group: str, stop: threading.Event,
           seen: list[tuple[float, float]]) -> None:
    """(wall time received, latency ms) of every decision published while running."""
    codec = codec_for(DECISIONS.schema)
    consumer = kafka.consumer(settings.kafka, group, {"auto.offset.reset": "latest"})
    consumer.subscribe([DECISIONS.name])
    try:
        while not stop.is_set():
            for msg in consumer.consume(num_messages=1000, timeout=0.2):
                if msg.error() is None:
                    d = codec.decode(msg.value())
                    seen.append((time.time(), float(d["decided_at"] - d["event_time"])))
    finally:
        consumer.close()


def _run(stack: LocalStack, timeout_ms: int) -> Recovery:
    env = {"LOANRISK_WORKER_SESSION_TIMEOUT_MS": str(timeout_ms),
           "LOANRISK_WORKER_GROUP": f"bench-recovery-{timeout_ms}-{int(time.time())}",
           "LOANRISK_WORKER_OFFSET_RESET": "latest"}
    workers = [stack.worker(i, **env) for i in range(2)]
    for w in workers:
        stack.wait_for_log(w, "Worker ready", timeout_s=180)
    seen: list[tuple[float, float]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(stack.settings, env["LOANRISK_WORKER_GROUP"]
                                                    + "-watch", stop, seen), daemon=True)
    watcher.start()
    publisher = threading.Thread(target=run_live, daemon=True, args=(
        stack.settings.kafka, SimConfig(), 11, RATE, BEFORE_KILL_S + AFTER_KILL_S),
        kwargs={"decisions": False})
    publisher.start()
    time.sleep(BEFORE_KILL_S)
    killed_at = time.time()
    workers[1].kill()
    publisher.join()
    time.sleep(3.0)  # the last decisions
    stop.set()
    watcher.join()
    workers[0].stop()
    after = [(t - killed_at, lat) for t, lat in seen if t >= killed_at]
    slow = [t for t, lat in after if lat >= 1000]
    return Recovery(timeout_ms, max((lat for _t, lat in after), default=0.0),
                    max(slow) if slow else 0.0, len(seen))


def _warm_broker(settings: Settings, timeout_s: float = 120.0) -> None:
    """A fresh broker's coordinators load for a while ("Coordinator load in progress"):
    until an idempotent producer is acknowledged, workers' outputs wait, which is not what
    this bench measures."""
    producer = kafka.producer(settings.kafka, {"enable.idempotence": True, "acks": "all"})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        producer.produce("loan.metrics.v1", b"warm-up", b"bench-recovery")
        if producer.flush(5) == 0:
            return
    raise RuntimeError(f"the bench broker did not acknowledge an idempotent producer "
                       f"within {timeout_s:.0f}s")


def main() -> None:
    settings = _settings()
    stack = LocalStack(settings)
    stack.up()
    try:
        _warm_broker(settings)
        _run(stack, TIMEOUTS_MS[-1])  # warm-up run (first workers, first groups), not shown
        results = [_run(stack, ms) for ms in TIMEOUTS_MS]
    finally:
        stack.stop_all()
        services.down(settings)
    base = results[0]
    for r in results:
        back = "never slow" if not r.back_under_1s_after_s else \
            f"{r.back_under_1s_after_s:.1f} s"
        print(f"session timeout {r.session_timeout_ms / 1000:.0f} s: worst latency after the "
              f"kill {r.worst_latency_ms / 1000:.1f} s; latencies back under 1 s {back} after "
              f"the kill; {r.decided:,} decisions seen")
    new = results[-1]
    if base.worst_latency_ms:
        print(f"ratio worst latency {new.session_timeout_ms // 1000} s / "
              f"{base.session_timeout_ms // 1000} s timeout: "
              f"{new.worst_latency_ms / base.worst_latency_ms:.2f}")
