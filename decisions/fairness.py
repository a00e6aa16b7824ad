"""The applicant's age band, recorded with each decision for fair-lending monitoring only.

Age is a protected characteristic: no model, rule or policy reads it (the feature spec
has no age feature and rules cannot see the date of birth). Risk teams must still show
that outcomes do not differ by age without a credit reason, so each decision carries a
coarse band -- not the date of birth, which stays out of the decision record -- and
ClickHouse's ``approval_by_age_band`` view compares approval rates across bands
(adverse impact ratio, the "four-fifths" screen).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

#: lower bounds (years) of the bands, labelled "18-24", "25-34", ..., "65+"
BAND_STARTS = (18, 25, 35, 45, 55, 65)


def age_band(date_of_birth: str | None, at_ms: int) -> str | None:
    """The band of the applicant's age at ``at_ms``; None if the date is missing or
    impossible (under 18 or over 120 is a data problem, not a band)."""
    if not date_of_birth:
        return None
    try:
        born = date.fromisoformat(date_of_birth[:10])
    except ValueError:
        return None
    on = datetime.fromtimestamp(at_ms / 1000, UTC).date()
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if years < BAND_STARTS[0] or years > 120:
        return None
    start = max(s for s in BAND_STARTS if s <= years)
    i = BAND_STARTS.index(start)
    return f"{start}+" if i == len(BAND_STARTS) - 1 else f"{start}-{BAND_STARTS[i + 1] - 1}"
