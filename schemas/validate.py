"""Semantic checks that Avro types cannot express (a negative income is valid Avro).

Each validator returns a list of problems; empty means valid. They run after
decoding, and a message with problems goes to the dead-letter topic as
VALIDATION with the problems as its reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

#: (value, path) -> the paths of its non-finite floats
_Check = Callable[[Any, str], list[str]]

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


@cache
def finite_check(schema_name: str) -> Callable[[Any], list[str]]:
    """``non_finite_fields`` for records of one schema, visiting only the fields whose type
    can hold a float or double (the generic walk visits every value: ~10 µs per behaviour
    event, most of a worker's decoding time); the same paths for any record of it."""
    from schemas.codec import codec_for

    check = _compile(codec_for(schema_name).schema, {})
    if check is None:
        return lambda _rec: []
    return lambda rec: check(rec, "")


def _compile(t: Any, named: dict[str, Any]) -> _Check | None:
    """The check of one (parsed) Avro type, or None when it can hold no float."""
    if isinstance(t, str):
        if t in ("float", "double"):
            return _check_float
        return named.get(t)
    if isinstance(t, list):  # a union: the branch is told by the value's type
        return _compile_union(t, named)
    kind = t.get("type")
    if kind == "record":
        named[t["name"]] = None  # a recursive reference falls back on the generic walk
        fields = [(f["name"], c) for f in t["fields"]
                  if (c := _compile(f["type"], named)) is not None]
        named[t["name"]] = non_finite_fields if fields else None
        return _record_check(fields) if fields else None
    if kind in ("array", "map"):
        item = _compile(t["items" if kind == "array" else "values"], named)
        if item is None:
            return None
        return _array_check(item) if kind == "array" else _map_check(item)
    if kind in ("enum", "fixed"):
        return None
    return _compile(kind, named)


def _check_float(v: Any, path: str) -> list[str]:
    return [] if math.isfinite(v) else [path or "value"]


def _compile_union(branches: list[Any], named: dict[str, Any]) -> _Check | None:
    checks = [c for b in branches if (c := _compile(b, named)) is not None]
    if not checks:
        return None
    if len(checks) > 1:  # several float-holding branches: the generic walk tells them apart
        return non_finite_fields
    check = checks[0]

    def union(v: Any, path: str) -> list[str]:
        return [] if v is None or isinstance(v, (str, bytes, bool, int)) else check(v, path)
    return union


def _record_check(fields: list[tuple[str, _Check]]) -> _Check:
    def record(v: Any, path: str) -> list[str]:
        out: list[str] = []
        for name, check in fields:
            out += check(v[name], _join(path, name))
        return out
    return record


def _array_check(item: _Check) -> _Check:
    def array(v: Any, path: str) -> list[str]:
        return [p for i, x in enumerate(v) for p in item(x, f"{path}[{i}]")]
    return array


def _map_check(item: _Check) -> _Check:
    def mapping(v: Any, path: str) -> list[str]:
        return [p for k, x in v.items() for p in item(x, _join(path, k))]
    return mapping


def _finite(rec: Mapping[str, Any], problems: list[str], schema: str) -> None:
    problems += [f"{f} is not a finite number" for f in finite_check(schema)(rec)]


def _non_empty(rec: Mapping[str, Any], fields: tuple[str, ...], problems: list[str]) -> None:
    for f in fields:
        if not rec.get(f):
            problems.append(f"{f} is empty")


def validate_application(rec: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    _finite(rec, problems, "loan_application")
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


def validate_quote_request(rec: Mapping[str, Any]) -> list[str]:
    """The application checks on a quote request (its id and optional session aside)."""
    problems = validate_application({**rec, "application_id": rec.get("quote_id"),
                                     "session_id": "-"})
    return [p.replace("application_id", "quote_id") for p in problems]


def validate_session_event(rec: Mapping[str, Any], schema: str = "device_event") -> list[str]:
    problems: list[str] = []
    _finite(rec, problems, schema)
    _event_time(rec, problems)
    _non_empty(rec, ("event_id", "session_id"), problems)
    return problems


def validate_performance(rec: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    _finite(rec, problems, "loan_performance")
    _event_time(rec, problems)
    _non_empty(rec, ("event_id", "application_id"), problems)
    if rec.get("days_past_due", 0) < 0:
        problems.append("days_past_due is negative")
    return problems


@cache
def flat_float_fields(schema_name: str) -> tuple[str, ...] | None:
    """The top-level fields of a schema that hold a float or double (alone or in a union
    with null), when those are all the floats it has; None when a float sits deeper (in a
    nested record, array or map), where only ``finite_check`` walks."""
    from schemas.codec import codec_for

    out: list[str] = []
    for f in codec_for(schema_name).schema["fields"]:
        t = f["type"]
        branches = t if isinstance(t, list) else [t]
        if any(b in ("float", "double") for b in branches):
            if any(b not in ("null", "float", "double") for b in branches):
                return None
            out.append(f["name"])
        elif _compile(t, {}) is not None:
            return None
    return tuple(out)


def _plain_event(event: Mapping[str, Any], session_id: Any, floats: tuple[str, ...]) -> bool:
    """True when a batch's event certainly passes every check (the common case, checked
    without building a problem list); False sends it through the full checks."""
    t = event.get("event_time")
    if type(t) is not int or not MIN_EVENT_TIME_MS <= t <= MAX_EVENT_TIME_MS:
        return False
    if not event.get("event_id") or not session_id or event.get("session_id") != session_id:
        return False
    for name in floats:
        v = event.get(name)
        if v is not None and not math.isfinite(v):
            return False
    return True


def validate_behaviour_batch(rec: Mapping[str, Any]) -> list[str]:
    """Tens of events per application: each is first tried on a fast path that only says
    yes; one that it does not pass gets the full checks and their messages."""
    problems: list[str] = []  # the events' own checks include theirs for finite numbers
    _non_empty(rec, ("batch_id", "session_id"), problems)
    session_id = rec.get("session_id")
    floats = flat_float_fields("behaviour_event")
    for i, event in enumerate(rec.get("events", [])):
        if floats is not None and _plain_event(event, session_id, floats):
            continue
        problems += [f"events[{i}]: {p}"
                     for p in validate_session_event(event, "behaviour_event")]
        if event.get("session_id") != session_id:
            problems.append(f"events[{i}]: session_id differs from the batch's")
    return problems


def validate_finite(rec: Mapping[str, Any], schema: str) -> list[str]:
    problems: list[str] = []
    _finite(rec, problems, schema)
    return problems


VALIDATORS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "list_update": lambda rec: validate_finite(rec, "list_update"),
    "release": lambda rec: validate_finite(rec, "release"),
    "loan_application": validate_application,
    "quote_request": validate_quote_request,
    "device_event": validate_session_event,
    "behaviour_event": lambda rec: validate_session_event(rec, "behaviour_event"),
    "behaviour_batch": validate_behaviour_batch,
    "loan_performance": validate_performance,
}
