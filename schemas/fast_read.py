"""A faster reader of a codec's own schema, used only when its answer is certainly
fastavro's.

fastavro reads a schemaless body through a Python file object, a call per value: ~4.5 µs
per behaviour event, ~35 messages per application. cavro reads from a memory buffer in C,
~2.5x faster on those batches. Used as it comes, it would differ from fastavro on bad
bytes in ways that matter here:

* it reports no position, so trailing bytes after a record would pass. Reading one more
  byte (a ``fixed`` of size 1) from the same buffer tells: end of input means none are left;
* it reads an ``int`` as 32 bits (an over-long value wraps) where fastavro reads it as a
  long: the schema it is given has every ``int`` as ``long`` (the same encoding);
* a varint of 10 bytes or more (a long with its top bits set, or garbage) is decoded
  differently by each: a body with nine or more bytes in a row that have their high bit
  set is left to fastavro (multi-byte text in a script other than Latin does that too,
  at the price of the slower read).

Anything else it does not read without error (corrupt, truncated, a bad union index) is
also left to fastavro, which then gives the codec's usual record or ``DecodeError``.
``tests/unit/test_fast_read.py`` checks both agree on every message of the simulator's
traffic and on thousands of corruptions of them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

try:
    import cavro
except ImportError:  # an environment installed before cavro was a dependency: fastavro reads
    cavro = None

#: bytes with their high bit set -> 1, others -> 0; nine 1s in a row may be a varint that
#: does not fit 64 bits (a translate and a find: a tenth of a regular expression's time)
_HIGH_BIT = bytes(b >> 7 for b in range(256))
_NINE_HIGH = b"\x01" * 9
T = TypeVar("T")
_OPTIONS = {"record_decodes_to_dict": True, "unicode_errors": "strict"}


def _ints_as_longs(t: Any) -> Any:
    """The schema with every ``int`` read as ``long`` (what fastavro does)."""
    if t == "int":
        return "long"
    if isinstance(t, list):
        return [_ints_as_longs(b) for b in t]
    if isinstance(t, dict):
        out = dict(t)
        for k in ("type", "items", "values"):
            if k in out:
                out[k] = _ints_as_longs(out[k])
        if "fields" in out:
            out["fields"] = [{**f, "type": _ints_as_longs(f["type"])} for f in out["fields"]]
        return out
    return t


class FastReader:
    """Reads bodies of one record schema (the parsed schema, as ``AvroCodec.schema``)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._schema = cavro.Schema(json.dumps(_ints_as_longs(dict(schema))), **_OPTIONS)
        self._one_more = cavro.Schema('{"type": "fixed", "name": "next", "size": 1}')

    def read(self, data: bytes, start: int) -> dict[str, Any] | None:
        """The record in ``data[start:]``, or None when fastavro must decide."""
        if data.translate(_HIGH_BIT).find(_NINE_HIGH, start) >= 0:
            return None
        reader = cavro.MemoryReader(memoryview(data)[start:])
        try:
            record = self._schema.binary_read(reader)
        except Exception:  # corrupt or truncated: fastavro's error message is the one
            return None
        try:
            self._one_more.binary_read(reader)
        except EOFError:
            return record if isinstance(record, dict) else None
        except Exception:
            return None
        return None  # bytes remain after the record


@cache
def _say_cavro_missing() -> None:
    logging.getLogger(__name__).warning(
        "cavro is not installed: Avro is read and written with fastavro alone, the same bytes "
        "but slower on the worker's hot topics; `make install` (or pip install cavro) adds it")


def cavro_or_none(make: Callable[[Mapping[str, Any]], T], schema: Mapping[str, Any]) -> T | None:
    """``make(schema)`` (a FastReader or FastWriter), or None when cavro is missing or does
    not take the schema (fastavro reads and writes it then)."""
    if cavro is None:
        _say_cavro_missing()
        return None
    try:
        return make(schema)
    except Exception:
        return None
