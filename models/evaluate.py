"""Evaluation of a model's predictions: everything the report and metrics.json show.

Used at the end of training and by ``loanrisk evaluate`` on new data, so a model is
judged the same way whenever and wherever it is judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models import metrics as m


def psi_reference(p_train: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Decile edges and shares of training-period scores, stored for later PSI checks."""
    edges = m.decile_edges(p_train, bins)
    return {"edges": edges.tolist(), "shares": m.binned_shares(p_train, edges)[:-1].tolist()}


def psi_against(ref: Mapping[str, Sequence[float]], p: np.ndarray) -> float:
    """PSI of scores ``p`` against a stored `psi_reference`."""
    a = m.binned_shares(p, np.asarray(ref["edges"]))[:-1]  # scores are never missing
    return m.psi_from_shares(np.asarray(ref["shares"]), a)


def evaluate_predictions(
    y: np.ndarray,
    p: np.ndarray,
    *,
    cutoff: float,
    psi_ref: Mapping[str, Sequence[float]] | None = None,
    raw: np.ndarray | None = None,
    oracle: np.ndarray | None = None,
    importance: Mapping[str, Mapping[str, float]] | None = None,
    loss_per_bad: float = 1.0,
    revenue_per_good: float = 0.15,
    fprs: Sequence[float] = (0.01, 0.05),
    time_ms: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics, tables and curves (as JSON-able data) for predictions ``p`` of outcomes ``y``.

    ``time_ms`` (application times) adds ``by_month``: is the model holding up over time?"""
    out: dict[str, Any] = {"metrics": m.summary(y, p, cutoff, fprs)}
    if raw is not None:
        out["uncalibrated"] = {
            "log_loss": m.log_loss(y, raw),
            "brier": float(np.mean((raw - y) ** 2)),
            "auc": m.auc(y, raw),
        }
    if oracle is not None:
        oa = m.auc(y, oracle)
        out["oracle"] = {
            "auc": oa,
            "model_auc": out["metrics"]["auc"],
            "share": m.oracle_share(out["metrics"]["auc"], oa),
        }
    if psi_ref is not None:
        out["psi"] = psi_against(psi_ref, p)
    out["bands"] = m.band_table(y, p, loss_per_bad=loss_per_bad, revenue_per_good=revenue_per_good)
    out["assumptions"] = {"loss_per_bad": loss_per_bad, "revenue_per_good": revenue_per_good}
    xs, ys, ns = m.calibration_curve(y, p)
    out["calibration_curve"] = {"mean_pd": xs, "bad_rate": ys, "count": ns}
    if importance is not None:
        out["importance"] = {k: dict(v) for k, v in importance.items()}
    if time_ms is not None:
        out["by_month"] = by_month(y, p, time_ms)
    return out


def by_month(y: np.ndarray, p: np.ndarray, time_ms: np.ndarray) -> list[dict[str, Any]]:
    """Per calendar month of application: rows, bad rate, mean prediction (calibration in
    the large), AUC and KS where the month has both goods and bads."""
    months = np.asarray(time_ms, dtype="int64").astype("datetime64[ms]").astype("datetime64[M]")
    rows = []
    for month in np.unique(months):
        sel = months == month
        ys, ps = y[sel], p[sel]
        both = 0 < ys.sum() < len(ys)
        rows.append({
            "month": str(month), "rows": int(sel.sum()), "bad_rate": float(ys.mean()),
            "mean_prediction": float(ps.mean()),
            "auc": m.auc(ys, ps) if both else None,
            "ks": m.ks(ys, ps)[0] if both else None,
        })
    return rows


def fitted_importance(kind: str, model: Any, X_sample: np.ndarray) -> dict[str, dict[str, float]]:
    """Gain + mean |SHAP| for LightGBM; IV + mean |points deviation| for a scorecard; mean
    |log-odds contribution| (on at most 300 rows) for the logistic regression and the MLP;
    nothing for an ensemble (its members' own figures are in their candidates' rows)."""
    if kind == "lightgbm":
        from models.gbm import importance

        return importance(model, X_sample)
    if kind == "ensemble":
        return {}
    if kind in ("logistic", "mlp"):
        contrib = np.array([model.contributions(x) for x in X_sample[:300]])
        mean_abs = np.abs(contrib).mean(axis=0) if len(contrib) else np.zeros(len(X_sample[0]))
        return {n: {"contribution": float(v)} for n, v in zip(model.encoding.names, mean_abs,
                                                              strict=True)}
    pts = model.points(X_sample)
    spread = np.abs(pts - pts.mean(axis=0)).mean(axis=0)
    return {
        fb.name: {"iv": fb.iv, "points_spread": float(s), "coef": float(c)}
        for fb, s, c in zip(model.bins, spread, model.coef, strict=True)
    }
