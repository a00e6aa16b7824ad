"""Queries reach the embedded store through the process that owns it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from schemas.errors import LoanRiskError
from streams.sink.query_server import OwnerClient, QueryServer, owner_port

pytestmark = pytest.mark.integration


@pytest.fixture()
def owner(clickhouse_client, tmp_path: Path):
    server = QueryServer(clickhouse_client, threading.Lock(), tmp_path / "clickhouse.owner")
    server.start()
    yield tmp_path / "clickhouse.owner"
    server.stop()


def test_owner_serves_rows_dataframes_and_parameters(owner: Path) -> None:
    port = owner_port(owner)
    assert port is not None
    client = OwnerClient(port)
    res = client.query("SELECT number AS n, toString(number) AS s FROM numbers(3)")
    assert res.column_names == ("n", "s")
    assert res.result_rows == [(0, "0"), (1, "1"), (2, "2")]
    df = client.query_df(
        "SELECT toDateTime64('2026-01-02 03:04:05', 3, 'UTC') AS t, [1.5, 2.5] AS xs, "
        "{k:String} AS k", parameters={"k": "bound"})
    assert str(df["t"].dtype).startswith("datetime64")  # types survive the trip
    assert list(df["xs"][0]) == [1.5, 2.5]
    assert df["k"][0] == "bound"
    assert client.command("SELECT 41 + 1") == 42


def test_owner_reports_query_errors(owner: Path) -> None:
    client = OwnerClient(owner_port(owner))  # type: ignore[arg-type]
    with pytest.raises(LoanRiskError, match=r"UNKNOWN_TABLE|does not exist"):
        client.query("SELECT * FROM no_such_table")


def test_a_dead_owner_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "clickhouse.owner").write_text('{"pid": 999999, "port": 1}')
    assert owner_port(tmp_path / "clickhouse.owner") is None
