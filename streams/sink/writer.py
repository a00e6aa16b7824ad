"""``loanrisk sink``: Kafka -> ClickHouse, batched, at-least-once, idempotent by table design.

Consumes decisions, feature vectors, loan performance, dead letters, metrics, review
actions, final decisions, the console audit and (with keys given) applications
(consumer group ``loanrisk-sink``), converts them to rows (``sinks.rows``) and
inserts a batch per table when one is full or old enough (``sinks.batcher``).
Offsets are committed after the insert succeeded. If ClickHouse is unreachable
the sink pauses its partitions and retries with backoff: it falls behind, Kafka
holds the data, and it catches up when ClickHouse is back. Messages it cannot
decode are written to the ``dead_letters`` table with their bytes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError

from schemas import codec_for
from schemas.errors import DecodeError
from schemas.topics import (
    ACCOUNT_ACTIONS,
    ALERTS,
    APPLICATIONS,
    AUDIT,
    DEADLETTER,
    DECISIONS,
    FEATURES,
    FINAL_DECISIONS,
    METRICS,
    PERFORMANCE,
    QUOTE_REQUESTS,
    QUOTES,
    REVIEWS,
    STATEMENTS,
)
from sinks.batcher import TableBatcher
from sinks.quote_rows import QUOTE_REQUEST_COLUMNS
from sinks.rows import APPLICATION_COLUMNS, TABLE_FEEDS, Converter, dead_letter_row
from streams import kafka
from streams.deadletter import dead_letter

log = logging.getLogger("loanrisk.sink")

TOPIC_TABLE = {
    DECISIONS.name: "decisions",
    FEATURES.name: "feature_vectors",
    PERFORMANCE.name: "loan_performance",
    DEADLETTER.name: "dead_letters",
    METRICS.name: "metrics",
    REVIEWS.name: "review_actions",
    FINAL_DECISIONS.name: "final_decisions",
    AUDIT.name: "console_audit",
    ALERTS.name: "fraud_alerts",
    STATEMENTS.name: "account_statements",
    ACCOUNT_ACTIONS.name: "account_decisions",
    QUOTES.name: "quotes",
}

Insert = Callable[[str, list[list[Any]], tuple[str, ...]], None]


@dataclass
class SinkStats:
    written: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    failures: int = 0
    undecodable: int = 0


class ClickHouseSink:
    """One consumer, one writer; run() until ``stop`` is set."""

    def __init__(self, conn: kafka.Connection, insert: Insert, group: str = "loanrisk-sink",
                 max_rows: int = 5000, max_age_s: float = 1.0,
                 max_backoff_s: float = 30.0, applications: Converter | None = None,
                 offset_reset: str = "earliest",
                 quote_requests: Converter | None = None) -> None:
        """``applications``: also write loan.applications.v1 to the ``applications`` table
        with this converter (``sinks.rows.application_converter``: it holds the keys);
        ``quote_requests``: the quote requests to ``quote_requests`` likewise
        (``sinks.quote_rows.quote_request_converter``)."""
        self.topic_table = dict(TOPIC_TABLE)
        self.feeds = dict(TABLE_FEEDS)
        if applications is not None:
            self.topic_table[APPLICATIONS.name] = "applications"
            self.feeds["applications"] = (APPLICATIONS.schema, APPLICATION_COLUMNS, applications)
        if quote_requests is not None:
            self.topic_table[QUOTE_REQUESTS.name] = "quote_requests"
            self.feeds["quote_requests"] = (QUOTE_REQUESTS.schema, QUOTE_REQUEST_COLUMNS,
                                            quote_requests)
        self.consumer = kafka.consumer(conn, group, {
            "enable.auto.commit": False, "auto.offset.reset": offset_reset,
            "max.poll.interval.ms": 600_000,
            "session.timeout.ms": 10_000,  # a crashed sink's partitions move within 10 s
        })
        self.owned = kafka.Assignment()  # partitions held now (set by the group's callbacks)
        self.consumer.subscribe(list(self.topic_table), on_assign=self._on_assign,
                                on_revoke=self._on_revoke)
        self.insert = insert
        self.batcher = TableBatcher(max_rows=max_rows, max_age_s=max_age_s)
        self.max_backoff_s = max_backoff_s
        self.stats = SinkStats()
        self._codecs = {t: codec_for(self.feeds[tbl][0]) for t, tbl in self.topic_table.items()}
        self.last_loop = time.monotonic()  # liveness (streams/sink/telemetry.py)

    def _on_assign(self, consumer: Any, partitions: Any) -> None:
        self.owned.assigned(partitions)

    def _on_revoke(self, consumer: Any, partitions: Any) -> None:
        self.owned.revoked(partitions)
        # Uncommitted rows will be redelivered to the new owner; writing them here too is
        # harmless (ReplacingMergeTree) but not needed, so drop them.
        self.batcher.take()

    def _add(self, msg: Any) -> None:
        topic = msg.topic()
        table = self.topic_table[topic]
        try:
            record = self._codecs[topic].decode(msg.value())
        except DecodeError as exc:
            self.stats.undecodable += 1
            self.batcher.add("dead_letters", dead_letter_row(dead_letter(
                topic, msg.partition(), msg.offset(), msg.key(), msg.value(), exc.kind, str(exc),
                "sink")))
            return
        _schema, _cols, to_row = self.feeds[table]
        self.batcher.add(table, to_row(record))

    def _flush(self, stop: threading.Event) -> None:
        batch = self.batcher.take()
        backoff = 0.5
        for table, rows in batch.items():
            columns = self.feeds[table][1]
            while True:
                try:
                    self.insert(table, rows, columns)
                    self.stats.written[table] = self.stats.written.get(table, 0) + len(rows)
                    break
                except Exception as exc:
                    self.stats.failures += 1
                    log.error("insert into %s failed (%s); retrying in %.1fs, Kafka holds the "
                              "data", table, exc, backoff)
                    assignment = self.consumer.assignment()
                    self.consumer.pause(assignment)
                    deadline = time.monotonic() + backoff
                    while time.monotonic() < deadline:
                        self.consumer.poll(0.1)  # keeps the group membership alive
                        self.last_loop = time.monotonic()
                    self.consumer.resume(assignment)
                    backoff = min(backoff * 2, self.max_backoff_s)
                    if stop.is_set() and backoff >= self.max_backoff_s:
                        return  # give up on shutdown: nothing committed, all replayed later
        self.stats.batches += 1
        try:
            self.consumer.commit(asynchronous=False)
        except Exception as exc:  # e.g. a rebalance: the rows will be replayed, harmlessly
            log.warning("offset commit failed (%s); the batch may be written again", exc)

    def run(self, stop: threading.Event, idle_exit_s: float | None = None) -> SinkStats:
        """Consume and write until ``stop`` (or ``idle_exit_s`` without messages)."""
        last_msg = time.monotonic()
        try:
            while not stop.is_set():
                self.last_loop = time.monotonic()
                msgs = self.consumer.consume(num_messages=2000, timeout=0.2)
                for msg in msgs:
                    err = msg.error()
                    if err is not None:
                        if err.code() != KafkaError._PARTITION_EOF:
                            log.warning("consumer error: %s", err)
                        continue
                    self._add(msg)
                if msgs:
                    last_msg = time.monotonic()
                if self.batcher.due():
                    self._flush(stop)
                if idle_exit_s is not None and time.monotonic() - last_msg > idle_exit_s:
                    break
            if len(self.batcher):
                self._flush(stop)
        finally:
            self.consumer.close()
        return self.stats


def clickhouse_insert(client: Any, lock: threading.Lock | None = None) -> Insert:
    """An Insert over a clickhouse-connect client (serialised with ``lock`` if given)."""
    guard = lock or threading.Lock()

    def insert(table: str, rows: list[list[Any]], columns: tuple[str, ...]) -> None:
        with guard:
            client.insert(table, rows, column_names=list(columns))

    return insert
