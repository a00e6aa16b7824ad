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
