"""Publish the live simulator to Kafka: applications and session events at a target
rate, and the performance of approved loans as their decisions come back.

confluent-kafka's Producer batches (linger.ms, batch.num.messages); records are
encoded with the project codec. One simulated month of loan performance passes
every ``config.live.month_seconds`` wall seconds.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import codec_for
from schemas.errors import LoanRiskError
from schemas.topics import BY_NAME, DECISIONS
from simulator.config import SimConfig
from simulator.live import LiveGenerator
from streams import kafka


class PublishError(LoanRiskError):
    """Kafka refused or lost messages."""


@dataclass
class LiveStats:
    applications: int = 0
    quotes: int = 0  # quote requests (pre-qualification), not applications
    messages: int = 0
    events: int = 0  # behaviour events counted one by one inside their batches
    bytes: int = 0
    decisions_seen: int = 0
    performance_sent: int = 0
    performance_pending: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    publish_lag_ms: list[float] = field(default_factory=list)  # paced: send time - event time
    quote_ids: list[str] = field(default_factory=list)  # when the truth is kept


LOOKAHEAD_MS = 1500


def quotes_truth_path(truth_out: Path) -> Path:
    """Where ``simulate live --truth-out T`` writes the quote requests' truth."""
    return truth_out.with_suffix(".quotes.parquet")


def producer_options(paced: bool = True) -> dict[str, Any]:
    """Paced traffic goes out within 2 ms (upstream does not hold applications back);
    unpaced publishing batches for throughput."""
    return {
        "linger.ms": 2 if paced else 50,
        "batch.num.messages": 10_000,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "compression.type": "lz4",
        "enable.idempotence": False,
        "acks": "1",
    }


@dataclass(frozen=True)
class LivePlan:
    """How to publish: the rate and pacing of applications and what else to do."""

    rate: float
    duration: float
    paced: bool = True
    decisions: bool = True
    drain: float = 0.0
    session_lead_ms: int = 250


WireMessage = tuple[str, bytes, bytes, int]  # topic, key, encoded value, behaviour events
#: builds the reviewers from the publisher's truth lookup (application id -> (fraud type,
#: oracle PD)); anything with ``see(decisions)``, ``service(now_ms)`` and ``pending``
ReviewsFactory = Callable[[Callable[[str], tuple[str, float] | None]], Any]


class LivePublisher:
    """One run of the live simulator: sessions ahead of their applications, in event-time
    order, and each approved loan's performance when its month comes."""

    def __init__(self, conn: kafka.Connection, config: SimConfig, seed: int, plan: LivePlan,
                 progress: Callable[[int], None] | None = None,
                 truth: list[dict[str, Any]] | None = None,
                 reviews: ReviewsFactory | None = None) -> None:
        self.plan, self.progress, self.truth = plan, progress, truth
        self.conn = conn
        self.stats = LiveStats()
        self.producer = kafka.producer(conn, {**producer_options(plan.paced),
                                              "on_delivery": self._on_delivery})
        self.consumer = None
        if plan.decisions:
            self.consumer = kafka.consumer(conn, f"loanrisk-simulator-{seed}", {
                "auto.offset.reset": "latest", "enable.auto.commit": True})
            self.consumer.subscribe([DECISIONS.name])
        self.decision_codec = codec_for(DECISIONS.schema)
        self.codecs = {name: codec_for(t.schema) for name, t in BY_NAME.items()}
        self.t0 = time.time()
        # the first application is due after the first chunks are generated and its
        # session sent
        self.start_ms = int(self.t0 * 1000) + (1000 + plan.session_lead_ms if plan.paced else 0)
        self.gen = LiveGenerator(config, seed, self.start_ms, plan.rate)
        self.due: list[tuple[int, int, str, str, dict[str, Any]]] = []  # performance
        self.seq = 0
        # applications whose sessions went out, by due time (submits do not come in session
        # start order: form-fill times differ)
        self.waiting: list[tuple[int, int, WireMessage]] = []
        # simulated reviewers working the REVIEW decisions (streams.ops.review_shift)
        self.reviews = reviews(self.truth_of) if reviews is not None else None
        if self.reviews is not None and self.consumer is None:
            raise ValueError("simulated reviewers need the decisions (decisions=True)")

    def truth_of(self, application_id: str) -> tuple[str, float] | None:
        """(fraud type, oracle PD) of an application this run published, else None."""
        t = self.gen.truth.get(application_id)
        return None if t is None else (t.fraud_type, t.oracle_pd)

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None and len(self.stats.errors) < 10:
            self.stats.errors.append(str(err))

    # --- sending -------------------------------------------------------------------
    def send(self, topic: str, key: str, rec: dict[str, Any]) -> None:
        data = self.codecs[topic].encode(rec)
        kafka.produce(self.producer, topic, data, key.encode())
        self.stats.messages += 1
        self.stats.bytes += len(data)

    def publish(self, msg: WireMessage) -> None:
        topic, key, data, events = msg
        kafka.produce(self.producer, topic, data, key)
        self.stats.messages += 1
        self.stats.bytes += len(data)
        self.stats.events += events

    # --- performance of decided loans -------------------------------------------------
    def _decisions_seen(self) -> list[dict[str, Any]]:
        from confluent_kafka import KafkaError

        assert self.consumer is not None
        batch = []
        for m in self.consumer.consume(num_messages=1000, timeout=0):
            err = m.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    self.stats.errors.append(str(err))
                continue
            try:
                batch.append(self.decision_codec.decode(m.value()))
            except LoanRiskError as exc:
                self.stats.errors.append(str(exc))
        return batch

    def service(self, now_ms: int) -> None:
        """Schedule performance for decisions that came back; send what is due."""
        if self.consumer is not None:
            batch = self._decisions_seen()
            self.stats.decisions_seen += len(batch)
            for when, topic, key, rec in self.gen.performance_for_decisions(batch):
                heapq.heappush(self.due, (when, self.seq, topic, key, rec))
                self.seq += 1
            if self.reviews is not None:
                self.reviews.see(batch)
                self.reviews.service(now_ms)
        while self.due and self.due[0][0] <= now_ms:
            _, _, topic, key, rec = heapq.heappop(self.due)
            self.send(topic, key, rec)
            self.stats.performance_sent += 1
        self.producer.poll(0)

    # --- applications ---------------------------------------------------------------
    def release_applications(self, now_ms: float) -> None:
        paced, stats = self.plan.paced, self.stats
        while self.waiting and (self.waiting[0][0] <= now_ms or not paced):
            due_ms, _, msg = heapq.heappop(self.waiting)
            self.publish(msg)
            if paced and len(stats.publish_lag_ms) < 1_000_000:
                stats.publish_lag_ms.append(time.time() * 1000 - due_ms)
            if self.truth is not None:
                self._record_truth(msg[1].decode())
            stats.applications += 1
            if stats.applications % 256 == 0:
                self.service(int(time.time() * 1000))
                if self.progress:
                    self.progress(256)

    def _record_truth(self, app_id: str) -> None:
        t = self.gen.truth.get(app_id)
        if t is not None and self.truth is not None:
            self.truth.append({"application_id": app_id, "fraud_type": t.fraud_type,
                               "oracle_pd": t.oracle_pd, "oracle_fraud": t.oracle_fraud,
                               "genuine_sharing": t.genuine_sharing})

    def run(self) -> LiveStats:
        """Publish for the plan's duration, then serve due performance for its drain."""
        try:
            self._publish_traffic(self.start_ms / 1000 + self.plan.duration)
            while self.waiting and self.plan.paced:  # the last ones: sessions already out
                self.release_applications(time.time() * 1000)
                time.sleep(0.002)
            drain_end = time.time() + self.plan.drain
            while time.time() < drain_end:
                self.service(int(time.time() * 1000))
                time.sleep(0.01)
        finally:
            left = self.producer.flush(30)
            if self.consumer is not None:
                self.consumer.close()
        return self._finish(left)

    def _publish_traffic(self, end: float) -> None:
        # Applications are generated a chunk at a time but published in event-time order:
        # keep at least LOOKAHEAD_MS of generated traffic queued (submits arrive out of
        # session-start order by a few hundred ms), so a chunk boundary never delays one.
        # Paced, the plan is every application whose event time falls within the duration:
        # on a machine too slow to generate in time they go out late (the lag is reported),
        # never silently not at all. Unpaced, it is as many as fit in the wall-clock duration.
        paced, lead_ms = self.plan.paced, self.plan.session_lead_ms
        end_ms = end * 1000
        upcoming: list[tuple[int, int, Any]] = []  # (session send time, seq, WireApp)
        horizon = 0
        seq_app = 0
        while paced or time.time() < end:
            short = not upcoming or (paced and horizon < time.time() * 1000 + LOOKAHEAD_MS)
            if short and (not paced or horizon < end_ms):
                for app in self.gen.next_wire_chunk():  # encoded already (the codec's bytes)
                    send_at = app.event_time - (0 if app.quote else lead_ms)
                    heapq.heappush(upcoming, (send_at, seq_app, app))
                    seq_app += 1
                    horizon = max(horizon, app.event_time)
                continue
            if not upcoming or (paced and upcoming[0][2].event_time >= end_ms):
                break
            lead_at = upcoming[0][0]
            now = time.time()
            if paced and now * 1000 < lead_at:
                self.release_applications(now * 1000)
                self.service(int(now * 1000))
                time.sleep(min(0.005, max(lead_at / 1000 - now, 0)))
                continue
            app = heapq.heappop(upcoming)[2]
            if app.quote:  # a quote request: at its own event time, nothing waits on it
                self.publish(app.messages[0])
                self.stats.quotes += 1
                if self.truth is not None:
                    self.stats.quote_ids.append(app.messages[0][1].decode())
                continue
            *session, application = app.messages
            for msg in session:
                self.publish(msg)
            heapq.heappush(self.waiting, (app.event_time, self.stats.messages, application))
            self.release_applications(time.time() * 1000)

    def _finish(self, undelivered: int) -> LiveStats:
        stats = self.stats
        stats.seconds = time.time() - self.t0
        stats.performance_pending = len(self.due)
        if undelivered:
            raise PublishError(
                f"{undelivered} messages were not delivered within 30 s; is Kafka at "
                f"{kafka.connection(self.conn).bootstrap} up? Try `loanrisk services status`."
            )
        if stats.errors:
            raise PublishError(f"Kafka reported errors, e.g. {stats.errors[0]}")
        return stats


def run_live(
    conn: kafka.Connection,
    config: SimConfig,
    seed: int,
    rate: float,
    duration: float,
    *,
    paced: bool = True,
    decisions: bool = True,
    drain: float = 0.0,
    progress: Callable[[int], None] | None = None,
    session_lead_ms: int = 250,
    truth: list[dict[str, Any]] | None = None,
    reviews: ReviewsFactory | None = None,
) -> LiveStats:
    """Publish for ``duration`` seconds (then keep serving due performance for ``drain`` s).

    ``paced=False`` publishes as fast as possible (benchmarks). When paced, a session's
    device events and behaviour batches go out ``session_lead_ms`` before its
    application, as they would from a real SDK while the applicant fills the form.
    ``truth``, if given, receives the simulator's ground truth of every published
    application (application_id, fraud_type, oracle_pd, oracle_fraud, genuine_sharing).
    ``reviews``, if given, builds the simulated reviewers who work the REVIEW decisions as
    they come back (during the duration and the drain)."""
    plan = LivePlan(rate, duration, paced, decisions, drain, session_lead_ms)
    return LivePublisher(conn, config, seed, plan, progress, truth, reviews).run()
