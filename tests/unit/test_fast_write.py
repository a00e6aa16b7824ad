"""The codec's fast writer (schemas/fast_write.py) writes fastavro's bytes, and gives its
errors, on random records of every schema, on the tests' example records, and on records
that only fastavro takes; the fast reader reads those random records back alike."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from schemas import AvroCodec, EncodeError, codec_for
from schemas.codec import SCHEMA_DIR
from tests import records
from tests.unit.test_fast_read import ordered

SCHEMAS = sorted(p.stem for p in SCHEMA_DIR.glob("*.avsc"))
FLOATS = (0.0, -0.0, math.nan, math.inf, -math.inf, 1e-310, 1.5, -2.25e300)
TEXT = ("", "a", "é漢字", "x" * 200, "\u0000")
LONGS = (0, -1, 1, 63, -64, 2**31, -(2**31) - 1, 2**62, 2**63 - 1, -(2**63))


def reference(schema: str) -> AvroCodec:
    return AvroCodec(codec_for(schema).schema, fast=False)


def random_value(t: Any, rng: random.Random, named: dict[str, Any], depth: int = 0) -> Any:
    """A random value of Avro type ``t`` (a parsed schema); named types by their full name."""
    if isinstance(t, list):
        return random_value(rng.choice(t), rng, named, depth)
    if isinstance(t, str):
        if t in named:
            return random_value(named[t], rng, named, depth)
        return {"null": lambda: None, "boolean": lambda: rng.random() < 0.5,
                "int": lambda: rng.choice((0, 1, -1, 2**31 - 1, -(2**31), rng.randint(-999, 999))),
                "long": lambda: rng.choice((*LONGS, rng.randint(-10**12, 10**12))),
                "float": lambda: rng.choice((0.0, 1.5, -0.25, math.inf)),
                "double": lambda: rng.choice((*FLOATS, rng.uniform(-1e6, 1e6))),
                "string": lambda: rng.choice(TEXT),
                "bytes": lambda: rng.randbytes(rng.randint(0, 9)),
                }[t]()
    kind = t["type"]
    if kind == "record":
        named[t["name"]] = t
        return {f["name"]: random_value(f["type"], rng, named, depth + 1) for f in t["fields"]}
    if kind == "enum":
        named[t["name"]] = t
        return rng.choice(t["symbols"])
    if kind == "fixed":
        named[t["name"]] = t
        return rng.randbytes(t["size"])
    n = 0 if depth > 3 else rng.randint(0, 4)
    if kind == "array":
        return [random_value(t["items"], rng, named, depth + 1) for _ in range(n)]
    if kind == "map":
        return {f"k{i}{rng.choice(TEXT)}": random_value(t["values"], rng, named, depth + 1)
                for i in range(n)}
    return random_value(kind, rng, named, depth)


def outcome(codec: AvroCodec, record: Any) -> tuple[str, Any]:
    try:
        return "ok", codec.encode(record)
    except EncodeError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_random_records_write_and_read_alike(schema: str) -> None:
    rng = random.Random(schema)
    codec, ref = codec_for(schema), reference(schema)
    for _ in range(150):
        rec = random_value(codec.schema, rng, {})
        got = outcome(codec, rec)
        assert got == outcome(ref, rec), rec
        if got[0] == "ok":
            assert ordered(codec.decode(got[1])) == ordered(ref.decode(got[1]))


@pytest.mark.parametrize(("schema", "record"), [
    ("loan_application", records.application()),
    ("loan_application", records.application(bureau=None, customer_id="c-1", employer=None)),
    ("device_event", records.device_event()),
    ("behaviour_batch", records.behaviour_batch([records.behaviour_event()] * 3)),
    ("loan_performance", records.performance()),
    ("decision", records.decision()),
    ("decision", records.decision(reason_codes=[{"code": "R-1", "text": "t", "source": "RULE"}],
                                  offer={"amount": 5000.0, "term_months": 36, "apr": 0.129,
                                         "monthly_payment": 168.2})),
])
def test_example_records_write_alike(schema: str, record: dict[str, Any]) -> None:
    assert outcome(codec_for(schema), record) == outcome(reference(schema), record)


@pytest.mark.parametrize("change", [
    {"event_time": 1.0}, {"event_time": True}, {"bureau_score": 700.0},
    {"requested_term_months": 2**40}, {"product": "MORTGAGE"}, {"ip": 7},
    {"annual_income": 52000}, {"bureau": {"inquiries_6m": 1}},
])
def test_records_cavro_refuses_are_fastavros_to_write(change: dict[str, Any]) -> None:
    rec = records.application(**change)
    assert outcome(codec_for("loan_application"), rec) == \
        outcome(reference("loan_application"), rec)
