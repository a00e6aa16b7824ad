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
