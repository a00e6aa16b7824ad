"""Runs HTTP requests on the embedded store: one chDB connection per request or session.

chDB hosts one engine per process but any number of connections to it, each with its own
``SET``/``USE`` state, and a running query releases the GIL: so every request gets a
connection of its own (a session keeps one for its lifetime, like a ClickHouse HTTP
session) and none waits for another. In particular the sink's inserts, on their own
connection, never wait for an analyst's query. Analysts' connections start with
``query_defaults`` (e.g. a lower thread priority), so a long scan leaves CPU to ingestion.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.sink.http_request import HttpQuery, HttpQueryError, result_format

#: Formats whose per-block output concatenates into one valid answer (streamed as it comes).
STREAMABLE = frozenset({"native", "tabseparated", "tsv", "csv", "rowbinary", "jsoneachrow"})
_INSERT_CHUNK = 1 << 20


@dataclass
class Answer:
    """What a request produced: a body (or chunks), its format and its statistics."""

    fmt: str | None
    body: bytes = b""
    chunks: Iterator[bytes] | None = None
    summary: dict[str, str] = field(default_factory=dict)


@dataclass
class _Handle:
    conn: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    database: str | None = None
    last_used: float = field(default_factory=time.monotonic)
    timeout_s: float = 60.0


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _assignments(settings: dict[str, str]) -> str:
    for name in settings:
        if not name.replace("_", "").isalnum():
            raise HttpQueryError(115, "UNKNOWN_SETTING", f"Unknown setting {name!r}")
    return ", ".join(f"{k} = {_quote(v)}" for k, v in settings.items())


class ChdbEngine:
    """Connections to the chDB store at ``path`` (the same spelling the owner opened)."""

    def __init__(self, path: str, query_defaults: dict[str, str] | None = None) -> None:
        import chdb

        self._connect = chdb.connect
        # chDB compares store paths literally: the spelling clickhouse-connect opened
        self.path = path if path.startswith(":memory:") else os.path.realpath(path)
        self.defaults = dict(query_defaults or {})
        self._sessions: dict[str, _Handle] = {}
        self._guard = threading.Lock()
        probe = self._open()
        try:
            self.timezone = probe.conn.query("SELECT timezone()", "TSV").bytes().decode().strip()
            self.version = probe.conn.query("SELECT version()", "TSV").bytes().decode().strip()
        finally:
            probe.conn.close()

    def _open(self) -> _Handle:
        handle = _Handle(self._connect(self.path))
        if self.defaults:
            handle.conn.query(f"SET {_assignments(self.defaults)}", "TSV")
        return handle

    @contextlib.contextmanager
    def handle(self, q: HttpQuery) -> Iterator[_Handle]:
        """The session's connection (held for the request), or a fresh one closed after."""
        if q.session_id is None:
            handle = self._open()
            try:
                yield handle
            finally:
                handle.conn.close()
            return
        with self._guard:
            self._reap()
            found = self._sessions.get(q.session_id)
            if found is None:
                found = self._sessions[q.session_id] = self._open()
            found.timeout_s = q.session_timeout_s
        with found.lock:  # one query at a time per session, as in ClickHouse
            try:
                yield found
            finally:
                found.last_used = time.monotonic()

    def _reap(self) -> None:
        now = time.monotonic()
        for sid, h in list(self._sessions.items()):
            if now - h.last_used > h.timeout_s and h.lock.acquire(blocking=False):
                del self._sessions[sid]
                h.conn.close()
                h.lock.release()

    def close(self) -> None:
        with self._guard:
            for h in self._sessions.values():
                h.conn.close()
            self._sessions.clear()

    # --- running one request --------------------------------------------------------
    def run(self, q: HttpQuery, handle: _Handle) -> Answer:
        """Run ``q`` on ``handle`` (the caller holds it until the answer is consumed)."""
        if q.database and q.database != handle.database:
            handle.conn.query(f"USE `{q.database.replace('`', '')}`", "TSV")
            handle.database = q.database
        restore = self._apply(handle, q.settings, keep=q.session_id is None)
        try:
            if q.data is not None:
                return self._insert(handle, q)
            return self._query(handle, q, streaming_ok=restore is None)
        finally:
            if restore:
                handle.conn.query(f"SET {restore}", "TSV")

    def _apply(self, handle: _Handle, settings: dict[str, str], keep: bool) -> str | None:
        """SET the request's settings; for a session, the SET that puts them back after."""
        if not settings:
            return None
        restore = None
        if not keep:
            names = ", ".join(_quote(k) for k in settings)
            rows = handle.conn.query("SELECT name, value, changed FROM system.settings "
                                     f"WHERE name IN ({names})", "TSVRaw").bytes().decode()
            back = []
            for line in rows.splitlines():
                name, value, changed = line.split("\t")
                back.append(f"{name} = {_quote(value)}" if changed == "1" else f"{name} = DEFAULT")
            restore = ", ".join(back) or None
        handle.conn.query(f"SET {_assignments(settings)}", "TSV")
        return restore

    def _insert(self, handle: _Handle, q: HttpQuery) -> Answer:
        assert q.data is not None and q.data_format is not None
        inserter = handle.conn.send_insert(q.sql, q.data_format)
        try:
            for i in range(0, len(q.data), _INSERT_CHUNK):
                inserter.append(q.data[i:i + _INSERT_CHUNK])
            done = inserter.finish()
        except BaseException:
            with contextlib.suppress(Exception):
                inserter.cancel()
            raise
        return Answer(None, summary={"written_rows": str(done.rows_written),
                                     "written_bytes": str(done.bytes_written),
                                     "elapsed_ns": str(int(done.elapsed * 1e9))})

    def _query(self, handle: _Handle, q: HttpQuery, streaming_ok: bool) -> Answer:
        fmt = result_format(q.sql, q.default_format)
        if streaming_ok and not q.wait_end_of_query and fmt.lower() in STREAMABLE:
            stream = handle.conn.send_query(q.sql, fmt, params=q.params)
            return Answer(fmt, chunks=_chunks(stream))
        res = handle.conn.query(q.sql, fmt, params=q.params)
        body = res.bytes() or b""
        return Answer(fmt, body=body, summary={
            "read_rows": str(res.rows_read()), "read_bytes": str(res.bytes_read()),
            "elapsed_ns": str(int(res.elapsed() * 1e9))})


def _chunks(stream: Any) -> Iterator[bytes]:
    """The blocks of a streaming result; cancelled if the client goes away mid-way."""
    finished = False
    try:
        for chunk in stream:
            data = chunk.bytes() if hasattr(chunk, "bytes") else bytes(chunk)
            if data:
                yield data
        finished = True
    finally:
        if not finished:
            with contextlib.suppress(Exception):
                stream.cancel()
        with contextlib.suppress(Exception):
            stream.close()
