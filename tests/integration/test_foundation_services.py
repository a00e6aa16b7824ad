"""`loanrisk services up | status | down` on its own state dir and ports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import PORT_OFFSET, ROOT, processes_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _loanrisk(state: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOANRISK_STATE_DIR": str(state),
           "LOANRISK_KAFKA_PORT": str(39192 + PORT_OFFSET),
           "LOANRISK_KAFKA_CONTROLLER_PORT": str(39193 + PORT_OFFSET),
           "LOANRISK_REDIS_PORT": str(36479 + PORT_OFFSET),
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture()
def state(tmp_path: Path):
    state = tmp_path / "state"
    yield state
    _loanrisk(state, "services", "down")  # even when the test failed half-way


def test_up_is_idempotent_status_is_healthy_and_down_leaves_nothing(state: Path) -> None:
    first = _loanrisk(state, "services", "up")
    assert first.returncode == 0, first.stdout + first.stderr
    second = _loanrisk(state, "services", "up")
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(processes_of(state)) == 2  # one broker, one redis: not two of each

    status = _loanrisk(state, "services", "status")
    assert status.returncode == 0
    assert status.stdout.count("yes") == 3, status.stdout

    (state / "redis" / "redis.pid").write_text("999999")  # a stale pid file must not block
    assert _loanrisk(state, "services", "up").returncode == 0

    down = _loanrisk(state, "services", "down")
    assert "kafka" in down.stdout and "redis" in down.stdout
    assert processes_of(state) == []
    after = _loanrisk(state, "services", "status")
    assert after.returncode == 1
    assert "not running" in after.stdout
