"""The embedded store served as ClickHouse's HTTP interface, reached by the real clients:
clickhouse-connect with an http:// DSN and curl (as BI tools and scripts do)."""

from __future__ import annotations

import gzip
import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

from streams.sink.chdb_engine import ChdbEngine
from streams.sink.http_server import ClickHouseHttpServer, owner_address

pytestmark = pytest.mark.integration
PASSWORD = "analyst-pw"


@pytest.fixture(scope="module")
def served(clickhouse_client: Any) -> Iterator[ClickHouseHttpServer]:
    server = ClickHouseHttpServer(ChdbEngine(clickhouse_client.path,
                                             {"os_thread_priority": "10"}),
                                  None, port=0, password=PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def http(served: ClickHouseHttpServer) -> Any:
    return clickhouse_connect.get_client(dsn=f"http://default:{PASSWORD}@127.0.0.1:{served.port}")


def _curl(served: ClickHouseHttpServer, *args: str) -> tuple[int, dict[str, str], bytes]:
    out = subprocess.run(["curl", "-sS", "-g", "-i", *args], capture_output=True, check=True,
                         timeout=30).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def test_clickhouse_connect_queries_dataframes_parameters_and_errors(http: Any) -> None:
    res = http.query("SELECT number AS n, toString(number) AS s FROM numbers(3)")
    assert res.column_names == ("n", "s")
    assert res.result_rows == [(0, "0"), (1, "1"), (2, "2")]
    df = http.query_df("SELECT toDateTime64('2026-01-02 03:04:05', 3, 'UTC') AS t, "
                       "[1.5, 2.5] AS xs, {k:String} AS k", parameters={"k": "bound"})
    assert str(df["t"].dtype).startswith("datetime64")  # Native types survive the trip
    assert list(df["xs"][0]) == [1.5, 2.5] and df["k"][0] == "bound"
    assert http.command("SELECT 41 + 1") == 42
    with pytest.raises(clickhouse_connect.driver.exceptions.DatabaseError, match="UNKNOWN_TABLE"):
        http.query("SELECT * FROM no_such_table")
    # a per-query setting applies to that query only, not to the client's session after it
    default = http.query("SELECT getSetting('max_threads')").result_rows
    assert http.query("SELECT getSetting('max_threads')",
                      settings={"max_threads": 1}).result_rows == [(1,)]
    assert http.query("SELECT getSetting('max_threads')").result_rows == default


def test_clickhouse_connect_inserts_what_the_owner_reads(http: Any, clickhouse_client: Any) -> None:
    now = datetime.now(UTC)
    cols = ["worker", "window_start", "window_end", "decisions", "applications",
            "throughput_per_s", "dead_letters"]
    rows = [[f"http-{i}", now, now, {"APPROVE": i}, i, 1.0, 0] for i in range(50)]
    http.insert("metrics", rows, column_names=cols)  # lz4-compressed Native body
    got = clickhouse_client.query("SELECT worker, decisions FROM metrics WHERE "
                                  "startsWith(worker, 'http-') ORDER BY applications")
    assert got.result_rows == [(f"http-{i}", {"APPROVE": i}) for i in range(50)]


def test_a_wrong_password_is_refused(served: ClickHouseHttpServer) -> None:
    with pytest.raises(clickhouse_connect.driver.exceptions.DatabaseError,
                       match="AUTHENTICATION_FAILED"):
        clickhouse_connect.get_client(dsn=f"http://default:wrong@127.0.0.1:{served.port}")
    status, headers, _ = _curl(served, f"http://127.0.0.1:{served.port}/?query=SELECT%201")
    assert status == 403 and headers["X-ClickHouse-Exception-Code"] == "516"


def test_curl_ping_formats_settings_posts_and_inserts(served: ClickHouseHttpServer,
                                                      tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{served.port}"
    auth = ["-u", f"default:{PASSWORD}"]
    assert _curl(served, f"{url}/ping")[2] == b"Ok.\n"
    status, headers, body = _curl(served, *auth, f"{url}/?query=SELECT%20{{x:UInt8}}*2%20AS"
                                  "%20y%20FORMAT%20JSONCompact&param_x=21")
    assert status == 200 and headers["X-ClickHouse-Format"] == "JSONCompact"
    assert json.loads(body)["data"] == [[42]]
    _, _, body = _curl(served, *auth, f"{url}/?default_format=CSV&max_threads=1",
                       "--data-binary", "SELECT number, getSetting('max_threads') "
                       "FROM numbers(2)")
    assert body == b"0,1\n1,1\n"
    data = tmp_path / "rows.csv.gz"
    data.write_bytes(gzip.compress(b"curl-a,2026-01-01 00:00:00,2026-01-01 00:00:05\n"
                                   b"curl-b,2026-01-01 00:00:05,2026-01-01 00:00:10\n"))
    status, headers, _ = _curl(
        served, *auth, "-H", "Content-Encoding: gzip", "--data-binary", f"@{data}",
        f"{url}/?query=INSERT%20INTO%20metrics%20(worker,window_start,window_end)%20FORMAT%20CSV")
    assert status == 200 and json.loads(headers["X-ClickHouse-Summary"])["written_rows"] == "2"
    _, _, body = _curl(served, "-H", "X-ClickHouse-User: default", "-H",
                       f"X-ClickHouse-Key: {PASSWORD}", "--data-binary",
                       "SELECT worker FROM metrics WHERE startsWith(worker, 'curl-') "
                       "ORDER BY worker FORMAT TSV", f"{url}/")
    assert body == b"curl-a\ncurl-b\n"
    status, headers, body = _curl(served, *auth, f"{url}/?query=DROP%20TABLE%20metrics")
    assert status == 403 and b"READONLY" in body  # GET only reads, as on a server
    status, headers, body = _curl(served, *auth, f"{url}/?query=SELECT%20*%20FROM%20nope")
    assert status == 404 and headers["X-ClickHouse-Exception-Code"] == "60"
    assert body.startswith(b"Code: 60. DB::Exception:")


def test_a_long_query_does_not_hold_up_inserts(http: Any, clickhouse_client: Any) -> None:
    """The owner's inserts finish while an analyst's slow query is still running (the old
    query server took one lock for both, so the insert waited for the query)."""
    done: list[str] = []
    slow = threading.Thread(target=lambda: (http.query(
        "SELECT sum(sleepEachRow(0.25)) FROM numbers(12) SETTINGS max_block_size = 1"),
        done.append("query")))
    slow.start()
    try:
        while not clickhouse_client.query(
                "SELECT count() FROM system.processes WHERE query LIKE '%sleepEachRow%' "
                "AND query NOT LIKE '%system.processes%'").result_rows[0][0]:
            pass
        now = datetime.now(UTC)
        clickhouse_client.insert("metrics", [["during-slow", now, now]],
                                 column_names=["worker", "window_start", "window_end"])
        done.append("insert")
    finally:
        slow.join()
    assert done == ["insert", "query"]


def test_the_owner_file_names_a_live_process_only(tmp_path: Path) -> None:
    (tmp_path / "clickhouse.owner").write_text('{"pid": 999999, "port": 1}')
    assert owner_address(tmp_path / "clickhouse.owner") is None
