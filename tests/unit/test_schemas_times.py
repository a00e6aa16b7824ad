"""ISO times to epoch milliseconds, checked against calendar.timegm (independent of datetime
arithmetic): no zone means UTC, a zone is honoured, junk is a ValueError."""

from __future__ import annotations

import calendar

import pytest

from schemas.times import iso_to_ms, utc_datetime


def test_no_zone_is_utc_and_a_zone_is_honoured() -> None:
    utc = calendar.timegm((2025, 6, 30, 12, 0, 0)) * 1000
    assert iso_to_ms("2025-06-30T12:00:00") == utc
    assert iso_to_ms(" 2025-06-30 12:00:00 ") == utc
    assert iso_to_ms("2025-06-30T14:00:00+02:00") == utc
    assert iso_to_ms("2025-06-30") == calendar.timegm((2025, 6, 30, 0, 0, 0)) * 1000
    assert utc_datetime("2025-06-30").utcoffset() is not None


@pytest.mark.parametrize("text", ["yesterday", "", "2025-13-01"])
def test_not_a_date_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        iso_to_ms(text)
