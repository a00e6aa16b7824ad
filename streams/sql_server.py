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


def run_query(client: Any, sql: str, lock: threading.Lock) -> dict[str, Any]:
    with lock:
        result = client.query(sql)
    return {"columns": list(result.column_names), "rows": [list(r) for r in result.result_rows]}


class QueryServer:
    def __init__(self, client: Any, lock: threading.Lock, owner_file: Path, port: int = 0) -> None:
        self.owner_file = owner_file

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sql = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                try:
                    body, code = orjson.dumps(run_query(client, sql, lock), default=str), 200
                except Exception as exc:
                    body, code = orjson.dumps({"error": str(exc)}), 400
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
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


def query_owner(port: int, sql: str, timeout_s: float = 60.0) -> dict[str, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/query", data=sql.encode(),
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            data: dict[str, Any] = orjson.loads(resp.read())
            return data
    except urllib.error.HTTPError as exc:
        raise QueryError(orjson.loads(exc.read()).get("error", str(exc))) from exc
