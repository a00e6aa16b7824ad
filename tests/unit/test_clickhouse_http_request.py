"""ClickHouse's HTTP request rules (streams.sink.http_request), checked against what
ClickHouse documents: query in the URL then the body, INSERT data from the next line,
settings vs transport parameters, credentials, the error-code -> HTTP status mapping."""

from __future__ import annotations

import base64
import gzip
import zlib

import lz4.frame
import pytest

from streams.sink.http_request import (
    HttpQueryError,
    credentials,
    decode_body,
    error_status,
    parse_request,
    result_format,
    split_insert,
)


def test_query_in_the_url_continues_in_the_body() -> None:
    q = parse_request("POST", {"query": "SELECT 1,"}, b"2")
    assert q.sql == "SELECT 1,\n2"
    assert parse_request("POST", {}, b"SELECT 3").sql == "SELECT 3"


def test_insert_data_starts_on_the_line_after_the_format_name() -> None:
    sql, data, fmt = split_insert(b"INSERT INTO t (a, b) FORMAT CSV  \n1,x\n2,y\n")
    assert (sql, data, fmt) == ("INSERT INTO t (a, b)", b"1,x\n2,y\n", "CSV")
    # binary data that starts with a space or a newline byte keeps it
    sql, data, fmt = split_insert(b"-- c\nINSERT INTO t FORMAT Native\n\n\x20\x01")
    assert (sql, data, fmt) == ("INSERT INTO t", b"\n\x20\x01", "Native")
    sql, data, fmt = split_insert(b"INSERT INTO FUNCTION file('x FORMAT y', 'CSV') "
                                  b"(a) FORMAT CSV\n1\n")
    assert (sql, data, fmt) == ("INSERT INTO FUNCTION file('x FORMAT y', 'CSV') (a)", b"1\n",
                                "CSV")
    q = parse_request("POST", {"query": "INSERT INTO t FORMAT TSV"}, b"1\t2\n")
    assert (q.sql, q.data, q.data_format) == ("INSERT INTO t", b"1\t2\n", "TSV")


def test_inserts_without_data_are_plain_statements() -> None:
    for text in (b"INSERT INTO t VALUES (1, 'FORMAT x')", b"INSERT INTO t SELECT 1",
                 b"SELECT 1 FORMAT CSV"):
        assert split_insert(text) == (text.decode(), None, None)


def test_settings_params_and_transport_parameters_are_told_apart() -> None:
    q = parse_request("POST", {"query": "SELECT {x:UInt8}", "param_x": "4", "max_threads": "1",
                               "session_id": "s1", "database": "db", "query_id": "q",
                               "wait_end_of_query": "1", "compress": "1",
                               "default_format": "JSON", "enable_http_compression": "1",
                               "client_protocol_version": "54405"}, b"")
    assert q.params == {"x": "4"}
    assert q.settings == {"max_threads": "1"}
    assert (q.session_id, q.database, q.query_id, q.default_format, q.wait_end_of_query) == (
        "s1", "db", "q", "JSON", True)


def test_get_only_reads() -> None:
    assert parse_request("GET", {"query": " -- why\nSELECT 1"}, b"").sql.endswith("SELECT 1")
    with pytest.raises(HttpQueryError) as err:
        parse_request("GET", {"query": "DROP TABLE t"}, b"")
    assert err.value.code == 164 and error_status(str(err.value)) == (403, 164)
    with pytest.raises(HttpQueryError, match="Empty query"):
        parse_request("POST", {}, b"  \n")


def test_a_trailing_format_clause_wins_over_default_format() -> None:
    assert result_format("SELECT 1 FORMAT JSONCompact;", "TSV") == "JSONCompact"
    assert result_format("SELECT 'FORMAT CSV' AS f", "TabSeparated") == "TabSeparated"


def test_credentials_as_clickhouse_connect_and_curl_send_them() -> None:
    basic = "Basic " + base64.b64encode(b"ana:s3:cret").decode()
    assert credentials({"Authorization": basic}, {}).password == "s3:cret"
    assert credentials({"X-ClickHouse-User": "bo", "X-ClickHouse-Key": "k"}, {}) == \
        credentials({}, {"user": "bo", "password": "k"})
    anonymous = credentials({}, {})
    assert (anonymous.user, anonymous.password) == ("default", "")


def test_error_statuses_follow_clickhouse() -> None:
    cases = {
        "Code: 60. DB::Exception: Unknown table. (UNKNOWN_TABLE)": (404, 60),
        "Code: 62. DB::Exception: Syntax error: x. (SYNTAX_ERROR) (version 26.9.2.1)": (400, 62),
        "Code: 516. DB::Exception: default: Authentication failed. (AUTHENTICATION_FAILED)":
            (403, 516),
        "Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)": (500, 241),
        "Code: 159. DB::Exception: Timeout exceeded. (TIMEOUT_EXCEEDED)": (408, 159),
    }
    for message, expected in cases.items():
        assert error_status(message) == expected


def test_compressed_bodies_decode() -> None:
    body = b"INSERT INTO t FORMAT CSV\n" + b"1,2\n" * 1000
    assert decode_body(gzip.compress(body), "gzip") == body
    assert decode_body(zlib.compress(body), "deflate") == body
    assert decode_body(lz4.frame.compress(body), "lz4") == body
    assert decode_body(body, None) == body
    with pytest.raises(HttpQueryError, match="UNSUPPORTED_MEDIA_TYPE"):
        decode_body(body, "snappy")
