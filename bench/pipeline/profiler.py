"""One ``loanrisk worker`` under cProfile, switched on and off by a signal so that only the
measured phases are profiled (not start-up, not the warm-up), and its top functions.

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

    prof = cProfile.Profile()
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


def print_profile(path: Path, top: int = 30) -> list[str]:
    buf = io.StringIO()
    st = pstats.Stats(str(path), stream=buf)
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    text = buf.getvalue()
    print(text)
    return text.splitlines()


if __name__ == "__main__":
    profiled_worker(sys.argv[1])
