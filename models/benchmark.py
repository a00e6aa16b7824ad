"""Candidates side by side: AUC, KS and log loss with paired bootstrap confidence intervals.

Every candidate is scored on the same evaluation rows and the same bootstrap resamples,
so the interval of a difference (the shipped model's lift over the logistic regression,
its gap to the best candidate) is the interval of the paired differences, much narrower
than two separate intervals would suggest. Percentile intervals, 95 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.calibration import log_loss

N_BOOT = 200
LEVEL = 0.95
BENCHMARK = "logistic"


def fast_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties (equal to sklearn's roc_auc_score)."""
    from scipy.stats import rankdata

    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def fast_ks(y: np.ndarray, p: np.ndarray) -> float:
    """max |TPR - FPR| over the distinct thresholds (equal to `models.metrics.ks`)."""
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    n1 = ys.sum()
    n0 = len(ys) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    last = np.append(ps[1:] != ps[:-1], True)  # end of each group of tied scores
    tpr = np.cumsum(ys)[last] / n1
    fpr = np.cumsum(1 - ys)[last] / n0
    return float(np.max(tpr - fpr))


def _figures(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.array([fast_auc(y, p), fast_ks(y, p), log_loss(y, p)])


def compare(y: np.ndarray, preds: Mapping[str, np.ndarray], shipped: str | None = None,
            n_boot: int = N_BOOT, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per candidate: auc, ks, log_loss with ``*_lo``/``*_hi`` bounds; with a logistic
    benchmark among them, ``auc_lift`` over it (and its bounds); with ``shipped``, its
    ``auc_gap_to_best`` (best candidate's AUC minus the shipped one's, on each resample)."""
    y = np.asarray(y)
    names = list(preds)
    point = {k: _figures(y, preds[k]) for k in names}
    draws = resamples(y, n_boot, seed)
    boot = {k: np.array([_figures(y[idx], preds[k][idx]) for idx in draws]).reshape(-1, 3)
            for k in names}
    lo_q, hi_q = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2
    out: dict[str, dict[str, Any]] = {}
    for k in names:
        row: dict[str, Any] = {}
        for j, metric in enumerate(("auc", "ks", "log_loss")):
            row[metric] = float(point[k][j])
            row[f"{metric}_lo"], row[f"{metric}_hi"] = _interval(boot[k][:, j], lo_q, hi_q)
        if BENCHMARK in boot and k != BENCHMARK:
            diff = boot[k][:, 0] - boot[BENCHMARK][:, 0]
            row["auc_lift"] = float(point[k][0] - point[BENCHMARK][0])
            row["auc_lift_lo"], row["auc_lift_hi"] = _interval(diff, lo_q, hi_q)
        out[k] = row
    if shipped is not None and shipped in boot:
        best = max(names, key=lambda k: point[k][0])
        gap = boot[best][:, 0] - boot[shipped][:, 0]
        out[shipped]["best_on_test"] = best
        out[shipped]["auc_gap_to_best"] = float(point[best][0] - point[shipped][0])
        out[shipped]["auc_gap_to_best_lo"], out[shipped]["auc_gap_to_best_hi"] = _interval(
            gap, lo_q, hi_q)
    return out


def resamples(y: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> list[np.ndarray]:
    """``n_boot`` bootstrap row indices of ``y``, each holding both classes (a resample with
    one class only is drawn again, at most ``3 * n_boot`` draws in all)."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for _ in range(n_boot * 3):
        if len(out) == n_boot:
            break
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            out.append(idx)
    return out


@dataclass(frozen=True)
class Gap:
    """How far a candidate's AUC is behind a reference's on the same rows: the point gap
    and the 95 % interval of the paired bootstrap differences."""

    gap: float
    lo: float
    hi: float


def paired_auc_gaps(y: np.ndarray, scores: Mapping[str, np.ndarray], reference: str,
                    n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Gap]:
    """AUC(reference) - AUC(k) for every candidate ``k``, each with the interval of its
    differences on the same resamples (0 for the reference itself)."""
    y = np.asarray(y)
    draws = resamples(y, n_boot, seed)
    lo_q, hi_q = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2
    ref_boot = np.array([fast_auc(y[i], scores[reference][i]) for i in draws])
    ref = fast_auc(y, scores[reference])
    out: dict[str, Gap] = {}
    for k, s in scores.items():
        diff = ref_boot - np.array([fast_auc(y[i], s[i]) for i in draws])
        out[k] = Gap(ref - fast_auc(y, s), *_interval(diff, lo_q, hi_q))
    return out


def _interval(v: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan")
    return float(np.quantile(v, lo)), float(np.quantile(v, hi))


def tree_shape(booster: Any) -> dict[str, int]:
    """Trees, total leaves and the deepest leaf of a LightGBM model (TreeSHAP's cost grows
    with leaves x depth per tree)."""
    info = booster.dump_model()["tree_info"]

    def depth(node: Mapping[str, Any]) -> int:
        if "leaf_index" in node or "split_index" not in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    return {"trees": len(info), "leaves": int(sum(t["num_leaves"] for t in info)),
            "max_depth": max((depth(t["tree_structure"]) for t in info), default=0)}


def treeshap_cost(booster: Any, X: np.ndarray, rows: int = 200) -> dict[str, float]:
    """Median microseconds of one row's TreeSHAP contributions through the C API fast path
    (what a reason code costs in the stream), with the model's shape. A timing on shared
    cores: read it with the shape beside it."""
    import time

    from models.fastlgb import C_API_PREDICT_CONTRIB, FastPredictor

    fp = FastPredictor(booster, C_API_PREDICT_CONTRIB)
    sample = np.ascontiguousarray(X[:rows], dtype=np.float64)
    times = []
    for x in sample:
        t0 = time.perf_counter()
        fp.predict_vector(x)
        times.append(time.perf_counter() - t0)
    return {**tree_shape(booster), "treeshap_us_p50": float(np.median(times) * 1e6)}
