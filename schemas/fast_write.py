"""A faster writer of a codec's record bodies, for the records it writes exactly as
fastavro writes them.

cavro encodes in C; fastavro checks each union branch through Python calls (a decision
record has a dozen unions). Both write Avro's one canonical encoding of a value (one
block per array or map, shortest varints), so wherever both take a record the bytes are
the same. Where they could differ, cavro is the stricter (a float for a long, a bool for
an int, an int beyond 32 bits: the schema it is given reads every ``int`` as ``long``, as
fastavro writes them); it then raises, and fastavro writes the record or gives the
codec's ``EncodeError``. ``tests/unit/test_fast_write.py`` compares the bytes on random
records of every schema and on the records the tests use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from schemas.fast_read import _OPTIONS, _ints_as_longs, cavro


class FastWriter:
    """Writes bodies of one record schema (the parsed schema, as ``AvroCodec.schema``)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._schema = cavro.Schema(json.dumps(_ints_as_longs(dict(schema))), **_OPTIONS)

    def write(self, record: Mapping[str, Any]) -> bytes | None:
        """The body of ``record``, or None when fastavro must write it."""
        try:
            return bytes(self._schema.binary_encode(record))
        except Exception:
            return None
