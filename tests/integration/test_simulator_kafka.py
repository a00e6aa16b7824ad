"""Live mode publishes valid Avro that consumes back from the real Kafka."""

from __future__ import annotations

import time
import uuid

import pytest

from schemas import codec_for
from schemas.errors import LoanRiskError
from schemas.topics import APPLICATIONS, BEHAVIOUR_EVENTS
from simulator.config import SimConfig
from simulator.live import LiveGenerator
from streams import kafka
from streams.ops.live_traffic import run_live

pytestmark = pytest.mark.integration


def test_live_publishes_valid_avro_that_consumes_back(kafka_bootstrap: str) -> None:
    seed = uuid.uuid4().int % 1_000_000
    cfg = SimConfig()
    truth: list[dict] = []
    stats = run_live(kafka_bootstrap, cfg, seed, rate=100, duration=1.5, decisions=False,
                     truth=truth)
    assert stats.applications >= 50 and stats.errors == []
    expected = {t["application_id"] for t in truth}
    assert len(expected) == stats.applications
    # the ids are the generator's own: the same seed generates them again
    gen = LiveGenerator(cfg, seed, 0, rate=100)  # ids do not depend on the start time
    generated = {gen.next_application()[-1][1] for _ in range(4 * stats.applications)}
    assert expected <= generated
    consumer = kafka.consumer(kafka_bootstrap, f"t-{uuid.uuid4()}",
                              {"auto.offset.reset": "earliest"})
    consumer.subscribe([APPLICATIONS.name, BEHAVIOUR_EVENTS.name])
    seen: set[str] = set()
    our_sessions: set[str] = set()
    batch_sessions: set[str] = set()  # behaviour flushes, ours and other tests'
    deadline = time.time() + 30
    try:
        while time.time() < deadline and not (expected <= seen
                                              and our_sessions & batch_sessions):
            for m in consumer.consume(500, timeout=1.0):
                if m.error():
                    continue
                if m.topic() == APPLICATIONS.name:
                    if m.key().decode() not in expected:
                        continue  # other tests share the topic (some publish garbage on purpose)
                    rec = codec_for("loan_application").decode(m.value())
                    assert m.key().decode() == rec["application_id"]
                    seen.add(rec["application_id"])
                    our_sessions.add(rec["session_id"])
                else:
                    try:  # other tests publish other framings and garbage here too
                        rec = codec_for("behaviour_batch").decode(m.value())
                    except LoanRiskError:
                        continue
                    batch_sessions.add(rec["session_id"])
    finally:
        consumer.close()
    assert expected <= seen
    assert our_sessions & batch_sessions, "no behaviour batch of the published sessions"


def test_live_on_a_slow_machine_publishes_late_not_never(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generator slower than the whole duration (a busy machine) once published nothing and
    said so as '0 applications'; paced, every application due within the duration goes out."""
    original = LiveGenerator.next_wire_chunk

    def slow_chunk(self: LiveGenerator) -> list:
        time.sleep(2.5)  # longer than the duration below
        return original(self)

    monkeypatch.setattr(LiveGenerator, "next_wire_chunk", slow_chunk)
    seed = uuid.uuid4().int % 1_000_000
    stats = run_live(kafka_bootstrap, SimConfig(), seed, rate=100, duration=1.0,
                     decisions=False)
    # Poisson around 100 arrivals due within the second: applications, and the quote
    # requests that now come before some of them (or instead of them)
    assert stats.applications > 0 and stats.applications + stats.quotes >= 60, stats
    assert max(stats.publish_lag_ms) > 1000  # and they are reported as late
