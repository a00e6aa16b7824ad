"""Every Kafka client of the project is built here, from one connection object.

Producers, consumers and the admin client (confluent-kafka), and the Faust app's
broker settings, all start from ``KafkaConnection.client_config()``: the bootstrap
servers plus whatever further librdkafka options the connection carries (this is
where security settings belong), so no module configures a client by hand.
Also here: producing with backpressure, and creating the project's topics.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.errors import LoanRiskError
from schemas.topics import ALL_TOPICS, TopicSpec


class TopicAdminError(LoanRiskError):
    pass


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how to talk to them: shared by every client built here."""

    bootstrap: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def client_config(self) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, **self.options}

    def faust_broker(self) -> str:
        return f"kafka://{self.bootstrap}"


Connection = KafkaConnection | str


def connection(conn: Connection) -> KafkaConnection:
    """A bootstrap string is a plaintext connection (tests and benchmarks pass one)."""
    return conn if isinstance(conn, KafkaConnection) else KafkaConnection(conn)


def producer(conn: Connection, options: Mapping[str, Any] | None = None) -> Producer:
    """A producer; ``options`` are librdkafka settings for this client's role."""
    return Producer({**connection(conn).client_config(), **(options or {})})


def consumer(conn: Connection, group: str, options: Mapping[str, Any] | None = None
             ) -> Consumer:
    return Consumer({**connection(conn).client_config(), "group.id": group, **(options or {})})


def admin(conn: Connection) -> AdminClient:
    return AdminClient(connection(conn).client_config())


def produce(client: Producer, topic: str, value: bytes | None, key: bytes | None = None,
            partition: int | None = None) -> None:
    """Produce, waiting for room when librdkafka's local queue is full (``BufferError``)
    instead of dropping the message."""
    while True:
        try:
            if partition is None:
                client.produce(topic, value, key)
            else:
                client.produce(topic, value, key, partition=partition)
            return
        except BufferError:
            client.poll(0.05)


def ensure_topics(conn: Connection, topics: Iterable[TopicSpec] = ALL_TOPICS,
                  timeout_s: float = 60.0) -> dict[str, str]:
    """Create missing topics; return {name: "created" | "exists"}.

    Retries while the broker is still starting (metadata not ready yet).
    """
    client = admin(conn)
    wanted = list(topics)
    deadline = time.monotonic() + timeout_s
    status: dict[str, str] = {}
    while True:
        try:
            existing = set(client.list_topics(timeout=5).topics)
            for t in wanted:
                if t.name in existing:
                    status.setdefault(t.name, "exists")
            missing = [t for t in wanted if t.name not in existing]
            if not missing:
                return status
            status.update(_create(client, missing))
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise TopicAdminError(
                    f"could not create topics on {connection(conn).bootstrap}: {exc}. "
                    "Is Kafka up? Try `loanrisk services status`."
                ) from exc
            time.sleep(1.0)


def _create(client: AdminClient, missing: list[TopicSpec]) -> dict[str, str]:
    futures = client.create_topics(
        [NewTopic(t.name, num_partitions=t.partitions, replication_factor=1,
                  config=t.config) for t in missing],
        operation_timeout=30,
    )
    status = {}
    for name, fut in futures.items():
        try:
            fut.result()
            status[name] = "created"
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
            status[name] = "exists"
    return status
