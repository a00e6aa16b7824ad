"""Semantic checks that Avro types cannot express (a negative income is valid Avro).

Each validator returns a list of problems; empty means valid. They run after
decoding, and a message with problems goes to the dead-letter topic as
VALIDATION with the problems as its reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

MIN_EVENT_TIME_MS = 946_684_800_000  # 2000-01-01: anything earlier is a unit mistake (seconds?)
MAX_EVENT_TIME_MS = 4_102_444_800_000  # 2100-01-01


def _event_time(rec: Mapping[str, Any], problems: list[str]) -> None:
    t = rec.get("event_time")
    if not isinstance(t, int) or not MIN_EVENT_TIME_MS <= t <= MAX_EVENT_TIME_MS:
        problems.append(f"event_time {t!r} is not epoch milliseconds between 2000 and 2100")


def non_finite_fields(value: Any, path: str = "") -> list[str]:
    """Every float in a decoded record (nested records, arrays and maps included) that is
    NaN or infinite, by its path: Avro's float and double admit them, and ``x < 0`` is
    false for NaN, so no range check would catch one."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path or "value"]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in non_finite_fields(v, _join(path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in non_finite_fields(v, f"{path}[{i}]")]
    return []


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def _finite(rec: Mapping[str, Any], problems: list[str]) -> None:
    problems += [f"{f} is not a finite number" for f in non_finite_fields(rec)]


def _non_empty(rec: Mapping[str, Any], fields: tuple[str, ...], problems: list[str]) -> None:
    for f in fields:
        if not rec.get(f):
            problems.append(f"{f} is empty")


def validate_application(rec: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    _finite(rec, problems)
    if problems:  # range checks below are meaningless on NaN
        return problems
    _event_time(rec, problems)
    _non_empty(rec, ("application_id", "session_id", "national_id", "device_id", "ip"), problems)
    if rec.get("annual_income", 0) < 0:
        problems.append("annual_income is negative")
    if rec.get("monthly_debt_payments", 0) < 0:
        problems.append("monthly_debt_payments is negative")
    if rec.get("requested_amount", 0) <= 0:
        problems.append("requested_amount must be positive")
    if rec.get("requested_term_months", 0) < 0:
        problems.append("requested_term_months is negative")
    score = rec.get("bureau_score")
    if score is not None and not 300 <= score <= 900:
        problems.append(f"bureau_score {score} outside 300..900")
    return problems


def validate_session_event(rec: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    _finite(rec, problems)
    _event_time(rec, problems)
    _non_empty(rec, ("event_id", "session_id"), problems)
    return problems


def validate_performance(rec: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    _finite(rec, problems)
    _event_time(rec, problems)
    _non_empty(rec, ("event_id", "application_id"), problems)
    if rec.get("days_past_due", 0) < 0:
        problems.append("days_past_due is negative")
    return problems


def validate_behaviour_batch(rec: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []  # the events' own checks include theirs for finite numbers
    _non_empty(rec, ("batch_id", "session_id"), problems)
    for i, event in enumerate(rec.get("events", [])):
        problems += [f"events[{i}]: {p}" for p in validate_session_event(event)]
        if event.get("session_id") != rec.get("session_id"):
            problems.append(f"events[{i}]: session_id differs from the batch's")
    return problems


def validate_finite(rec: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    _finite(rec, problems)
    return problems


VALIDATORS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "list_update": validate_finite,
    "release": validate_finite,
    "loan_application": validate_application,
    "device_event": validate_session_event,
    "behaviour_event": validate_session_event,
    "behaviour_batch": validate_behaviour_batch,
    "loan_performance": validate_performance,
}
