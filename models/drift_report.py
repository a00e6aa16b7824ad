"""The drift report as one HTML page: PSI per feature against the thresholds, and the
reference-vs-current bin shares of the features that moved most."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from models.drift import SHIFT_AT, WATCH_AT, Drift
from models.report import fig_to_img, html_table, page

SHOWN_IN_DETAIL = 6


def _psi_chart(rows: Sequence[Drift]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = list(rows[:25])[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(top) + 1.2))
    colours = ["#c0392b" if d.status == "shift" else "#e6a700" if d.status == "watch"
               else "#4a7ebb" for d in top]
    ax.barh([d.name for d in top], [d.psi for d in top], color=colours)
    ax.axvline(WATCH_AT, color="#e6a700", ls="--", lw=1, label=f"watch {WATCH_AT}")
    ax.axvline(SHIFT_AT, color="#c0392b", ls="--", lw=1, label=f"shift {SHIFT_AT}")
    ax.set_xlabel("PSI (current window vs reference)")
    ax.legend(loc="lower right")
    ax.tick_params(axis="y", labelsize=8)
    return fig_to_img(fig)


def _bins_chart(d: Drift) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    edges = d.edges  # bin i holds edges[i-1] <= v < edges[i]
    labels = [f"<{e:.3g}" for e in edges] + ([f"≥{edges[-1]:.3g}"] if edges else ["all"])
    labels.append("missing")
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    ax.bar(x - 0.2, d.reference_shares, 0.4, label="reference", color="#9db4d6")
    ax.bar(x + 0.2, d.current_shares, 0.4, label="current", color="#c0392b")
    ax.set_xticks(x, labels, rotation=60, fontsize=7)
    ax.set_ylabel("share of applications")
    ax.set_title(f"{d.name}  PSI {d.psi:.3f} ({d.status})", fontsize=9)
    ax.legend(fontsize=7)
    return fig_to_img(fig)


def _row(d: Drift) -> dict[str, Any]:
    def pct(v: float) -> str:
        return f"{100 * v:.1f}%"

    return {"feature": d.name, "psi": round(d.psi, 4), "status": d.status,
            "reference mean": d.reference_mean if d.reference_mean is not None else "",
            "current mean": d.current_mean if d.current_mean is not None else "",
            "reference missing": pct(d.reference_missing),
            "current missing": pct(d.current_missing)}


def render_drift(title: str, context: Mapping[str, Any], features: Sequence[Drift],
                 scores: Sequence[Drift]) -> str:
    """``context``: what was compared (windows, model, row counts), shown as a table."""
    info = html_table([{"field": k, "value": v} for k, v in context.items()])
    score_rows = html_table([_row(d) for d in scores]) if scores else "<p>No scored decisions.</p>"
    detail = "".join(f"<div class='fig'>{_bins_chart(d)}</div>"
                     for d in features[:SHOWN_IN_DETAIL])
    return page(title, f"""
<h2>What was compared</h2>{info}
<p>PSI below {WATCH_AT} is read as stable, {WATCH_AT}-{SHIFT_AT} as worth watching, above
{SHIFT_AT} as a shift to investigate before trusting the model's scores. Missing values are
a bin of their own.</p>
<h2>Scores</h2>{score_rows}
<h2>Features</h2><div class='fig'>{_psi_chart(features) if features else ""}</div>
<h2>Largest shifts, bin by bin</h2>{detail}
<h2>All features</h2>{html_table([_row(d) for d in features])}
<p>{html.escape(str(len(features)))} features compared.</p>
""")
