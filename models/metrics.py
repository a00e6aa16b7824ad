"""Evaluation metrics and tables: discrimination, calibration, bands, stability.

Pure numpy/sklearn over (y, p) arrays so any model, any data, can be judged the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.calibration import log_loss


def roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, p)
    return fpr, tpr, thr


def auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def ks(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    """KS statistic, the score where it occurs, and the share of rows scoring above it."""
    fpr, tpr, thr = roc_points(y, p)
    i = int(np.argmax(tpr - fpr))
    at = float(thr[i]) if np.isfinite(thr[i]) else 1.0
    return float(tpr[i] - fpr[i]), at, float(np.mean(p >= at))


def best_f1_cutoff(y: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold maximising F1 (the default cutoff, chosen on validation)."""
    from sklearn.metrics import precision_recall_curve

    prec, rec, thr = precision_recall_curve(y, p)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
    return float(thr[int(np.argmax(f1[:-1]))]) if len(thr) else 0.5


def recall_at_fpr(y: np.ndarray, p: np.ndarray, fpr_target: float) -> float:
    """Share of bads caught while flagging at most ``fpr_target`` of goods."""
    fpr, tpr, _ = roc_points(y, p)
    ok = fpr <= fpr_target
    return float(tpr[ok].max()) if ok.any() else 0.0


def classification(y: np.ndarray, p: np.ndarray, cutoff: float) -> dict[str, float]:
    pred = p >= cutoff
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "cutoff": cutoff,
        "accuracy": float(np.mean(pred == (y == 1))),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "flag_rate": float(np.mean(pred)),
    }


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` against deciles of ``expected``."""
    edges = decile_edges(expected, bins)
    return psi_from_shares(binned_shares(expected, edges), binned_shares(actual, edges))


def decile_edges(values: np.ndarray, bins: int = 10) -> np.ndarray:
    """Distinct inner quantile cut points of the present (non-NaN) values."""
    v = np.asarray(values, dtype=np.float64)
    present = v[~np.isnan(v)]
    if not len(present):
        return np.zeros(0)
    return np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))


def binned_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of ``values`` in the bins cut at ``edges`` (bin i: edges[i-1] <= v < edges[i]),
    plus a last bin for NaN: the one binning behind every PSI in the project."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"),
                         minlength=len(edges) + 1)
    out = np.append(counts, missing.sum()).astype(np.float64)
    return out / max(len(values), 1)


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI = sum((a - e) * ln(a / e)) over bins; empty bins floored at 1e-6."""
    e, a = np.maximum(expected, 1e-6), np.maximum(actual, 1e-6)
    return float(np.sum((a - e) * np.log(a / e)))


def summary(
    y: np.ndarray, p: np.ndarray, cutoff: float, fprs: Sequence[float] = (0.01, 0.05)
) -> dict[str, Any]:
    """The headline metrics of one set of predictions."""
    a = auc(y, p)
    k, k_at, k_share = ks(y, p)
    out: dict[str, Any] = {
        "rows": len(y),
        "bad_rate": float(np.mean(y)),
        "auc": a,
        "gini": 2 * a - 1,
        "ks": k,
        "ks_score": k_at,
        "ks_population_above": k_share,
        "log_loss": log_loss(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "mean_prediction": float(np.mean(p)),
    }
    out.update(classification(y, p, cutoff))
    for f in fprs:
        out[f"recall_at_fpr_{f:g}"] = recall_at_fpr(y, p, f)
    return out


def band_table(
    y: np.ndarray,
    p: np.ndarray,
    n_bands: int = 10,
    loss_per_bad: float = 1.0,
    revenue_per_good: float = 0.15,
    exposure: np.ndarray | None = None,
) -> list[dict[str, float]]:
    """Score bands from lowest to highest risk, as a lender approving bands in order sees them.

    Per band: count, PD range, bad rate, cumulative approval rate, expected loss
    (sum of PD x loss), realised profit (goods x revenue - bads x loss), and the
    cumulative profit if every band up to this one is approved. Loss and revenue
    are per unit of ``exposure`` (1 per loan when not given).
    """
    w = np.ones_like(p) if exposure is None else exposure
    order = np.argsort(p, kind="stable")
    chunks = np.array_split(order, n_bands)
    rows: list[dict[str, float]] = []
    cum_n, cum_profit = 0, 0.0
    for i, idx in enumerate(chunks):
        if len(idx) == 0:
            continue
        yb, pb, wb = y[idx], p[idx], w[idx]
        profit = float(np.sum(wb * np.where(yb == 1, -loss_per_bad, revenue_per_good)))
        cum_n += len(idx)
        cum_profit += profit
        rows.append(
            {
                "band": i + 1,
                "pd_min": float(pb.min()),
                "pd_max": float(pb.max()),
                "count": len(idx),
                "bads": int(yb.sum()),
                "bad_rate": float(yb.mean()),
                "mean_pd": float(pb.mean()),
                "cum_approval_rate": cum_n / len(y),
                "expected_loss": float(np.sum(wb * pb * loss_per_bad)),
                "expected_profit": float(
                    np.sum(wb * ((1 - pb) * revenue_per_good - pb * loss_per_bad))
                ),
                "profit": profit,
                "cum_profit": cum_profit,
            }
        )
    return rows


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[list, list, list]:
    """Mean predicted vs observed rate per quantile bin (reliability plot)."""
    order = np.argsort(p, kind="stable")
    xs, ys, ns = [], [], []
    for idx in np.array_split(order, bins):
        if len(idx):
            xs.append(float(p[idx].mean()))
            ys.append(float(y[idx].mean()))
            ns.append(len(idx))
    return xs, ys, ns


def oracle_share(model_auc: float, oracle_auc: float) -> float:
    """Model's share of the achievable lift: (AUC - 0.5) / (oracle AUC - 0.5)."""
    return (model_auc - 0.5) / (oracle_auc - 0.5) if oracle_auc > 0.5 else float("nan")
