"""End to end through the real Kafka: a fraud ring's applications and sessions are
produced as Avro to the project's topics, consumed back, and fed to the engine the
way a worker does; the ring's later applications show higher velocity."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from features.engine import FeatureEngine
from features.synthetic import T0, application, behaviour_event, device_event
from schemas import codec_for
from schemas.topics import APPLICATIONS, BEHAVIOUR_EVENTS, DEVICE_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMA = {APPLICATIONS.name: "loan_application", DEVICE_EVENTS.name: "device_event",
          BEHAVIOUR_EVENTS.name: "behaviour_batch"}  # behaviour travels as SDK flushes


def test_fraud_ring_velocity_rises_through_kafka(kafka_bootstrap: str, redis_client: Any) -> None:
    run = uuid.uuid4().hex[:8]
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
    ring_devices, ring_phones = [f"{run}-rdev{i}" for i in range(2)], [f"+44700{run[:4]}{i}"
                                                                       for i in range(2)]
    n = 8
    for i in range(n):
        sid, t = f"{run}-s{i}", T0 + i * 5 * 60_000  # one application every 5 minutes
        dev = ring_devices[i % 2]
        sent = [
            (DEVICE_EVENTS.name, sid, device_event(f"{run}-d{i}", sid, t - 30_000,
                                                   device_id=dev, ip="185.1.1.1", emulator=True)),
            (BEHAVIOUR_EVENTS.name, sid, {
                "batch_id": f"{run}-bb{i}", "session_id": sid, "sent_at": t - 19_000,
                "events": [behaviour_event(f"{run}-b{i}-{j}", sid, t - 20_000 + j, "PASTE")
                           for j in range(3)]}),
            (APPLICATIONS.name, f"{run}-a{i}", application(
                f"{run}-a{i}", t, national_id=f"{run}ID{i}", device_id=dev,
                phone=ring_phones[i % 2], email=f"{run}{i}@mail.tm", ip="185.1.1.1",
                session_id=sid)),
        ]
        for topic, key, rec in sent:
            producer.produce(topic, key=key, value=codec_for(SCHEMA[topic]).encode(rec))
        producer.flush(10)  # sessions before applications, as a device SDK would send them
    assert producer.flush(10) == 0

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"feat-{run}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(list(SCHEMA))
    engine = FeatureEngine(redis_client, b"kafka-test-key", prefix=f"k{run}")
    apps: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while len(apps) < n and time.monotonic() < deadline:
        msgs = consumer.consume(500, timeout=0.5)
        dev, beh = [], []
        pending = []
        for m in msgs:
            if m.error() is not None or not (m.key() or b"").startswith(run.encode()):
                continue  # other tests' messages on the shared topics (some are garbage)
            rec = codec_for(SCHEMA[m.topic()]).decode(m.value())
            if m.topic() == BEHAVIOUR_EVENTS.name:
                beh.extend(rec["events"])
            else:
                {DEVICE_EVENTS.name: dev, APPLICATIONS.name: pending}[m.topic()].append(rec)
        engine.ingest_session_events(dev, beh)  # one batched call per poll
        apps.extend(pending)
    consumer.close()
    assert len(apps) == n
    # partitions interleave arbitrarily; score in event-time order as a worker's short
    # reordering buffer would (late ones are covered by test_features_engine)
    apps.sort(key=lambda a: a["event_time"])
    feats = {a["application_id"]: f for a, f in zip(apps, engine.compute_many(apps), strict=True)}
    first, last = feats[f"{run}-a0"], feats[f"{run}-a{n - 1}"]
    assert first["vel_ip_apps_1h"] == 1.0 and last["vel_ip_apps_1h"] == 8.0
    assert last["vel_device_apps_1h"] > first["vel_device_apps_1h"]
    assert last["dist_ids_per_device_24h"] == 4.0 and first["dist_ids_per_device_24h"] == 1.0
    assert last["graph_linked_ids_30d"] == n - 1 and first["graph_linked_ids_30d"] == 0.0
    assert last["sess_paste_count"] == 3.0 and last["sess_emulator"] == 1.0
