"""The feature-vector writer gives AvroCodec.encode's bytes (and errors) for every record."""

from __future__ import annotations

import math
import random

import pytest

from features.spec import FEATURE_SPEC
from schemas import EncodeError, codec_for
from schemas.codec import AvroCodec
from schemas.vector_writer import VectorWriter, zigzag

CODEC = codec_for("feature_vector")
ODD_FLOATS = (0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308, -1.5)


def _record(rng: random.Random, names: list[str] | None = None) -> dict:
    names = FEATURE_SPEC.names if names is None else names
    values = []
    for _ in names:
        r = rng.random()
        values.append(None if r < 0.2 else rng.choice(ODD_FLOATS) if r < 0.3
                      else rng.uniform(-1e6, 1e6) if r < 0.6 else float(rng.randint(0, 9)))
    return {"application_id": rng.choice(["app-1", "", "é-ü-漢字", "x" * 300]),
            "event_time": rng.choice([0, 1, -1, 63, 64, -65, 1_764_000_000_000,
                                      (1 << 63) - 1, -(1 << 63)]),
            "product": rng.choice(["PERSONAL_LOAN", "CREDIT_CARD", "BNPL"]),
            "feature_spec_version": FEATURE_SPEC.version, "names": names, "values": values}


def test_bytes_equal_the_codec_on_many_records() -> None:
    rng = random.Random(19)
    writer = VectorWriter(CODEC)
    for i in range(400):
        names = None if i % 5 else [f"f{j}-ü" for j in range(rng.randint(0, 200))]
        rec = _record(rng, names)
        assert writer.encode(rec) == CODEC.encode(rec)


def test_a_changed_names_list_is_encoded_anew() -> None:
    writer = VectorWriter(CODEC)
    names = ["a", "b"]
    rec = {**_record(random.Random(1), names)}
    first = writer.encode(rec)
    names[1] = "c"  # the same list object, changed in place
    assert writer.encode(rec) == CODEC.encode(rec) != first


@pytest.mark.parametrize("change", [
    {"values": [1, None]}, {"values": [True, 0.5]}, {"event_time": 1.5},
    {"event_time": 1 << 63}, {"names": ("a", "b")}, {"application_id": b"bytes"},
])
def test_unexpected_values_get_the_codec_result(change: dict) -> None:
    rec = {**_record(random.Random(2), ["a", "b"]), **change}
    try:
        expected: bytes | str = CODEC.encode(rec)
    except EncodeError as exc:
        expected = str(exc)
    try:
        got: bytes | str = VectorWriter(CODEC).encode(rec)
    except EncodeError as exc:
        got = str(exc)
    assert got == expected


def test_a_missing_field_is_the_codec_error() -> None:
    rec = _record(random.Random(3))
    del rec["product"]
    with pytest.raises(EncodeError):
        VectorWriter(CODEC).encode(rec)


def test_schema_registry_framing_is_kept() -> None:
    codec = AvroCodec(CODEC.schema)
    codec.use_registry(lambda _id: "{}", schema_id=7)
    rec = _record(random.Random(4))
    assert VectorWriter(codec).encode(rec) == codec.encode(rec)
    assert codec.decode(VectorWriter(codec).encode(rec))["application_id"] == \
        rec["application_id"]


def test_zigzag_matches_the_avro_specification() -> None:
    assert [zigzag(n) for n in (0, -1, 1, -2, 2, 63, -64, 64)] == [
        b"\x00", b"\x01", b"\x02", b"\x03", b"\x04", b"\x7e", b"\x7f", b"\x80\x01"]
