"""Candidates side by side: metrics against sklearn, the encodings against pandas, the
numpy forward passes against sklearn's own predictions, selection and serving parity."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models.artifact import dump_json, save_fitted, scoring_manifest, write_artifact
from models.benchmark import compare, fast_auc, fast_ks, paired_auc_gaps, resamples
from models.candidates import FitContext, choose, fit_candidate
from models.data import frame_to_dataset
from models.encoding import fit_encoding
from models.linear import LinearModel
from models.metrics import auc, ks
from models.mlp import MLPModel
from models.serving import load_model
from models.split import out_of_time
from models.synth import MONOTONE, make_loans
from models.train import TrainConfig, train


@pytest.fixture(scope="module")
def small():
    return frame_to_dataset(make_loans(1500, seed=5), "label_default", "event_time",
                            "application_id")


def test_fast_auc_and_ks_equal_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 700)
    p = np.round(rng.random(700) * 0.5 + 0.3 * y, 2)  # many ties
    assert fast_auc(y, p) == pytest.approx(auc(y, p), abs=1e-12)
    assert fast_ks(y, p) == pytest.approx(ks(y, p)[0], abs=1e-12)


def test_compare_intervals_hold_the_point_and_the_lift_is_paired():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1500)
    good = y + rng.normal(0, 0.8, 1500)
    preds = {"logistic": 1 / (1 + np.exp(-good)),
             "other": 1 / (1 + np.exp(-(good + rng.normal(0, 0.3, 1500))))}
    out = compare(y, preds, shipped="other", n_boot=100, seed=0)
    for row in out.values():
        for m in ("auc", "ks", "log_loss"):
            assert row[f"{m}_lo"] <= row[m] <= row[f"{m}_hi"]
    lift = out["other"]
    assert lift["auc_lift"] == pytest.approx(out["other"]["auc"] - out["logistic"]["auc"])
    # paired: the interval of the difference is narrower than either AUC's own interval
    assert lift["auc_lift_hi"] - lift["auc_lift_lo"] < out["other"]["auc_hi"] - out["other"][
        "auc_lo"]
    assert lift["best_on_test"] == "logistic" and lift["auc_gap_to_best"] > 0


def test_choose_prefers_the_cheaper_within_the_tie_margin():
    assert choose({"lightgbm": 0.8000, "lightgbm_library": 0.8008, "mlp": 0.79}) == "lightgbm"
    assert choose({"lightgbm": 0.8000, "lightgbm_library": 0.8020}) == "lightgbm_library"
    assert choose({"logistic": 0.7, "ensemble": 0.7005}) == "logistic"


def _scores(rng, y, noise):
    """Scores of a candidate: the same signal, its own noise (larger noise, lower AUC)."""
    return y * 1.0 + rng.normal(0, noise, len(y))


def _pick(y, scores):
    valid_auc = {k: fast_auc(y, s) for k, s in scores.items()}
    top = max(valid_auc, key=valid_auc.__getitem__)
    gaps = paired_auc_gaps(y, scores, top, n_boot=200, seed=0)
    return choose(valid_auc, gaps), top, gaps


def test_auto_ships_the_cheaper_candidate_only_within_the_paired_noise():
    """Known answers: two candidates of the same quality (same signal, independent noise
    of the same size) are the same model up to noise, so the cheaper one ships in about
    95% of draws; a candidate that is truly worse (by ~0.02 AUC, on rows enough to
    see it) never ships however cheap, and the winner does."""
    cheap_shipped = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        y = (rng.random(1500) < 0.2).astype(int)
        picked, top, gaps = _pick(y, {"lightgbm": _scores(rng, y, 1.0),
                                      "mlp": _scores(rng, y, 1.0)})
        cheap_shipped += picked == "lightgbm"
        if top == "mlp" and picked == "lightgbm":  # the rule, not the 0.001 tie, chose it
            assert gaps["lightgbm"].lo <= 0 <= gaps["lightgbm"].hi
    assert cheap_shipped >= 8
    # the simulator's case: the costlier candidate better by ~0.01 AUC on 20,000 rows
    rng = np.random.default_rng(11)
    y = (rng.random(20_000) < 0.1).astype(int)
    scores = {"scorecard": _scores(rng, y, 1.25), "logistic": _scores(rng, y, 1.2),
              "lightgbm_tuned": _scores(rng, y, 1.0), "mlp": _scores(rng, y, 1.1)}
    picked, top, gaps = _pick(y, scores)
    assert top == "lightgbm_tuned" and picked == "lightgbm_tuned"
    assert all(g.lo > 0 for k, g in gaps.items() if k != top)  # each beyond the noise
    assert gaps["mlp"].gap > 0.005
    # the same, with the cheaper candidate equal to the winner: it ships
    scores["logistic"] = scores["lightgbm_tuned"] + rng.normal(0, 0.02, len(y))
    picked, top, gaps = _pick(y, scores)
    assert picked == "logistic" and gaps["logistic"].lo <= 0


def test_paired_gap_interval_is_the_paired_bootstrap_of_the_difference():
    """The gap's interval is the quantiles of AUC(ref) - AUC(k) on the same resamples,
    recomputed here with sklearn's AUC."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = (rng.random(600) < 0.3).astype(int)
    scores = {"a": _scores(rng, y, 1.0), "b": _scores(rng, y, 1.3)}
    gaps = paired_auc_gaps(y, scores, "a", n_boot=60, seed=5)
    diffs = [roc_auc_score(y[i], scores["a"][i]) - roc_auc_score(y[i], scores["b"][i])
             for i in resamples(y, 60, 5)]
    assert gaps["b"].lo == pytest.approx(np.quantile(diffs, 0.025), abs=1e-12)
    assert gaps["b"].hi == pytest.approx(np.quantile(diffs, 0.975), abs=1e-12)
    assert gaps["b"].gap == pytest.approx(roc_auc_score(y, scores["a"]) -
                                          roc_auc_score(y, scores["b"]), abs=1e-12)
    assert gaps["a"] == type(gaps["a"])(0.0, 0.0, 0.0)


def test_encoding_matches_pandas_one_hot_and_standardisation():
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0, 5.0] * 2,
                       "c": ["a", "b", None, "a", "c"] * 2})
    ds = frame_to_dataset(df.assign(t=[0, 1] * 5), "t")
    X = ds.X.to_numpy()
    enc = fit_encoding(X, ds.feature_names, ds.categories)
    Z = enc.transform(X)
    x = df["x"].fillna(df["x"].median())
    present = df["x"].dropna()
    expected_x = (x - present.mean()) / present.std(ddof=0)
    dummies = pd.get_dummies(df["c"]).astype(float)[["a", "b", "c"]]
    expected = np.column_stack([expected_x, dummies, df["x"].isna(), df["c"].isna()])
    np.testing.assert_allclose(Z, expected, atol=1e-12)
    assert list(enc.groups()) == [0, 1, 1, 1, 0, 1] and enc.width == 6


def test_linear_and_mlp_forward_passes_equal_sklearn(small):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    X, y = small.X.to_numpy(), small.y
    enc = fit_encoding(X, small.feature_names, small.categories)
    Z = enc.transform(X)
    lr = LogisticRegression(C=0.5, max_iter=1000).fit(Z, y)
    lin = LinearModel(enc, lr.coef_[0].tolist(), float(lr.intercept_[0]), Z.mean(0).tolist())
    np.testing.assert_allclose(lin.raw(X), lr.decision_function(Z), atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = MLPClassifier(hidden_layer_sizes=(8, 4), max_iter=30, random_state=0).fit(Z, y)
    mlp = MLPModel(enc, [w.tolist() for w in net.coefs_], [b.tolist() for b in net.intercepts_],
                   Z.mean(0).tolist())
    p = 1 / (1 + np.exp(-mlp.raw(X)))
    np.testing.assert_allclose(p, net.predict_proba(Z)[:, 1], atol=1e-10)
    # occlusion: a feature set to its average encoding contributes nothing
    row = X[:1].copy()
    assert mlp.contributions(row[0]).shape == (len(small.feature_names),)


def test_every_candidate_serves_as_it_scored_offline_and_takes_weights(small, tmp_path):
    """The artifact of each candidate, loaded, scores the rows as the fitted model did
    (batch and single row), and every kind's fit takes sample weights."""
    from models.ensemble import fit_ensemble

    X, y = small.X.to_numpy(), small.y.astype(np.int64)
    sp = out_of_time(small.time)
    ctx = FitContext(small.feature_names, small.categories, MONOTONE, num_boost_round=60)
    fitted = {k: fit_candidate(k, X, y, sp, ctx)[0]
              for k in ("logistic", "lightgbm", "scorecard", "mlp")}
    fitted["ensemble"] = fit_ensemble(fitted, X[sp.valid], y[sp.valid])
    rows = X[sp.test][:40]
    for kind, f in fitted.items():
        d = tmp_path / kind
        d.mkdir()
        save_fitted(f, d, f"v-{kind}", small)
        dump_json(scoring_manifest(f, f"v-{kind}", small), d / "manifest.json")
        sm = load_model(d)
        offline = f.proba(rows)
        np.testing.assert_allclose(sm.score_batch(rows), offline, rtol=0, atol=1e-12)
        single = [sm.score(np.ascontiguousarray(r)) for r in rows]
        np.testing.assert_allclose(single, offline, rtol=0, atol=1e-12)
        assert sm.reasons(np.ascontiguousarray(rows[0]))  # every kind explains itself
    w = np.where(y == 1, 3.0, 1.0)
    for kind in ("logistic", "lightgbm", "scorecard", "mlp"):
        weighted = fit_candidate(kind, X, y, sp, ctx, weight=w)[0]
        assert not np.allclose(weighted.raw(rows), fitted[kind].raw(rows)), kind


def test_auto_reports_every_candidate_with_intervals_and_the_lift(small, tmp_path):
    cfg = TrainConfig(n_boot=50, num_boost_round=80)
    res = train(small, cfg)
    assert set(res.candidates) == {"logistic", "lightgbm", "lightgbm_library", "scorecard",
                                   "mlp", "ensemble"}
    for row in res.candidates.values():
        assert row["auc_lo"] <= row["auc"] <= row["auc_hi"] and row["fit_seconds"] > 0
    sel = res.selection
    assert sel["shipped"] == res.chosen.kind
    if res.chosen.kind != "logistic":
        assert sel["auc_lift_lo"] <= sel["auc_lift"] <= sel["auc_lift_hi"]
    # never worse than the best candidate by more than the noise of its interval: on the
    # validation rows that choose (the rule) and, here, on the test rows too
    assert sel["shipped"] == sel["valid_winner"] or (
        sel["valid_gap_to_winner_lo"] <= 0 or sel["valid_gap_to_winner"] <= 0.001)
    assert res.chosen.kind == sel["best_on_test"] or sel["auc_gap_to_best_lo"] <= 0
    html = (write_artifact(tmp_path / "a", res, small, cfg) / "report.html").read_text()
    assert "lift over LR" in html and "mlp" in html


def test_tuning_is_reproducible_with_the_same_seed_and_trials(small):
    from models.tuning import tune_lightgbm

    X, y = small.X.to_numpy(), small.y.astype(np.int64)
    ctx = FitContext(small.feature_names, small.categories, seed=4, num_boost_round=40,
                     early_stopping=10)
    sp = out_of_time(small.time)
    a = tune_lightgbm(X, y, sp, ctx, minutes=1.0, max_trials=3)
    b = tune_lightgbm(X, y, sp, ctx, minutes=1.0, max_trials=3)
    assert len(a.trials) == 3 and a.trials == b.trials and a.params == b.params
    assert a.best_valid_auc == max(t["valid_auc"] for t in a.trials)
