"""The applicant's age band, recorded with each decision for fair-lending monitoring only.

Age is a protected characteristic: no model, rule or policy reads it (the feature spec
has no age feature and rules cannot see the date of birth). Risk teams must still show
that outcomes do not differ by age without a credit reason, so each decision carries a
coarse band -- not the date of birth, which stays out of the decision record -- and
ClickHouse's ``approval_by_age_band`` view compares approval rates across bands
(adverse impact ratio, the "four-fifths" screen).
"""

from __future__ import annotations

from collections.abc import Sequence
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


#: bands with fewer applications than this are listed but not screened (too noisy)
MIN_BAND_APPLICATIONS = 50


def adverse_impact(approved: Sequence[bool], bands: Sequence[str | None],
                   min_applications: int = MIN_BAND_APPLICATIONS) -> dict[str, float | None]:
    """Each band's approval rate over the best-treated band's (the four-fifths screen, as
    the ``approval_by_age_band`` view computes it); None for a band too small to screen.
    Applicants without a band are left out."""
    counts: dict[str, list[int]] = {}
    for ok, band in zip(approved, bands, strict=True):
        if band is None:
            continue
        c = counts.setdefault(band, [0, 0])
        c[0] += 1
        c[1] += int(bool(ok))
    rates = {b: a / n for b, (n, a) in counts.items() if n >= min_applications}
    best = max(rates.values(), default=0.0)
    return {b: (rates[b] / best if best > 0 else 1.0) if b in rates else None for b in counts}
