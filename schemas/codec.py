"""Avro codec for every topic, on fastavro, with schemas parsed once.

Wire format: Avro *single-object encoding* from the Avro specification
(``C3 01`` marker, 8-byte little-endian CRC-64-AVRO fingerprint of the writer
schema, then the Avro binary body). Any Avro library can read it given the
``.avsc`` file (Java: ``BinaryMessageDecoder``), and it needs no schema
registry service, while still telling a reader exactly which schema wrote each
message -- which is what makes schema evolution safe: a reader resolves the
writer's schema by fingerprint from the current and historical ``.avsc``
files and projects it onto its own.

Until 2026-12 our header carried the fingerprint byte-reversed (big-endian); Apache
Avro's Java ``BinaryMessageDecoder`` rejected those messages and ours rejected its. We
now write the specification's order and, during a transition window (until 2027-03-31,
long enough for every topic's retention to roll over), still read the old one: a
fingerprint that is unknown in little-endian order but known byte-reversed is accepted.
``accept_legacy_fingerprints(False)`` (``LOANRISK_ACCEPT_LEGACY_FINGERPRINT=false``)
turns that off.

Schema Registry framing (Confluent wire format: byte 0, the 4-byte big-endian schema id,
the Avro body), which Kafka Connect, ksqlDB and ClickHouse's ``AvroConfluent`` expect, is
the other framing: ``use_registry`` gives a codec its registered id (it then writes that
framing) and a resolver from id to writer schema. Readers take both framings, the first
byte tells (``C3`` or ``00``), so a topic migrates without downtime. An id is resolved
once and cached (unknown ones too): never a registry call per message.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from schemas.errors import DecodeError, EncodeError, SchemaError
from schemas.fast_read import FastReader, cavro_or_none
from schemas.fast_write import FastWriter

MAGIC = b"\xc3\x01"
HEADER_LEN = 10
REGISTRY_MAGIC = 0
REGISTRY_HEADER_LEN = 5

#: schema id -> the writer schema's JSON text (a registry lookup; streams/ provides it)
Resolve = Callable[[int], str]
_FP = struct.Struct("<Q")

SCHEMA_DIR = Path(str(resources.files("schemas") / "avro"))


def load_schema_file(path: Path) -> dict[str, Any]:
    """Parse an ``.avsc`` file; raise SchemaError naming the file if it is broken."""
    try:
        raw = json.loads(path.read_text())
        parsed = parse_schema(raw, _write_hint=False)
    except (OSError, ValueError, fastavro.schema.SchemaParseException) as exc:
        raise SchemaError(
            f"cannot load Avro schema {path}: {exc}. Fix or restore the file."
        ) from exc
    if not isinstance(parsed, dict):
        raise SchemaError(f"{path} is not a record schema; each .avsc holds one record")
    return parsed


def load_schema_text(text: str) -> dict[str, Any]:
    """A record schema from its JSON text (e.g. from a registry)."""
    parsed = parse_schema(json.loads(text), _write_hint=False)
    if not isinstance(parsed, dict):
        raise SchemaError("not a record schema")
    return parsed


_LEGACY = {"accept": True}


def accept_legacy_fingerprints(accept: bool) -> None:
    """Whether decoders still take the pre-2026-12 byte-reversed fingerprint."""
    _LEGACY["accept"] = accept


def schema_fingerprint(parsed: Mapping[str, Any]) -> int:
    """CRC-64-AVRO fingerprint (the 64-bit value) of the schema's parsing canonical form.

    fastavro returns the fingerprint as the hex of its little-endian bytes, not of the
    number: read those bytes little-endian to get the value the specification defines.
    """
    canonical = to_parsing_canonical_form(dict(parsed))
    return int.from_bytes(bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")), "little")


def _byte_reversed(fp: int) -> int:
    return int.from_bytes(fp.to_bytes(8, "little"), "big")


class AvroCodec:
    """Encode and decode one record type; optionally resolve older writer schemas.

    ``writers`` are other schemas (usually earlier versions of the same record)
    that messages on the wire may have been written with.
    """

    def __init__(
        self, schema: Mapping[str, Any], writers: Iterable[Mapping[str, Any]] = (),
        fast: bool = True,
    ) -> None:
        """``fast``: read messages of this schema itself with ``schemas.fast_read``, and
        write them with ``schemas.fast_write``, where those are certain to give fastavro's
        result (False: fastavro only, the reference)."""
        self.schema = dict(schema)
        self._fast = cavro_or_none(FastReader, self.schema) if fast else None
        self._fast_write = cavro_or_none(FastWriter, self.schema) if fast else None
        # fastavro re-parses a schema on every write unless it carries its parse marker
        self._write_schema = parse_schema(self.schema)
        self.name: str = str(self.schema.get("name", "?"))
        self.fingerprint = schema_fingerprint(self.schema)
        self._header = MAGIC + _FP.pack(self.fingerprint)
        self._writers: dict[int, Any] = {
            schema_fingerprint(w): parse_schema(dict(w)) for w in writers
        }
        self._writers.pop(self.fingerprint, None)
        self._resolve: Resolve | None = None
        self._by_id: dict[int, tuple[Any, Any] | str] = {}  # id -> (writer, reader) | error

    def use_registry(self, resolve: Resolve | None, schema_id: int | None = None) -> None:
        """Read Schema Registry framing through ``resolve``; with ``schema_id`` (this
        schema's id under the topic's subject) also write it. ``None``: neither."""
        self._resolve = resolve
        self._by_id = {}
        if schema_id is not None:
            self._by_id[schema_id] = (self._write_schema, None)
            self._header = bytes([REGISTRY_MAGIC]) + schema_id.to_bytes(4, "big")
        else:
            self._header = MAGIC + _FP.pack(self.fingerprint)

    @property
    def header(self) -> bytes:
        """What every message this codec writes starts with (its framing)."""
        return self._header

    def encode(self, record: Mapping[str, Any]) -> bytes:
        if self._fast_write is not None:
            body = self._fast_write.write(record)
            if body is not None:
                return self._header + body
        buf = io.BytesIO()
        buf.write(self._header)
        try:
            fastavro.schemaless_writer(buf, self._write_schema, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise EncodeError(f"record does not match {self.name}: {exc}") from exc
        return buf.getvalue()

    def _writer_for(self, fp: int) -> tuple[Any, Any]:
        """(writer schema, reader schema or None) for a header's fingerprint."""
        if fp == self.fingerprint:
            return self._write_schema, None
        found = self._writers.get(fp)
        if found is not None:
            return found, self._write_schema
        if _LEGACY["accept"]:
            legacy = _byte_reversed(fp)
            if legacy == self.fingerprint:
                return self._write_schema, None
            if legacy in self._writers:
                return self._writers[legacy], self._write_schema
        raise DecodeError(
            f"unknown writer schema fingerprint {fp:016x} for {self.name}; "
            "add that schema version to schemas/avro/history/",
        )

    def _writer_for_id(self, schema_id: int) -> tuple[Any, Any]:
        """(writer, reader) for a Schema Registry id, resolved once and cached."""
        found = self._by_id.get(schema_id)
        if found is None:
            found = self._by_id[schema_id] = self._resolved(schema_id)
        if isinstance(found, str):
            raise DecodeError(found)
        return found

    def _resolved(self, schema_id: int) -> tuple[Any, Any] | str:
        if self._resolve is None:
            return (f"{self.name} message in Schema Registry framing (schema id {schema_id}) "
                    "but no registry is configured; set LOANRISK_SCHEMA_REGISTRY_URL")
        try:
            writer = load_schema_text(self._resolve(schema_id))
        except Exception as exc:  # unknown id, registry down, not Avro: one message each
            return f"schema id {schema_id} for {self.name} not resolved: {exc}"
        if schema_fingerprint(writer) == self.fingerprint:
            return self._write_schema, None
        return parse_schema(writer), self._write_schema

    def decode(self, data: bytes | None) -> dict[str, Any]:
        """Decode one message of either framing; raise DecodeError (never anything else)
        on bad bytes."""
        if data is not None and len(data) >= REGISTRY_HEADER_LEN and data[0] == REGISTRY_MAGIC:
            writer, reader = self._writer_for_id(int.from_bytes(data[1:5], "big"))
            start = REGISTRY_HEADER_LEN
        elif data is None or len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise DecodeError(
                f"not an Avro single-object message for {self.name} "
                "(missing C3 01 header); the producer must use the project codec",
            )
        else:
            writer, reader = self._writer_for(_FP.unpack_from(data, 2)[0])
            start = HEADER_LEN
        if reader is None and self._fast is not None:
            fast = self._fast.read(data, start)
            if fast is not None:
                return fast
        buf = io.BytesIO(data)
        buf.seek(start)
        try:
            record = fastavro.schemaless_reader(buf, writer, reader)
        except Exception as exc:  # fastavro raises many types on corrupt input
            raise DecodeError(f"corrupt {self.name} body: {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(data):
            raise DecodeError(
                f"{len(data) - buf.tell()} trailing bytes after a {self.name} record",
            )
        if not isinstance(record, dict):
            raise DecodeError(f"{self.name} body decoded to {type(record).__name__}, not a record")
        return record


@cache
def codec_for(schema_name: str) -> AvroCodec:
    """The shared codec for ``schemas/avro/<schema_name>.avsc`` with its history.

    Earlier versions live in ``schemas/avro/history/<schema_name>.*.avsc``.
    """
    path = SCHEMA_DIR / f"{schema_name}.avsc"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in SCHEMA_DIR.glob("*.avsc")))
        raise SchemaError(f"no schema named {schema_name!r}; known: {known}")
    history = sorted((SCHEMA_DIR / "history").glob(f"{schema_name}.*.avsc"))
    return AvroCodec(load_schema_file(path), [load_schema_file(p) for p in history])
