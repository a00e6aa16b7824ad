"""The decision worker as a plain confluent-kafka loop (the default engine).

Same core (``streams/worker/core.py``) as the Faust app in
``streams/worker/faust_app.py``; only the transport differs. Measured on this 2-core
machine (``python -m bench pipeline``): a Faust echo that does no work tops out
at ~900-1,500 applications/s (three to four messages each, ~70 event-loop
callbacks per application), a confluent-kafka echo at ~47,000/s. So the hot
path uses librdkafka's batch consume and produce, and Faust remains available
with ``loanrisk worker --engine faust``.

Per iteration: take what is queued (up to ``worker_batch_max`` applications'
worth; waits at most ``worker_batch_window_ms`` for the first message, then at most
``worker_batch_linger_ms`` for more when the batch is not full), then ONE Redis round
trip folds the session events and fraud confirmations and computes the applications'
features after them -- so an application and its session events arriving in the same
batch are decided with the session -- decide the applications, memoise them (a second
round trip), produce decisions and feature vectors. The heap is frozen
(``gc.freeze``) once the models are loaded and again after the first decisions, so the
collector never walks the models' millions of objects. Offsets are committed after the
producer flushed (every ``commit_interval_s`` and on every partition revocation):
at-least-once, and
the redelivery memo makes a repeated application's decision identical.

With ``LOANRISK_PROCESSING_GUARANTEE=exactly_once`` each batch's outputs (decisions,
feature vectors, dead letters, metrics) and its input offsets commit in one Kafka
transaction: a ``read_committed`` consumer of the decision topic sees each application
once, even across a crash. The transactional id is the worker id, so give each replica
a stable ``LOANRISK_WORKER_ID``: its restart then fences the crashed instance and aborts
its open transaction at once (otherwise the broker aborts it after
``TRANSACTION_TIMEOUT_MS``, holding back committed readers of those partitions until then).
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaError, KafkaException, TopicPartition

from schemas.topics import (
    ALERTS,
    APPLICATIONS,
    DEADLETTER,
    DECISIONS,
    FEATURES,
    METRICS,
    QUOTE_REQUESTS,
    QUOTES,
)
from streams import kafka
from streams.retry import Backoff
from streams.settings import Settings
from streams.telemetry import configure_logging
from streams.worker.core import INPUTS, STATE_BACKOFF, STATE_HOLD_S, Batch, Inbound, WorkerCore
from streams.worker.telemetry import serve_worker_telemetry

log = logging.getLogger("loanrisk.worker")

TRANSACTION_TIMEOUT_MS = 10_000
#: how often the lists and releases topics are polled (a list update applies this late)
CONTROL_POLL_S = 0.05
#: decisions after which the heap is frozen again (models' and codecs' caches built)
FREEZE_AFTER = 1_000


class KafkaWorker:
    def __init__(self, settings: Settings, commit_interval_s: float = 1.0) -> None:
        self.settings = settings
        self.commit_interval_s = commit_interval_s
        self.core = WorkerCore(settings, self._dead_letter, self._alert)
        self.pipeline = self.core.pipeline
        self.stats = self.core.stats
        self.exactly_once = settings.processing_guarantee == "exactly_once"
        producer_conf: dict[str, Any] = {
            "linger.ms": 1, "enable.idempotence": True, "acks": "all",
            "compression.type": "lz4", "queue.buffering.max.messages": 200_000,
        }
        if self.exactly_once:
            producer_conf["transactional.id"] = (
                f"loanrisk-{settings.worker_group}-{self.stats.worker}")
            producer_conf["transaction.timeout.ms"] = TRANSACTION_TIMEOUT_MS
        self.producer = kafka.producer(settings.kafka, producer_conf)
        self._in_transaction = False
        if self.exactly_once:
            self.producer.init_transactions(30)
        self.consumer = kafka.consumer(settings.kafka, settings.worker_group,
                                       consumer_options(settings, self.stats.worker))
        self.assigned = 0
        self._last_commit = time.monotonic()
        # session/fraud state not yet written to Redis, by (topic, partition): the first
        # offset (commits stop there) and the decoded messages, retried until written
        self._pending: dict[tuple[str, int], tuple[int, Batch]] = {}
        self._retry_at = 0.0

    # --- Kafka callbacks ---------------------------------------------------------
    def _dead_letter(self, key: bytes | None, value: bytes) -> None:
        self.producer.produce(DEADLETTER.name, value, key)

    def _alert(self, key: bytes, value: bytes) -> None:
        self._begin()  # fraud confirmations may be written outside a batch (held state)
        self.producer.produce(ALERTS.name, value, key)

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        self.assigned = len(partitions)
        log.info("Worker ready: %d partitions assigned", len(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        # everything consumed so far has been processed (single thread): flush and commit
        # so the next owner starts exactly after it
        self._commit(force=True)  # held state's partitions commit where it begins
        for tp in partitions:  # the next owner reads them again from that offset
            self._pending.pop((tp.topic, tp.partition), None)

    def _commit(self, force: bool = False) -> None:
        if self.exactly_once:
            self._commit_transaction()
            return
        if not force and time.monotonic() - self._last_commit < self.commit_interval_s:
            return
        left = self.producer.flush(30)
        if left:
            log.error("%d outputs not acknowledged; not committing (they will be redone)", left)
            return
        try:
            positions = self._positions()
            if positions:
                self.consumer.commit(offsets=positions, asynchronous=False)
        except Exception as exc:  # nothing consumed yet, or a rebalance in progress
            if "NO_OFFSET" not in str(exc):
                log.warning("offset commit failed: %s", exc)
        self._last_commit = time.monotonic()

    # --- exactly-once ------------------------------------------------------------------
    def _begin(self) -> None:
        """Open the transaction the next outputs belong to (exactly-once mode only)."""
        if self.exactly_once and not self._in_transaction:
            self.producer.begin_transaction()
            self._in_transaction = True

    def _commit_transaction(self) -> None:
        """Commit the open transaction with the consumed positions as its offsets; on an
        abortable error, abort and rewind to the committed offsets to redo the batch
        (the redelivery memo makes the redone decisions identical)."""
        if not self._in_transaction:
            return
        try:
            for attempt in range(3):
                try:
                    positions = self._positions()
                    self.producer.send_offsets_to_transaction(
                        positions, self.consumer.consumer_group_metadata(), 30)
                    self.producer.commit_transaction(30)
                    return
                except KafkaException as exc:
                    err = exc.args[0]
                    if err.retriable() and attempt < 2:
                        continue
                    if not err.txn_requires_abort():
                        raise  # fenced by a newer instance with our id, or fatal: stop
                    log.warning("transaction aborted, redoing its batch: %s", exc)
                    self.producer.abort_transaction(30)
                    self._rewind()
                    return
        finally:
            self._in_transaction = False

    def _rewind(self) -> None:
        """Seek every assigned partition back to its committed offset."""
        reset = OFFSET_BEGINNING if self.settings.worker_offset_reset == "earliest" else OFFSET_END
        for tp in self.consumer.committed(self.consumer.assignment(), timeout=30):
            if tp.offset < 0:
                tp.offset = reset
            self.consumer.seek(tp)

    def _positions(self) -> list[TopicPartition]:
        """What to commit: the consumed positions, except that a partition whose session
        or fraud state is not written yet commits where that state begins (after a crash
        it is read again: nothing read is dropped)."""
        out = []
        for tp in self.consumer.position(self.consumer.assignment()):
            held = self._pending.get((tp.topic, tp.partition))
            if held is not None:
                tp.offset = held[0]
            if tp.offset >= 0:
                out.append(tp)
        return out

    # --- one batch -----------------------------------------------------------------
    def process(self, msgs: list[Any]) -> int:
        self._begin()  # dead letters produced while decoding belong to it too
        apps, state = self._split(self._inbound(msgs))
        quoted = [k for k in state if k[0] == QUOTE_REQUESTS.name]
        if quoted:  # quotes first: they record no state and wait for nothing
            requests = [m for k in quoted for m in state.pop(k)]
            for quote_key, quote in self.core.quote(requests):
                self.producer.produce(QUOTES.name, quote, quote_key)
        for key, messages in state.items():
            part = self.core.sort(messages)
            if part.has_state:
                first = self._pending.get(key, (messages[0].offset, Batch()))
                first[1].add_state(part)
                self._pending[key] = first
        if not apps:
            self._write_state()
            return 0
        # the held session state goes in the same round trip, before the decisions read it;
        # fraud confirmations (rare) have their look-back alerts: written first, on their own
        held = self._held_state()
        if held is not None and held.confirmed:
            self._write_state()
            held = None
        decided, written = self.core.decide_with_state(self.core.sort(apps).applications, held)
        if held is not None:
            self._state_done(written)
        produce = self.producer.produce
        for d in decided:
            app_key = d.application_id.encode()
            produce(DECISIONS.name, d.decision_bytes, app_key)
            produce(FEATURES.name, d.features_bytes, app_key)
        self.producer.poll(0)
        return len(decided)

    def _held_state(self) -> Batch | None:
        if not self._pending:
            return None
        merged = Batch()
        for _offset, part in self._pending.values():
            merged.add_state(part)
        return merged

    def _state_done(self, written: bool) -> None:
        if not written:
            self._retry_at = time.monotonic() + STATE_HOLD_S
            return
        if self._retry_at > 0:
            log.info("state held while Redis was away is written")
        self._pending.clear()
        self._retry_at = 0.0

    def _write_state(self) -> None:
        """Session events and fraud confirmations without applications to Redis; while
        Redis is away they stay pending and hold back commits, tried again every
        STATE_HOLD_S (and with the next applications, in their round trip: no application
        is decided without the session state read before it while Redis answers)."""
        held = self._held_state()
        if held is None:
            return
        retrying = self._retry_at > 0
        if retrying and time.monotonic() < self._retry_at:
            return
        self._state_done(self.core.fold_state(held, Backoff(()) if retrying else STATE_BACKOFF))

    @staticmethod
    def _split(inbound: list[Inbound]
               ) -> tuple[list[Inbound], dict[tuple[str, int], list[Inbound]]]:
        apps: list[Inbound] = []
        state: dict[tuple[str, int], list[Inbound]] = {}
        for m in inbound:
            if m.topic == APPLICATIONS.name:
                apps.append(m)
            else:
                state.setdefault((m.topic, m.partition), []).append(m)
        return apps, state

    def _emit_metrics(self, key: bytes, value: bytes) -> None:
        self._begin()
        self.producer.produce(METRICS.name, value, key)

    @staticmethod
    def _inbound(msgs: list[Any]) -> list[Inbound]:
        out = []
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            out.append(Inbound(m.topic(), m.key(), m.value(), m.partition(), m.offset()))
        return out

    def checkpoint(self) -> None:
        self.core.checkpoint()

    def _batch(self, first: Any, batch_max: int, linger: float) -> list[Any]:
        """What is queued after ``first``; when that is not a full batch, what arrives within
        ``linger`` too (under light load a few applications share one batch's round trips,
        at the cost of at most ``linger`` of latency)."""
        msgs = [first, *self.consumer.consume(num_messages=batch_max - 1, timeout=0)]
        if linger > 0 and len(msgs) < batch_max:
            msgs += self.consumer.consume(num_messages=batch_max - len(msgs), timeout=linger)
        return msgs

    def run(self, stop: threading.Event) -> None:
        self.core.catch_up()
        self.consumer.subscribe([*INPUTS, QUOTE_REQUESTS.name], on_assign=self._on_assign,
                                on_revoke=self._on_revoke)
        batch_max = self.settings.worker_batch_max * 4  # ~4 messages per application
        first_wait = max(self.settings.worker_batch_window_ms, 1.0) / 1000
        linger = self.settings.worker_batch_linger_ms / 1000
        control_due = 0.0
        decided = 0
        gc.collect()  # models, lists and rules loaded: the collector need not scan them again
        gc.freeze()
        try:
            while not stop.is_set():
                first = self.consumer.poll(first_wait)
                if first is not None:
                    msgs = self._batch(first, batch_max, linger)
                    decided += self.process(msgs)
                    if decided >= FREEZE_AFTER > decided - len(msgs):  # warm: caches built
                        gc.freeze()
                if self._pending:
                    self._write_state()
                now = time.monotonic()
                if now >= control_due:  # lists and releases: two polls, not per batch
                    self.core.poll_control()
                    control_due = now + CONTROL_POLL_S
                self.core.tick(now, self._emit_metrics)
                self._commit()
        finally:
            self._commit(force=True)
            self.checkpoint()
            self.consumer.close()
            self.producer.flush(30)


def consumer_options(settings: Settings, client_id: str) -> dict[str, Any]:
    """The workers' consumer: manual commits, the default (range) assignment, and static
    membership when the worker has a stable ``LOANRISK_WORKER_ID`` and
    ``LOANRISK_WORKER_STATIC_MEMBERSHIP`` is on (a restart within the session timeout
    gets its partitions back without a rebalance). Not cooperative-sticky: it balances the
    count of partitions over all topics, and in the fault test one of two workers got no
    application partition at all; range spreads each topic's partitions."""
    options: dict[str, Any] = {
        "enable.auto.commit": False,
        "auto.offset.reset": settings.worker_offset_reset,
        "fetch.wait.max.ms": kafka.WORKER_FETCH_WAIT_MS,
        "max.poll.interval.ms": 300_000,
        "session.timeout.ms": settings.worker_session_timeout_ms,
        "heartbeat.interval.ms": max(settings.worker_session_timeout_ms // 6, 500),
        "client.id": client_id,
    }
    if settings.worker_static_membership and settings.worker_id:
        options["group.instance.id"] = settings.worker_id
    return options


def run_kafka_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run until SIGTERM/SIGINT; more processes share the partitions (one consumer group)."""
    configure_logging(loglevel, settings.log_json)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = KafkaWorker(settings)
    server = serve_worker_telemetry(settings, worker.core, lambda: worker.assigned,
                                    lambda: kafka.consumer_lag(worker.consumer))
    try:
        worker.run(stop)
    finally:
        if server is not None:
            server.stop()
