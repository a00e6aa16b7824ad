"""The codec's fast reader (schemas/fast_read.py) gives fastavro's answer on every input:
the same record (keys in the same order) or the same DecodeError, on the simulator's
messages and on thousands of corruptions of them."""

from __future__ import annotations

import io
import random
import re
import struct
from functools import cache
from typing import Any

import fastavro
import pytest

from schemas import AvroCodec, DecodeError, codec_for
from schemas.codec import HEADER_LEN
from schemas.fast_read import FastReader, _ints_as_longs
from schemas.topics import BY_NAME
from simulator.config import SimConfig
from simulator.live import LiveGenerator
from tests import records

HOT = ("loan_application", "device_event", "behaviour_batch")


@cache
def reference(schema: str) -> AvroCodec:
    """fastavro alone, with the same history of writer schemas."""
    codec = codec_for(schema)
    return AvroCodec(codec.schema, [w for w in codec._writers.values()], fast=False)


def outcome(codec: AvroCodec, data: bytes) -> tuple[str, Any]:
    try:
        return "ok", ordered(codec.decode(data))
    except DecodeError as exc:  # fastavro's messages may name a buffer by its address
        return "error", re.sub(r" at 0x[0-9a-f]+", "", str(exc))


def ordered(v: Any) -> Any:
    """The value with every dict as its list of items, so key order counts, and every float
    as its bytes (a NaN equals itself)."""
    if isinstance(v, float):
        return struct.pack("<d", v)
    if isinstance(v, dict):
        return [(k, ordered(x)) for k, x in v.items()]
    if isinstance(v, list):
        return [ordered(x) for x in v]
    return v


@cache
def messages() -> dict[str, list[bytes]]:
    """Encoded messages of 60 simulated applications, by schema."""
    codecs = {name: codec_for(t.schema) for name, t in BY_NAME.items()}
    gen = LiveGenerator(SimConfig(), 7, records.T0, 50.0)
    out: dict[str, list[bytes]] = {}
    while len(out.get("loan_application", [])) < 60:
        for topic, _key, rec in gen.next_application():
            out.setdefault(BY_NAME[topic].schema, []).append(codecs[topic].encode(rec))
    return out


@pytest.mark.parametrize("schema", HOT)
def test_simulated_messages_decode_alike_and_mostly_fast(schema: str) -> None:
    reader = FastReader(codec_for(schema).schema)
    fast = 0
    for data in messages()[schema]:
        assert outcome(codec_for(schema), data) == outcome(reference(schema), data)
        fast += reader.read(data, HEADER_LEN) is not None
    assert fast >= 0.9 * len(messages()[schema])  # the fast path is the one taken


def _corrupt(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(7)
    i = rng.randrange(HEADER_LEN, len(b))
    if kind == 0:
        b[i] = rng.randrange(256)
    elif kind == 1:
        b[i] ^= 1 << rng.randrange(8)
    elif kind == 2:
        del b[i:]
    elif kind == 3:
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
    elif kind == 4:
        b.insert(i, rng.randrange(256))
    elif kind == 5:
        del b[i]
    else:
        b[i:i] = bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randint(1, 12)))
    return bytes(b)


@pytest.mark.parametrize("schema", HOT)
def test_corrupted_messages_give_the_same_record_or_error(schema: str) -> None:
    rng = random.Random(schema)
    for data in messages()[schema][:40]:
        for _ in range(60):
            bad = _corrupt(rng, data)
            assert outcome(codec_for(schema), bad) == outcome(reference(schema), bad), bad


def _body_as_longs(schema: str, record: dict[str, Any]) -> bytes:
    """``record`` written with every int as a long: values an int cannot hold reach the wire."""
    codec = codec_for(schema)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(_ints_as_longs(codec.schema)), record)
    return codec.header + buf.getvalue()


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 2**40, 2**62 - 1, -(2**62),
                                   2**63 - 1, -(2**63)])
def test_an_int_beyond_32_bits_reads_as_fastavro_reads_it(value: int) -> None:
    data = _body_as_longs("loan_application", records.application(employment_months=value))
    got = outcome(codec_for("loan_application"), data)
    assert got == outcome(reference("loan_application"), data)
    assert got[0] == "ok" and dict(got[1])["employment_months"] == value


@pytest.mark.parametrize("tail", [b"\x00", b"\x80", b"\xff" * 12, b"\x02x"])
def test_trailing_bytes_are_the_codec_error(tail: bytes) -> None:
    data = codec_for("device_event").encode(records.device_event()) + tail
    with pytest.raises(DecodeError, match="trailing"):
        codec_for("device_event").decode(data)


def test_bad_utf8_enum_and_union_indexes_are_fastavro_errors() -> None:
    codec = codec_for("behaviour_batch")
    good = codec.encode(records.behaviour_batch([records.behaviour_event()]))
    sid = b"batch-1"
    at = good.index(sid)
    cases = [good[:at] + b"\xff" + good[at + 1:]]  # invalid UTF-8 in batch_id
    for i in range(HEADER_LEN, len(good)):  # every single byte set to odd values
        cases += [good[:i] + bytes([v]) + good[i + 1:] for v in (0x01, 0x0B, 0x7F, 0x81)]
    for data in cases:
        assert outcome(codec, data) == outcome(reference("behaviour_batch"), data)


def test_a_schema_cavro_cannot_take_reads_with_fastavro() -> None:
    from schemas.fast_read import cavro_or_none

    bad = {"type": "record", "name": "x", "fields": [{"name": "a", "type": "nope"}]}
    assert cavro_or_none(FastReader, bad) is None


def test_a_ten_byte_varint_is_left_to_fastavro() -> None:
    reader = FastReader(codec_for("loan_application").schema)
    for value, fast in ((2**40, True), (2**62 - 1, True), (2**62, False), (-(2**63), False)):
        data = _body_as_longs("loan_application", records.application(employment_months=value))
        assert (reader.read(data, HEADER_LEN) is not None) is fast, value
