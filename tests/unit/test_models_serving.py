"""Fast single-row scoring equals LightGBM's own Booster.predict; artifacts load or fail clearly."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest

from models.errors import ModelLoadError
from models.fastlgb import C_API_PREDICT_CONTRIB, FastPredictor
from models.serving import LGB_FILE, MANIFEST, load_model


def _booster(seed=0, n=3000, k=12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k))
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, 3] = rng.integers(0, 5, n)  # a categorical column
    y = (np.nan_to_num(X[:, 0]) + (X[:, 3] == 2) + rng.normal(size=n) > 0.5).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "seed": seed}
    ds = lgb.Dataset(X, y, categorical_feature=[3])
    return lgb.train(params, ds, num_boost_round=60), X


def test_fast_path_equals_booster_predict():
    booster, X = _booster()
    raw = FastPredictor(booster)
    prob = FastPredictor(booster, 0)
    contrib = FastPredictor(booster, C_API_PREDICT_CONTRIB)
    rows = [np.ascontiguousarray(r) for r in X[:300]]
    np.testing.assert_allclose(
        [raw.predict(r) for r in rows], booster.predict(X[:300], raw_score=True), rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        [prob.predict(r) for r in rows], booster.predict(X[:300]), rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        np.array([contrib.predict_vector(r) for r in rows]),
        booster.predict(X[:300], pred_contrib=True),
        rtol=0,
        atol=1e-9,
    )


def _artifact(tmp_path, booster, calibration=None):
    d = tmp_path / "m"
    d.mkdir()
    booster.save_model(str(d / LGB_FILE))
    manifest = {
        "version": "pd-test-1",
        "name": "pd",
        "target": "label_default",
        "kind": "lightgbm",
        "feature_names": booster.feature_name(),
        "feature_spec_version": "fs-test",
        "calibration": calibration or {"method": "none", "a": 1, "b": 0, "xs": [], "ys": []},
        "reasons": {"Column_0": ["R00", "Column zero is high"]},
    }
    (d / MANIFEST).write_text(json.dumps(manifest))
    return d


def test_serving_model_uncalibrated_equals_booster_and_exposes_metadata(tmp_path):
    booster, X = _booster(1)
    sm = load_model(_artifact(tmp_path, booster))
    assert sm.version == "pd-test-1" and sm.feature_spec_version == "fs-test"
    assert sm.feature_names == booster.feature_name()
    want = booster.predict(X[:200])
    got = [sm.score(np.ascontiguousarray(r)) for r in X[:200]]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    pd = sm.score(np.ascontiguousarray(X[0]))
    assert sm.scorecard_points(np.ascontiguousarray(X[0])) == pytest.approx(sm.points_for_pd(pd))


def test_platt_calibration_is_applied_on_raw_score(tmp_path):
    booster, X = _booster(2)
    cal = {"method": "platt", "a": 0.5, "b": -1.0, "xs": [], "ys": []}
    sm = load_model(_artifact(tmp_path, booster, cal))
    raw = booster.predict(X[:50], raw_score=True)
    want = 1 / (1 + np.exp(-(0.5 * raw - 1.0)))
    np.testing.assert_allclose(
        [sm.score(np.ascontiguousarray(r)) for r in X[:50]], want, atol=1e-12
    )


def test_corrupt_model_file_raises_model_load_error_naming_it(tmp_path):
    booster, _ = _booster(3)
    d = _artifact(tmp_path, booster)
    (d / LGB_FILE).write_text("not a model")
    with pytest.raises(ModelLoadError, match=LGB_FILE):
        load_model(d)
    (d / MANIFEST).write_text("{")
    with pytest.raises(ModelLoadError, match=MANIFEST):
        load_model(d)
