"""Every Kafka client of the project is built here, from one connection object.

Producers, consumers and the admin client (confluent-kafka), and the Faust app's
broker settings (aiokafka), all start from one ``KafkaConnection``: the bootstrap
servers, the security settings (``KafkaSecurity``: TLS, SASL PLAIN/SCRAM, mutual TLS)
and further librdkafka options, so no module configures a client by hand. The first
client of a secured connection in a process checks it (``verify``): a wrong password or
an untrusted certificate stops the process at once, naming the setting to fix, instead
of leaving librdkafka to retry forever. Also here: producing with backpressure, and
creating the project's topics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.errors import LoanRiskError
from schemas.topics import ALL_TOPICS, TopicSpec
from streams.kafka_security import KafkaSecurity, KafkaSecurityError, explain_failure

__all__ = ["KafkaConnection", "KafkaSecurity", "KafkaSecurityError", "TopicAdminError",
           "admin", "connection", "consumer", "ensure_topics", "produce", "producer", "verify"]

log = logging.getLogger("loanrisk.kafka")


class TopicAdminError(LoanRiskError):
    pass


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how to talk to them: shared by every client built here.

    ``options`` are further librdkafka properties for every confluent-kafka client
    (``LOANRISK_KAFKA_OPTIONS``); aiokafka (Faust) takes only the bootstrap and security.
    """

    bootstrap: str
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # option values may be secrets too (e.g. an OAuth secret)
        return (f"KafkaConnection(bootstrap={self.bootstrap!r}, security={self.security!r}, "
                f"options={sorted(self.options)})")

    def client_config(self) -> dict[str, Any]:
        """librdkafka properties, secrets in clear: give them to a client, never print them."""
        return {"bootstrap.servers": self.bootstrap, **self.security.librdkafka(),
                **self.options}

    def faust_broker(self) -> str:
        return ";".join(f"kafka://{host.strip()}" for host in self.bootstrap.split(","))

    def faust_options(self) -> dict[str, Any]:
        """``faust.App`` keyword arguments: the brokers and their credentials (aiokafka)."""
        return {"broker": self.faust_broker(),
                "broker_credentials": self.security.faust_credentials()}


Connection = KafkaConnection | str

#: how long the broker may hold a worker's fetch when there is nothing to read. With
#: ``fetch.min.bytes`` at 1 the broker answers as soon as a message arrives, so this does not
#: delay a message; a short wait only makes an idle consumer ask again and again (at 5 ms one
#: idle consumer cost the broker a fifth of a core; README, Measured)
WORKER_FETCH_WAIT_MS = 100


def connection(conn: Connection) -> KafkaConnection:
    """A bootstrap string is a plaintext connection (tests and benchmarks pass one)."""
    return conn if isinstance(conn, KafkaConnection) else KafkaConnection(conn)


def producer(conn: Connection, options: Mapping[str, Any] | None = None) -> Producer:
    """A producer; ``options`` are librdkafka settings for this client's role."""
    c = _checked(conn)
    return Producer({**c.client_config(), **(options or {})})


def consumer(conn: Connection, group: str, options: Mapping[str, Any] | None = None
             ) -> Consumer:
    c = _checked(conn)
    return Consumer({**c.client_config(), "group.id": group, **(options or {})})


def admin(conn: Connection) -> AdminClient:
    return AdminClient(_checked(conn).client_config())


_VERIFIED: set[tuple[str, KafkaSecurity]] = set()


def _checked(conn: Connection) -> KafkaConnection:
    """The connection, verified once per process when it is secured."""
    c = connection(conn)
    if c.security.secured and (c.bootstrap, c.security) not in _VERIFIED:
        verify(c)
        _VERIFIED.add((c.bootstrap, c.security))
    return c


def verify(conn: Connection, timeout_s: float = 10.0) -> bool:
    """One metadata request with these settings: raise ``KafkaSecurityError`` naming the
    setting to fix when authentication or TLS fails (librdkafka alone would retry
    forever). True when the brokers answered, False when none did within ``timeout_s``
    (an unreachable broker is the caller's to report, as for a plaintext one)."""
    c = connection(conn)
    errors: list[str] = []
    conf: dict[str, Any] = {**c.client_config(), "error_cb": lambda e: errors.append(str(e)),
                            "reconnect.backoff.max.ms": 1000, "log_level": 2}  # errors: ours
    client = AdminClient(conf)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.list_topics(timeout=min(1.0, max(deadline - time.monotonic(), 0.1)))
            return True
        except KafkaException as exc:
            errors.append(str(exc))
        client.poll(0)
        reason = explain_failure(c.security, errors)
        if reason is not None:
            raise KafkaSecurityError(f"cannot connect to Kafka at {c.bootstrap} as "
                                     f"{c.security.protocol}: {reason}")
        if time.monotonic() >= deadline:
            log.warning("Kafka at %s did not answer within %.0fs (%s)", c.bootstrap,
                        timeout_s, errors[-1] if errors else "no error reported")
            return False


class Assignment:
    """The partitions a consumer owns, as its rebalance callbacks (run on the polling thread)
    saw them. Another thread -- a /metrics scrape -- reads this, never
    ``Consumer.assignment()``: that call holds the GIL while it waits for librdkafka's own
    thread, which can be waiting for a rebalance callback that needs the GIL (a scrape right
    after a worker joined its group stalled for more than 10 s)."""

    def __init__(self) -> None:
        self.partitions: tuple[tuple[str, int], ...] = ()

    def assigned(self, partitions: Iterable[Any]) -> None:
        self.partitions = tuple(dict.fromkeys(
            [*self.partitions, *((tp.topic, tp.partition) for tp in partitions)]))

    def revoked(self, partitions: Iterable[Any]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self.partitions = tuple(p for p in self.partitions if p not in gone)

    def __len__(self) -> int:
        return len(self.partitions)


def consumer_lag(client: Consumer, owned: Assignment) -> dict[str, int]:
    """Messages behind the high watermark per topic, over the partitions ``owned``, from
    librdkafka's cached positions and watermarks (no broker request, no wait on librdkafka's
    thread: cheap and safe from any thread, for every scrape)."""
    lag: dict[str, int] = {}
    if not owned.partitions:
        return lag
    for tp in client.position([TopicPartition(t, p) for t, p in owned.partitions]):
        _low, high = client.get_watermark_offsets(tp, cached=True)
        if tp.offset >= 0 and high >= 0:
            lag[tp.topic] = lag.get(tp.topic, 0) + max(high - tp.offset, 0)
    return lag


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
