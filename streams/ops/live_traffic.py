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
    messages: int = 0
    events: int = 0  # behaviour events counted one by one inside their batches
    bytes: int = 0
    decisions_seen: int = 0
    performance_sent: int = 0
    performance_pending: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    publish_lag_ms: list[float] = field(default_factory=list)  # paced: send time - event time


LOOKAHEAD_MS = 1500


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
) -> LiveStats:
    """Publish for ``duration`` seconds (then keep serving due performance for ``drain`` s).

    ``paced=False`` publishes as fast as possible (benchmarks). When paced, a session's
    device events and behaviour batches go out ``session_lead_ms`` before its
    application, as they would from a real SDK while the applicant fills the form.
    ``truth``, if given, receives the simulator's ground truth of every published
    application (application_id, fraud_type, oracle_pd, oracle_fraud)."""
    from confluent_kafka import KafkaError

    stats = LiveStats()

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None and len(stats.errors) < 10:
            stats.errors.append(str(err))

    producer = kafka.producer(conn, {**producer_options(paced), "on_delivery": on_delivery})
    consumer = None
    if decisions:
        consumer = kafka.consumer(conn, f"loanrisk-simulator-{seed}",
                                  {"auto.offset.reset": "latest", "enable.auto.commit": True})
        consumer.subscribe([DECISIONS.name])
    decision_codec = codec_for(DECISIONS.schema)
    codecs = {name: codec_for(t.schema) for name, t in BY_NAME.items()}
    t0 = time.time()
    # the first application is due after the first chunks are generated and its session sent
    start_ms = int(t0 * 1000) + (1000 + session_lead_ms if paced else 0)
    gen = LiveGenerator(config, seed, start_ms, rate)
    due: list[tuple[int, int, str, str, dict[str, Any]]] = []
    seq = 0

    def send(topic: str, key: str, rec: dict[str, Any]) -> None:
        data = codecs[topic].encode(rec)
        kafka.produce(producer, topic, data, key.encode())
        stats.messages += 1
        stats.bytes += len(data)

    def service(now_ms: int) -> None:
        nonlocal seq
        if consumer is not None:
            msgs = consumer.consume(num_messages=1000, timeout=0)
            batch = []
            for m in msgs:
                err = m.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        stats.errors.append(str(err))
                    continue
                try:
                    batch.append(decision_codec.decode(m.value()))
                except LoanRiskError as exc:
                    stats.errors.append(str(exc))
            stats.decisions_seen += len(batch)
            for when, topic, key, rec in gen.performance_for_decisions(batch):
                heapq.heappush(due, (when, seq, topic, key, rec))
                seq += 1
        while due and due[0][0] <= now_ms:
            _, _, topic, key, rec = heapq.heappop(due)
            send(topic, key, rec)
            stats.performance_sent += 1
        producer.poll(0)

    end = start_ms / 1000 + duration  # --duration seconds of traffic, after the warm-up
    # applications whose sessions went out, by due time (submits do not come in session
    # start order: form-fill times differ)
    waiting: list[tuple[int, int, tuple[str, bytes, bytes, int]]] = []

    def publish(msg: tuple[str, bytes, bytes, int]) -> None:
        topic, key, data, events = msg
        kafka.produce(producer, topic, data, key)
        stats.messages += 1
        stats.bytes += len(data)
        stats.events += events

    def release_applications(now_ms: float) -> None:
        while waiting and (waiting[0][0] <= now_ms or not paced):
            due_ms, _, msg = heapq.heappop(waiting)
            publish(msg)
            if paced and len(stats.publish_lag_ms) < 1_000_000:
                stats.publish_lag_ms.append(time.time() * 1000 - due_ms)
            if truth is not None:
                app_id = msg[1].decode()
                t = gen.truth.get(app_id)
                if t is not None:
                    truth.append({"application_id": app_id, "fraud_type": t.fraud_type,
                                  "oracle_pd": t.oracle_pd, "oracle_fraud": t.oracle_fraud})
            stats.applications += 1
            if stats.applications % 256 == 0:
                service(int(time.time() * 1000))
                if progress:
                    progress(256)

    try:
        # Applications are generated a chunk at a time but published in event-time order:
        # keep at least LOOKAHEAD_MS of generated traffic queued (submits arrive out of
        # session-start order by a few hundred ms), so a chunk boundary never delays one.
        upcoming: list[tuple[int, int, Any]] = []  # (session send time, seq, WireApp)
        horizon = 0
        seq_app = 0
        while time.time() < end:
            if not upcoming or (paced and horizon < time.time() * 1000 + LOOKAHEAD_MS):
                for app in gen.next_wire_chunk():  # encoded already (the codec's bytes)
                    heapq.heappush(upcoming, (app.event_time - session_lead_ms, seq_app, app))
                    seq_app += 1
                    horizon = max(horizon, app.event_time)
                continue
            lead_at = upcoming[0][0]
            now = time.time()
            if paced and now * 1000 < lead_at:
                release_applications(now * 1000)
                service(int(now * 1000))
                time.sleep(min(0.005, max(lead_at / 1000 - now, 0)))
                continue
            app = heapq.heappop(upcoming)[2]
            *session, application = app.messages
            for msg in session:
                publish(msg)
            heapq.heappush(waiting, (app.event_time, stats.messages, application))
            release_applications(time.time() * 1000)
        while waiting and paced:  # the last applications, whose sessions already went out
            release_applications(time.time() * 1000)
            time.sleep(0.002)
        drain_end = time.time() + drain
        while time.time() < drain_end:
            service(int(time.time() * 1000))
            time.sleep(0.01)
    finally:
        left = producer.flush(30)
        if consumer is not None:
            consumer.close()
    stats.seconds = time.time() - t0
    stats.performance_pending = len(due)
    if left:
        raise PublishError(
            f"{left} messages were not delivered within 30 s; is Kafka at "
            f"{kafka.connection(conn).bootstrap} up? Try `loanrisk services status`."
        )
    if stats.errors:
        raise PublishError(f"Kafka reported errors, e.g. {stats.errors[0]}")
    return stats
