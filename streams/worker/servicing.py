"""The servicing worker: statements in, account decisions out (``loanrisk servicing
worker``).

Same worker package and patterns as the decision worker (``kafka_loop``): a plain
confluent-kafka loop, its own consumer group (``LOANRISK_SERVICING_GROUP``), decode or
dead-letter (``streams.deadletter``), a core that holds the logic
(``servicing_core``), outputs flushed before offsets are committed (at-least-once; a
redelivered statement is decided again from the same window, so its actions are the
same, and ClickHouse keeps the first decision of record).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from decisions.servicing_policy import DEFAULT_SERVICING_POLICY_PATH, ServicingPolicy
from features.account_state import AccountState
from schemas import codec_for
from schemas.topics import ACCOUNT_ACTIONS, STATEMENTS
from streams import kafka
from streams.clients import redis_client
from streams.deadletter import TopicDecoder
from streams.retry import Backoff
from streams.settings import Settings
from streams.worker.servicing_core import Scorers, ServicingCore

log = logging.getLogger("loanrisk.servicing")
BATCH_MAX = 500
#: Redis (the account windows) may blink: tries, then the pauses between them; a batch
#: that still fails is held and tried again (nothing read is dropped or committed)
STATE_BACKOFF = Backoff((0.05, 0.2, 0.5, 1.0))
HOLD_S = 1.0


def load_scorers(settings: Settings) -> Scorers:
    """The champion B-score and collection score from the registry."""
    from models.registry import Registry

    reg = Registry(settings.models_dir)
    return Scorers(reg.load("champion", "bscore"), reg.load("champion", "collection"))


class ServicingWorker:
    def __init__(self, settings: Settings, scorers: Scorers | None = None,
                 commit_interval_s: float = 1.0) -> None:
        self.settings = settings
        policy = ServicingPolicy.from_yaml(settings.servicing_policy_file
                                           or DEFAULT_SERVICING_POLICY_PATH)
        self.core = ServicingCore(AccountState(redis_client(settings), settings.redis_prefix),
                                  scorers or load_scorers(settings), policy,
                                  settings.worker_id)
        self.producer = kafka.producer(settings.kafka, {"linger.ms": 1, "acks": "all",
                                                        "enable.idempotence": True})
        self.consumer = kafka.consumer(settings.kafka, settings.servicing_group, {
            "enable.auto.commit": False, "auto.offset.reset": settings.worker_offset_reset,
            "fetch.wait.max.ms": kafka.WORKER_FETCH_WAIT_MS, "client.id": self.core.worker})
        self.decoder = TopicDecoder(STATEMENTS.name, self._publish, "servicing")
        self.codec = codec_for(ACCOUNT_ACTIONS.schema)
        self.commit_interval_s = commit_interval_s
        self._last_commit = time.monotonic()
        self.decided = 0

    def _publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.producer.produce(topic, value, key)

    def process(self, msgs: list[Any]) -> int:
        """Decode (bad ones to the dead-letter topic), decide, produce; returns decisions."""
        good = []
        for m in msgs:
            if m.error():
                log.warning("consume error: %s", m.error())
                continue
            rec = self.decoder.decode(m.value(), m.key(), m.partition(), m.offset())
            if rec is not None:
                good.append(rec)
        if not good:
            return 0
        while True:
            try:
                decided = STATE_BACKOFF.call(lambda: self.core.decide(good))
                break
            except Exception as exc:  # Redis down: hold the batch, never skip it
                log.warning("account state unavailable (%s); holding %d statements", exc,
                            len(good))
                time.sleep(HOLD_S)
        for out in decided:
            self.producer.produce(ACCOUNT_ACTIONS.name, self.codec.encode(out),
                                  out["account_id"].encode())
        self.producer.poll(0)
        self.decided += len(good)
        return len(good)

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """Start where the group committed, else (``latest``) at the end as it is NOW:
        positions are fixed before "ready" is logged, so whatever is published after that
        is decided (a lazily resolved "latest" could skip it)."""
        start = consumer.committed(partitions, timeout=10)
        if self.settings.worker_offset_reset == "latest":
            for tp in start:
                if tp.offset < 0:
                    tp.offset = consumer.get_watermark_offsets(tp, timeout=10)[1]
        consumer.assign(start)
        log.info("Servicing worker ready: %d partitions assigned", len(partitions))

    def _commit(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_commit < self.commit_interval_s:
            return
        if self.producer.flush(30):
            log.error("outputs not acknowledged; not committing (they will be redone)")
            return
        try:
            self.consumer.commit(asynchronous=False)
        except Exception as exc:  # nothing consumed yet
            if "NO_OFFSET" not in str(exc):
                log.warning("offset commit failed: %s", exc)
        self._last_commit = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        self.consumer.subscribe([STATEMENTS.name], on_assign=self._on_assign,
                                on_revoke=lambda *_: self._commit(force=True))
        log.info("servicing worker %s: %s", self.core.worker, self.core.versions)
        try:
            while not stop.is_set():
                first = self.consumer.poll(0.2)
                if first is not None:
                    rest = self.consumer.consume(num_messages=BATCH_MAX - 1, timeout=0)
                    self.process([first, *rest])
                self._commit()
        finally:
            self._commit(force=True)
            self.consumer.close()
            self.producer.flush(30)


def run_servicing_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run until SIGTERM/SIGINT; more processes share the statement partitions."""
    logging.basicConfig(level=loglevel.upper(),
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ServicingWorker(settings).run(stop)

