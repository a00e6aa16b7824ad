"""Look-back alerts on the real Redis and ClickHouse: a fraud confirmation alerts every
application linked to it in the window, with the decision it got and the link path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from features.engine import FeatureEngine
from features.lookback import LookBack
from features.synthetic import T0, application
from features.windows import DAY_MS, HOUR_MS
from schemas import codec_for
from sinks.rows import ALERT_COLUMNS, alert_row
from streams.settings import Settings
from streams.sink.writer import clickhouse_insert
from streams.worker.alerts import ACTIONS, LookBackAlerts
from streams.worker.compose import build_pipeline

pytestmark = pytest.mark.integration


def _app(app_id: str, t: int, n: int, **over: Any) -> dict[str, Any]:
    base = dict(national_id=f"N{n}", device_id=f"dev{n}", phone=f"+4477009{n:05d}",
                email=f"p{n}@example.org", ip=f"10.2.{n}.1", line1=f"{n} Birch Road",
                postcode=f"N{n % 9} 1AA", bank_account=f"20-00-{n:02d} 1000{n:04d}")
    base.update(over)
    return application(app_id, t, **base)  # type: ignore[arg-type]


def test_linked_applications_in_the_window_with_their_link(redis_client: Any) -> None:
    engine = FeatureEngine(redis_client, b"k", prefix="lb1")
    fraud_t = T0 + 20 * DAY_MS
    engine.compute_many([
        _app("old", T0 + 8 * DAY_MS, 1, device_id="shared-dev"),  # linked, before the window
        _app("fraud", fraud_t, 2, device_id="shared-dev", bank_account="11-22-33 44556677"),
        _app("bank", fraud_t + HOUR_MS, 3, bank_account="11 22 33 44556677"),  # variant
        _app("same-id", fraud_t + 2 * HOUR_MS, 4, national_id="N2"),
        _app("flat", fraud_t + 3 * HOUR_MS, 5, line1="Flat 3, 2 Birch Rd", postcode="n21aa"),
        _app("other", fraud_t + 4 * HOUR_MS, 6),
        _app("after", fraud_t + 15 * DAY_MS, 7, device_id="shared-dev"),  # after: no
    ])
    confirmed_at = fraud_t + 10 * DAY_MS
    links = LookBack(engine, days=15).linked([("fraud", confirmed_at), ("unknown", T0)])
    got = {x.application_id: x.link_kind for x in links}
    assert got == {"bank": "bank account", "same-id": "identity", "flat": "address"}
    assert all(x.confirmed_id == "fraud" and x.confirmed_at == confirmed_at for x in links)
    wide = LookBack(engine, days=30).linked([("fraud", confirmed_at)])
    assert {x.application_id for x in wide} == {"old", "bank", "same-id", "flat"}


def test_alerts_carry_the_decision_and_the_action_and_land_in_clickhouse(
    redis_url: str, tmp_path: Path, clickhouse_client: Any
) -> None:
    settings = Settings(redis_url=redis_url, redis_prefix="lb2", state_dir=tmp_path,
                        hash_key="alert-test")
    p = build_pipeline(settings)
    t = T0 + 5 * DAY_MS
    decided = p.decide_batch([  # type: ignore[arg-type]
        _app("f", t, 1, employer="Kestrel Print Ltd"),
        _app("l1", t + HOUR_MS, 2, employer="kestrel print ltd."),
        _app("l2", t + 2 * HOUR_MS, 3, phone="07700 900001"),  # f's phone, written nationally
        _app("l9", t + 2 * HOUR_MS, 9),  # shares nothing
    ])
    outcome = {d.application_id: codec_for("decision").decode(d.decision_bytes)["decision"]
               for d in decided}
    p.features.compute(_app("l3", t + 3 * HOUR_MS, 4, ip="10.2.1.1"))  # never decided here
    alerts = LookBackAlerts(LookBack(p.features, 30), p.features.prefix)
    messages = alerts.messages([("f", t + 20 * DAY_MS)])
    recs = [codec_for("fraud_alert").decode(v) for _, v in messages]
    assert [k for k, _ in messages] == [r["application_id"].encode() for r in recs]
    by_app = {r["application_id"]: r for r in recs}
    assert set(by_app) == {"l1", "l2", "l3"}
    assert by_app["l1"]["link_kind"] == "employer" and by_app["l2"]["link_kind"] == "phone"
    assert by_app["l1"]["outcome"] == outcome["l1"]
    assert by_app["l1"]["action"] == ACTIONS[outcome["l1"]]
    assert by_app["l3"]["outcome"] is None and by_app["l3"]["action"] == "RESCORE"
    assert by_app["l3"]["link_path"].startswith("f (confirmed fraud) -[IP ")
    assert "10.2.1.1" not in by_app["l3"]["link_path"]  # hashes only
    clickhouse_insert(clickhouse_client)("fraud_alerts", [alert_row(r) for r in recs],
                                         ALERT_COLUMNS)
    rows = clickhouse_client.query(
        "SELECT application_id, action, link_kind FROM fraud_alerts FINAL "
        "WHERE confirmed_application_id = 'f' ORDER BY application_id").result_rows
    assert rows == [("l1", ACTIONS[outcome["l1"]], "employer"),
                    ("l2", ACTIONS[outcome["l2"]], "phone"), ("l3", "RESCORE", "IP")]


def test_a_confirmation_through_kafka_lands_alerts_in_clickhouse(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, clickhouse_client: Any
) -> None:
    """The whole path: applications decided by the Kafka worker, a FRAUD_CONFIRMED on
    loan.performance.v1, the worker's alerts on loan.alerts.v1, the sink into ClickHouse."""
    import threading
    import time
    import uuid

    from schemas.topics import APPLICATIONS, PERFORMANCE
    from streams.sink.writer import ClickHouseSink
    from streams.worker.kafka_loop import KafkaWorker
    from tests.harness import publish, wait_until
    from tests.records import performance

    run = uuid.uuid4().hex[:8]
    settings = Settings(kafka_bootstrap=kafka_bootstrap, redis_url=redis_url,
                        redis_prefix=f"lb{run}", state_dir=tmp_path, hash_key="alert-e2e",
                        worker_group=f"lb-{run}", worker_offset_reset="latest")
    worker = KafkaWorker(settings)
    sink = ClickHouseSink(kafka_bootstrap, clickhouse_insert(clickhouse_client),
                          group=f"lb-sink-{run}", max_age_s=0.2)
    stop = threading.Event()
    threads = [threading.Thread(target=worker.run, args=(stop,), daemon=True),
               threading.Thread(target=sink.run, args=(stop,), daemon=True)]
    for th in threads:
        th.start()
    try:
        wait_until(lambda: len(worker.owned) > 0, 60, "the worker to be assigned its partitions")
        time.sleep(3)  # its positions ("latest") resolved before anything is published
        t = T0 + 3 * DAY_MS
        apps = [_app(f"{run}-f", t, 1, bank_account="30-96-26 12345678"),
                _app(f"{run}-m", t + HOUR_MS, 2, bank_account="309626 12345678"),
                _app(f"{run}-x", t + 2 * HOUR_MS, 3)]
        codec = codec_for("loan_application")
        publish(kafka_bootstrap, [(APPLICATIONS.name, a["application_id"].encode(),
                                   codec.encode(a), None) for a in apps])
        decided = f"SELECT count() FROM decisions_of_record WHERE application_id LIKE '{run}-%'"
        wait_until(lambda: clickhouse_client.command(decided) == 3, 90, "three decisions")
        confirm = performance(event_id=f"{run}-c", application_id=f"{run}-f",
                              status="FRAUD_CONFIRMED", event_time=t + 20 * DAY_MS)
        publish(kafka_bootstrap, [(PERFORMANCE.name, confirm["application_id"].encode(),
                                   codec_for("loan_performance").encode(confirm), None)])
        sql = ("SELECT application_id, link_kind, action, outcome FROM fraud_alerts FINAL "
               f"WHERE confirmed_application_id = '{run}-f'")
        wait_until(lambda: clickhouse_client.query(sql).result_rows, 90, "the look-back alert")
    finally:
        stop.set()
        for th in threads:
            th.join(30)
        worker.core.follower.close()  # the lists and releases followers' consumers
        worker.core.releases.close()
    (row,) = clickhouse_client.query(sql).result_rows  # only the bank account's applicant
    outcome = clickhouse_client.command(
        f"SELECT decision FROM decisions_of_record WHERE application_id = '{run}-m'")
    assert row == (f"{run}-m", "bank account", ACTIONS[outcome], outcome)
