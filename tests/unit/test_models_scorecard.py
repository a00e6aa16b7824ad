"""Scorecard: WOE bins, points direction and the points scale."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from models.data import frame_to_dataset
from models.scorecard import Scale, Scorecard, fit_scorecard
from models.synth import MONOTONE, make_loans


@pytest.fixture(scope="module")
def card():
    ds = frame_to_dataset(make_loans(5000, seed=5), "label_default")
    X = ds.X.to_numpy()
    return fit_scorecard(X, ds.y, ds.feature_names, ds.categories, MONOTONE, Scale(20, 600, 50)), ds


def test_scale_pdo_doubles_odds_and_base_score():
    s = Scale(pdo=20, base_score=600, base_odds=50)
    assert s.points_for_pd(1 / 51) == pytest.approx(600)  # odds 50:1 -> base score
    assert s.points_for_pd(1 / 101) == pytest.approx(620, abs=0.3)  # odds ~100:1 -> +PDO
    assert s.points_for_pd(0.2) > s.points_for_pd(0.3)  # more risk, fewer points
    assert s.pd_for_points(s.points_for_pd(0.123)) == pytest.approx(0.123)


def test_points_rise_with_bureau_score_and_fall_with_dti(card):
    sc, ds = card
    names = ds.feature_names
    base = np.nanmedian(ds.X.to_numpy(), axis=0)

    def total(**over):
        x = base.copy()
        for k, v in over.items():
            x[names.index(k)] = v
        return float(sc.points(x[None, :]).sum())

    bureau = [total(bureau_score=v) for v in (550, 620, 680, 740, 800)]
    assert all(b2 >= b1 for b1, b2 in itertools.pairwise(bureau))
    assert bureau[-1] > bureau[0] + 20
    dti = [total(dti=v) for v in (0.05, 0.2, 0.4, 0.7)]
    assert all(d2 <= d1 for d1, d2 in itertools.pairwise(dti)) and dti[-1] < dti[0]


def test_points_sum_to_score_of_the_logistic_pd(card):
    sc, ds = card
    X = ds.X.to_numpy()[:100]
    pts = sc.points(X).sum(axis=1)
    pd = 1 / (1 + np.exp(-sc.raw(X)))
    expect = [sc.scale.points_for_pd(p) for p in pd]
    np.testing.assert_allclose(pts, expect, atol=1e-6)


def test_monotone_bins_and_missing_bin(card):
    sc, _ = card
    fb = next(b for b in sc.bins if b.name == "bureau_score")
    woe = np.asarray(fb.woe[:-1])
    assert np.all(np.diff(woe) >= -1e-12)  # safer as the score rises
    inc = next(b for b in sc.bins if b.name == "income")
    assert inc.labels[-1] == "missing" and inc.bin_of(np.array([math.nan]))[0] == len(inc.woe) - 1
    back = Scorecard.from_dict(sc.to_dict())
    X = np.array([[700, 0.3, math.nan, 1, 2, 10, 0.0]])
    assert back.raw(X)[0] == pytest.approx(sc.raw(X)[0])


def test_nominal_levels_get_their_own_woe_not_alphabetical_ranges():
    """Levels a and c are risky, b and d safe: contiguous ranges of the alphabetical codes
    could not put a with c; per-level bins follow each level's bad rate (pandas oracle)."""
    import pandas as pd

    from models.binning import bin_categorical

    rng = np.random.default_rng(2)
    lv = rng.choice(["a", "b", "c", "d"], 4000)
    rate = pd.Series({"a": 0.35, "b": 0.05, "c": 0.33, "d": 0.06})
    y = (rng.random(4000) < rate[lv].to_numpy()).astype(float)
    codes = pd.Categorical(lv, categories=["a", "b", "c", "d"]).codes.astype(float)
    fb = bin_categorical("lv", codes, y, ["a", "b", "c", "d"])
    woe = {k: fb.woe[fb.groups[i]] for i, k in enumerate("abcd")}
    bad_rate = pd.Series(y).groupby(lv).mean()
    order_by_woe = sorted("abcd", key=lambda k: woe[k])
    assert order_by_woe[:2] in (["a", "c"], ["c", "a"]) or fb.groups[0] == fb.groups[2]
    assert sorted("abcd", key=lambda k: -bad_rate[k])[:2] == sorted(order_by_woe[:2],
                                                                     key=lambda k: -bad_rate[k])
    assert fb.bin_of(np.array([np.nan, 9.0])).tolist() == [len(fb.woe) - 1, len(fb.woe) - 2]


def test_special_codes_and_missing_get_bins_of_their_own_and_serve_the_same(tmp_path):
    from models.binning import bin_numeric
    from models.serving import ScorecardServing

    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-(x * 1.2 - 1.5)))).astype(float)
    x[:150] = -1.0  # a "never" sentinel, riskier than its neighbours
    y[:150] = (rng.random(150) < 0.6).astype(float)
    x[150:300] = np.nan
    fb = bin_numeric("x", x, y, monotone=1, specials=[-1.0])
    b = fb.bin_of(x)
    assert set(b[:150]) == {len(fb.labels) - 2} and set(b[150:300]) == {len(fb.labels) - 1}
    regular = np.asarray(fb.woe[:-2])
    assert np.all(np.diff(regular) <= 1e-12)  # risk rises with x: WOE (safety) falls
    assert fb.woe[-2] < 0  # the sentinel's bad rate is above average
    X = np.column_stack([x, rng.normal(size=3000)])
    card = fit_scorecard(X, y, ["x", "z"], {}, {"x": 1}, specials=[-1.0], min_iv=0.0)
    manifest = {"version": "v", "feature_names": ["x", "z"], "calibration":
                {"method": "none", "a": 1.0, "b": 0.0, "xs": [], "ys": []}}
    sm = ScorecardServing(manifest, Scorecard.from_dict(card.to_dict()))
    rows = np.vstack([X[:5], X[150:155], X[400:420]])
    np.testing.assert_allclose([sm.score_raw(np.ascontiguousarray(r)) for r in rows],
                               card.raw(rows), atol=1e-9)


def test_bins_written_before_optbinning_score_as_they_did():
    """An old artifact's bins: (a, b] intervals, no specials; 1.0 is in the first bin."""
    from models.scorecard import FeatureBins

    old = {"name": "x", "kind": "numeric", "edges": [1.0, 2.0], "groups": {},
           "woe": [0.5, 0.0, -0.5, 0.1], "labels": ["a", "b", "c", "missing"], "iv": 0.1}
    fb = FeatureBins.from_dict(old)
    assert fb.bin_of(np.array([1.0, 1.5, 2.5, np.nan])).tolist() == [0, 1, 2, 3]
