"""What a decision worker does, whatever carries its messages.

Both transports (``kafka_loop``, the default, and ``faust_app``) hand consumed
messages to this core and publish what it returns; everything else lives here:
decoding with dead letters, folding session events and fraud confirmations (from
servicing and from the review console) into Redis, deciding, answering quote requests
(``quote``: ``streams/worker/quotes.py``), following the lists and releases topics,
reloading rules and promoted models, checkpointing the anomaly model, and the metrics
record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

from decisions.lists import ListIndex
from features.lookback import LookBack
from schemas import codec_for
from schemas.records import LoanApplication
from schemas.topics import (
    APPLICATIONS,
    BEHAVIOUR_EVENTS,
    DEVICE_EVENTS,
    METRICS,
    PERFORMANCE,
    QUOTE_REQUESTS,
    REVIEWS,
)
from streams.control.follower import CompactedFollower, ListsFollower
from streams.control.releases import releases_follower
from streams.deadletter import TopicDecoder
from streams.retry import Backoff
from streams.settings import Settings
from streams.worker.alerts import LookBackAlerts
from streams.worker.compose import anomaly_checkpoint, build_pipeline, rules_path, worker_id
from streams.worker.metrics import WorkerStats
from streams.worker.pipeline import Decided, StateWrites
from streams.worker.quotes import QuoteDesk, quote_policy

log = logging.getLogger("loanrisk.worker")

INPUTS = (APPLICATIONS.name, DEVICE_EVENTS.name, BEHAVIOUR_EVENTS.name, PERFORMANCE.name,
          REVIEWS.name)
#: session and fraud-link writes to Redis: tries, then the pauses between them
STATE_BACKOFF = Backoff((0.05, 0.2, 0.5))
#: how long held session/fraud messages wait before they are tried again
STATE_HOLD_S = 1.0

#: (key, dead-letter record bytes) -> None: the transport publishes it
DeadLetterOut = Callable[[bytes | None, bytes], Any]
#: (key, fraud alert bytes) -> None: the transport publishes it on loan.alerts.v1
AlertOut = Callable[[bytes, bytes], Any]


@dataclass(frozen=True, slots=True)
class Inbound:
    """One consumed message, as either transport sees it."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


@dataclass
class Batch(StateWrites):
    """Consumed messages decoded and sorted by what they feed: applications, and the
    session events and fraud confirmations (``StateWrites``) written before them."""

    applications: list[LoanApplication] = field(default_factory=list)

    @property
    def has_state(self) -> bool:
        return self.any

    def add_state(self, other: StateWrites) -> None:
        self.add(other)


class WorkerCore:
    """``control=False``: no lists and releases topics followed (an in-process bench or
    test without Kafka); a worker always follows them."""

    def __init__(self, settings: Settings, dead_letter_out: DeadLetterOut,
                 alert_out: AlertOut | None = None, control: bool = True) -> None:
        self.settings = settings
        lists = ListIndex()
        self.pipeline = build_pipeline(settings, lists)
        self.followers: list[CompactedFollower] = []
        if control:
            self.follower = ListsFollower(settings.kafka, lists)
            self.releases = releases_follower(settings.kafka, self.pipeline.decider.rules,
                                              self.pipeline.models, self.pipeline.decider)
            self.followers = [self.follower, self.releases]
        self.stats = WorkerStats(worker_id(settings))
        self._dead_letter_out = dead_letter_out
        self._alert_out = alert_out
        self.alerts = LookBackAlerts(LookBack(self.pipeline.features,
                                              settings.alert_lookback_days),
                                     self.pipeline.features.prefix)
        component = f"worker:{self.stats.worker}"
        self.decoders = {t: TopicDecoder(t, self._dead_letter, component)
                         for t in (*INPUTS, QUOTE_REQUESTS.name)}
        self.quotes = QuoteDesk(self.pipeline, quote_policy(settings))
        self._metrics_codec = codec_for(METRICS.schema)
        now = time.monotonic()
        self._due = {"reload": now + settings.reload_interval_s,
                     "metrics": now + settings.metrics_interval_s,
                     "checkpoint": now + settings.anomaly_checkpoint_interval_s}

    def _dead_letter(self, _topic: str, key: bytes | None, value: bytes) -> None:
        self.stats.dead_letters += 1
        self._dead_letter_out(key, value)

    # --- messages in, decisions out ---------------------------------------------------
    def sort(self, messages: Iterable[Inbound]) -> Batch:
        """Decode every message (bad ones become dead letters) and sort by kind."""
        batch = Batch()
        for m in messages:
            rec = self.decoders[m.topic].decode(m.value, m.key, m.partition, m.offset)
            if rec is None:
                continue
            if m.topic == APPLICATIONS.name:
                batch.applications.append(cast(LoanApplication, rec))  # decoded: valid
            elif m.topic == DEVICE_EVENTS.name:
                batch.device.append(rec)
            elif m.topic == BEHAVIOUR_EVENTS.name:
                batch.behaviour.extend(rec["events"])
            elif m.topic == REVIEWS.name:  # a reviewer's confirmation counts from its time
                if rec["action"] == "CONFIRM_FRAUD":
                    batch.confirmed.append((rec["application_id"], rec["acted_at"]))
            elif rec["status"] == "FRAUD_CONFIRMED":
                batch.confirmed.append((rec["application_id"], rec["event_time"]))
        return batch

    def _state_writes(self, batch: StateWrites) -> list[tuple[str, Callable[[], Any]]]:
        features = self.pipeline.features
        writes: list[tuple[str, Callable[[], Any]]] = []
        if batch.device or batch.behaviour:
            writes.append(("session ingest", partial(features.ingest_session_events,
                                                     batch.device, batch.behaviour)))
        if batch.confirmed:
            writes.append(("fraud confirmations",
                           partial(self._confirm, list(batch.confirmed))))
        return writes

    def _confirm(self, confirmed: list[tuple[str, int]]) -> None:
        """Flag the confirmed frauds, then alert on their linked applications (a retry
        after a failed alert read flags again: idempotent; alerts collapse by alert_id)."""
        self.pipeline.features.record_fraud_confirmations(confirmed)
        if self._alert_out is None:
            return
        messages = self.alerts.messages(confirmed)
        for key, value in messages:
            self._alert_out(key, value)
        if messages:
            log.info("%d look-back alert(s) for %d fraud confirmation(s)", len(messages),
                     len(confirmed))

    def fold_state(self, batch: StateWrites, backoff: Backoff = STATE_BACKOFF) -> bool:
        """Session events and fraud confirmations into Redis, before the batch's decisions.

        False when a write still fails after retries: nothing read may be dropped, so the
        transport must read those messages again later (and not commit past them).
        """
        for what, write in self._state_writes(batch):
            try:
                backoff.call(write)
            except Exception as exc:
                log.error("%s failed after retries; holding those messages until Redis "
                          "answers: %s", what, exc)
                return False
        return True

    async def fold_state_async(self, batch: StateWrites) -> None:
        """``fold_state`` inside an event loop (Faust): retried until written, so the agent
        (and its offsets) wait for Redis while decisions go on degraded."""
        for what, write in self._state_writes(batch):
            while True:
                try:
                    await STATE_BACKOFF.acall(write)
                    break
                except Exception as exc:
                    log.error("%s failed after retries; holding it until Redis answers: %s",
                              what, exc)
                    await asyncio.sleep(STATE_HOLD_S)

    def quote(self, messages: Iterable[Inbound]) -> list[tuple[bytes, bytes]]:
        """Quote requests -> (key, quote bytes) for the quotes topic; bad requests become
        dead letters. Nothing is recorded as an application (``streams.worker.quotes``)."""
        decoder = self.decoders[QUOTE_REQUESTS.name]
        requests = [r for m in messages
                    if (r := decoder.decode(m.value, m.key, m.partition, m.offset)) is not None]
        return [(q["quote_id"].encode(), self.quotes.encode(q))
                for q in self.quotes.decide(requests)]

    def decide(self, applications: list[LoanApplication]) -> list[Decided]:
        return self.decide_with_state(applications)[0]

    def decide_with_state(self, applications: list[LoanApplication],
                          state: StateWrites | None = None) -> tuple[list[Decided], bool]:
        """Write ``state`` and decide ``applications`` in one Redis round trip (see
        ``DecisionPipeline.decide_with_state``); False when the state is not written."""
        decided, written = self.pipeline.decide_with_state(applications, state)
        self.record(decided)
        return decided, written

    def record(self, decided: Iterable[Decided]) -> None:
        """Count the batch's decisions in the metrics (a redelivery counts once)."""
        for d in decided:
            if not d.redelivered:
                self.stats.record(d.decision)

    # --- control topics ---------------------------------------------------------------
    def catch_up(self) -> None:
        """Read the lists and releases topics to their end before the first decision."""
        for f in self.followers:
            f.catch_up()
        if self.followers:
            log.info("lists loaded: %d updates; releases applied: %d", self.follower.applied,
                     self.releases.applied)

    def poll_control(self) -> None:
        for f in self.followers:
            f.poll()

    # --- housekeeping -------------------------------------------------------------------
    def reload(self) -> None:
        """A changed rules file, and models promoted in the registry."""
        rules = self.pipeline.decider.rules
        if rules.reload_if_changed(rules_path(self.settings)):
            log.info("rules reloaded: %s", rules.current.version)
        elif rules.last_error:
            log.error("rules file rejected, keeping %s: %s", rules.current.version,
                      rules.last_error)
        self.pipeline.models.refresh()

    def metrics(self) -> tuple[bytes, bytes]:
        """(key, value) of this window's metrics record; starts the next window."""
        return self.stats.worker.encode(), self._metrics_codec.encode(self.stats.snapshot())

    def checkpoint(self) -> None:
        if self.pipeline.anomaly is not None:
            path = anomaly_checkpoint(self.settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.pipeline.anomaly.save(path)

    def tick(self, now: float, emit_metrics: Callable[[bytes, bytes], Any]) -> None:
        """Run whatever housekeeping is due (for a transport without timers of its own)."""
        s, due = self.settings, self._due
        if now >= due["reload"]:
            due["reload"] = now + s.reload_interval_s
            self.reload()
        if now >= due["metrics"]:
            due["metrics"] = now + s.metrics_interval_s
            emit_metrics(*self.metrics())
        if now >= due["checkpoint"]:
            due["checkpoint"] = now + s.anomaly_checkpoint_interval_s
            self.checkpoint()
