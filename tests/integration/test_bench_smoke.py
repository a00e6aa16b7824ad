"""The benchmarks are commands too: each quick run here must print its figures. No figure is
asserted against a bound (these machines are shared and noisy); only that the bench ran on
its real redis-server or broker and measured something."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.harness import PORT_OFFSET, ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _bench(name: str, **env: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "bench", name], cwd=ROOT, capture_output=True, text=True,
        timeout=600, env={**os.environ, "LOANRISK_BENCH_QUICK": "1",
                          "LOANRISK_BENCH_PORT_OFFSET": str(PORT_OFFSET + 500), **env})
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"=== bench {name} ===" in run.stdout
    return run.stdout


def test_hotpath_prints_worker_and_redis_cpu_per_step_and_script_part() -> None:
    out = _bench("hotpath", LOANRISK_BENCH_BATCHES="8")
    row = re.search(r"^\s+8\s+(\d+)\s+(\d+)\s+decode session (\d+)", out, re.M)
    assert row, out
    worker_us, redis_us = int(row[1]), int(row[2])
    assert worker_us > 0 and redis_us > 0  # thread CPU and redis-server's /proc CPU moved
    parts = re.search(r"redis CPU µs/app by script part \(batch \d+, one call each\): (.+)", out)
    assert parts, out
    names = {p.split()[0] for p in parts[1].split(", ")}
    assert {"ingest", "compute", "graph"} <= names


def test_fetch_wait_measures_both_waits_on_a_real_broker() -> None:
    out = _bench("fetch_wait")
    probes = re.findall(r"fetch.wait.max.ms\s+(\d+): broker\s+([\d.]+)% .* p50\s+([\d.]+) ms", out)
    assert {w for w, _cpu, _p50 in probes} == {"5", "100"}, out
    assert all(float(p50) > 0 for _w, _cpu, p50 in probes)  # messages came back and were timed
    assert "idle broker CPU:" in out


def test_overlap_prints_both_ways_with_worker_and_redis_cpu() -> None:
    out = _bench("overlap", LOANRISK_BENCH_BATCHES="16")
    rows = re.findall(r"^(one by one|overlapped)\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    assert [r[0] for r in rows] == ["one by one", "overlapped"], out
    assert all(int(r[1]) > 0 and int(r[2]) > 0 and int(r[3]) > 0 for r in rows)
