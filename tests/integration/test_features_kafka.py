"""End to end through the real Kafka: a fraud ring's applications and sessions are
produced as Avro to the project's topics, consumed back, and handed to the worker's own
core (decode, fold the sessions into Redis, decide) poll by poll, in the order consumed,
exactly as the worker loop does. Every vector must count what was processed before it;
an application after the ring sees the whole ring."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from features.synthetic import T0, application, behaviour_event, device_event
from schemas import codec_for
from schemas.topics import APPLICATIONS, BEHAVIOUR_EVENTS, DEVICE_EVENTS
from streams import kafka
from streams.settings import Settings
from streams.worker.core import Inbound, WorkerCore
from tests.harness import Message, publish
from tests.records import behaviour_batch

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMA = {APPLICATIONS.name: "loan_application", DEVICE_EVENTS.name: "device_event",
          BEHAVIOUR_EVENTS.name: "behaviour_batch"}  # behaviour travels as SDK flushes
RING_IP = "185.1.1.1"


def _ring_member(run: str, i: int) -> list[Message]:
    """Session events, then the application, of the ring's i-th applicant (5 min apart)."""
    sid, t, dev = f"{run}-s{i}", T0 + i * 5 * 60_000, f"{run}-rdev{i % 2}"
    records = [
        (DEVICE_EVENTS.name, sid, device_event(f"{run}-d{i}", sid, t - 30_000, device_id=dev,
                                               ip=RING_IP, emulator=True)),
        (BEHAVIOUR_EVENTS.name, sid, behaviour_batch(
            [behaviour_event(f"{run}-b{i}-{j}", sid, t - 20_000 + j, "PASTE") for j in range(3)],
            batch_id=f"{run}-bb{i}")),
        (APPLICATIONS.name, f"{run}-a{i}", application(
            f"{run}-a{i}", t, national_id=f"{run}ID{i}", device_id=dev,
            phone=f"+44700{run[:4]}{i % 2}", email=f"{run}{i}@mail.tm", ip=RING_IP,
            session_id=sid)),
    ]
    return [(topic, key.encode(), codec_for(SCHEMA[topic]).encode(rec), None)
            for topic, key, rec in records]


class Processed:
    """What the worker core did, in order: each application's vector, and which sessions
    had been folded into Redis when it was decided."""

    def __init__(self) -> None:
        self.apps: list[dict[str, Any]] = []
        self.vectors: dict[str, dict[str, float | None]] = {}
        self.sessions_before: dict[str, set[str]] = {}
        self.devices_seen: set[str] = set()
        self.behaviour_seen: set[str] = set()

    def step(self, core: WorkerCore, messages: list[Inbound]) -> None:
        """One poll, as ``kafka_loop`` handles it: sort, fold state, decide in order."""
        batch = core.sort(messages)
        core.fold_state(batch)
        self.devices_seen |= {e["session_id"] for e in batch.device}
        self.behaviour_seen |= {e["session_id"] for e in batch.behaviour}
        fv_codec = codec_for("feature_vector")
        for app, d in zip(batch.applications, core.decide(batch.applications), strict=True):
            fv = fv_codec.decode(d.features_bytes)
            self.apps.append(app)
            self.vectors[app["application_id"]] = dict(zip(fv["names"], fv["values"],
                                                           strict=True))
            self.sessions_before[app["application_id"]] = {
                s for s in self.devices_seen if s in self.behaviour_seen}


def _consume_into(core: WorkerCore, processed: Processed, consumer: Any, run: str,
                  n_apps: int) -> None:
    deadline = time.monotonic() + 60
    while len(processed.apps) < n_apps and time.monotonic() < deadline:
        mine = [Inbound(m.topic(), m.key(), m.value(), m.partition(), m.offset())
                for m in consumer.consume(500, timeout=0.5)
                # other tests' messages share the topics (some are garbage on purpose)
                if m.error() is None and (m.key() or b"").startswith(run.encode())]
        processed.step(core, mine)
    assert len(processed.apps) == n_apps, "the ring's applications were not all consumed"


def _expected(processed: Processed, x: dict[str, Any]) -> dict[str, float]:
    """The oracle: ring applications processed up to ``x`` whose event time is not later."""
    upto = processed.apps[:processed.apps.index(x) + 1]
    seen = [a for a in upto if a["event_time"] <= x["event_time"]]
    same_device = [a for a in seen if a["device_id"] == x["device_id"]]
    return {"vel_ip_apps_1h": float(len(seen)), "vel_device_apps_1h": float(len(same_device)),
            "dist_ids_per_device_24h": float(len({a["national_id"] for a in same_device})),
            "graph_linked_ids_30d": float(len(seen) - 1)}


def test_fraud_ring_features_through_kafka_count_what_the_worker_processed(
        kafka_bootstrap: str, redis_client: Any, redis_url: str, tmp_path: Path) -> None:
    run, n = uuid.uuid4().hex[:8], 8
    settings = Settings(kafka_bootstrap=kafka_bootstrap, redis_url=redis_url,
                        redis_prefix=f"k{run}", state_dir=tmp_path, hash_key="kafka-test")
    core = WorkerCore(settings, dead_letter_out=lambda _k, _v: None)
    consumer = kafka.consumer(kafka_bootstrap, f"feat-{run}",
                              {"auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(list(SCHEMA))
    processed = Processed()
    try:
        publish(kafka_bootstrap, [m for i in range(n) for m in _ring_member(run, i)])
        _consume_into(core, processed, consumer, run, n)
        # one more applicant of the ring, sent once the ring has been processed
        publish(kafka_bootstrap, _ring_member(run, n))
        _consume_into(core, processed, consumer, run, n + 1)
    finally:
        consumer.close()
        core.follower.close()
        core.releases.close()

    for app in processed.apps:
        got, app_id = processed.vectors[app["application_id"]], app["application_id"]
        want = _expected(processed, app)
        assert {k: got[k] for k in want} == want, app_id
        if app["session_id"] in processed.sessions_before[app_id]:  # folded before deciding
            assert (got["sess_paste_count"], got["sess_emulator"]) == (3.0, 1.0), app_id
            assert got["sess_behaviour_missing"] == 0.0, app_id
    last = processed.vectors[f"{run}-a{n}"]
    assert processed.apps[-1]["application_id"] == f"{run}-a{n}"
    assert last["vel_ip_apps_1h"] == n + 1 and last["graph_linked_ids_30d"] == n
    assert last["dist_ids_per_device_24h"] == n // 2 + 1  # its device: every other member
