"""What the processes cost while a phase runs: CPU of the workers, Redis, the broker and
the bench itself (from /proc), time waiting for a CPU, memory over time, Redis memory."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from streams.ops.stack import Proc


def cpu_ticks(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def runqueue_ns(pid: int | None) -> int:
    """Time the process's main thread spent runnable but waiting for a CPU."""
    if pid is None:
        return 0
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


class CpuMeter:
    """CPU % of named processes between start() and stop() (100 = one core), the % of the
    time their main thread waited for a CPU, and how busy the whole machine was."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.hz = os.sysconf("SC_CLK_TCK")
        self.ncpu = os.cpu_count() or 1

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.c0 = {n: cpu_ticks(p) for n, p in self.pids.items()}
        self.w0 = {n: runqueue_ns(p) for n, p in self.pids.items()}
        self.m0 = machine_busy_ticks()

    def stop(self) -> dict[str, Any]:
        dt = time.monotonic() - self.t0
        busy, total = machine_busy_ticks()
        ours = sum(cpu_ticks(p) - self.c0[n] for n, p in self.pids.items())
        machine = (busy - self.m0[0]) / max(total - self.m0[1], 1)
        used_s = {n: (cpu_ticks(p) - self.c0[n]) / self.hz for n, p in self.pids.items()}
        return {
            "cpu_pct": {n: round(100 * u / dt, 1) for n, u in used_s.items()},
            "cpu_s": {n: round(u, 3) for n, u in used_s.items()},
            "wait_for_cpu_pct": {n: round(100 * (runqueue_ns(p) - self.w0[n]) / 1e9 / dt, 1)
                                 for n, p in self.pids.items() if n not in ("kafka", "redis")},
            "machine_busy_pct": round(100 * machine, 1),
            "others_pct_of_machine": round(100 * machine
                                           - 100 * ours / self.hz / dt / self.ncpu, 1),
        }


def cpu_us_per_app(cpu_s: dict[str, float], n: int) -> dict[str, float]:
    """CPU µs per application decided, per process, and of the workers together
    (``workers``: every process whose name starts with ``worker``)."""
    if n <= 0:
        return {}
    out = {name: round(s * 1e6 / n, 1) for name, s in cpu_s.items()}
    workers = [s for name, s in cpu_s.items() if name.startswith("worker")]
    if workers:
        out["workers"] = round(sum(workers) * 1e6 / n, 1)
    return out


class RssSampler:
    """Each process's RSS once a second while in a ``with`` block, to show whether memory
    keeps growing; ``samples`` is [(seconds since the start, [MB per process])]."""

    def __init__(self, procs: list[Proc]) -> None:
        self.procs = procs
        self.samples: list[tuple[float, list[float | None]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.wait(1.0):
            self.samples.append((round(time.monotonic() - t0, 1),
                                 [p.rss_mb() for p in self.procs]))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def growth_second_half(self) -> dict[str, float]:
        """MB each process grew between the middle and the end of the sampling."""
        half = self.samples[len(self.samples) // 2:] or self.samples
        if not half:
            return {}
        return {p.name: round((half[-1][1][i] or 0) - (half[0][1][i] or 0), 1)
                for i, p in enumerate(self.procs)}


def rss_by_name(procs: list[Proc]) -> dict[str, float | None]:
    return {p.name: p.rss_mb() for p in procs}


def redis_used_mb(dsn: str) -> float | None:
    try:
        import redis

        return round(redis.Redis.from_url(dsn).info("memory")["used_memory"] / 2**20, 1)
    except Exception:
        return None
