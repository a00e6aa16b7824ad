"""Reason codes on crafted inputs: the feature that drives the risk is named first, and
only with a text that is true of the row (adverse side of its reference, or its own
missing-data reason)."""

from __future__ import annotations

import itertools

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.data import frame_to_dataset
from models.reasons import (
    NEVER,
    MissingReason,
    ReasonRule,
    default_reason,
    reason_map_from_spec,
    to_reasons,
    top_positive,
    true_text,
)
from models.scorecard import fit_scorecard
from models.serving import LightGBMServing, ScorecardServing, for_feature_order

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


# --- reasons that are true of the applicant ------------------------------------------------
NO_FILE = MissingReason("R-NOFILE", "No credit file", "file_missing")
TRUTH = {
    "score": ReasonRule("R-SCORE", "Score is too low", below=600.0, if_missing=(NO_FILE,)),
    "util": ReasonRule("R-UTIL", "Utilisation is too high", above=0.5, if_missing=(NO_FILE,)),
    "pages": ReasonRule("R-PAGES", "Unusual form", below=3.0, above=20.0),
    "file_missing": ReasonRule("R-NOFILE", "No credit file", above=0.5),
    "estimate": ReasonRule("R-EST", "Estimate is low", below=9.0,
                           if_missing=(NO_FILE, MissingReason("R-NOACC", "No account data"))),
}


def test_true_text_needs_the_adverse_side_or_its_own_missing_reason() -> None:
    filed, unfiled = {"file_missing": 0.0}, {"file_missing": 1.0}
    assert true_text(TRUTH["score"], 550.0, filed) == ("R-SCORE", "Score is too low")
    assert true_text(TRUTH["score"], 700.0, filed) is None  # favourable side: not true
    assert true_text(TRUTH["score"], float("nan"), unfiled) == ("R-NOFILE", "No credit file")
    assert true_text(TRUTH["score"], None, filed) is None  # missing, but a file exists
    assert true_text(TRUTH["pages"], 2.0, {}) is not None
    assert true_text(TRUTH["pages"], 25.0, {}) is not None
    assert true_text(TRUTH["pages"], 5.0, {}) is None  # inside the usual band
    assert true_text(TRUTH["estimate"], None, unfiled)[0] == "R-NOFILE"  # type: ignore[index]
    assert true_text(TRUTH["estimate"], None, filed) == ("R-NOACC", "No account data")
    assert true_text(ReasonRule("R", "t"), 1.0, {}) == ("R", "t")  # no reference: as given
    assert true_text(ReasonRule("R", "t"), None, {}) is None


def test_an_untrue_reason_gives_its_slot_to_the_next_true_one() -> None:
    pairs = [("score", 0.9), ("util", 0.8), ("pages", 0.7), ("estimate", 0.6),
             ("file_missing", 0.5)]
    nofile = {"score": float("nan"), "util": float("nan"), "pages": 5.0, "estimate": None,
              "file_missing": 1.0}
    out = to_reasons(pairs, TRUTH, nofile, k=2)
    assert [r.code for r in out] == ["R-NOFILE"]  # said once; the rest is not true
    good = {"score": 700.0, "util": 0.9, "pages": 2.0, "estimate": 8.0, "file_missing": 0.0}
    out = to_reasons(pairs, TRUTH, good, k=2)
    assert [(r.code, r.feature) for r in out] == [("R-UTIL", "util"), ("R-PAGES", "pages")]
    assert [r.code for r in to_reasons(pairs, TRUTH, good)] == ["R-UTIL", "R-PAGES", "R-EST"]


def _missing_is_risky(n: int = 6000, seed: int = 3) -> pd.DataFrame:
    """No file (score and util missing) is risky; with a file, low scores are."""
    rng = np.random.default_rng(seed)
    nofile = rng.random(n) < 0.2
    score = np.where(nofile, np.nan, rng.normal(650, 60, n))
    util = np.where(nofile, np.nan, rng.uniform(0, 1, n))
    pages = rng.integers(1, 8, n).astype(float)
    z = -2.0 + np.where(nofile, 1.5, -(np.nan_to_num(score, nan=650) - 650) / 40)
    bad = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return pd.DataFrame({"score": score, "util": util, "pages": pages,
                         "file_missing": nofile.astype(float), "estimate": rng.normal(10, 1, n),
                         "bad": bad})


def test_lightgbm_reasons_for_missing_values_are_the_missing_data_reason() -> None:
    """TreeSHAP gives the missing score a positive contribution; the applicant hears
    "No credit file", never "Score is too low", and a high score is never "too low"."""
    names = ["score", "util", "pages", "file_missing", "estimate"]
    df = _missing_is_risky()
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                        lgb.Dataset(df[names].to_numpy(), df.bad, feature_name=names),
                        num_boost_round=60)
    manifest = {**_manifest("lightgbm"), "feature_names": names}
    sm = LightGBMServing(manifest, booster, reason_map=TRUTH)
    nofile = np.array([np.nan, np.nan, 5.0, 1.0, 10.0])
    assert any(n == "score" for n, _ in sm.explain(nofile, k=5))  # SHAP blames the NaN
    got = sm.reasons(nofile)
    assert "R-NOFILE" in [r.code for r in got] and "R-SCORE" not in [r.code for r in got]
    high = np.array([800.0, 0.2, 5.0, 0.0, 10.0])
    assert "R-SCORE" not in [r.code for r in sm.reasons(high)]
    low = np.array([520.0, 0.2, 5.0, 0.0, 10.0])
    assert sm.reasons(low)[0].code == "R-SCORE"


def test_a_model_on_another_feature_order_checks_its_own_columns() -> None:
    names = ["score", "util", "pages", "file_missing", "estimate"]
    df = _missing_is_risky(seed=4)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                        lgb.Dataset(df[names].to_numpy(), df.bad, feature_name=names),
                        num_boost_round=40)
    sm = LightGBMServing({**_manifest("lightgbm"), "feature_names": names}, booster,
                         reason_map=TRUTH)
    wider = ["extra", *reversed(names)]
    served = for_feature_order(sm, wider)
    x = np.array([np.nan, np.nan, 5.0, 1.0, 10.0])
    wide_x = np.array([123.0, *x[::-1]])
    assert served.reasons(wide_x) == sm.reasons(x)


def test_the_spec_gives_every_reason_feature_a_reference_and_true_missing_reasons() -> None:
    from features.spec import FEATURE_SPEC

    rules = reason_map_from_spec(FEATURE_SPEC)
    assert all(r.below is not None or r.above is not None for r in rules.values())
    sideless = {n for n, r in rules.items() if r.below == NEVER}
    assert sideless == {"bureau_open_accounts"}  # "Number of open credit accounts"
    assert true_text(rules["bureau_open_accounts"], 30.0, {}) is None  # never a reason
    for name, rule in rules.items():
        for m in rule.if_missing:
            assert m.when is None or FEATURE_SPEC.by_name[m.when].dtype == "flag", name
            if m.when is not None:  # the missing reason is the indicator's own reason
                assert (rules[m.when].code, rules[m.when].text) == (m.code, m.text)
    nofile = {"bureau_missing": 1.0}
    assert true_text(rules["bureau_score"], None, nofile)[0] == "F-BUR-NO-FILE"  # type: ignore[index]
    assert true_text(rules["app_income_to_estimate"], None, {"bureau_missing": 0.0}) == (
        "F-BUR-NO-ACCOUNT-DATA", "No current-account data to verify income")
    assert true_text(rules["vel_ip_hours_since_prev"], None, {}) is None  # none before: fine


def test_reason_metadata_does_not_change_the_feature_spec_version() -> None:
    from dataclasses import replace

    from features.spec import FEATURE_SPEC, FeatureSpec

    moved = [replace(d, adverse_below=None, adverse_above=None, if_missing=())
             for d in FEATURE_SPEC.defs]
    assert FeatureSpec(moved).version == FEATURE_SPEC.version
    retexted = [replace(d, reason_text=d.reason_text + "!") for d in FEATURE_SPEC.defs]
    assert FeatureSpec(retexted).version != FEATURE_SPEC.version
