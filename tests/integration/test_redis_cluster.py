"""Feature state, the redelivery memo and fraud links on a real Redis Cluster (3 masters,
3 replicas, started by infra.redis): the same vectors as on one server, one round trip per
script call, and a master lost mid-stream costs failed calls (degraded decisions) while
its replica takes the slot over, not state."""

from __future__ import annotations

import time
from typing import Any

import pytest

from features.engine import FeatureEngine
from features.errors import FeatureStateError
from features.offline import replay
from streams.clients import redis_client as build_redis
from streams.settings import Settings
from tests.integration.test_features_replay import KEY, _events, history  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _cluster_client(nodes: Any, timeout_ms: int = 1000) -> Any:
    settings = Settings(redis_url=nodes.url, redis_cluster=True, redis_prefix="cl",
                        redis_timeout_ms=timeout_ms)
    return build_redis(settings), settings.redis_key_prefix


def _script_calls(nodes: Any) -> dict[int, int]:
    """EVALSHA/EVAL calls each node has run (INFO commandstats; NOSCRIPT replies, before a
    script is loaded on a node, are failed_calls and not counted)."""
    out = {}
    for port in nodes.ports:
        stats = nodes.info(port, "commandstats")
        n = 0
        for c in ("evalsha", "eval"):
            fields = dict(f.split("=") for f in stats.get(f"cmdstat_{c}", "calls=0").split(","))
            n += int(fields["calls"]) - int(fields.get("failed_calls", 0))
        out[port] = n
    return out


def test_online_offline_and_replay_give_the_single_server_vectors(
        redis_cluster: Any, redis_client: Any, history: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Batched replay (the worker's path) on the cluster equals it on one server, where
    test_features_replay proves it equal to the event-by-event (live) path; and replaying
    from cleared state on the cluster gives the same vectors again."""
    events = _events(history)
    one_server = FeatureEngine(redis_client, KEY, prefix="single")
    single = {a["application_id"]: f for a, f in replay(one_server, events, batch_size=64)}
    client, prefix = _cluster_client(redis_cluster)
    assert prefix == "{cl}"
    live = FeatureEngine(client, KEY, prefix=prefix)
    first = {a["application_id"]: f for a, f in replay(live, events, batch_size=64)}
    assert first == single
    assert live.clear() > 0
    offline = FeatureEngine(client, KEY, prefix="{cl-offline}")
    import features.engine

    calls: list[int] = []
    real_execute = features.engine.execute  # every script call of the engine (one per batch)
    monkeypatch.setattr(features.engine, "execute",
                        lambda client, c: calls.append(1) or real_execute(client, c))
    scripts_before = _script_calls(redis_cluster)
    batched = {a["application_id"]: f for a, f in replay(offline, events, batch_size=64)}
    assert batched == single
    # every script ran on the master of the tag's slot, in as many round trips as on one
    # server: one composed script call per batch (features/roundtrip.py)
    per_node = {p: n - scripts_before.get(p, 0) for p, n in _script_calls(redis_cluster).items()}
    assert sorted(per_node.values()) == [0] * (len(per_node) - 1) + [sum(calls)]
    assert per_node[redis_cluster.master_of("{cl-offline}")] == sum(calls)
    print(f"cluster replay: {len(calls)} round trips carried {sum(calls)} script calls")
    # the state really is on the cluster, in the one slot of the tag, so every script call
    # went to one master in one round trip
    keys = list(client.scan_iter(match="{cl-offline}:*", count=1000))
    assert keys and len({client.keyslot(k) for k in keys}) == 1
    assert any(f["graph_fraud_linked"] == 1.0 for f in single.values())
    # the fraud look-back (graph state, its own script) reads the same links on the cluster
    from features.lookback import LookBack

    confirmed = [(r["application_id"], int(r["event_time"])) for topic, _, r in events
                 if topic == "loan.performance.v1"]
    assert confirmed
    assert LookBack(offline).linked(confirmed) == LookBack(one_server).linked(confirmed)


def test_a_lost_master_degrades_calls_until_its_replica_serves_the_slot(
        redis_cluster: Any) -> None:
    from features.synthetic import traffic

    client, _ = _cluster_client(redis_cluster, timeout_ms=500)
    engine = FeatureEngine(client, KEY, prefix="{failover}")
    apps = [rec for kind, rec in traffic(40, seed=9, behaviour_per_app=0)
            if kind == "application"]
    before = engine.compute_many(apps[:20])
    # the replica has every write made so far (WAIT's own timeout under the 500 ms socket's)
    synced = time.monotonic() + 30
    while client.wait(1, 300) < 1 and time.monotonic() < synced:
        pass
    master = redis_cluster.master_of("{failover}")
    redis_cluster.node(master).stop(timeout_s=1.0)  # SIGTERM: the master is gone
    failed, deadline = 0, time.monotonic() + 60
    while True:
        try:
            after = engine.compute_many(apps[:20])  # replayed: the same applications
            break
        except FeatureStateError:  # what the worker turns into degraded decisions
            failed += 1
            assert time.monotonic() < deadline, "the replica never took the slot over"
            time.sleep(0.2)
    try:
        assert failed > 0  # the master really was lost, and calls failed meanwhile
        assert redis_cluster.master_of("{failover}") != master  # a replica was promoted
        assert after == before  # its state survived: duplicates still count once
        assert engine.compute_many(apps[20:])  # and new applications are decided
    finally:
        redis_cluster.start_node(master)  # rejoins as a replica of the promoted node
