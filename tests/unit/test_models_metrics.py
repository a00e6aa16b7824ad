"""Metrics checked against brute-force recomputation."""

from __future__ import annotations

import numpy as np

from models import metrics as m


def _yp(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    y = (rng.random(n) < p).astype(int)
    return y, p


def test_ks_auc_and_recall_at_fpr_match_brute_force():
    y, p = _yp()
    best = max(abs(np.mean(p[y == 1] >= t) - np.mean(p[y == 0] >= t)) for t in np.unique(p))
    k, at, _ = m.ks(y, p)
    assert abs(k - best) < 1e-12 and 0 < at < 1
    pairs = np.mean(p[y == 1][:, None] > p[y == 0][None, :])
    assert abs(m.auc(y, p) - pairs) < 1e-9
    goods = np.sort(p[y == 0])[::-1]
    thr = goods[int(0.05 * len(goods))]  # flags at most 5 % of goods
    assert abs(m.recall_at_fpr(y, p, 0.05) - np.mean(p[y == 1] > thr)) < 0.01


def test_band_table_and_psi():
    y, p = _yp()
    rows = m.band_table(y, p, n_bands=5, loss_per_bad=1.0, revenue_per_good=0.2)
    assert sum(r["count"] for r in rows) == len(y) and rows[-1]["cum_approval_rate"] == 1.0
    assert rows[0]["bad_rate"] < rows[-1]["bad_rate"]
    assert rows[0]["profit"] > 0 > rows[-1]["profit"]  # safe band earns, riskiest loses
    assert abs(rows[-1]["cum_profit"] - sum(r["profit"] for r in rows)) < 1e-9
    assert m.psi(p, p) < 1e-9
    assert m.psi(p, p**0.3) > 0.25  # a shifted population is flagged
    s = m.summary(y, p, 0.5)
    assert abs(s["gini"] - (2 * s["auc"] - 1)) < 1e-12 and 0 <= s["f1"] <= 1


def test_by_month_tracks_performance_over_time() -> None:
    """The evaluation's `by_month` table: a model that decays shows it month by month."""
    from models.evaluate import by_month, evaluate_predictions

    rng = np.random.default_rng(1)
    jan, feb, mar = 1_704_067_200_000, 1_706_745_600_000, 1_709_251_200_000  # 2024-01/02/03
    n = 2000
    y = rng.random(3 * n) < 0.1
    signal = np.where(y, 1.0, 0.0)
    p = np.concatenate([
        1 / (1 + np.exp(-(-2.5 + 2.0 * signal[:n] + rng.normal(0, 0.5, n)))),  # sharp
        1 / (1 + np.exp(-(-2.5 + 0.3 * signal[n:2 * n] + rng.normal(0, 0.5, n)))),  # decayed
        np.full(n, 0.1),
    ])
    y[2 * n:] = False  # March: no bads yet (labels not matured)
    t = np.repeat([jan, feb, mar], n) + rng.integers(0, 86_400_000, 3 * n)
    rows = by_month(y.astype(int), p, t)
    assert [r["month"] for r in rows] == ["2024-01", "2024-02", "2024-03"]
    assert rows[0]["auc"] > 0.9 > 0.7 > rows[1]["auc"]
    assert rows[2]["auc"] is None and rows[2]["ks"] is None and rows[2]["bad_rate"] == 0
    assert sum(r["rows"] for r in rows) == 3 * n
    ev = evaluate_predictions(y.astype(int), p, cutoff=0.2, time_ms=t)
    assert ev["by_month"] == rows
