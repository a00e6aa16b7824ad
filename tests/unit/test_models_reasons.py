"""Reason codes on crafted inputs: the feature that drives the risk is named first."""

from __future__ import annotations

import itertools

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.data import frame_to_dataset
from models.reasons import default_reason, to_reasons, top_positive
from models.scorecard import fit_scorecard
from models.serving import LightGBMServing, ScorecardServing

NAMES = ["late_payments", "utilisation", "tenure_years", "noise"]
REASONS = {
    "late_payments": ("R10", "Recent late payments"),
    "utilisation": ("R11", "High credit utilisation"),
    "tenure_years": ("R12", "Short credit history"),
}


def _frame(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "late_payments": rng.poisson(0.5, n).astype(float),
            "utilisation": rng.uniform(0, 1, n),
            "tenure_years": rng.uniform(0, 20, n),
            "noise": rng.normal(size=n),
        }
    )
    z = -2.5 + 1.2 * df.late_payments + 2.0 * df.utilisation - 0.1 * df.tenure_years
    df["bad"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return df


def _manifest(kind):
    return {
        "version": f"{kind}-t",
        "kind": kind,
        "feature_names": NAMES,
        "calibration": {"method": "none", "a": 1, "b": 0, "xs": [], "ys": []},
        "reasons": {k: list(v) for k, v in REASONS.items()},
    }


def test_lightgbm_reasons_name_the_crafted_driver():
    df = _frame()
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1},
        lgb.Dataset(df[NAMES].to_numpy(), df.bad, feature_name=NAMES),
        num_boost_round=80,
    )
    sm = LightGBMServing(_manifest("lightgbm"), booster)
    late = np.array([6.0, 0.1, 15.0, 0.0])  # many late payments, otherwise clean
    util = np.array([0.0, 0.99, 15.0, 0.0])  # maxed-out utilisation only
    assert sm.reasons(late)[0].code == "R10"
    assert sm.reasons(util)[0].code == "R11"
    r = sm.reasons(np.array([6.0, 0.99, 0.5, 0.0]), k=4)
    assert {x.code for x in r[:3]} == {"R10", "R11", "R12"} and len(r) <= 4
    assert all(a.contribution >= b.contribution for a, b in itertools.pairwise(r))
    contrib = sm.contributions(late)
    assert abs(contrib.sum() - sm.score_raw(late)) < 1e-9  # SHAP values add up to the score
    safe = sm.explain(np.array([0.0, 0.0, 20.0, 0.0]))
    assert all(c > 0 for _, c in safe)  # only risk-raising features are reasons


def test_scorecard_reasons_are_points_lost():
    df = _frame(seed=1)
    ds = frame_to_dataset(df, "bad")
    card = fit_scorecard(ds.X.to_numpy(), ds.y, NAMES)
    sm = ScorecardServing(_manifest("scorecard"), card)
    late = np.array([6.0, 0.1, 15.0, 0.0])
    top = sm.reasons(late)
    assert top[0].code == "R10" and top[0].contribution > 0
    best = np.array([0.0, 0.0, 20.0, 0.0])
    worst = np.array([6.0, 0.99, 0.5, 0.0])
    assert sm.scorecard_points(best) > sm.scorecard_points(worst)
    assert sm.score(worst) > sm.score(best)


def test_to_reasons_maps_defaults_and_dedupes_codes():
    pairs = top_positive(["a", "b", "c", "d", "e"], [0.5, -1.0, 0.7, 0.7, 0.1], k=4)
    assert [p[0] for p in pairs] == ["c", "d", "a", "e"]
    out = to_reasons(pairs, {"c": ("X1", "shared"), "d": ("X1", "shared")})
    assert [r.code for r in out] == ["X1", default_reason("a")[0], default_reason("e")[0]]


def test_features_sharing_a_text_give_one_reason() -> None:
    from models.reasons import to_reasons

    reason_map = {"key_mean": ("F-KEY-MEAN", "Form completed in an unusual way"),
                  "key_var": ("F-KEY-VAR", "Form completed in an unusual way"),
                  "dti": ("F-DTI", "Debt too high")}
    out = to_reasons([("key_mean", 0.9), ("key_var", 0.8), ("dti", 0.5)], reason_map)
    assert [r.code for r in out] == ["F-KEY-MEAN", "F-DTI"]
