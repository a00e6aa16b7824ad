"""The worker's hot path without Kafka: CPU per application of each step, per batch size.

What a ``loanrisk worker`` does to a batch once librdkafka has handed it over --
decode (Avro, dead letters), fold the session events into Redis, the redelivery memo,
the feature script, scores, anomaly, the decision, the two encodes, the memo write --
run in process on the bench's champion models against a private redis-server (AOF on,
like the local one), on the same simulated traffic as ``python -m bench pipeline``.

CPU time, not wall time: the worker's thread CPU (``time.thread_time``) per application
and per step, and redis-server's CPU per application (from /proc), at batch sizes 1, 8,
64 and 256 applications. These move far less with the load of a shared machine than
latencies do. ``LOANRISK_BENCH_PROFILE=1`` also prints a cProfile (CPU time) of the
largest batch size. Last, the Redis main-thread CPU of each script part of the round trip (session
ingest, features, graph) at batch size ``PART_BATCH``, each sent as a call of its own.

Run: ``python -m bench hotpath`` (part of ``make bench``; ``LOANRISK_BENCH_QUICK=1``: 400
applications per batch size, a smoke run); the champion models come from
``.loanrisk/bench`` (``python -m bench pipeline`` trains them), else cold start.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from features.identity import application_identifiers
from features.roundtrip import execute

BATCHES = (1, 8, 64, 256)
PART_BATCH = 64
_QUICK = os.environ.get("LOANRISK_BENCH_QUICK", "") not in ("", "0")  # a smoke run
N_APPS = 400 if _QUICK else 2_000
WARM = 100 if _QUICK else 300


def _inbound(apps: list[Any]) -> list[list[Any]]:
    """Per application: its session messages then itself, as the worker receives them."""
    from streams.worker.core import Inbound

    out = []
    for n, (_id, key, value, _t, session) in enumerate(apps):
        msgs = [Inbound(t, k, v, 0, n) for t, k, v in session]
        msgs.append(Inbound("loan.applications.v1", key, value, 0, n))
        out.append(msgs)
    return out


def _commandstats(client: Any, n: int) -> str:
    """Redis's own time per command (commandstats: wall time inside the command, so a loaded
    machine inflates it; a script's time includes the commands it calls)."""
    stats = client.info("commandstats")
    top = sorted(((v["usec"] / n, k.removeprefix("cmdstat_")) for k, v in stats.items()),
                 reverse=True)[:8]
    return ", ".join(f"{name} {us:.0f}" for us, name in top)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Steps:
    """Thread CPU per named step, summed over a run."""

    def __init__(self) -> None:
        self.us: dict[str, float] = {}

    def add(self, name: str, t0: float) -> float:
        t1 = time.thread_time()
        self.us[name] = self.us.get(name, 0.0) + (t1 - t0) * 1e6
        return t1


def run_batches(core: Any, batches: list[list[list[Any]]], steps: Steps) -> None:
    """What ``KafkaWorker.process`` does per batch, minus the produce calls: the session
    state and the applications in one round trip, then the memo write."""
    for batch in batches:
        t = time.thread_time()
        state: list[Any] = []
        apps: list[Any] = []
        for msgs in batch:
            state += msgs[:-1]
            apps.append(msgs[-1])
        held = core.sort(state)
        t = steps.add("decode session", t)
        decoded = core.sort(apps).applications
        t = steps.add("decode application", t)
        core.decide_with_state(decoded, held)
        steps.add("state + decide batch", t)


def weigh_parts(core: Any, batches: list[list[list[Any]]], client: Any, warm: int
                ) -> dict[str, float]:
    """Redis main-thread CPU per application of each script part of
    ``FeatureEngine.exchange``, the parts sent one call each, after ``warm`` batches."""
    engine = core.pipeline.features
    us: dict[str, float] = {}
    done = 0
    for n, batch in enumerate(batches):
        held = core.sort([m for msgs in batch for m in msgs[:-1]])
        apps = core.sort([msgs[-1] for msgs in batch]).applications
        ids = [application_identifiers(engine.hash_key, a) for a in apps]
        parts = engine.script_parts(apps, ids, device_events=held.device,
                                    behaviour_events=held.behaviour)
        for name, call in parts.items():
            before = _main_thread_cpu_us(client)
            execute(engine.redis, [call])
            if n >= warm:
                us[name] = us.get(name, 0.0) + _main_thread_cpu_us(client) - before
        done += len(apps) if n >= warm else 0
    return {k: v / max(done, 1) for k, v in us.items()}


def _main_thread_cpu_us(client: Any) -> float:
    """CPU time of redis-server's main thread (where scripts run), in µs. Not commandstats'
    ``usec``: that is wall time, which grows whenever a loaded machine deschedules Redis."""
    cpu = client.info("cpu")
    return (float(cpu["used_cpu_user_main_thread"]) + float(cpu["used_cpu_sys_main_thread"])) * 1e6


@contextmanager
def private_redis(prefix: str) -> Iterator[tuple[Path, int, int]]:
    """A redis-server of the bench's own (AOF on, like the local one) on a free port, in a
    temporary directory: (that directory, the port, its pid); stopped afterwards."""
    import socket

    from infra.redis import RedisNode

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        node = RedisNode(Path(tmp), port, persistent=True)
        node.start()
        try:
            pid = node.process.pid()
            assert pid is not None
            yield Path(tmp), port, pid
        finally:
            node.stop()


def main() -> None:
    import redis

    from bench.pipeline.plan import BENCH_DIR, bench_settings
    from bench.pipeline.traffic import generate
    from streams.worker.core import WorkerCore

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    sizes = tuple(int(b) for b in os.environ.get("LOANRISK_BENCH_BATCHES", "").split(",")
                  if b) or BATCHES
    n = N_APPS + WARM
    apps = _inbound(generate(404, int(time.time() * 1000), 1000.0, n * len(sizes)))
    with private_redis("bench-hotpath-") as (tmp, port, redis_pid):
        hz = os.sysconf("SC_CLK_TCK")
        print(f"{'batch':>6} {'worker µs/app':>14} {'redis µs/app':>13}   steps µs/app")
        for i, size in enumerate(sizes):
            settings = bench_settings(redis_port=port, redis_prefix=f"hot{size}",
                                      state_dir=BENCH_DIR if (BENCH_DIR / "models").exists()
                                      else Path(tmp))
            core = WorkerCore(settings, lambda _k, _v: None, control=False)
            mine = apps[i * n:(i + 1) * n]
            batches = [mine[j:j + size] for j in range(0, len(mine), size)]
            warm = WARM // size or 1
            run_batches(core, batches[:warm], Steps())
            steps = Steps()
            client = redis.Redis(port=port)
            client.config_resetstat()
            r0, c0 = _cpu_ticks(redis_pid), time.thread_time()
            profile = os.environ.get("LOANRISK_BENCH_PROFILE") == "1" and size == sizes[-1]
            if profile:
                import cProfile

                prof = cProfile.Profile(time.thread_time)
                prof.enable()
            run_batches(core, batches[warm:], steps)
            if profile:
                prof.disable()
            done = sum(len(b) for b in batches[warm:])
            worker = (time.thread_time() - c0) * 1e6 / done
            redis_us = (_cpu_ticks(redis_pid) - r0) / hz * 1e6 / done
            split = ", ".join(f"{k} {v / done:.0f}" for k, v in steps.us.items())
            print(f"{size:>6} {worker:>14.0f} {redis_us:>13.0f}   {split}", flush=True)
            print(f"{'':36}redis µs/app by command: {_commandstats(client, done)}",
                  flush=True)
            if profile:
                import pstats

                pstats.Stats(prof).sort_stats("tottime").print_stats(40)
                pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        settings = bench_settings(redis_port=port, redis_prefix="parts",
                                  state_dir=BENCH_DIR if (BENCH_DIR / "models").exists()
                                  else Path(tmp))
        core = WorkerCore(settings, lambda _k, _v: None, control=False)
        extra = _inbound(generate(405, int(time.time() * 1000), 1000.0, n))
        parts = weigh_parts(core, [extra[j:j + PART_BATCH]
                                   for j in range(0, n, PART_BATCH)],
                            redis.Redis(port=port), WARM // PART_BATCH)
        print(f"redis CPU µs/app by script part (batch {PART_BATCH}, one call each): "
              + ", ".join(f"{k} {v:.0f}" for k, v in parts.items()), flush=True)


if __name__ == "__main__":
    main()
