"""Analysts' plots from ClickHouse, rendered as SVG on the server (matplotlib), cached for
a few seconds so a wall of refreshing browsers costs one query per plot. The drift plot
(``streams.console.drift_plot``) compares the traffic with the champion's training data,
which ``drift_reference`` gives (None without a champion)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure

CACHE_S = 10.0
DRIFT = "feature_drift_psi"
DRIFT_CACHE_S = 60.0  # a drift plot reads up to 12 windows of vectors

PLOTS: dict[str, tuple[str, str]] = {
    # name -> (query, kind): kind says how the rows (x, series, y) are drawn
    "volume_by_product": ("""
        SELECT toStartOfMinute(decided_at) AS t, product, count() FROM decisions_of_record
        WHERE decided_at > now() - INTERVAL 6 HOUR GROUP BY t, product ORDER BY t""", "line"),
    "approval_rate_by_product": ("""
        SELECT toStartOfMinute(decided_at) AS t, product, countIf(decision = 'APPROVE') / count()
        FROM decisions_of_record WHERE decided_at > now() - INTERVAL 6 HOUR
        GROUP BY t, product ORDER BY t""", "line"),
    "latency_p99_ms": ("""
        SELECT window_start AS t, worker, latency_p99_ms FROM metrics FINAL
        WHERE window_start > now() - INTERVAL 6 HOUR AND latency_p99_ms IS NOT NULL
        ORDER BY t""", "line"),
    "dead_letters": ("""
        SELECT toStartOfMinute(failed_at) AS t, source_topic, count() FROM dead_letters FINAL
        WHERE failed_at > now() - INTERVAL 6 HOUR GROUP BY t, source_topic ORDER BY t""",
                     "line"),
    "review_outcomes": ("""
        SELECT action, 'actions', count() FROM review_actions FINAL GROUP BY action
        ORDER BY action""", "bar"),
    "vintages": ("""
        SELECT month_on_book, toString(cohort), cum_bad_rate_60dpd FROM vintages
        ORDER BY cohort, month_on_book""", "line"),
    "roll_rates": ("""
        SELECT to_bucket, from_bucket, share FROM roll_rates WHERE from_bucket = '0 current'
        ORDER BY to_bucket""", "bar"),
}


class Dashboards:
    def __init__(self, client: Any, clock: Callable[[], float] = time.monotonic,
                 drift_reference: Callable[[], dict[str, Any] | None] | None = None) -> None:
        self.client = client
        self.clock = clock
        self.drift_reference = drift_reference
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return [*PLOTS, DRIFT] if self.drift_reference is not None else list(PLOTS)

    def svg(self, name: str) -> str:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(name)
            if hit and now - hit[0] < (DRIFT_CACHE_S if name == DRIFT else CACHE_S):
                return hit[1]
        try:
            text = self._draw(name)
        except Exception as exc:  # a plot that cannot be drawn says why, the page stays up
            text = render(name, [], "line", note=f"query failed: {str(exc)[:120]}")
        with self._lock:
            self._cache[name] = (now, text)
        return text


    def _draw(self, name: str) -> str:
        if name == DRIFT and self.drift_reference is not None:
            from streams.console.drift_plot import psi_rows

            rows, note = psi_rows(self.client, self.drift_reference(), int(time.time() * 1000))
            return render("feature drift (PSI vs champion training data)", rows, "line",
                          note=note, hlines=(0.10, 0.25))
        sql, kind = PLOTS[name]
        return render(name, self.client.query(sql).result_rows, kind)


def render(title: str, rows: list[Any], kind: str, note: str | None = None,
           hlines: tuple[float, ...] = ()) -> str:
    fig = Figure(figsize=(5.2, 2.8), dpi=100)  # no pyplot: no global state across threads
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title.replace("_", " "), fontsize=10)
    series: dict[str, tuple[list[Any], list[float]]] = {}
    for x, s, y in rows:
        xs, ys = series.setdefault(str(s), ([], []))
        xs.append(x)
        ys.append(float(y) if y is not None else float("nan"))
    if not series:
        ax.text(0.5, 0.5, note or "no data yet", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
    for i, (label, (xs, ys)) in enumerate(sorted(series.items())):
        if kind == "bar":
            width = 0.8 / len(series)
            pos = [j + i * width for j in range(len(xs))]
            ax.bar(pos, ys, width=width, label=label)
            ax.set_xticks(pos, [str(x) for x in xs], rotation=30, fontsize=7)
        else:
            ax.plot(xs, ys, label=label, marker="." if len(xs) < 30 else None)
    if series:
        for y in hlines:  # thresholds, e.g. PSI watch and shift
            ax.axhline(y, color="grey", linestyle=":", linewidth=0.8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()
