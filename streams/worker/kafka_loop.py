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
round trip), produce decisions and feature vectors. While more is queued, the next
batch's round trip runs while this one is decided (``streams/worker/overlap.py``); when
nothing is queued the batch in flight is decided at once. The heap is frozen
(``gc.freeze``) once the models are loaded and again after the first decisions, so the
collector never walks the models' millions of objects. Offsets are committed after the
batch in flight is decided, its memo written and the producer flushed (every
``commit_interval_s`` and on every partition revocation): at-least-once, and the
redelivery memo makes a repeated application's decision identical.

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
from streams.settings import Settings
from streams.telemetry import configure_logging
from streams.worker.core import INPUTS, Inbound, WorkerCore
from streams.worker.held import HeldState
from streams.worker.overlap import Overlap
from streams.worker.pipeline import Decided
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
        self.owned = kafka.Assignment()  # what /metrics reports (never consumer.assignment())
        self._last_commit = time.monotonic()
        self.held = HeldState(self.core)  # session/fraud state not yet written to Redis
        # exactly-once commits a transaction per batch: nothing to overlap
        self.flow = Overlap(self.pipeline, self.core.record,
                            pipelined=settings.worker_overlap and not self.exactly_once)
        self._held_in_flight = False  # the batch in flight carries the held state

    # --- Kafka callbacks ---------------------------------------------------------
    def _dead_letter(self, key: bytes | None, value: bytes) -> None:
        self.producer.produce(DEADLETTER.name, value, key)

    def _alert(self, key: bytes, value: bytes) -> None:
        self._begin()  # fraud confirmations may be written outside a batch (held state)
        self.producer.produce(ALERTS.name, value, key)

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        self.owned.assigned(partitions)
        log.info("Worker ready: %d partitions assigned", len(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self.owned.revoked(partitions)
        # decide the batch in flight, then flush and commit everything consumed, so the
        # next owner starts exactly after it
        self._commit(force=True)  # held state's partitions commit where it begins
        for tp in partitions:  # the next owner reads them again from that offset
            self.held.drop((tp.topic, tp.partition))

    def _commit(self, force: bool = False) -> None:
        if self.exactly_once:
            self._drain()
            self.flow.settle()
            self._commit_transaction()
            return
        if not force and time.monotonic() - self._last_commit < self.commit_interval_s:
            return
        self._drain()  # everything processed is decided and published...
        self.flow.settle()  # ...and memoised, before its offsets are committed
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
        """What to commit (after ``_drain``: everything consumed is decided): the consumed
        positions, except that a partition whose session or fraud state is not written yet
        commits where that state begins (after a crash it is read again: nothing read is
        dropped)."""
        out = []
        for tp in self.consumer.position(self.consumer.assignment()):
            held = self.held.first_offset((tp.topic, tp.partition))
            if held is not None:
                tp.offset = held
            if tp.offset >= 0:
                out.append(tp)
        return out

    # --- one batch -----------------------------------------------------------------
    def process(self, msgs: list[Any]) -> int:
        """Decode ``msgs`` (while the round trip in flight runs), send their round trip and
        publish the decisions of the batch before; how many were published."""
        self._begin()  # dead letters produced while decoding belong to it too
        apps, state = self._split(self._inbound(msgs))
        quoted = [k for k in state if k[0] == QUOTE_REQUESTS.name]
        requests = [m for k in quoted for m in state.pop(k)]
        parts = [(key, messages[0].offset, self.core.sort(messages))
                 for key, messages in state.items()]
        decoded = self.core.sort(apps).applications
        self._land()  # the batch before has written its state: this one may read it
        if requests:  # quotes first: they record no state and wait for nothing
            for quote_key, quote in self.core.quote(requests):
                self.producer.produce(QUOTES.name, quote, quote_key)
        for key, first_offset, part in parts:
            if part.has_state:
                self.held.add(key, first_offset, part)
        # the held session state goes in the same round trip, before the decisions read it;
        # fraud confirmations (rare) have their look-back alerts: written first, on their own
        held = self.held.merged()
        published = 0
        if not decoded or (held is not None and held.confirmed):
            published = self._drain()
            self._write_state()
            if not decoded:
                return published
            held = None
        published += self._publish(self.flow.send(decoded, held))
        self._held_in_flight = held is not None
        if not self.flow.pipelined:
            published += self._drain()
        return published

    def _land(self) -> None:
        """Wait for the round trip in flight; the held state it carried is written, or
        held on (``HeldState.done``)."""
        written = self.flow.land()
        if written is not None and self._held_in_flight:
            self._held_in_flight = False
            self.held.done(written)

    def _drain(self) -> int:
        """Decide and publish the batch in flight, if any."""
        self._land()
        return self._publish(self.flow.drain())

    def _publish(self, decided: list[Decided]) -> int:
        if not decided:
            return 0
        produce = self.producer.produce
        for d in decided:
            app_key = d.application_id.encode()
            produce(DECISIONS.name, d.decision_bytes, app_key)
            produce(FEATURES.name, d.features_bytes, app_key)
        self.producer.poll(0)
        return len(decided)

    def _write_state(self) -> None:
        """The held state on its own (``HeldState.write``), with nothing in flight."""
        if self.held.due():
            self.flow.settle()  # the look-back alerts read the memo: the decisions so far
            self.held.write()

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
        clean = False
        try:
            while not stop.is_set():
                busy = self.flow.busy  # a batch in flight: take only what is queued now
                first = self.consumer.poll(0 if busy else first_wait)
                if first is not None:
                    msgs = self._batch(first, batch_max, 0 if busy else linger)
                    decided += self.process(msgs)
                    if decided >= FREEZE_AFTER > decided - len(msgs):  # warm: caches built
                        gc.freeze()
                elif busy:  # nothing more queued: decide the batch in flight now
                    self._drain()
                if self.held and not self.flow.busy:
                    self._write_state()
                now = time.monotonic()
                if now >= control_due:  # lists and releases: two polls, not per batch
                    self.core.poll_control()
                    control_due = now + CONTROL_POLL_S
                self.core.tick(now, self._emit_metrics)
                self._commit()
            clean = True
        finally:
            if clean:  # after an error nothing more is committed: the batch is redone
                self._commit(force=True)
                self.pipeline.flush_declines()
            self.flow.close()
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
    server = serve_worker_telemetry(settings, worker.core, lambda: len(worker.owned),
                                    lambda: kafka.consumer_lag(worker.consumer, worker.owned))
    try:
        worker.run(stop)
    finally:
        if server is not None:
            server.stop()
