"""Event-time window constants shared by the engine, the Lua scripts' arguments,
the pure reference implementation and the spec. Pure data, no I/O."""

from __future__ import annotations

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: velocity windows: name -> length. A window of length W at an application
#: with event time t holds the events with ``t - W < event_time <= t``.
WINDOWS: dict[str, int] = {"10m": 10 * MINUTE_MS, "1h": HOUR_MS, "24h": DAY_MS, "7d": 7 * DAY_MS}
#: distinct-count windows (a subset of WINDOWS), in the order the script reports them
DISTINCT_WINDOWS: tuple[str, ...] = ("24h", "7d")
#: the graph ("linked applicants") window, also the longest: state is kept this long
GRAPH_WINDOW_MS = 30 * DAY_MS
RETENTION_MS = GRAPH_WINDOW_MS

#: how late (in event time) an application may be processed after a later one
#: and still see exact windows; older state is trimmed past RETENTION + LATENESS
DEFAULT_LATENESS_MS = DAY_MS
