"""ClickHouse's HTTP interface on the embedded store, served by the process that owns it.

An on-disk chDB store can be opened by one process; the sink is that process. It serves
the subset of ClickHouse's HTTP interface that clients use (``/ping``, queries in the URL
or the POST body, ``FORMAT``, ``default_format``, settings and ``param_*`` in the URL,
sessions, ``INSERT ... FORMAT`` with data, compressed bodies, basic auth and the
``X-ClickHouse-User``/``-Key`` headers), so clickhouse-connect with an ``http://`` DSN,
curl and BI tools reach the store as they would a server. Where it listens is written to
``<state_dir>/clickhouse.owner`` for the other commands to find (``streams.clients``).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from streams.sink.chdb_engine import Answer, ChdbEngine
from streams.sink.http_request import (
    HttpQuery,
    HttpQueryError,
    content_type,
    credentials,
    decode_body,
    error_status,
    is_read_only,
    parse_request,
)

log = logging.getLogger("loanrisk.clickhouse_http")
_OK_PATHS = ("/ping", "/replicas_status")


class ClickHouseHttpServer:
    """``start()`` serves in background threads; ``stop()`` ends them and the owner file."""

    def __init__(self, engine: ChdbEngine, owner_file: Path | None, host: str = "127.0.0.1",
                 port: int = 0, user: str = "default", password: str = "") -> None:
        self.engine = engine
        self.owner_file = owner_file
        self.user, self.password = user, password
        server = self

        class Handler(_Handler):
            owner = server

        self.httpd = _bind(host, port, Handler)
        self.host = host
        self.port: int = self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        threading.Thread(target=self.httpd.serve_forever, daemon=True,
                         name="clickhouse-http").start()
        if self.owner_file is not None:
            self.owner_file.parent.mkdir(parents=True, exist_ok=True)
            self.owner_file.write_text(json.dumps({"pid": os.getpid(), "host": self.host,
                                                   "port": self.port}))

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.engine.close()
        if self.owner_file is not None:
            self.owner_file.unlink(missing_ok=True)

    def authenticate(self, headers: Any, params: dict[str, str]) -> None:
        who = credentials(headers, params)
        if not (hmac.compare_digest(who.user, self.user)
                and hmac.compare_digest(who.password, self.password)):
            raise HttpQueryError(516, "AUTHENTICATION_FAILED", f"{who.user}: Authentication "
                                 "failed: password is incorrect, or there is no user with "
                                 "such name")


def _bind(host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """Listen on ``port``; if another process holds it, on a free port (logged), so two
    local stacks on one machine never fail for it: the owner file says which was taken."""
    try:
        httpd = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        if port == 0:
            raise
        httpd = ThreadingHTTPServer((host, 0), handler)
        log.warning("port %d is taken (%s); ClickHouse HTTP serves on %d instead", port, exc,
                    httpd.server_address[1])
    httpd.daemon_threads = True
    return httpd


def owner_address(owner_file: Path) -> tuple[str, int] | None:
    """(host, port) of the live process serving the embedded store, or None."""
    try:
        info = json.loads(owner_file.read_text())
        os.kill(int(info["pid"]), 0)
        host = info.get("host", "127.0.0.1")
        return ("127.0.0.1" if host in ("0.0.0.0", "::", "") else host), int(info["port"])
    except (OSError, ValueError, KeyError):
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clickhouse-connect pools its connections
    owner: ClickHouseHttpServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        if url.path in _OK_PATHS or (url.path == "/" and method == "GET"
                                     and "query" not in params):
            self._reply(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
            return
        try:
            body = self._body()
            if url.path != "/":
                raise HttpQueryError(
                    1000, "UNKNOWN_HANDLER", f"There is no handle {url.path}: use / "
                    "(queries), /ping or /replicas_status")
            self.owner.authenticate(self.headers, params)
            q = parse_request(method, params, body)
            with self.owner.engine.handle(q) as handle:
                self._answer(q, query_id, self.owner.engine.run(q, handle))
        except Exception as exc:  # the engine's own message, as ClickHouse sends it
            self._error(exc, query_id)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(parts)
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return decode_body(raw, self.headers.get("Content-Encoding"))

    def _headers(self, query_id: str, fmt: str | None, summary: dict[str, str]) -> dict[str, str]:
        out = {"X-ClickHouse-Query-Id": query_id,
               "X-ClickHouse-Timezone": self.owner.engine.timezone,
               "X-ClickHouse-Server-Display-Name": socket.gethostname(),
               "X-ClickHouse-Summary": json.dumps(summary)}
        if fmt is not None:
            out["X-ClickHouse-Format"] = fmt
            out["Content-Type"] = content_type(fmt)
        return out

    def _answer(self, q: HttpQuery, query_id: str, ans: Answer) -> None:
        if ans.chunks is None:
            self._reply(200, ans.body, self._headers(query_id, ans.fmt if (
                ans.body or _produces_rows(q)) else None, ans.summary))
            return
        first = next(ans.chunks, b"")  # an error before any row still gets its status
        headers = self._headers(query_id, ans.fmt, ans.summary)
        self.send_response(200)
        for k, v in {**headers, "Transfer-Encoding": "chunked"}.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            if first:
                self._chunk(first)
            for chunk in ans.chunks:
                self._chunk(chunk)
        except (BrokenPipeError, ConnectionResetError):
            ans.chunks.close()  # type: ignore[attr-defined]  # the client left: cancel
            self.close_connection = True
            return
        except Exception as exc:  # mid-stream: ClickHouse appends the exception to the body
            self._chunk(f"\n{_engine_message(exc)}\n".encode())
            self.close_connection = True
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _error(self, exc: Exception, query_id: str) -> None:
        message = _engine_message(exc)
        status, code = error_status(message)
        log.debug("query %s failed: %s", query_id, message)
        self._reply(status, (message + "\n").encode(), {
            "Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Exception-Code": str(code)})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _engine_message(exc: Exception) -> str:
    """The ClickHouse part of an error (chDB prefixes its own words to it)."""
    text = str(exc).strip() or type(exc).__name__
    at = text.find("Code: ")
    return text[at:] if at > 0 else text


def _produces_rows(q: HttpQuery) -> bool:
    return q.data is None and is_read_only(q.sql)
