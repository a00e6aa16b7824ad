from __future__ import annotations

from schemas.validate import validate_application, validate_performance, validate_session_event
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
