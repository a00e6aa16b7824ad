"""The dashboard's drift plot: PSI over time of the features that moved most, each time
bucket's logged feature vectors against the champion PD model's training distributions
(the same bins and PSI as ``loanrisk drift``, ``models.drift``).

Buckets are cut from the last hours' traffic so that each holds at least
``MIN_BUCKET_ROWS`` vectors (a PSI on a handful of rows is noise that reads as drift);
fewer rows than that in all leave the plot empty, saying why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from models.clickhouse_data import feature_window
from models.drift import drift_of

MIN_BUCKET_ROWS = 300
MAX_BUCKETS = 12
TOP = 5
LOOKBACK_MS = 6 * 3_600_000

_MINUTES = """
SELECT toUnixTimestamp(toStartOfMinute(event_time)) * 1000 AS m, count()
FROM feature_vectors
WHERE event_time >= fromUnixTimestamp64Milli(toInt64({since}))
  AND event_time < fromUnixTimestamp64Milli(toInt64({until}))
GROUP BY m ORDER BY m
"""


def buckets(per_minute: list[tuple[int, int]], min_rows: int = MIN_BUCKET_ROWS,
            most: int = MAX_BUCKETS) -> list[tuple[int, int]]:
    """[start, end) ms spans of whole minutes, in order, each with at least ``min_rows``
    rows, as many as possible up to ``most`` (later minutes merged first into the last)."""
    total = sum(n for _, n in per_minute)
    if total < min_rows:
        return []
    target = max(min_rows, total / most)
    out: list[tuple[int, int]] = []
    start, rows = None, 0
    for minute, n in per_minute:
        start = minute if start is None else start
        rows += n
        if rows >= target:
            out.append((start, minute + 60_000))
            start, rows = None, 0
    if start is not None:  # a short tail joins the last full bucket
        if out:
            out[-1] = (out[-1][0], per_minute[-1][0] + 60_000)
        else:
            out.append((start, per_minute[-1][0] + 60_000))
    return out


def psi_rows(client: Any, reference: dict[str, Any] | None, now_ms: int
             ) -> tuple[list[tuple[datetime, str, float]], str | None]:
    """(bucket end, feature, PSI) of the ``TOP`` features by their largest PSI, and a note
    saying why there is nothing to draw (None when there is)."""
    if not reference:
        return [], "no champion PD model with training distributions"
    per_minute = [(int(m), int(n)) for m, n in client.query(
        _MINUTES.format(since=int(now_ms - LOOKBACK_MS), until=int(now_ms))).result_rows]
    spans = buckets(per_minute)
    if not spans:
        return [], f"fewer than {MIN_BUCKET_ROWS} decisions in the last 6 hours"
    psi: dict[str, list[tuple[datetime, float]]] = {}
    for start, end in spans:
        window = feature_window(client, start, end, limit=20_000)
        at = datetime.fromtimestamp(end / 1000, UTC)
        for name, ref in reference.items():
            if name in window.columns:
                d = drift_of(name, ref, window[name].to_numpy(dtype=np.float64))
                psi.setdefault(name, []).append((at, d.psi))
    top = sorted(psi, key=lambda n: -max(v for _, v in psi[n]))[:TOP]
    return [(at, name, v) for name in top for at, v in psi[name]], None
