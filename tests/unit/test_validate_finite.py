"""Non-finite numbers are bad input on every topic a worker reads: each float or double
field of each schema (found by walking the .avsc, not listed by hand), set to NaN or an
infinity, must send the message to the dead-letter topic with the field named."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from schemas import codec_for
from schemas.topics import APPLICATIONS, BEHAVIOUR_EVENTS, DEVICE_EVENTS, PERFORMANCE
from streams.deadletter import TopicDecoder
from tests import records


def float_paths(schema: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths (field names, 0 for the first array item) of every float/double in a schema."""
    if isinstance(schema, str):
        if schema in ("float", "double"):
            yield path
        return
    if isinstance(schema, list):  # a union
        for branch in schema:
            yield from float_paths(branch, path)
        return
    kind = schema.get("type")
    if kind == "record":
        for f in schema["fields"]:
            yield from float_paths(f["type"], (*path, f["name"]))
    elif kind == "array":
        yield from float_paths(schema["items"], (*path, 0))
    else:
        yield from float_paths(kind, path)


SAMPLES = {
    APPLICATIONS.name: records.application(),
    DEVICE_EVENTS.name: records.device_event(),
    BEHAVIOUR_EVENTS.name: records.behaviour_batch(
        [records.behaviour_event(event_type="KEYSTROKE", inter_key_ms=120.0)]),
    PERFORMANCE.name: records.performance(),
}
SCHEMA_OF = {APPLICATIONS.name: "loan_application", DEVICE_EVENTS.name: "device_event",
             BEHAVIOUR_EVENTS.name: "behaviour_batch", PERFORMANCE.name: "loan_performance"}
CASES = [(topic, path) for topic in SAMPLES
         for path in float_paths(codec_for(SCHEMA_OF[topic]).schema)]


def _set(rec: dict[str, Any], path: tuple[Any, ...], value: float) -> None:
    node: Any = rec
    for step in path[:-1]:
        if isinstance(step, str) and node.get(step) is None:
            pytest.skip(f"the sample has no {step}")
        node = node[step]
    node[path[-1]] = value


def test_every_worker_input_has_float_fields_to_check() -> None:
    topics = {topic for topic, _ in CASES}
    assert {APPLICATIONS.name, BEHAVIOUR_EVENTS.name} <= topics
    assert len(CASES) >= 8


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")],
                         ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(("topic", "path"), CASES,
                         ids=[f"{t}:{'.'.join(map(str, p))}" for t, p in CASES])
def test_non_finite_number_is_dead_lettered_naming_the_field(
        topic: str, path: tuple[Any, ...], bad: float) -> None:
    rec = copy.deepcopy(SAMPLES[topic])
    _set(rec, path, bad)
    value = codec_for(SCHEMA_OF[topic]).encode(rec)
    letters: list[bytes] = []
    decoder = TopicDecoder(topic, lambda _t, _k, v: letters.append(v), "test")
    assert decoder.decode(value, b"k", 0, 7) is None
    dead = codec_for("dead_letter").decode(letters[0])
    assert dead["error_type"] == "VALIDATION"
    assert str(path[-1]) in dead["error"] and "not a finite number" in dead["error"]
    assert dead["payload"] == value  # the original bytes, for replay


def test_the_untouched_samples_are_valid() -> None:
    for topic, rec in SAMPLES.items():
        decoder = TopicDecoder(topic, lambda *_: pytest.fail("dead-lettered"), "test")
        assert decoder.decode(codec_for(SCHEMA_OF[topic]).encode(rec)) is not None


def test_the_schema_compiled_check_finds_what_the_generic_walk_finds() -> None:
    """``finite_check`` visits only float-holding fields; the walk over every value is its
    oracle: the same paths, on each float field set bad alone, then on every one at once,
    and on a behaviour batch whose events are bad at random."""
    import random

    from schemas.validate import finite_check, non_finite_fields

    for topic, path in CASES:
        rec = copy.deepcopy(SAMPLES[topic])
        check = finite_check(SCHEMA_OF[topic])
        assert check(rec) == non_finite_fields(rec) == []
        try:
            _set(rec, path, float("nan"))
        except pytest.skip.Exception:
            continue
        assert check(rec) == non_finite_fields(rec) != []
    rng = random.Random(5)
    events = [records.behaviour_event(event_type="KEYSTROKE",
                                      inter_key_ms=rng.choice([1.5, None, float("inf")]))
              for _ in range(200)]
    batch = records.behaviour_batch(events)
    want = non_finite_fields(batch)
    assert finite_check("behaviour_batch")(batch) == want and len(want) > 20
