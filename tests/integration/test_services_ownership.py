"""`loanrisk services up` while the sink owns the embedded store, and `make demo` leaving
running services alone: both on real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streams.ops import services
from streams.ops.stack import LocalStack
from streams.settings import Settings
from tests.harness import ROOT, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_services_up_succeeds_while_the_sink_owns_the_embedded_store(
        kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", kafka_bootstrap=kafka_bootstrap,
                        redis_url=redis_url)
    stack = LocalStack(settings)
    sink = stack.sink()
    try:
        stack.wait_for_log(sink, "loanrisk sql", timeout_s=120)
        env = {**os.environ, "LOANRISK_STATE_DIR": str(settings.state_dir),
               "LOANRISK_KAFKA_BOOTSTRAP": kafka_bootstrap, "LOANRISK_REDIS_URL": redis_url,
               "COLUMNS": "200"}
        up = subprocess.run([sys.executable, "-m", "streams.cli", "services", "up"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "owned by the sink" in up.stdout
    finally:
        stack.stop_all()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_down_only_stops_what_it_is_told(tmp_path: Path) -> None:
    """What the demo relies on to stop only the services it started itself."""
    settings = Settings(state_dir=tmp_path / "state", redis_port=_free_port(),
                        kafka_port=_free_port())
    node = services.redis_node(settings)
    node.start()
    try:
        assert services.running_locally(settings) == {"redis"}
        assert services.down(settings, only={"kafka"}) == []
        assert node.healthy()
        assert services.down(settings, only={"redis"}) == ["redis"]
        wait_until(lambda: not node.healthy(), 10, "redis to stop")
        assert services.running_locally(settings) == set()
    finally:
        node.stop()
