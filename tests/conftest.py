"""One session-scoped fixture per real service, started by the project's own infra code.

Services for tests run under ``.loanrisk/test`` on their own ports, so a
developer's ``loanrisk services up`` (default ports) is left alone. To run the
suite against services you already have (e.g. containers), set
``LOANRISK_TEST_KAFKA_BOOTSTRAP`` and ``LOANRISK_TEST_REDIS_URL``. Two checkouts on one
machine run their suites at once by giving one ``LOANRISK_TEST_PORT_OFFSET`` (e.g. 1000):
every fixed test port moves by it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import PORT_OFFSET, ROOT

TEST_STATE = ROOT / ".loanrisk" / "test"
TEST_KAFKA_PORT = 39092 + PORT_OFFSET
TEST_KAFKA_CONTROLLER_PORT = 39093 + PORT_OFFSET
TEST_REDIS_PORT = 36379 + PORT_OFFSET
TEST_REDIS_CLUSTER_PORT = 36400 + PORT_OFFSET  # and the 5 ports after it
TEST_SCHEMA_REGISTRY_PORT = 38081 + PORT_OFFSET


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka broker (KRaft) with the project's topics, fresh for this session."""
    from streams.kafka import ensure_topics

    external = os.environ.get("LOANRISK_TEST_KAFKA_BOOTSTRAP")
    if external:
        ensure_topics(external)
        yield external
        return
    from infra.kafka import KafkaNode

    node = KafkaNode(TEST_STATE, TEST_KAFKA_PORT, TEST_KAFKA_CONTROLLER_PORT, heap="512m")
    node.wipe()  # a fresh cluster: no offsets or messages from earlier runs
    node.start()
    try:
        ensure_topics(node.bootstrap)
        yield node.bootstrap
    finally:
        node.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on loopback (no persistence)."""
    external = os.environ.get("LOANRISK_TEST_REDIS_URL")
    if external:
        yield external
        return
    from infra.redis import RedisNode

    node = RedisNode(TEST_STATE, TEST_REDIS_PORT, persistent=False)  # fresh every session
    node.start()
    try:
        yield node.url
    finally:
        node.stop()


@pytest.fixture(scope="session")
def schema_registry() -> Iterator[str]:
    """A real Schema Registry server (Apicurio Registry, ``infra.schema_registry``), empty
    (in-memory storage); yields its Confluent-compatible URL."""
    from infra.schema_registry import ApicurioRegistry

    server = ApicurioRegistry(TEST_STATE, TEST_SCHEMA_REGISTRY_PORT)
    server.stop()  # a registry left by an earlier run: start empty
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Any]:
    """A real Redis Cluster: 3 masters with a replica each (``infra.redis``), fresh."""
    from infra.redis import RedisClusterNodes

    nodes = RedisClusterNodes(TEST_STATE, TEST_REDIS_CLUSTER_PORT)
    nodes.wipe()
    try:  # a node that fails to start (its port taken) must not leave the others running
        nodes.start()
        yield nodes
    finally:
        nodes.wipe()


@pytest.fixture()
def redis_client(redis_url: str) -> Iterator[Any]:
    """A client on the real Redis, its database flushed before the test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def clickhouse_path() -> Path:
    """The embedded chDB store of this test session (one path per process: chDB's rule)."""
    path = TEST_STATE / f"clickhouse-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def clickhouse_client(clickhouse_path: Path) -> Iterator[Any]:
    """clickhouse-connect on embedded chDB, with the project's DDL applied."""
    import clickhouse_connect

    from sinks.ddl import apply_ddl

    client = clickhouse_connect.get_client(dsn=f"chdb://{clickhouse_path}")
    apply_ddl(client)
    yield client
    shutil.rmtree(clickhouse_path, ignore_errors=True)
