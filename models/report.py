"""A self-contained HTML report: matplotlib figures as base64 PNG, tables as HTML.

One file an analyst can mail or attach to a model-approval ticket; no external assets.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def fig_to_img(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'


def _plots(y: np.ndarray, p: np.ndarray, ev: Mapping[str, Any]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from models.metrics import roc_points

    out = []
    fpr, tpr, _ = roc_points(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot(fpr, tpr, label=f"AUC {ev['metrics']['auc']:.3f}")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    out.append(("ROC curve", fig_to_img(fig)))

    order = np.argsort(-p, kind="stable")
    ys = y[order]
    share = np.arange(1, len(y) + 1) / len(y)
    cb = np.cumsum(ys) / max(ys.sum(), 1)
    cg = np.cumsum(1 - ys) / max((1 - ys).sum(), 1)
    i = int(np.argmax(cb - cg))
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot(share, cb, label="bads")
    ax.plot(share, cg, label="goods")
    ax.vlines(share[i], cg[i], cb[i], colors="r", label=f"KS {cb[i] - cg[i]:.3f}")
    ax.set(xlabel="population share (riskiest first)", ylabel="cumulative share", title="KS")
    ax.legend()
    out.append(("KS curve", fig_to_img(fig)))

    cc = ev["calibration_curve"]
    fig, ax = plt.subplots(figsize=(4.5, 4))
    hi = max(max(cc["mean_pd"]), max(cc["bad_rate"]), 1e-3)
    ax.plot([0, hi], [0, hi], "k:", lw=0.8)
    ax.plot(cc["mean_pd"], cc["bad_rate"], "o-")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title="Reliability")
    out.append(("Calibration (reliability)", fig_to_img(fig)))

    fig, ax = plt.subplots(figsize=(4.5, 4))
    bins = np.linspace(0, float(np.quantile(p, 0.995)) or 1.0, 40).tolist()
    ax.hist(p[y == 0], bins=bins, alpha=0.6, density=True, label="goods")
    ax.hist(p[y == 1], bins=bins, alpha=0.6, density=True, label="bads")
    ax.set(xlabel="predicted probability", ylabel="density", title="Score distribution")
    ax.legend()
    out.append(("Score distribution", fig_to_img(fig)))

    imp = ev.get("importance") or {}
    if imp:
        key = importance_key(imp)
        top = sorted(imp.items(), key=lambda kv: -kv[1][key])[:20][::-1]
        fig, ax = plt.subplots(figsize=(5.5, 0.25 * len(top) + 1))
        ax.barh([k for k, _ in top], [v[key] for _, v in top])
        ax.set(title=f"Feature importance ({key})")
        out.append(("Feature importance", fig_to_img(fig)))
    return out


def importance_key(imp: Mapping[str, Mapping[str, float]]) -> str:
    """The figure importance is ranked by: mean |SHAP|, points spread or contribution."""
    first = next(iter(imp.values()), {})
    return next((k for k in ("shap", "points_spread", "contribution") if k in first), "shap")


STYLE = """<style>body{font-family:sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;
font-size:13px;text-align:right}tr.loss td,tr.shift td{background:#fdd}
tr.watch td{background:#ffe9b3}.fig{display:inline-block;vertical-align:top;margin:4px}
</style>"""


def page(title: str, body: str) -> str:
    """A complete self-contained HTML page around ``body``."""
    t = html.escape(title)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{t}</title>{STYLE}'
            f"</head><body><h1>{t}</h1>{body}</body></html>")


def html_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])

    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cls = ' class="loss"' if r.get("profit", 0) < 0 else (
            f' class="{r["status"]}"' if r.get("status") in ("watch", "shift") else "")
        body.append(f"<tr{cls}>" + "".join(f"<td>{fmt(r[c])}</td>" for c in cols) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def by_month_section(ev: Mapping[str, Any]) -> str:
    rows = ev.get("by_month")
    if not rows:
        return ""
    shown = [{k: ("" if v is None else v) for k, v in r.items()} for r in rows]
    return ("<h2>By month of application</h2><p>A model that holds up keeps its AUC and "
            "KS, and its mean prediction tracks the bad rate.</p>" + html_table(shown))


def _ci(row: Mapping[str, Any], key: str, digits: int = 3) -> str:
    v = row.get(key)
    if v is None:
        return ""
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if lo is None or hi is None:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def candidate_rows(cand: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per candidate: validation AUC, evaluation figures with CIs, fit time."""
    rows = []
    for k, v in cand.items():
        rows.append({
            "model": k, "valid AUC": v.get("valid_auc", float("nan")),
            "AUC": _ci(v, "auc"), "KS": _ci(v, "ks"), "log loss": _ci(v, "log_loss", 4),
            "lift over LR": _ci(v, "auc_lift"),
            "fit s": v.get("fit_seconds", float("nan")),
            "fit CPU s": v.get("fit_cpu_seconds", float("nan")),
        })
    return rows


def selection_text(manifest: Mapping[str, Any]) -> str:
    sel = manifest.get("selection") or {}
    if not sel:
        return ""
    out = f"Shipped: <b>{html.escape(str(sel.get('shipped')))}</b> ({html.escape(sel['rule'])})."
    if "auc_lift" in sel:
        out += (f" Lift over the logistic regression: {sel['auc_lift']:+.4f} AUC "
                f"[{sel['auc_lift_lo']:+.4f}, {sel['auc_lift_hi']:+.4f}].")
    if "auc_gap_to_best" in sel and sel.get("best_on_test") != sel.get("shipped"):
        out += (f" Behind the best on these rows ({html.escape(str(sel['best_on_test']))}) by "
                f"{sel['auc_gap_to_best']:.4f} [{sel['auc_gap_to_best_lo']:+.4f}, "
                f"{sel['auc_gap_to_best_hi']:+.4f}].")
    return out


def treeshap_text(ev: Mapping[str, Any]) -> str:
    c = ev.get("treeshap_cost")
    if not c:
        return ""
    return (f"<p>TreeSHAP cost of the shipped model (reason codes, paid on every decline and "
            f"review): {c['treeshap_us_p50']:.0f} µs per row (median, C API), "
            f"{c['trees']} trees, {c['leaves']} leaves, depth up to {c['max_depth']}.</p>")


def render(
    title: str,
    manifest: Mapping[str, Any],
    ev: Mapping[str, Any],
    y: np.ndarray,
    p: np.ndarray,
) -> str:
    """The HTML text of one report."""
    metric_rows = [{"metric": k, "value": v} for k, v in ev["metrics"].items()]
    extra = []
    if "uncalibrated" in ev:
        u = ev["uncalibrated"]
        extra.append(
            f"<p>Calibration ({html.escape(str(manifest.get('calibration', {}).get('method')))})"
            f": log loss {u['log_loss']:.4f} uncalibrated -> {ev['metrics']['log_loss']:.4f};"
            f" Brier {u['brier']:.4f} -> {ev['metrics']['brier']:.4f}.</p>"
        )
    if "oracle" in ev:
        o = ev["oracle"]
        extra.append(
            f"<p><b>Oracle</b> (simulator's true probability) AUC {o['auc']:.4f} on the same rows;"
            f" model AUC {o['model_auc']:.4f}; share of achievable lift "
            f"(AUC-0.5)/(oracle AUC-0.5) = <b>{o['share']:.3f}</b>.</p>"
        )
    if "psi" in ev:
        extra.append(f"<p>PSI of scores, training period vs evaluation rows: {ev['psi']:.4f}</p>")
    cand_rows = candidate_rows(manifest.get("candidates", {}))
    a = ev.get("assumptions", {})
    info = {
        k: manifest.get(k)
        for k in (
            "version",
            "name",
            "target",
            "kind",
            "feature_spec_version",
            "training_window",
            "data_fingerprint",
            "rows",
            "code_version",
            "created_at",
        )
    }
    info_rows = [{"field": k, "value": v} for k, v in info.items()]
    plots = "".join(f"<div class='fig'><h3>{t}</h3>{img}</div>" for t, img in _plots(y, p, ev))
    imp = ev.get("importance") or {}
    key = importance_key(imp)
    imp_rows = sorted(({"feature": k, **v} for k, v in imp.items()), key=lambda r: -r.get(key, 0))
    return page(title, f"""
<h2>Model</h2>{html_table(info_rows)}
<h2>Validation design</h2><p>{html.escape(str(manifest.get("validation", "")))}</p>
<h2>Candidates</h2><p>Fitted on the same split; figures on the evaluation rows with 95 %
paired-bootstrap intervals; lift = AUC minus the logistic regression's. {selection_text(manifest)}
</p>{html_table(cand_rows)}{treeshap_text(ev)}
<h2>Metrics</h2>{html_table(metric_rows)}{"".join(extra)}
<h2>Plots</h2>{plots}
{by_month_section(ev)}
<h2>Score bands</h2><p>Lowest risk first. Profit = goods x {a.get("revenue_per_good")} - bads x
{a.get("loss_per_bad")} per loan; red bands lose money.</p>{html_table(ev["bands"])}
<h2>Feature importance</h2>{html_table(imp_rows)}
""")
