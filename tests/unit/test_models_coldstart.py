"""Cold start: the bureau prior decides without labels, on the same contract as a model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.coldstart import BUREAU_SCALE, BureauPrior, ready_to_train
from models.metrics import auc
from models.synth import make_loans


def test_bureau_prior_maps_score_to_pd_through_the_scale():
    m = BureauPrior(["income", "bureau_score"], reason_map={"bureau_score": ("R01", "Low score")})
    at_base = np.array([50_000.0, BUREAU_SCALE.base_score])
    assert m.score(at_base) == pytest.approx(1 / (1 + BUREAU_SCALE.base_odds))
    worse = np.array([50_000.0, BUREAU_SCALE.base_score - BUREAU_SCALE.pdo])
    odds = m.score(worse) / (1 - m.score(worse))
    assert odds == pytest.approx(2 / BUREAU_SCALE.base_odds)  # PDO points fewer: odds double
    assert m.scorecard_points(worse) == pytest.approx(BUREAU_SCALE.base_score - BUREAU_SCALE.pdo)
    assert m.score(np.array([1.0, math.nan])) == pytest.approx(0.15)
    assert m.reasons(worse)[0].code == "R01"
    assert m.reasons(np.array([1.0, 800.0])) == []
    X = np.array([at_base, worse])
    np.testing.assert_allclose(m.score_batch(X), [m.score(at_base), m.score(worse)])


def test_bureau_prior_ranks_risk_and_readiness_rule():
    df = make_loans(4000, seed=9)
    m = BureauPrior(["bureau_score"])
    p = m.score_batch(df[["bureau_score"]].to_numpy())
    assert auc(df.label_default.to_numpy(), p) > 0.7
    assert ready_to_train(2000, 400)[0] is False
    assert ready_to_train(5000, 100)[0] is False
    assert ready_to_train(5000, 400)[0] is True
