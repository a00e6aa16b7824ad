"""The pipeline on a Redis Cluster through a failover: the product's worker and sink on the
real Kafka, the 3-master cluster (``infra.redis``) and the session's ClickHouse store; the
master holding the worker's slot is stopped mid-stream. Decisions keep flowing (degraded
while the slot moves), its replica is promoted, and every application is decided exactly
once in ClickHouse; once the replica serves the slot, decisions are normal again."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from infra.process import ServiceError
from streams import kafka
from streams.settings import Settings
from streams.sink.writer import ClickHouseSink, clickhouse_insert
from streams.worker.kafka_loop import KafkaWorker
from tests.harness import Publisher, traffic, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _rows(client: Any, sql: str) -> list[Any]:
    return list(client.query(sql).result_rows)


def _assert_each_decided_once(client: Any, prefix: str, ids: list[str]) -> None:
    """decisions_of_record holds exactly the published applications, once each, and any
    copy of a decision in the raw table is identical to the first."""
    of_record = [r[0] for r in _rows(client, "SELECT application_id FROM decisions_of_record "
                                             f"WHERE startsWith(application_id, '{prefix}')")]
    assert len(of_record) == len(ids) and set(of_record) == set(ids), (
        f"missing: {sorted(set(ids) - set(of_record))[:5]}")
    differing = _rows(client, "SELECT application_id FROM decisions "
                              f"WHERE startsWith(application_id, '{prefix}') "
                              "GROUP BY application_id HAVING uniqExact(tuple(decision, pd, "
                              "reason_codes, decided_at, worker)) > 1")
    assert differing == [], f"decided twice, differently: {differing[:5]}"


def test_decisions_flow_through_a_master_failover_none_lost(
        redis_cluster: Any, kafka_bootstrap: str, clickhouse_client: Any,
        tmp_path: Any) -> None:
    run = uuid.uuid4().hex[:6]
    settings = Settings(state_dir=tmp_path, kafka_bootstrap=kafka_bootstrap,
                        redis_url=redis_cluster.url, redis_cluster=True,
                        redis_prefix=f"fo{run}", redis_timeout_ms=500, hash_key="test",
                        worker_group=f"fo-{run}", worker_id=f"fo-{run}")
    prefix = f"fo{run}"
    before, before_ids = traffic(f"{prefix}-a", 400, seed=61)
    after, after_ids = traffic(f"{prefix}-b", 60, seed=62)
    worker = KafkaWorker(settings)
    sink = ClickHouseSink(settings.kafka, clickhouse_insert(clickhouse_client),
                          group=f"fo-sink-{run}", max_rows=500, max_age_s=0.3,
                          max_backoff_s=1.0)
    stop = threading.Event()
    threads = [threading.Thread(target=t.run, args=(stop,), daemon=True)
               for t in (worker, sink)]
    for t in threads:
        t.start()
    master = redis_cluster.master_of(settings.redis_key_prefix)
    decided = ("SELECT count() FROM decisions_of_record "
               f"WHERE startsWith(application_id, '{prefix}-a')")
    try:
        pub = Publisher(kafka.producer(settings.kafka, {"linger.ms": 5, "acks": "all"}),
                        before, slice_size=100, pause_s=0.4).start()
        wait_until(lambda: _rows(clickhouse_client, decided)[0][0] > 0, 180,
                   "the first decisions of the stream")
        wait_until(redis_cluster.replicas_synced, 60, "the replicas' sync (else none takes over)")
        redis_cluster.node(master).stop(timeout_s=1.0)  # the slot's master is gone
        assert _rows(clickhouse_client, decided)[0][0] < len(before_ids), "not mid-stream"
        pub.join()
        wait_until(lambda: _rows(clickhouse_client, decided)[0][0] >= len(before_ids), 240,
                   "every application of the stream decided")
        _assert_each_decided_once(clickhouse_client, f"{prefix}-a", before_ids)
        degraded = _rows(clickhouse_client, "SELECT count() FROM decisions_of_record WHERE "
                                            f"startsWith(application_id, '{prefix}-a') AND "
                                            "has(reason_codes, 'S-STATE-UNAVAILABLE')")[0][0]
        assert 0 < degraded < len(before_ids)  # the loss was felt, and not for the whole run
        print(f"failover: {degraded} of {len(before_ids)} applications decided degraded")
        wait_until(lambda: _master_now(redis_cluster, settings.redis_key_prefix) not in
                   (None, master), 60, "a replica promoted to serve the slot")

        # the promoted replica serves: the client refreshes its slot map on the first call
        # that fails after the promotion, so at most the first batch is still degraded
        Publisher(kafka.producer(settings.kafka, {"linger.ms": 5, "acks": "all"}), after,
                  slice_size=max(1, len(after) // 6), pause_s=0.5).start().join()
        normal = ("SELECT count() FROM decisions_of_record WHERE startsWith(application_id, "
                  f"'{prefix}-b')")
        wait_until(lambda: _rows(clickhouse_client, normal)[0][0] >= len(after_ids), 180,
                   "the decisions after the failover")
        _assert_each_decided_once(clickhouse_client, f"{prefix}-b", after_ids)
        late = ", ".join(f"'{a}'" for a in after_ids[-20:])
        assert _rows(clickhouse_client, "SELECT countIf(has(reason_codes, "
                     "'S-STATE-UNAVAILABLE')) FROM decisions_of_record WHERE application_id "
                     f"IN ({late})")[0][0] == 0, "decisions still degraded after the failover"
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        redis_cluster.start_node(master)  # rejoins as a replica of the promoted node


def _master_now(cluster: Any, key: str) -> int | None:
    """The slot's master, or None while no live master serves it (the failover under way)."""
    try:
        return int(cluster.master_of(key))
    except ServiceError:
        return None
