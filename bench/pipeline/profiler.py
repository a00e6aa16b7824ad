"""One ``loanrisk worker`` under cProfile, switched on and off by a signal so that only the
measured phases are profiled (not start-up, not the warm-up): the worker the other phases
measure (the default engine, the confluent-kafka loop), timed in CPU time of its main
thread (``time.thread_time``: waiting for a core on a shared machine does not count), its
top functions and its CPU per step of the loop.

``python -m bench.pipeline.profiler OUT`` is the profiled worker (the runner starts it).
"""

from __future__ import annotations

import io
import os
import pstats
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.pipeline.plan import ROOT
from streams.ops.stack import LocalStack, Proc

# mode's Worker takes SIGUSR1/SIGUSR2 for itself
PROFILE_SIGNAL = signal.SIGRTMIN + 2


def profiled_worker(out: str) -> None:
    """``loanrisk worker``; PROFILE_SIGNAL starts the profile, a second one dumps it to ``out``."""
    import cProfile
    import time

    prof = cProfile.Profile(time.thread_time)
    on = [False]

    def toggle(*_: Any) -> None:
        if not on[0]:
            prof.enable()
        else:
            prof.disable()
            prof.dump_stats(out)
        on[0] = not on[0]

    signal.signal(PROFILE_SIGNAL, toggle)
    from streams.cli import app

    # exactly what the measured workers run (``LocalStack.worker``), engine included
    app(args=["worker", "--loglevel", "info"], prog_name="loanrisk")


def start_profiled_worker(stack: LocalStack, index: int, env: dict[str, str],
                          out: Path) -> Proc:
    """Start it like ``LocalStack.worker`` would a plain one (same environment, same log)."""
    name = f"worker-{index}"
    log = stack.logs / f"{name}.log"
    out.unlink(missing_ok=True)
    fh = open(log, "ab")  # noqa: SIM115 - the child owns it
    popen = subprocess.Popen(
        [sys.executable, "-m", "bench.pipeline.profiler", str(out)],
        stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
        env=stack.env(LOANRISK_WORKER_ID=name, **env), start_new_session=True)
    proc = Proc(name, popen, log)
    stack.procs.append(proc)
    return proc


def toggle(procs: list[Proc]) -> None:
    """Start profiling, or (the second time) stop and dump."""
    for p in procs:
        os.kill(p.pid, PROFILE_SIGNAL)


#: the loop's steps, each the cumulative CPU time of the function that does it
STEPS: tuple[tuple[str, str], ...] = (
    ("consume (librdkafka poll)", "{Consumer:consume"),
    ("decode + validate", "core.py:sort"),
    ("redis round trip (state, memo, features)", "engine.py:exchange"),
    ("features from the raw vector", "engine.py:_features"),
    ("identifier hashes", "identity.py:application_identifiers"),
    ("score (LightGBM)", "serving.py:score"),
    ("anomaly (River)", "anomaly.py:score_and_learn"),
    ("decide (lists, rules, policy, reasons)", "engine.py:decide"),
    ("reasons (TreeSHAP)", "pipeline.py:_model_reasons"),
    ("encode (Avro)", "codec.py:encode"),
    ("memo write", "memo.py:put"),
    ("produce", "{Producer:produce"),
    ("commit + flush", "kafka_loop.py:_commit"),
    ("whole batch", "kafka_loop.py:process"),
)


def step_times(st: pstats.Stats) -> dict[str, float]:
    """Cumulative CPU seconds of each of ``STEPS`` (a step's functions summed): a pattern
    ``file.py:function``, or ``{Class:method`` for a method of a C extension."""
    out: dict[str, float] = {}
    raw: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    for label, pattern in STEPS:
        where, _, name = pattern.rpartition(":")
        builtin = where.startswith("{")
        total = 0.0
        for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in raw.items():
            if builtin:
                hit = func.startswith(f"{{method '{name}'") and where[1:] in func
            else:
                hit = func == name and file.endswith(where)
            total += ct if hit else 0.0
        out[label] = round(total, 3)
    return out


def print_profile(path: Path, top: int = 30, decided: int = 0) -> list[str]:
    buf = io.StringIO()
    st = pstats.Stats(str(path), stream=buf)
    steps = step_times(st)
    buf.write("CPU per step of the loop (main thread, cumulative; steps overlap where one "
              "calls another)\n")
    for label, secs in steps.items():
        per_app = f"  {secs * 1e6 / decided:8.1f} µs/application" if decided else ""
        buf.write(f"  {label:<44} {secs:8.3f} s{per_app}\n")
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    text = buf.getvalue()
    print(text)
    return text.splitlines()


if __name__ == "__main__":
    profiled_worker(sys.argv[1])
