"""The embedded store at scale, and what an analyst's heavy query costs the sink's inserts.

- layout:  ``LOANRISK_BENCH_CH_ROWS`` decisions (default 10,000,000) bulk-loaded into the
           ``decisions`` table as ``sinks/ddl.py`` defines it and, as the baseline in the
           same run, into a copy keyed the way it was before (``(application_id,
           decided_at)``); then the queries analysts run, on both: one application's
           decisions and its decision of record, a week of one product, a month of daily
           approval rates. Figures: rows/s loaded, median ms of 5 runs, rows read (the
           machine-independent part).
- ingest:  the sink's insert path (clickhouse-connect on chDB, 500-row batches of real
           decision rows every 100 ms) alone, then while an analyst loops a full-scan
           query over ClickHouse's HTTP interface for ``LOANRISK_BENCH_CH_HEAVY_S`` seconds
           (default 30), with the interface's default query settings (niced) and without.

Run: ``python -m bench clickhouse`` (part of ``make bench``);
``LOANRISK_BENCH_CH_ROWS=1000000`` for a quick run.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

ROWS = int(os.environ.get("LOANRISK_BENCH_CH_ROWS", "10000000"))
HEAVY_S = float(os.environ.get("LOANRISK_BENCH_CH_HEAVY_S", "30"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
OLD_KEY = "ORDER BY (application_id, decided_at)"

# ~1 year of applications over 3 products; ~2% decided twice (replays), as in production
_LOAD = """
INSERT INTO {table} (application_id, event_time, decided_at, product, decision, pd,
    fraud_probability, anomaly_score, reason_codes, versions, worker, age_band)
SELECT
    concat('app-', lower(hex(cityHash64(n)))) AS application_id,
    toDateTime64('2026-01-01 00:00:00', 3, 'UTC') + toIntervalMillisecond(n * {step_ms})
        AS event_time,
    event_time + toIntervalMillisecond(5 + (number % 2) * 60000) AS decided_at,
    ['CREDIT_CARD', 'PERSONAL_LOAN', 'BNPL'][1 + cityHash64(n, 1) % 3] AS product,
    ['APPROVE', 'APPROVE', 'REVIEW', 'DECLINE'][1 + cityHash64(n, 2) % 4] AS decision,
    (cityHash64(n, 3) % 1000) / 1000 AS pd, (cityHash64(n, 4) % 1000) / 1000,
    (cityHash64(n, 5) % 1000) / 1000, ['R01', 'R07'], map('model', 'pd-v3'),
    concat('worker-', toString(n % 4)), ['18-25', '26-40', '41-65'][1 + n % 3]
FROM (SELECT number, number - toUInt64(number % 50 = 49) AS n FROM numbers({start}, {count}))
"""


#: the decision of record as defined before the layout change (the same-run baseline)
OLD_RECORD = ("SELECT *, latency_ms FROM {table} FINAL ORDER BY application_id, decided_at "
              "LIMIT 1 BY application_id")


def _record_view(client: Any, table: str) -> str:
    from sinks.ddl import _columns, record_view

    if table == "decisions_old_key":
        return OLD_RECORD.format(table=table)
    return record_view(_columns(client, table), table).split(" AS\n", 1)[1]


def _queries(client: Any, table: str, probe_app: str) -> dict[str, str]:
    week = (T0 + timedelta(days=120)).strftime("%Y-%m-%d")
    month = (T0 + timedelta(days=181)).strftime("%Y-%m-%d")
    record = f"({_record_view(client, table)})"
    return {
        "one application, all decisions": f"SELECT * FROM {table} WHERE application_id = "
        f"'{probe_app}'",
        "one application, of record": f"SELECT * FROM {record} WHERE application_id = "
        f"'{probe_app}'",
        "one product, one week (of record)": f"SELECT decision, count(), avg(pd) FROM {record} "
        f"WHERE product = 'BNPL' AND event_time >= '{week}' AND event_time < toDateTime64("
        f"'{week}', 3, 'UTC') + INTERVAL 7 DAY GROUP BY decision",
        "one product, daily approvals, a month": "SELECT toDate(event_time) AS day, "
        "countIf(decision = 'APPROVE') / count() FROM " + record + " WHERE product = "
        f"'PERSONAL_LOAN' AND event_time >= '{month}' AND event_time < toDateTime64('{month}', "
        "3, 'UTC') + INTERVAL 1 MONTH GROUP BY day ORDER BY day",
    }


def _timed(client: Any, sql: str, runs: int = 5) -> tuple[float, int]:
    """Median ms of ``runs``, and the rows the primary key and skip indexes leave to read
    (``EXPLAIN ESTIMATE``: what the layout decides, whatever the machine's speed)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.query(sql)
        times.append((time.perf_counter() - started) * 1000)
    estimate = client.query(f"EXPLAIN ESTIMATE {sql}").result_rows
    return statistics.median(times), sum(int(r[3]) for r in estimate)


def _load(client: Any, table: str) -> float:
    step_ms = max(1, int(365 * 86_400_000 / ROWS))
    chunk = 2_000_000
    started = time.perf_counter()
    for start in range(0, ROWS, chunk):
        client.command(_LOAD.format(table=table, step_ms=step_ms, start=start,
                                    count=min(chunk, ROWS - start)))
    return ROWS / (time.perf_counter() - started)


def layout(client: Any) -> None:
    from sinks.ddl import TABLES

    current = TABLES["decisions"]
    old = current.replace("IF NOT EXISTS decisions (", "IF NOT EXISTS decisions_old_key (")
    old = old[:old.index("ORDER BY")] + OLD_KEY + "\n"
    old = old.replace(",\n    INDEX idx_application application_id TYPE bloom_filter "
                      "GRANULARITY 1", "")
    client.command(old)
    probe = client.query("SELECT concat('app-', lower(hex(cityHash64(toUInt64(12348)))))"
                         ).result_rows[0][0]
    for table in ("decisions", "decisions_old_key"):
        rate = _load(client, table)
        client.command(f"OPTIMIZE TABLE {table} FINAL")  # as after background merges
        print(f"{table}: {ROWS:,} rows loaded at {rate:,.0f} rows/s "
              f"(key: {_key(client, table)})", flush=True)
        for name, sql in _queries(client, table, probe).items():
            ms, read = _timed(client, sql)
            print(f"  {name:<40} {ms:9.1f} ms  {read:>12,} rows read", flush=True)


def _key(client: Any, table: str) -> str:
    return str(client.query("SELECT sorting_key FROM system.tables WHERE name = "
                            f"'{table}'").result_rows[0][0])


def _decision_rows(n: int, tag: str) -> list[list[Any]]:
    from sinks.rows import DECISION_COLUMNS

    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "event_time": now, "decided_at": now, "product": "BNPL", "decision": "APPROVE",
        "pd": 0.1, "fraud_probability": 0.01, "anomaly_score": 0.2, "scorecard_points": 600.0,
        "risk_grade": "A", "offer_amount": 500.0, "offer_term_months": 6, "offer_apr": 0.2,
        "offer_price_tier": "T1", "reason_codes": ["R01"], "reason_texts": ["text"],
        "list_hits": [], "rule_hits": [], "versions": {"model": "pd"},
        "timings_us": {"features": 300.0}, "shadow_decision": None, "shadow_pd": None,
        "shadow_fraud_probability": None, "shadow_versions": {}, "worker": "bench",
        "age_band": "26-40"}
    return [[f"{tag}-{i}" if c == "application_id" else base.get(c, "")
             for c in DECISION_COLUMNS] for i in range(n)]


def _insert_latencies(client: Any, seconds: float, tag: str) -> list[float]:
    from sinks.rows import DECISION_COLUMNS
    from streams.sink.writer import clickhouse_insert

    insert = clickhouse_insert(client)
    out = []
    deadline = time.monotonic() + seconds
    batch = 0
    while time.monotonic() < deadline:
        rows = _decision_rows(500, f"{tag}-{batch}")
        started = time.perf_counter()
        insert("decisions", rows, DECISION_COLUMNS)
        out.append((time.perf_counter() - started) * 1000)
        batch += 1
        time.sleep(0.1)
    return out


def _summary(name: str, ms: list[float]) -> str:
    s = sorted(ms)
    p99 = s[min(len(s) - 1, int(0.99 * len(s)))]
    return (f"{name:<44} p50 {statistics.median(s):7.1f}  p99 {p99:7.1f}  max {s[-1]:7.1f} ms"
            f"  ({len(s)} batches of 500)")


def ingest(client: Any, path: str) -> None:
    import clickhouse_connect

    from streams.sink.chdb_engine import ChdbEngine
    from streams.sink.http_server import ClickHouseHttpServer

    print(_summary("sink inserts, alone", _insert_latencies(client, HEAVY_S / 2, "alone")))
    heavy_sql = ("SELECT product, decision, count(), avg(pd), quantile(0.99)(latency_ms) "
                 f"FROM ({_record_view(client, 'decisions')}) GROUP BY product, decision")
    for label, defaults in (("niced (default)", {"os_thread_priority": "10"}),
                            ("not niced", {})):
        server = ClickHouseHttpServer(ChdbEngine(path, defaults), None, port=0)
        server.start()
        analyst = clickhouse_connect.get_client(dsn=f"http://127.0.0.1:{server.port}",
                                                send_receive_timeout=3600)
        stop = threading.Event()
        queries: list[float] = []

        def loop(analyst: Any = analyst, stop: threading.Event = stop,
                 queries: list[float] = queries) -> None:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    analyst.query(heavy_sql)
                except Exception as exc:  # reported, not fatal: the inserts are the figure
                    print(f"  heavy query failed after {time.perf_counter() - started:.0f} s:"
                          f" {str(exc)[:120]}", flush=True)
                    return
                queries.append(time.perf_counter() - started)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        time.sleep(1.0)
        lat = _insert_latencies(client, HEAVY_S, f"heavy-{label[:3]}")
        stop.set()
        thread.join()
        server.stop()
        print(_summary(f"sink inserts, heavy query {label}", lat) +
              f"; {len(queries)} heavy queries done, "
              f"{statistics.median(queries) if queries else float('nan'):.1f} s each")


def main() -> None:
    import clickhouse_connect

    from sinks.ddl import apply_ddl

    path = os.path.realpath(tempfile.mkdtemp(prefix="loanrisk-bench-ch-"))
    try:
        client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
        apply_ddl(client)
        layout(client)
        ingest(client, path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
