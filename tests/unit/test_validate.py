from __future__ import annotations

import math
import random
from typing import Any

from schemas.validate import (
    flat_float_fields,
    validate_application,
    validate_behaviour_batch,
    validate_performance,
    validate_session_event,
)
from tests import records


def test_valid_records_have_no_problems() -> None:
    assert validate_application(records.application()) == []
    assert validate_session_event(records.device_event()) == []
    assert validate_performance(records.performance()) == []


def test_application_problems_are_named() -> None:
    problems = validate_application(
        records.application(annual_income=-1.0, requested_amount=0.0, event_time=1_700_000_000)
    )
    assert any("annual_income" in p for p in problems)
    assert any("requested_amount" in p for p in problems)
    assert any("event_time" in p for p in problems)


def test_bureau_score_range() -> None:
    assert validate_application(records.application(bureau_score=None)) == []
    assert validate_application(records.application(bureau_score=42))


def _reference_batch_problems(rec: dict[str, Any]) -> list[str]:
    """Every event through the full checks: what the fast path must agree with."""
    problems = [f"{f} is empty" for f in ("batch_id", "session_id") if not rec.get(f)]
    for i, event in enumerate(rec["events"]):
        problems += [f"events[{i}]: {p}"
                     for p in validate_session_event(event, "behaviour_event")]
        if event.get("session_id") != rec.get("session_id"):
            problems.append(f"events[{i}]: session_id differs from the batch's")
    return problems


_MUTATIONS: list[dict[str, Any]] = [
    {}, {"event_time": 1_700_000_000}, {"event_time": None}, {"event_time": True},
    {"event_time": 5_000_000_000_000}, {"event_id": ""}, {"session_id": "other"},
    {"session_id": ""}, {"inter_key_ms": math.nan}, {"inter_key_ms": math.inf},
    {"inter_key_ms": -math.inf}, {"inter_key_ms": None}, {"inter_key_ms": 0.0},
]


def test_behaviour_batch_fast_path_agrees_with_the_full_checks() -> None:
    rng = random.Random(19)
    for _ in range(300):
        events = [records.behaviour_event(**{"event_id": f"e{i}", **rng.choice(_MUTATIONS)})
                  for i in range(rng.randint(1, 6))]
        batch = {"batch_id": "b-1", "session_id": rng.choice(["sess-1", "", "x"]),
                 "sent_at": records.T0, "events": events}
        assert validate_behaviour_batch(batch) == _reference_batch_problems(batch)


def test_flat_float_fields_are_read_from_the_schema() -> None:
    assert flat_float_fields("behaviour_event") == ("inter_key_ms",)
    assert flat_float_fields("behaviour_batch") is None  # its floats sit in the events
