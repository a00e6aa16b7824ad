"""ClickHouse's HTTP request rules, as pure functions (no sockets, no engine).

What a client means by a request to ClickHouse's HTTP interface: the SQL (the ``query``
URL parameter, then the POST body after a newline), the data of an ``INSERT ... FORMAT``
(what follows the format name's line), the settings and ``param_*`` query parameters in the
URL, the session, and the credentials (basic auth, ``X-ClickHouse-User``/``-Key`` or
``user``/``password`` in the URL). Errors answer with ClickHouse's own status mapping
(``src/Server/HTTP/exceptionCodeToHTTPStatus.cpp``) so clients react as to a server.
"""

from __future__ import annotations

import base64
import gzip
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

#: URL parameters the HTTP layer consumes itself: never sent to the engine as settings.
TRANSPORT_PARAMS = frozenset({
    "query", "database", "default_format", "session_id", "session_timeout", "session_check",
    "query_id", "user", "password", "compress", "decompress", "enable_http_compression",
    "buffer_size", "wait_end_of_query", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "client_protocol_version", "quota_key", "role",
    "http_native_compression_disable_checksumming_on_decompress",
})

#: Statements a GET request may run (ClickHouse treats GET as readonly).
_READ_KEYWORDS = ("SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN", "(")

_LEADING_COMMENTS = re.compile(rb"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)
_INSERT_FORMAT = re.compile(rb"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)", re.IGNORECASE)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*\Z", re.IGNORECASE)
_ERROR_CODE = re.compile(r"Code: (\d+)")
_ERROR_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)(?:\s*\(version [^)]*\))?\s*\Z")

# ClickHouse's mapping of error names to HTTP statuses (the rest are 500).
_STATUS_BY_NAME: dict[str, int] = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED",
                     "SET_NON_GRANTED_ROLE", "ACCESS_DENIED", "READONLY"), 403),
    **dict.fromkeys((
        "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT",
        "CANNOT_PARSE_ESCAPE_SEQUENCE", "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE",
        "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER", "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
        "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6", "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
        "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN", "UNKNOWN_ELEMENT_IN_AST",
        "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST",
        "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
        "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"), 400),
    **dict.fromkeys((
        "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE",
        "UNKNOWN_STORAGE", "UNKNOWN_DATABASE", "UNKNOWN_SETTING",
        "UNKNOWN_DIRECTION_OF_SORTING", "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_FORMAT",
        "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE"), 404),
    "QUERY_IS_TOO_LARGE": 413, "NOT_IMPLEMENTED": 501, "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503, "HTTP_LENGTH_REQUIRED": 411, "TIMEOUT_EXCEEDED": 408,
    "CANNOT_SCHEDULE_TASK": 503, "UNSUPPORTED_MEDIA_TYPE": 415,
}


class HttpQueryError(Exception):
    """A request refused before it reached the engine, worded as ClickHouse words it."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")
        self.code = code
        self.name = name


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


@dataclass(frozen=True)
class HttpQuery:
    """One request as ClickHouse reads it."""

    sql: str                      # the statement (for an INSERT with data: without the data)
    data: bytes | None = None     # the rows after ``FORMAT name`` of an INSERT, if any
    data_format: str | None = None
    database: str | None = None
    default_format: str = "TabSeparated"
    session_id: str | None = None
    session_timeout_s: float = 60.0
    query_id: str = ""
    params: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    wait_end_of_query: bool = False


def credentials(headers: Mapping[str, str], params: Mapping[str, str]) -> Credentials:
    """Who the client says it is: X-ClickHouse-User/Key, then basic auth, then the URL;
    nobody named means ``default`` with an empty password, as in ClickHouse."""
    user = headers.get("X-ClickHouse-User")
    if user is not None:
        return Credentials(user, headers.get("X-ClickHouse-Key", ""))
    auth = headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            name, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpQueryError(516, "AUTHENTICATION_FAILED",
                                 "malformed basic authorization header") from exc
        return Credentials(name, password)
    return Credentials(params.get("user", "default"), params.get("password", ""))


def decode_body(body: bytes, encoding: str | None) -> bytes:
    """A request body as sent with ``Content-Encoding`` (clickhouse-connect compresses its
    inserts with lz4 frames by default; curl users send gzip or zstd)."""
    name = (encoding or "").strip().lower()
    if name in ("", "identity", "none"):
        return body
    if name == "gzip":
        return gzip.decompress(body)
    if name == "deflate":
        return zlib.decompress(body)
    if name == "lz4":
        import lz4.frame

        data: bytes = lz4.frame.decompress(body)
        return data
    if name == "zstd":
        try:
            from compression import zstd  # Python 3.14+
        except ImportError:
            from backports import zstd
        out: bytes = zstd.decompress(body)
        return out
    raise HttpQueryError(415, "UNSUPPORTED_MEDIA_TYPE", f"unknown Content-Encoding {name!r}; "
                         "send identity, gzip, deflate, lz4 or zstd")


def parse_request(method: str, params: Mapping[str, str], body: bytes) -> HttpQuery:
    """The statement, its insert data, settings and parameters of one request."""
    url_sql = params.get("query", "")
    text = (url_sql.encode() + b"\n" + body) if url_sql and body else (url_sql.encode() or body)
    if not text.strip():
        raise HttpQueryError(62, "SYNTAX_ERROR", "Empty query")
    sql, data, data_format = split_insert(text)
    if method == "GET" and not is_read_only(sql):
        raise HttpQueryError(164, "READONLY", "Cannot execute query in readonly mode: "
                             "a GET request only reads; send it with POST")
    return HttpQuery(
        sql=sql, data=data, data_format=data_format,
        database=params.get("database") or None,
        default_format=params.get("default_format") or "TabSeparated",
        session_id=params.get("session_id") or None,
        session_timeout_s=float(params.get("session_timeout") or 60),
        query_id=params.get("query_id", ""),
        params={k[6:]: v for k, v in params.items() if k.startswith("param_")},
        settings={k: v for k, v in params.items()
                  if k not in TRANSPORT_PARAMS and not k.startswith("param_")},
        wait_end_of_query=params.get("wait_end_of_query") == "1",
    )


def split_insert(text: bytes) -> tuple[str, bytes | None, str | None]:
    """``INSERT ... FORMAT name`` and the data after it (from the next line on, as ClickHouse
    reads it), or the whole text as one statement when there is no such data."""
    start = _LEADING_COMMENTS.match(text)
    head = text[start.end() if start else 0:]
    if head[:6].upper() != b"INSERT":
        return text.decode(), None, None
    m = _insert_format(head)
    if m is None:  # INSERT ... VALUES (...) or INSERT ... SELECT: plain SQL
        return text.decode(), None, None
    pos = m.end()
    while pos < len(head) and head[pos:pos + 1] in (b" ", b"\t", b"\r"):
        pos += 1
    if head[pos:pos + 1] == b"\n":
        pos += 1
    return head[:m.start()].decode().rstrip(), head[pos:], m.group(1).decode()


_HEAD_TOKEN = re.compile(rb"'(?:\\.|[^'\\])*'|\"[^\"]*\"|`[^`]*`|[()]|"
                         rb"\b(?:FORMAT|VALUES|SELECT|WITH)\b", re.IGNORECASE)


def _insert_format(head: bytes) -> re.Match[bytes] | None:
    """The ``FORMAT name`` of an INSERT's head: the first FORMAT outside quotes and
    parentheses, unless VALUES or SELECT comes first (then the statement has no data)."""
    depth = 0
    for tok in _HEAD_TOKEN.finditer(head):
        word = tok.group(0)
        if word == b"(":
            depth += 1
        elif word == b")":
            depth -= 1
        elif depth == 0 and word[:1] not in (b"'", b'"', b"`"):
            if word.upper() != b"FORMAT":
                return None
            return _INSERT_FORMAT.match(head, tok.start())
    return None


def is_read_only(sql: str) -> bool:
    start = _LEADING_COMMENTS.match(sql.encode())
    word = sql[start.end() if start else 0:].lstrip().upper()
    return word.startswith(_READ_KEYWORDS)


def result_format(sql: str, default_format: str) -> str:
    """The format of the answer: the statement's own trailing FORMAT clause wins."""
    m = _TRAILING_FORMAT.search(sql)
    return m.group(1) if m else default_format


def error_status(message: str) -> tuple[int, int]:
    """(HTTP status, ClickHouse error code) for an engine error message."""
    code_m = _ERROR_CODE.search(message)
    name_m = _ERROR_NAME.search(message.strip())
    code = int(code_m.group(1)) if code_m else 1000
    return _STATUS_BY_NAME.get(name_m.group(1) if name_m else "", 500), code


CONTENT_TYPES = {
    "tabseparated": "text/tab-separated-values; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "csv": "text/csv; charset=UTF-8; header=absent",
    "csvwithnames": "text/csv; charset=UTF-8; header=present",
    "json": "application/json; charset=UTF-8",
    "jsoncompact": "application/json; charset=UTF-8",
    "jsoneachrow": "application/x-ndjson; charset=UTF-8",
}


def content_type(fmt: str) -> str:
    return CONTENT_TYPES.get(fmt.lower(), "text/plain; charset=UTF-8" if fmt.lower().startswith(
        ("pretty", "tabseparated", "tsv", "csv", "markdown", "vertical")) else
        "application/octet-stream")
