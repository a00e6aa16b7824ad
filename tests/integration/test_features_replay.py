"""Online = offline: replaying an event log from empty state gives the same vectors,
and the batched offline builder gives exactly what the live path (one event at a
time) gives, on a simulator history with sessions, rings and fraud confirmations."""

from __future__ import annotations

import heapq
from typing import Any

import pytest

from features.engine import FeatureEngine
from features.offline import fraud_confirmations, replay
from features.synthetic import traffic
from features.windows import HOUR_MS

pytestmark = pytest.mark.integration
KEY = b"replay-key"


@pytest.fixture(scope="module")
def history() -> Any:
    from simulator.config import SimConfig
    from simulator.history import generate_history

    return generate_history(SimConfig(), 400, 1, seed=11)


def _events(history: Any) -> list[tuple[str, str, dict[str, Any]]]:
    from simulator.history import event_log

    perf = history.performance.copy()
    # confirm frauds one hour after application, so confirmations precede later applications
    app_time = dict(zip(history.applications["application_id"].tolist(),
                        history.applications["event_time"].tolist(), strict=True))
    perf["event_time"] = [int(app_time[a]) + HOUR_MS for a in perf["application_id"].tolist()]
    return list(heapq.merge(event_log(history), fraud_confirmations(perf),
                            key=lambda ev: int(ev[-1]["event_time"])))


def _live(engine: FeatureEngine, events: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """The live path: each event on its own, in log order."""
    out = {}
    for topic, _, rec in events:
        if topic == "device.events.v1":
            engine.ingest_session_events([rec], [])
        elif topic == "behaviour.events.v1":
            engine.ingest_session_events([], [rec])
        elif topic == "loan.applications.v1":
            out[rec["application_id"]] = engine.compute(rec)
        else:
            engine.record_fraud_confirmation(rec["application_id"], rec["event_time"])
    return out


@pytest.mark.slow
def test_replay_twice_from_empty_state_and_offline_equals_online(
    redis_client: Any, history: Any
) -> None:
    events = _events(history)
    live = FeatureEngine(redis_client, KEY, prefix="live")
    first = _live(live, events)
    assert live.clear() > 0
    second = _live(live, events)
    assert second == first
    offline = FeatureEngine(redis_client, KEY, prefix="offline")
    batched = {a["application_id"]: f for a, f in replay(offline, events, batch_size=64)}
    assert batched == first
    assert len(first) == len(history.applications)
    # the history exercises the families: rings share devices, frauds get confirmed
    assert max(f["dist_ids_per_device_7d"] for f in first.values()) > 1
    assert any(f["graph_fraud_linked"] == 1.0 for f in first.values())
    assert all(f["sess_behaviour_missing"] == 0.0 for f in first.values())


def test_batched_replay_of_synthetic_traffic_equals_event_by_event(redis_client: Any) -> None:
    events = [(kind, rec) for kind, rec in traffic(300, seed=3, behaviour_per_app=8)]
    one = FeatureEngine(redis_client, KEY, prefix="one")
    many = FeatureEngine(redis_client, KEY, prefix="many")
    expect = {}
    for kind, rec in events:
        if kind == "application":
            expect[rec["application_id"]] = one.compute(rec)
        elif kind == "device":
            one.ingest_session_events([rec], [])
        else:
            one.ingest_session_events([], [rec])
    got = {a["application_id"]: f for a, f in replay(many, events, batch_size=50)}
    assert got == expect
