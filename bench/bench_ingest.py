"""Session ingest alone: Redis CPU and worker CPU per application, by how sessions arrive.

The hot path bench sends each application's session events in the same call as the
application, so every session is new to Redis there. Live, a session's first behaviour
batch often comes in an earlier worker batch than the rest, and Kafka redelivers. So
three shapes, on the pipeline bench's simulated traffic, batches of ``BATCH``
applications:

- ``whole``: each session's events in one call (new sessions);
- ``split``: the first behaviour batch of each session in one call, the rest and the
  device event in the next (half the calls meet an existing session);
- ``redelivered``: every ``whole`` call sent twice (the second finds every key seen).

On a redis-server of its own (port ``BENCH_PORT`` + ``LOANRISK_BENCH_PORT_OFFSET``, AOF on
like the local one). Redis CPU is the server's main-thread CPU (``INFO cpu``, less the cost
of the INFO call itself), which the load of a shared machine moves far less than
commandstats' wall time; worker CPU is the thread CPU of building the call
(``script_parts``). Only public engine API is used, so the same file measures another
checkout (run it by path with that checkout first on PYTHONPATH) for a same-run A/B.

Run: ``python -m bench ingest``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

BATCH = 64
BENCH_PORT = 36485  # + LOANRISK_BENCH_PORT_OFFSET
N_APPS = 1536
SHAPES = ("whole", "split", "redelivered")


def _sessions(n: int) -> list[tuple[list[Any], list[list[Any]]]]:
    """Per application: its device events and its behaviour batches' events, decoded."""
    from bench.pipeline.traffic import generate
    from schemas import codec_for
    from schemas.topics import BEHAVIOUR_EVENTS, BY_NAME, DEVICE_EVENTS

    codecs = {name: codec_for(t.schema) for name, t in BY_NAME.items()}
    out = []
    for *_, session in generate(405, int(time.time() * 1000), 1000.0, n):
        dev, beh = [], []
        for topic, _key, value in session:
            rec = codecs[topic].decode(value)
            if topic == DEVICE_EVENTS.name:
                dev.append(rec)
            elif topic == BEHAVIOUR_EVENTS.name:
                beh.append(rec["events"])
        out.append((dev, beh))
    return out


def calls(shape: str, apps: list[tuple[list[Any], list[list[Any]]]]
          ) -> list[tuple[list[Any], list[Any]]]:
    """(device events, behaviour events) of each ingest call of ``shape``, in order."""
    out: list[tuple[list[Any], list[Any]]] = []
    for j in range(0, len(apps), BATCH):
        chunk = apps[j:j + BATCH]
        whole = ([d for dev, _ in chunk for d in dev],
                 [e for _, beh in chunk for batch in beh for e in batch])
        if shape == "whole":
            out.append(whole)
        elif shape == "redelivered":
            out += [whole, whole]
        else:
            out.append(([], [e for _, beh in chunk for e in beh[0]]))
            out.append(([d for dev, _ in chunk for d in dev],
                        [e for _, beh in chunk for batch in beh[1:] for e in batch]))
    return out


def measure(client: Any, shape: str, apps: list[tuple[list[Any], list[list[Any]]]]
            ) -> tuple[float, float]:
    """(Redis µs, worker µs) per application of ingesting ``apps`` as ``shape``."""
    from bench.bench_hotpath import _main_thread_cpu_us
    from features.engine import FeatureEngine
    from features.roundtrip import execute

    engine = FeatureEngine(client, b"bench-ingest", prefix=f"ing-{shape}-{time.time_ns()}")
    probe = _main_thread_cpu_us(client)
    for _ in range(20):
        _main_thread_cpu_us(client)
    info_us = (_main_thread_cpu_us(client) - probe) / 21
    redis_us = worker_us = 0.0
    for dev, beh in calls(shape, apps):
        t0 = time.thread_time()
        call = engine.script_parts([], [], device_events=dev, behaviour_events=beh)["ingest"]
        worker_us += (time.thread_time() - t0) * 1e6
        before = _main_thread_cpu_us(client)
        execute(client, [call])
        redis_us += _main_thread_cpu_us(client) - before - info_us
    return redis_us / len(apps), worker_us / len(apps)


def main() -> None:
    import redis

    from bench.pipeline.plan import PORT_OFFSET
    from infra.redis import RedisNode

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    apps = _sessions(N_APPS)
    events = sum(len(e) for _, beh in apps for e in beh) / len(apps)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        node = RedisNode(Path(tmp), BENCH_PORT + PORT_OFFSET, persistent=True)
        node.start()
        try:
            client = redis.Redis(port=node.port)
            measure(client, "whole", apps[:BATCH * 4])  # warm-up: script cache, allocator
            print(f"{len(apps)} applications, {events:.1f} behaviour events each, "
                  f"batches of {BATCH}")
            for shape in SHAPES:
                r, w = measure(client, shape, apps)
                print(f"{shape:>12}: redis {r:6.1f} µs/app  worker {w:6.1f} µs/app", flush=True)
        finally:
            node.stop()


if __name__ == "__main__":
    main()
