"""Lets analysts query the embedded ClickHouse store while the sink owns it.

chDB allows one process per on-disk store. The sink is that process, so it
also serves queries on a loopback-only HTTP port and records where in
``<state_dir>/clickhouse.owner``; ``loanrisk sql`` sends its query there when
the owner is alive and opens the store itself when it is not. With a server
DSN (``LOANRISK_CLICKHOUSE_DSN=http://...``) none of this is needed: every
process connects directly.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from schemas.errors import LoanRiskError


class QueryError(LoanRiskError):
    pass


def run_query(client: Any, sql: str, lock: threading.Lock,
              parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    with lock:
        result = client.query(sql, parameters=parameters)
    return {"columns": list(result.column_names), "rows": [list(r) for r in result.result_rows]}


def run_query_parquet(client: Any, sql: str, lock: threading.Lock,
                      parameters: dict[str, Any] | None = None,
                      settings: dict[str, Any] | None = None) -> bytes:
    """The result as Parquet bytes: column types survive the trip (DataFrames for analysis)."""
    import io

    with lock:
        df = client.query_df(sql, parameters=parameters, settings=settings)
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


class QueryServer:
    def __init__(self, client: Any, lock: threading.Lock, owner_file: Path, port: int = 0) -> None:
        self.owner_file = owner_file

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                kind = "application/json"
                try:
                    req = orjson.loads(raw)
                    sql, params = req["sql"], req.get("parameters")
                    if self.path == "/query_df":
                        body = run_query_parquet(client, sql, lock, params,
                                                 req.get("settings"))
                        kind = "application/vnd.apache.parquet"
                    else:
                        body = orjson.dumps(run_query(client, sql, lock, params), default=str)
                    code = 200
                except Exception as exc:
                    body, code = orjson.dumps({"error": str(exc)}), 400
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]

    def start(self) -> None:
        threading.Thread(target=self.httpd.serve_forever, daemon=True, name="sql").start()
        self.owner_file.parent.mkdir(parents=True, exist_ok=True)
        self.owner_file.write_text(json.dumps({"pid": os.getpid(), "port": self.port}))

    def stop(self) -> None:
        self.httpd.shutdown()
        self.owner_file.unlink(missing_ok=True)


def owner_port(owner_file: Path) -> int | None:
    """The port of a live owner process, or None."""
    try:
        info = json.loads(owner_file.read_text())
        os.kill(int(info["pid"]), 0)
        return int(info["port"])
    except (OSError, ValueError, KeyError):
        return None


def _post(port: int, path: str, sql: str, parameters: dict[str, Any] | None,
          timeout_s: float, settings: dict[str, Any] | None = None) -> bytes:
    body = orjson.dumps({"sql": sql, "parameters": parameters, "settings": settings},
                        default=str)
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            data: bytes = resp.read()
            return data
    except urllib.error.HTTPError as exc:
        raise QueryError(orjson.loads(exc.read()).get("error", str(exc))) from exc


def query_owner(port: int, sql: str, timeout_s: float = 60.0,
                parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(_post(port, "/query", sql, parameters, timeout_s))
    return data


class OwnerResult:
    def __init__(self, data: dict[str, Any]) -> None:
        self.column_names = tuple(data["columns"])
        self.result_rows = [tuple(r) for r in data["rows"]]


class OwnerClient:
    """The subset of a clickhouse-connect client that analysis code uses (``query``,
    ``query_df``, ``command``), answered by the process that owns the embedded store."""

    def __init__(self, port: int, timeout_s: float = 300.0) -> None:
        self.port = port
        self.timeout_s = timeout_s

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> OwnerResult:
        return OwnerResult(query_owner(self.port, sql, self.timeout_s, parameters))

    def query_df(self, sql: str, parameters: dict[str, Any] | None = None,
                 settings: dict[str, Any] | None = None) -> Any:
        import io

        import pandas as pd

        return pd.read_parquet(io.BytesIO(_post(self.port, "/query_df", sql, parameters,
                                                self.timeout_s, settings)))

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, parameters).result_rows
        return rows[0][0] if rows and len(rows[0]) == 1 else rows
