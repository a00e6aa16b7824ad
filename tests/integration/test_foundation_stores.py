"""Redis and ClickHouse (chDB through clickhouse-connect) on the real engines."""

from __future__ import annotations

import datetime as dt

import pytest

from sinks.rows import DECISION_COLUMNS, decision_row
from tests import records

pytestmark = pytest.mark.integration


def test_redis_round_trip(redis_client) -> None:
    redis_client.zadd("vel:dev:abc", {"app-1": 1000, "app-2": 2000})
    redis_client.zadd("vel:dev:abc", {"app-1": 1000})  # same member again: no double count
    assert redis_client.zcount("vel:dev:abc", 0, 5000) == 2
    assert redis_client.zcount("vel:dev:abc", 1500, 5000) == 1


def _decision_row(app_id: str, decided_ms: int, decision: str) -> list:
    """A sink row of ``records.decision`` decided ``decided_ms`` after its event time."""
    return decision_row(records.decision(application_id=app_id, decision=decision,
                                         decided_at=records.T0 + decided_ms))


def test_clickhouse_insert_and_query(clickhouse_client) -> None:
    rows = [_decision_row("ch-1", 12, "APPROVE"), _decision_row("ch-2", 15, "DECLINE")]
    clickhouse_client.insert("decisions", rows, column_names=list(DECISION_COLUMNS))
    result = clickhouse_client.query(
        "SELECT application_id, decision, latency_ms, versions['model_pd'] FROM decisions "
        "WHERE application_id IN ('ch-1', 'ch-2') ORDER BY application_id"
    ).result_rows
    assert result == [("ch-1", "APPROVE", 12.0, "pd-1"), ("ch-2", "DECLINE", 15.0, "pd-1")]


def test_a_redelivered_decision_counts_once_for_analysts(clickhouse_client) -> None:
    row = _decision_row("dup-1", 20, "REVIEW")
    clickhouse_client.insert("decisions", [row], column_names=list(DECISION_COLUMNS))
    clickhouse_client.insert("decisions", [row], column_names=list(DECISION_COLUMNS))
    raw = clickhouse_client.query(
        "SELECT count() FROM decisions WHERE application_id = 'dup-1'").result_rows[0][0]
    latest = clickhouse_client.query(
        "SELECT count() FROM decisions_of_record WHERE application_id = 'dup-1'").result_rows[0][0]
    assert raw in (1, 2)  # before/after a background merge
    assert latest == 1


def test_labels_view_defines_default_and_fraud(clickhouse_client) -> None:
    t = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    cols = ["event_id", "loan_id", "application_id", "event_time", "month_on_book",
            "days_past_due", "balance", "status"]
    rows = [
        ["e1", "L1", "lab-1", t, 1, 0, 100.0, "CURRENT"],
        ["e2", "L1", "lab-1", t, 2, 30, 100.0, "DELINQUENT"],
        ["e3", "L1", "lab-1", t, 3, 60, 100.0, "DELINQUENT"],
        ["e4", "L2", "lab-2", t, 1, 0, 100.0, "CURRENT"],
        ["e5", "L3", "lab-3", t, 2, 0, 100.0, "FRAUD_CONFIRMED"],
        ["e6", "L4", "lab-4", t, 7, 90, 100.0, "DELINQUENT"],  # too late for a 6-month label
    ]
    for m in range(1, 7):
        rows.append([f"e4-{m}", "L2", "lab-2", t, m, 0, 100.0, "CURRENT"])
    clickhouse_client.insert("loan_performance", rows, column_names=cols)
    got = {
        r[0]: r[1:]
        for r in clickhouse_client.query(
            "SELECT application_id, label_default, label_fraud, default_matured FROM labels "
            "WHERE application_id LIKE 'lab-%'"
        ).result_rows
    }
    assert got["lab-1"] == (1, 0, 1)
    assert got["lab-2"] == (0, 0, 1)
    assert got["lab-3"] == (0, 1, 0)
    assert got["lab-4"] == (0, 0, 1)


def test_vintage_and_roll_rate_views(clickhouse_client) -> None:
    t = dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    # a cohort of its own (March 2031): other tests of the session land decisions in Jan 2026
    event = records.T0 + 5 * 365 * 86_400_000 + 60 * 86_400_000
    clickhouse_client.insert("decisions", [
        decision_row(records.decision(application_id=f"vin-{i}", event_time=event,
                                      decided_at=event + 5))
        for i in range(2)], column_names=list(DECISION_COLUMNS))
    cols = ["event_id", "loan_id", "application_id", "event_time", "month_on_book",
            "days_past_due", "balance", "status"]
    # vin-0: current, 30, 60 (bad at mob 3); vin-1: current for 3 months
    path = {"vin-0": [0, 30, 60], "vin-1": [0, 0, 0]}
    rows = [[f"{a}-{m}", a, a, t, m + 1, dpd, 100.0, "CURRENT" if dpd == 0 else "DELINQUENT"]
            for a, dpds in path.items() for m, dpd in enumerate(dpds)]
    clickhouse_client.insert("loan_performance", rows, column_names=cols)
    vint = clickhouse_client.query(
        "SELECT month_on_book, loans, bads_60dpd FROM vintages "
        "WHERE cohort = toDate('2031-03-01') ORDER BY month_on_book").result_rows
    assert vint[-3:] == [(1, 2, 0), (2, 2, 0), (3, 2, 1)]
    rolls = dict(((f, to), n) for f, to, n in clickhouse_client.query(
        "SELECT from_bucket, to_bucket, n FROM roll_rates").result_rows)
    assert rolls[("0 current", "2 30-59")] >= 1
    assert rolls[("2 30-59", "3 60-89")] >= 1
    assert rolls[("0 current", "0 current")] >= 3


def test_dead_letter_bytes_expire_but_the_record_of_the_failure_stays(clickhouse_client) -> None:
    """LOANRISK_DEAD_LETTER_PAYLOAD_DAYS: a bad message's original bytes (personal data in
    clear, possibly) are cleared after N days; what failed, where and why is kept."""
    from sinks.ddl import apply_ddl
    from sinks.rows import DEAD_LETTER_COLUMNS, dead_letter_row

    apply_ddl(clickhouse_client, dead_letter_payload_days=30)
    apply_ddl(clickhouse_client, dead_letter_payload_days=30)  # idempotent
    now = dt.datetime.now(dt.UTC)
    rows = [dead_letter_row({"source_topic": "ttl.test", "source_partition": 0,
                             "source_offset": off, "key": b"k", "payload": b"Ada Lovelace",
                             "error_type": "DecodeError", "error": "corrupt body",
                             "component": "worker", "failed_at": at})
            for off, at in ((1, now - dt.timedelta(days=60)), (2, now))]
    clickhouse_client.insert("dead_letters", rows, column_names=list(DEAD_LETTER_COLUMNS))
    clickhouse_client.command("OPTIMIZE TABLE dead_letters FINAL")
    got = clickhouse_client.query(
        "SELECT source_offset, payload_base64, error FROM dead_letters FINAL "
        "WHERE source_topic = 'ttl.test' ORDER BY source_offset").result_rows
    assert got == [(1, None, "corrupt body"), (2, "QWRhIExvdmVsYWNl", "corrupt body")]


def test_store_of_an_earlier_version_gains_age_band_and_the_fairness_view(
    clickhouse_client,
) -> None:
    """apply_ddl migrates a `decisions` table created before `age_band` existed (and the
    views made then), and `approval_by_age_band` computes the adverse impact ratio."""
    from sinks.ddl import apply_ddl

    clickhouse_client.command("ALTER TABLE decisions DROP COLUMN IF EXISTS age_band")
    clickhouse_client.command(
        "CREATE OR REPLACE VIEW decisions_of_record AS SELECT *, latency_ms FROM decisions FINAL")
    apply_ddl(clickhouse_client)
    t = int(dt.datetime(2035, 4, 2, tzinfo=dt.UTC).timestamp() * 1000)
    rows = []
    for band, approved, n in (("25-34", 80, 100), ("35-44", 70, 100), ("18-24", 50, 100),
                              (None, 90, 100)):  # no date of birth: never the reference
        for i in range(n):
            rows.append(decision_row({
                "application_id": f"fair-{band or 'none'}-{i}", "event_time": t,
                "decided_at": t + 5,
                "product": "BNPL", "decision": "APPROVE" if i < approved else "DECLINE",
                "pd": 0.05, "age_band": band}))
    clickhouse_client.insert("decisions", rows, column_names=list(DECISION_COLUMNS))
    got = {r[0]: r[1:] for r in clickhouse_client.query(
        "SELECT age_band, approval_rate, adverse_impact_ratio, below_four_fifths "
        "FROM approval_by_age_band WHERE month = '2035-04-01' AND product = 'BNPL'").result_rows}
    assert got["25-34"] == (0.8, 1.0, 0)
    assert got["35-44"] == (0.7, 0.875, 0)
    assert got["18-24"] == (0.5, 0.625, 1)  # fails the four-fifths screen: explain or fix
    assert got["unknown"] == (0.9, 1.125, 0)
    latest = clickhouse_client.query(
        "SELECT count() FROM decisions_of_record WHERE age_band = '18-24' "
        "AND application_id LIKE 'fair-%'").result_rows
    assert latest == [(100,)]


def test_decisions_keyed_by_application_first_are_rebuilt_and_the_record_view_agrees(
    clickhouse_client,
) -> None:
    """A store whose decisions were keyed (application_id, decided_at) is re-keyed by product
    and day with its rows kept, and decisions_of_record (GROUP BY + argMin of a tuple) gives
    row for row what its earlier definition (FINAL ... LIMIT 1 BY) gave: the first decision,
    NULLs included, a redelivered copy once."""
    from sinks.ddl import TABLES, apply_ddl

    c = clickhouse_client
    old = TABLES["decisions"].replace("IF NOT EXISTS decisions (", "decisions_old (").replace(
        "ORDER BY (product, toDate(event_time), application_id, decided_at)",
        "ORDER BY (application_id, decided_at)")
    c.command(old.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    t = int(dt.datetime(2036, 1, 5, tzinfo=dt.UTC).timestamp() * 1000)
    rows = [decision_row({"application_id": "rk-1", "event_time": t, "decided_at": t + 5,
                          "product": "BNPL", "decision": "REVIEW", "pd": None}),
            decision_row({"application_id": "rk-1", "event_time": t, "decided_at": t + 9000,
                          "product": "BNPL", "decision": "APPROVE", "pd": 0.2}),  # re-decided
            decision_row({"application_id": "rk-2", "event_time": t + 1, "decided_at": t + 7,
                          "product": "CARD", "decision": "DECLINE", "pd": 0.9})]
    c.insert("decisions_old", rows + rows[2:], column_names=list(DECISION_COLUMNS))
    c.command("EXCHANGE TABLES decisions AND decisions_old")  # the session's rows set aside
    try:
        apply_ddl(c)
        key = c.query("SELECT sorting_key FROM system.tables WHERE database = currentDatabase()"
                      " AND name = 'decisions'").result_rows[0][0]
        assert key == "product, toDate(event_time), application_id, decided_at"
        kept = c.query("SELECT count() FROM decisions_before_product_key").result_rows
        assert kept == [(3,)]  # the redelivered copy had collapsed on insert
        got = c.query("SELECT application_id, decision, pd, latency_ms FROM "
                      "decisions_of_record ORDER BY application_id").result_rows
        assert got == [("rk-1", "REVIEW", None, 5.0), ("rk-2", "DECLINE", 0.9, 6.0)]
        cols = ", ".join(r[0] for r in c.query("DESCRIBE decisions_of_record").result_rows)
        before = (f"SELECT {cols} FROM (SELECT *, latency_ms FROM decisions FINAL ORDER BY "
                  "application_id, decided_at LIMIT 1 BY application_id)")
        digest = "SELECT groupBitXor(sipHash64(toString(tuple({}))))"
        assert c.query(digest.format(cols) + f" FROM ({before})").result_rows == \
            c.query(digest.format(cols) + " FROM decisions_of_record").result_rows
    finally:
        c.command("INSERT INTO decisions SELECT * FROM decisions_old")
        c.command("DELETE FROM decisions WHERE startsWith(application_id, 'rk-')")
        c.command("DROP TABLE IF EXISTS decisions_old")
        c.command("DROP TABLE IF EXISTS decisions_before_product_key")
