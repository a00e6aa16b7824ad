"""The worker's feature-vector records (``feature_vector.avsc``), encoded byte for byte as
``AvroCodec.encode`` encodes them, without its per-value work.

Every record carries the ~190 feature names and as many ``["null", "double"]`` values.
fastavro resolves the union and writes each string anew for each record, which made this
one encode most of the worker's output cost. Here the names array is encoded once per
names list (the spec's, the same object in every record), the values with one struct
call each. Anything this writer does not expect (another type, a value out of range, a
missing field) goes to ``AvroCodec.encode``, so its output and errors are the codec's;
``tests/unit/test_vector_writer.py`` checks the bytes are identical.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.codec import AvroCodec

_DOUBLE = struct.Struct("<Bd").pack  # union branch 1 (zigzag 2), then the double
_NULL = b"\x00"  # union branch 0
_INT64 = (-(1 << 63), (1 << 63) - 1)
FIELDS = ("application_id", "event_time", "product", "feature_spec_version", "names",
          "values")


class Unexpected(Exception):
    """A record this writer leaves to the codec."""


def varint(n: int) -> bytes:
    """Avro ``long`` (and ``int``): zig-zag, then base-128 varint, low group first."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def zigzag(n: int) -> bytes:
    """``varint`` of a Python int that fastavro would write as a long (else Unexpected)."""
    if type(n) is not int or not _INT64[0] <= n <= _INT64[1]:
        raise Unexpected(n)
    return varint(n)


def string(s: Any) -> bytes:
    if type(s) is not str:
        raise Unexpected(s)
    b = s.encode()
    return zigzag(len(b)) + b


def _array(items: list[bytes], n: int) -> bytes:
    """An array as fastavro writes it: one block of ``n`` items, then the empty block."""
    return (zigzag(n) + b"".join(items) + _NULL) if n else _NULL


def _values(values: Sequence[Any]) -> bytes:
    out = [_NULL if v is None else _DOUBLE(2, v) if type(v) is float else _unexpected(v)
           for v in values]
    return _array(out, len(out))


def _unexpected(v: Any) -> bytes:
    raise Unexpected(v)


class VectorWriter:
    """``codec.encode`` for feature-vector records (``codec`` is ``feature_vector``'s)."""

    def __init__(self, codec: AvroCodec) -> None:
        if [f["name"] for f in codec.schema["fields"]] != list(FIELDS):
            raise ValueError(f"{codec.name} is not the feature_vector record this writer knows")
        self.codec = codec
        self._names: tuple[list[str], bytes] = ([], _NULL)  # the last names and their bytes

    def encode(self, record: Mapping[str, Any]) -> bytes:
        try:
            return self._encode(record)
        except (Unexpected, KeyError, TypeError):
            return self.codec.encode(record)  # the codec's bytes, or its EncodeError

    def _encode(self, record: Mapping[str, Any]) -> bytes:
        names = record["names"]
        if type(names) is not list:
            raise Unexpected(names)
        if names != self._names[0]:  # the same strings: one identity check each
            self._names = (list(names), _array([string(n) for n in names], len(names)))
        return b"".join((self.codec.header, string(record["application_id"]),
                         zigzag(record["event_time"]), string(record["product"]),
                         string(record["feature_spec_version"]), self._names[1],
                         _values(record["values"])))
