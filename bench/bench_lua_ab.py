"""A/B of the feature scripts: ``compute.lua`` and ``graph.lua`` of a git revision against
the working tree's, on the hotpath bench's traffic, in one run.

Under a shared machine's load two runs of ``python -m bench hotpath`` differ by more than a
script change saves, so this bench runs both versions in the same process against the same
redis-server, each on a key prefix of its own, alternating which goes first batch by batch.
Per version and part: Redis main-thread CPU per application (the part sent as a call of its
own, as ``hotpath`` weighs parts) and the commands the script ran. Each batch's replies must
be byte for byte the same, else the bench stops: a faster script must not change a value.

Run: ``LOANRISK_BENCH_LUA_BASE=<revision> python -m bench lua_ab`` (without it: nothing to
compare, the bench says so). The revision's parts run with the working tree's
``lua/lib.lua`` (the helpers only grow). ``LOANRISK_BENCH_BATCHES`` (first size, default 64).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.bench_hotpath import N_APPS, WARM, _inbound, _main_thread_cpu_us, private_redis
from features.identity import application_identifiers
from features.roundtrip import LuaPart, execute

PARTS = ("compute", "graph")


def _sources(rev: str) -> dict[str, str]:
    out = {}
    for part in PARTS:
        out[part] = subprocess.run(["git", "show", f"{rev}:features/lua/{part}.lua"],
                                   check=True, capture_output=True, text=True).stdout
    return out


def _commands(client: Any) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def main() -> None:
    import redis

    from bench.pipeline.plan import bench_settings
    from bench.pipeline.traffic import generate
    from streams.worker.core import WorkerCore

    rev = os.environ.get("LOANRISK_BENCH_LUA_BASE")
    if not rev:
        print("set LOANRISK_BENCH_LUA_BASE=<git revision> to compare its compute.lua and "
              "graph.lua with the working tree's")
        return
    size = int((os.environ.get("LOANRISK_BENCH_BATCHES") or "64").split(",")[0])
    versions = {rev: _sources(rev), "tree": {}}
    print(f"load average {os.getloadavg()[0]:.2f}; batch {size}; {rev} against the tree")
    with private_redis("bench-lua-ab-") as (tmp, port, _pid):
        client = redis.Redis(port=port)
        cores = {}
        for i, (name, sources) in enumerate(versions.items()):
            core = WorkerCore(bench_settings(redis_port=port, redis_prefix=f"ab{i}",
                                             state_dir=Path(tmp)),
                              lambda _k, _v: None, control=False)
            for part, src in sources.items():
                setattr(core.pipeline.features, f"_{part}", LuaPart(part, src))
            cores[name] = core
        n = N_APPS + WARM
        apps = _inbound(generate(405, int(time.time() * 1000), 1000.0, n))
        batches = [apps[j:j + size] for j in range(0, n, size)]
        cpu, calls, done = _weigh(cores, batches, client, WARM // size or 1)
        for part in PARTS:
            for name in versions:
                top = sorted(calls[name, part].items(), key=lambda kv: -kv[1])[:8]
                print(f"{part:8} {name:>12}: {cpu[name, part] / done:6.0f} µs/app of Redis "
                      "CPU; commands/app " + ", ".join(f"{k} {v / done:.1f}" for k, v in top))


def _weigh(cores: dict[str, Any], batches: list[list[list[Any]]], client: Any, warm: int
           ) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], dict[str, int]], int]:
    """Every batch through each version (order alternating), parts one call each, with every
    16th application of the batch before declined; Redis CPU and commands per (version,
    part) after ``warm`` batches, and the applications counted."""
    cpu: dict[tuple[str, str], float] = {}
    calls: dict[tuple[str, str], dict[str, int]] = {}
    done = 0
    names = list(cores)
    declines: list[tuple[str, int]] = []  # some of the last batch's, so the graph counts some
    for n, batch in enumerate(batches):
        replies: dict[str, dict[str, Any]] = {}
        for name in (names if n % 2 == 0 else names[::-1]):
            core = cores[name]
            engine = core.pipeline.features
            held = core.sort([m for msgs in batch for m in msgs[:-1]])
            decoded = core.sort([msgs[-1] for msgs in batch]).applications
            ids = [application_identifiers(engine.hash_key, a) for a in decoded]
            parts = engine.script_parts(decoded, ids, device_events=held.device,
                                        behaviour_events=held.behaviour, declines=declines)
            replies[name] = {}
            for part, call in parts.items():
                c0, k0 = _main_thread_cpu_us(client), _commands(client)
                replies[name][part] = execute(engine.redis, [call])[0]
                c1, k1 = _main_thread_cpu_us(client), _commands(client)
                if n >= warm and part in PARTS:
                    cpu[name, part] = cpu.get((name, part), 0.0) + c1 - c0
                    into = calls.setdefault((name, part), {})
                    for k, v in k1.items():
                        if k not in ("evalsha", "info"):
                            into[k] = into.get(k, 0) + v - k0.get(k, 0)
        declines = [(a["application_id"], int(a["event_time"])) for a in decoded[::16]]
        first, *others = replies.values()
        for other in others:
            for part in PARTS:
                if other[part] != first[part]:
                    raise SystemExit(f"batch {n}: {part} replies differ between versions")
        done += len(batch) if n >= warm else 0
    return cpu, calls, done
