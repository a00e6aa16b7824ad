"""Fixtures of the integration tests beyond the session's services (``tests/conftest.py``).

``fault_pipeline`` is an isolated whole pipeline for the fault tests: Kafka, Redis, N
workers and the sink as real processes (``streams.ops.stack.LocalStack``), on ports of its
own. The workers and the sink are separate OS processes started exactly as an operator
would start them, so they cannot share the session fixtures; this stack lives under
``.loanrisk/faults`` and is wiped at the start of each run (except the Kafka jars).
ClickHouse is reached only through the sink, which owns the embedded store. The code that
drives it is in ``tests/harness.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.ops.stack import LocalStack
from tests.harness import FaultPipeline, fault_settings, fresh_state, kill_orphans


@pytest.fixture(scope="session")
def fault_pipeline() -> Iterator[FaultPipeline]:
    """Kafka + Redis + one worker + the sink, isolated; everything stopped at the end."""
    from streams.ops import services

    settings = fault_settings()
    kill_orphans(settings.state_dir)
    services.down(settings)
    fresh_state(settings.state_dir)
    # Faust's default session timeout (60 s) is how long a SIGKILLed worker keeps its
    # partitions; 15 s keeps the crash test short without changing what it proves.
    stack = LocalStack(settings, extra_env={"BROKER_SESSION_TIMEOUT": "15"})
    pipeline = FaultPipeline(stack)
    try:
        stack.up()
        pipeline.ensure(workers=(0,))
        yield pipeline
    finally:
        try:
            stack.stop_all()
        finally:
            services.down(settings)


def embedded_http(clickhouse_client: Any, owner_file: Path | None = None) -> Any:
    """The sink's ClickHouse HTTP interface over the session's store, on a free port."""
    from streams.sink.chdb_engine import ChdbEngine
    from streams.sink.http_server import ClickHouseHttpServer

    server = ClickHouseHttpServer(ChdbEngine(clickhouse_client.path), owner_file, port=0)
    server.start()
    return server


@pytest.fixture()
def sink_owned_state(clickhouse_client: Any, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A LOANRISK_STATE_DIR whose embedded store is 'owned by the sink': ClickHouse's HTTP
    interface over the session's store, so CLI commands reach it the way analysts do."""
    state = tmp_path / "state"
    state.mkdir()
    server = embedded_http(clickhouse_client, state / "clickhouse.owner")
    monkeypatch.setenv("LOANRISK_STATE_DIR", str(state))
    try:
        yield state
    finally:
        server.stop()


@pytest.fixture(scope="session")
def secure_kafka() -> Iterator[Any]:
    """A SASL_SSL + mutual-TLS broker of its own (``tests/secure_kafka.py``), for the
    security tests; stopped at the end of the session."""
    from tests.secure_kafka import start_secure_kafka

    secure = start_secure_kafka()
    try:
        yield secure
    finally:
        secure.node.stop()
