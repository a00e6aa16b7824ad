"""The decision worker as a plain confluent-kafka loop (the default engine).

Same pipeline, decoders, lists follower, metrics and reloads as the Faust app
in ``streams/worker.py``; only the transport differs. Measured on this 2-core
machine (``python -m bench pipeline``): a Faust echo that does no work tops out
at ~900-1,500 applications/s (three to four messages each, ~70 event-loop
callbacks per application), a confluent-kafka echo at ~47,000/s. So the hot
path uses librdkafka's batch consume and produce, and Faust remains available
with ``loanrisk worker --engine faust``.

Per iteration: take what is queued (up to ``worker_batch_max`` applications'
worth; waits at most ``worker_batch_window_ms`` for the first message), fold
session events into Redis first -- so an application and its session events
arriving in the same batch are decided with the session -- record fraud
confirmations, decide the applications in one batch, produce decisions and
feature vectors. Offsets are committed after the producer flushed (every
``commit_interval_s`` and on every partition revocation): at-least-once, and
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

import logging
import signal
import threading
import time
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
)

from schemas import codec_for
from schemas.topics import (
    APPLICATIONS,
    BEHAVIOUR_EVENTS,
    DEADLETTER,
    DECISIONS,
    DEVICE_EVENTS,
    FEATURES,
    METRICS,
    PERFORMANCE,
)
from streams.compose import anomaly_checkpoint, build_pipeline, rules_path, worker_id
from streams.deadletter import TopicDecoder
from streams.followers import ListsFollower
from streams.metrics import WorkerStats
from streams.releases import releases_follower
from streams.settings import Settings

log = logging.getLogger("loanrisk.worker")

INPUTS = (APPLICATIONS.name, DEVICE_EVENTS.name, BEHAVIOUR_EVENTS.name, PERFORMANCE.name)
TRANSACTION_TIMEOUT_MS = 10_000


class KafkaWorker:
    def __init__(self, settings: Settings, commit_interval_s: float = 1.0) -> None:
        from decisions.lists import ListIndex

        self.settings = settings
        self.commit_interval_s = commit_interval_s
        lists = ListIndex()
        self.pipeline = build_pipeline(settings, lists)
        self.follower = ListsFollower(settings.bootstrap_servers, lists)
        self.releases = releases_follower(settings.bootstrap_servers, self.pipeline.decider.rules,
                                          self.pipeline.models, self.pipeline.decider)
        self.stats = WorkerStats(worker_id(settings))
        self.exactly_once = settings.processing_guarantee == "exactly_once"
        producer_conf: dict[str, Any] = {
            "bootstrap.servers": settings.bootstrap_servers,
            "linger.ms": 1, "enable.idempotence": True, "acks": "all",
            "compression.type": "lz4", "queue.buffering.max.messages": 200_000,
        }
        if self.exactly_once:
            producer_conf["transactional.id"] = (
                f"loanrisk-{settings.worker_group}-{self.stats.worker}")
            producer_conf["transaction.timeout.ms"] = TRANSACTION_TIMEOUT_MS
        self.producer = Producer(producer_conf)
        self._in_transaction = False
        if self.exactly_once:
            self.producer.init_transactions(30)
        self.consumer = Consumer({
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": settings.worker_group,
            "enable.auto.commit": False,
            "auto.offset.reset": settings.worker_offset_reset,
            "fetch.wait.max.ms": 5,
            "max.poll.interval.ms": 300_000,
            "session.timeout.ms": 10_000,  # a crashed worker's partitions move within 10 s
            "client.id": self.stats.worker,
        })
        component = f"worker:{self.stats.worker}"
        self.decoders = {t: TopicDecoder(t, self._dead_letter, component) for t in INPUTS}
        self.metrics_codec = codec_for(METRICS.schema)
        self.assigned = 0
        self._last_commit = time.monotonic()

    # --- Kafka callbacks ---------------------------------------------------------
    def _dead_letter(self, _topic: str, key: bytes | None, value: bytes) -> None:
        self.stats.dead_letters += 1
        self.producer.produce(DEADLETTER.name, value, key)

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        self.assigned = len(partitions)
        log.info("Worker ready: %d partitions assigned", len(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        # everything consumed so far has been processed (single thread): flush and commit
        # so the next owner starts exactly after it
        self._commit(force=True)

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
            self.consumer.commit(asynchronous=False)
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
                    positions = self.consumer.position(self.consumer.assignment())
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

    # --- one batch -----------------------------------------------------------------
    def process(self, msgs: list[Any]) -> int:
        self._begin()  # dead letters produced while decoding belong to it too
        device: list[dict[str, Any]] = []
        behaviour: list[dict[str, Any]] = []
        confirmed: list[tuple[str, int]] = []
        apps: list[dict[str, Any]] = []
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            topic = m.topic()
            rec = self.decoders[topic].decode(m.value(), m.key(), m.partition(), m.offset())
            if rec is None:
                continue
            if topic == APPLICATIONS.name:
                apps.append(rec)
            elif topic == DEVICE_EVENTS.name:
                device.append(rec)
            elif topic == BEHAVIOUR_EVENTS.name:
                behaviour.extend(rec["events"])
            elif rec["status"] == "FRAUD_CONFIRMED":
                confirmed.append((rec["application_id"], rec["event_time"]))
        if device or behaviour:
            self._best_effort(self.pipeline.features.ingest_session_events, device, behaviour)
        if confirmed:
            self._best_effort(self.pipeline.features.record_fraud_confirmations, confirmed)
        produce = self.producer.produce
        for d in self.pipeline.decide_batch(apps):
            key = d.application_id.encode()
            produce(DECISIONS.name, d.decision_bytes, key)
            produce(FEATURES.name, d.features_bytes, key)
            if not d.redelivered:
                self.stats.record(d.decision)
        self.producer.poll(0)
        return len(apps)

    def _best_effort(self, call: Any, *args: Any) -> None:
        """Session and fraud-link writes: retry with backoff, then go on without them."""
        for pause in (0.05, 0.2, 0.5, None):
            try:
                call(*args)
                return
            except Exception as exc:
                if pause is None:
                    log.error("%s failed after retries, continuing without it: %s",
                              getattr(call, "__name__", call), exc)
                    return
                time.sleep(pause)

    # --- housekeeping -----------------------------------------------------------------
    def _housekeeping(self, now: float, due: dict[str, float]) -> None:
        s = self.settings
        if now >= due["reload"]:
            due["reload"] = now + s.reload_interval_s
            rules = self.pipeline.decider.rules
            if rules.reload_if_changed(rules_path(s)):
                log.info("rules reloaded: %s", rules.current.version)
            elif rules.last_error:
                log.error("rules file rejected, keeping %s: %s", rules.current.version,
                          rules.last_error)
            self.pipeline.models.refresh()
        if now >= due["metrics"]:
            due["metrics"] = now + s.metrics_interval_s
            self._begin()
            self.producer.produce(METRICS.name, self.metrics_codec.encode(self.stats.snapshot()),
                                  self.stats.worker.encode())
        if now >= due["checkpoint"]:
            due["checkpoint"] = now + s.anomaly_checkpoint_interval_s
            self.checkpoint()

    def checkpoint(self) -> None:
        if self.pipeline.anomaly is not None:
            path = anomaly_checkpoint(self.settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.pipeline.anomaly.save(path)

    def run(self, stop: threading.Event) -> None:
        self.follower.catch_up()
        self.releases.catch_up()
        log.info("lists loaded: %d updates; releases applied: %d", self.follower.applied,
                 self.releases.applied)
        self.consumer.subscribe(list(INPUTS), on_assign=self._on_assign,
                                on_revoke=self._on_revoke)
        batch_max = self.settings.worker_batch_max * 4  # ~4 messages per application
        first_wait = max(self.settings.worker_batch_window_ms, 1.0) / 1000
        now = time.monotonic()
        due = {"reload": now + self.settings.reload_interval_s,
               "metrics": now + self.settings.metrics_interval_s,
               "checkpoint": now + self.settings.anomaly_checkpoint_interval_s}
        try:
            while not stop.is_set():
                first = self.consumer.poll(first_wait)
                msgs = [] if first is None else [first]
                if first is not None:
                    msgs += self.consumer.consume(num_messages=batch_max - 1, timeout=0)
                if msgs:
                    self.process(msgs)
                self.follower.poll()
                self.releases.poll()
                now = time.monotonic()
                self._housekeeping(now, due)
                self._commit()
        finally:
            self._commit(force=True)
            self.checkpoint()
            self.consumer.close()
            self.producer.flush(30)


def run_kafka_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run until SIGTERM/SIGINT; more processes share the partitions (one consumer group)."""
    logging.basicConfig(level=loglevel.upper(),
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    KafkaWorker(settings).run(stop)
