"""One batch after the other vs overlapped (``streams/worker/overlap.py``), in process.

The same simulated traffic as ``python -m bench pipeline`` goes through the worker's step
(decode, session state + features in one round trip, decide, memo write) against a
private redis-server, without Kafka: once as ``WorkerCore.decide_with_state`` (the
round trip, then the decisions) and once through ``Overlap`` (batch n+1's round trip on
the Redis thread while batch n is decided), alternated ``ROUNDS`` times on fresh key
prefixes. Printed per run: the rate (wall time: what overlapping changes), the worker's
CPU per application (both threads, ``time.process_time``) and redis-server's (/proc).

Run: ``python -m bench overlap`` (``LOANRISK_BENCH_BATCHES=64`` the batch size,
``LOANRISK_BENCH_QUICK=1`` a smoke run); the champion models come from ``.loanrisk/bench``
(``python -m bench pipeline`` trains them), else cold start.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench.bench_hotpath import _cpu_ticks, _inbound, private_redis

_QUICK = os.environ.get("LOANRISK_BENCH_QUICK", "") not in ("", "0")
N_APPS = 256 if _QUICK else 1_280
WARM = 128 if _QUICK else 256
ROUNDS = 1 if _QUICK else 3


def _run(core: Any, flow: Any, batches: list[list[list[Any]]]) -> int:
    """The worker's step on each batch, one after the other (``flow`` None) or overlapped."""
    done = 0
    for batch in batches:
        held = core.sort([m for msgs in batch for m in msgs[:-1]])
        apps = core.sort([msgs[-1] for msgs in batch]).applications
        if flow is None:
            done += len(core.decide_with_state(apps, held)[0])
        else:
            flow.land()
            done += len(flow.send(apps, held))
    if flow is not None:
        done += len(flow.drain())
        flow.settle()
    return done


def main() -> None:
    from bench.pipeline.plan import BENCH_DIR, bench_settings
    from bench.pipeline.traffic import generate
    from streams.worker.core import WorkerCore
    from streams.worker.overlap import Overlap

    size = int(os.environ.get("LOANRISK_BENCH_BATCHES", "64").split(",")[-1])
    n = N_APPS + WARM
    traffic = _inbound(generate(404, int(time.time() * 1000), 1000.0, n * 2 * ROUNDS))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; batch {size}, "
          f"{N_APPS} applications per run after {WARM}")
    with private_redis("bench-overlap-") as (tmp, port, redis_pid):
        hz = os.sysconf("SC_CLK_TCK")
        models = BENCH_DIR if (BENCH_DIR / "models").exists() else Path(tmp)
        print(f"{'':14} {'apps/s':>7} {'worker µs/app':>14} {'redis µs/app':>13}")
        for k in range(2 * ROUNDS):
            overlapped = k % 2 == 1
            settings = bench_settings(redis_port=port, redis_prefix=f"ovl{k}",
                                      state_dir=models)
            core = WorkerCore(settings, lambda _k, _v: None, control=False)
            flow = Overlap(core.pipeline, core.record) if overlapped else None
            mine = traffic[k * n:(k + 1) * n]
            batches = [mine[j:j + size] for j in range(0, n, size)]
            warm = max(WARM // size, 1)
            _run(core, flow, batches[:warm])
            t0, c0, r0 = time.perf_counter(), time.process_time(), _cpu_ticks(redis_pid)
            done = _run(core, flow, batches[warm:])
            wall = time.perf_counter() - t0
            worker = (time.process_time() - c0) * 1e6 / done
            redis_us = (_cpu_ticks(redis_pid) - r0) / hz * 1e6 / done
            label = "overlapped" if overlapped else "one by one"
            print(f"{label:14} {done / wall:>7.0f} {worker:>14.0f} {redis_us:>13.0f}"
                  f"   (load {os.getloadavg()[0]:.1f})", flush=True)
            if flow is not None:
                flow.close()


if __name__ == "__main__":
    main()
