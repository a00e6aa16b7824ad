"""Age bands for fair-lending monitoring: exact on birthdays, None on bad data, and never
an input to the decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from decisions.fairness import age_band
from tests.decision_cases import decide, engine


def _ms(y: int, m: int, d: int) -> int:
    return int(datetime(y, m, d, 12, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(("dob", "on", "band"), [
    ("2000-06-15", (2018, 6, 15), "18-24"),  # 18th birthday
    ("2000-06-15", (2025, 6, 14), "18-24"),  # a day before turning 25
    ("2000-06-15", (2025, 6, 15), "25-34"),
    ("1980-01-01", (2026, 11, 29), "45-54"),
    ("1961-11-29", (2026, 11, 29), "65+"),
    ("2000-06-15", (2018, 6, 14), None),  # 17: not a lending age, a data problem
    ("1890-01-01", (2026, 1, 1), None),
    ("15/06/2000", (2026, 1, 1), None),
    (None, (2026, 1, 1), None),
    ("", (2026, 1, 1), None),
])
def test_age_band(dob: str | None, on: tuple[int, int, int], band: str | None) -> None:
    assert age_band(dob, _ms(*on)) == band


@pytest.mark.parametrize("case", [
    {},  # APPROVE
    {"feats": {"sess_paste_count": 3.0}},  # REVIEW
    {"scores": {"pd": None}, "app": {"bureau_score": 650}},  # cold start REVIEW
    {"scores": {"pd": 0.3}},  # DECLINE
])
def test_the_date_of_birth_changes_only_the_age_band(case: dict) -> None:
    eng = engine()
    young, old = ({**case.get("app", {}), "date_of_birth": dob}
                  for dob in ("2004-01-01", "1950-01-01"))
    a = decide(eng, feats=case.get("feats"), scores=case.get("scores"), app=young)
    b = decide(eng, feats=case.get("feats"), scores=case.get("scores"), app=old)
    assert (a["age_band"], b["age_band"]) == ("18-24", "65+")
    assert {**a, "age_band": None} == {**b, "age_band": None}
