"""The sink on the real Kafka and ClickHouse: batches, idempotence, ClickHouse outages."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from schemas import codec_for
from schemas.topics import DECISIONS
from streams.sink.writer import ClickHouseSink, clickhouse_insert
from tests import records
from tests.harness import publish

pytestmark = pytest.mark.integration


def _publish_decisions(bootstrap: str, ids: list[str], copies: int = 1) -> None:
    codec = codec_for("decision")
    publish(bootstrap, [(DECISIONS.name, app_id.encode(),
                         codec.encode(records.decision(application_id=app_id)), None)
                        for _ in range(copies) for app_id in ids])


def _count(client, prefix: str, table: str = "decisions_of_record") -> int:
    return client.query(
        f"SELECT count() FROM {table} WHERE startsWith(application_id, '{prefix}')"
    ).result_rows[0][0]


def _run_until(sink: ClickHouseSink, done, timeout_s: float = 60.0) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=sink.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done():
        time.sleep(0.2)
    stop.set()
    thread.join(60)
    assert done()


def test_clickhouse_outage_is_retried_and_nothing_is_lost(kafka_bootstrap, clickhouse_client):
    """Inserts fail (ClickHouse unreachable) for a while; the sink backs off, keeps the batch
    uncommitted, and writes everything once ClickHouse answers again."""
    prefix = f"outage-{uuid.uuid4().hex[:6]}-"
    ids = [f"{prefix}{i}" for i in range(300)]
    _publish_decisions(kafka_bootstrap, ids, copies=2)  # redelivered copies too
    real = clickhouse_insert(clickhouse_client)
    failures = {"left": 3}

    def flaky_insert(table, rows, columns):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("ClickHouse unreachable (injected)")
        real(table, rows, columns)

    sink = ClickHouseSink(kafka_bootstrap, flaky_insert, group=f"sink-{prefix}",
                          max_rows=100, max_age_s=0.2, max_backoff_s=0.5)
    _run_until(sink, lambda: _count(clickhouse_client, prefix) == len(ids))
    assert sink.stats.failures == 3
    assert _count(clickhouse_client, prefix) == len(ids)  # each application once
    raw = _count(clickhouse_client, prefix, "decisions")
    assert len(ids) <= raw <= 2 * len(ids)

    # offsets were committed only after the writes: a new sink in the same group has nothing
    again = ClickHouseSink(kafka_bootstrap, real, group=f"sink-{prefix}", max_age_s=0.2)
    stop = threading.Event()
    threading.Timer(8.0, stop.set).start()
    stats = again.run(stop)
    assert stats.written.get("decisions", 0) == 0
