"""LightGBM training with early stopping on a validation split and optional monotone constraints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# Shallow trees: on the simulator's feature table (60k applications, out-of-time) 8 leaves at
# depth 4 match 31 leaves in AUC (PD 0.9182 vs 0.9177, fraud 0.9819 vs 0.9809) while TreeSHAP
# reason codes -- paid on every decline and review in the stream -- cost 59 us instead of
# 669 us p50 per row (PD), and scoring gets cheaper too.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 8,
    "max_depth": 4,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "cat_smooth": 10.0,
    "min_data_per_group": 20,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
# Below SMALL_DATA rows, fewer leaves and more regularisation (shallow trees, slow
# learning): on German credit (640 fit rows per fold) pooled AUC 0.774 -> 0.789.
SMALL_DATA = 5000
SMALL_DATA_PARAMS: dict[str, Any] = {
    "num_leaves": 4,
    "min_data_in_leaf": 15,
    "learning_rate": 0.02,
    "feature_fraction": 0.5,
    "lambda_l2": 2.0,
    "cat_l2": 5.0,
    "min_data_per_group": 10,
}


def fit_lightgbm(
    X_fit: np.ndarray,
    y_fit: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    names: Sequence[str],
    categorical: Sequence[str] = (),
    monotone: Mapping[str, int] | None = None,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    num_boost_round: int = 2000,
    early_stopping: int = 50,
    weight_fit: np.ndarray | None = None,
    weight_valid: np.ndarray | None = None,
    small_data: bool = True,
) -> Any:
    """Train a binary Booster; returns it cut at the best validation iteration.

    ``monotone`` maps feature -> -1/0/+1 (+1: risk rises with the value); categorical
    features are never constrained (LightGBM forbids it). ``weight_fit``/``weight_valid``:
    sample weights (e.g. reject inference), None weighs every row alike;
    ``small_data`` applies SMALL_DATA_PARAMS below SMALL_DATA rows (the project's default).
    """
    import lightgbm as lgb

    small = SMALL_DATA_PARAMS if small_data and len(y_fit) < SMALL_DATA else {}
    p = {**DEFAULT_PARAMS, **small, "seed": seed, **(params or {})}
    if monotone:
        cons = [0 if n in categorical else int(monotone.get(n, 0)) for n in names]
        if any(cons):
            p["monotone_constraints"] = cons
            p.setdefault("monotone_constraints_method", "intermediate")
    cats = [n for n in names if n in set(categorical)]
    dfit = lgb.Dataset(
        X_fit, y_fit, weight=weight_fit, feature_name=list(names), categorical_feature=cats,
        free_raw_data=False,
    )
    dvalid = lgb.Dataset(X_valid, y_valid, weight=weight_valid, reference=dfit)
    booster = lgb.train(
        p,
        dfit,
        num_boost_round=num_boost_round,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(early_stopping, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    # Re-load the model cut at the best iteration so every later predict uses exactly it.
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def importance(booster: Any, X_sample: np.ndarray) -> dict[str, dict[str, float]]:
    """Gain importance and mean |TreeSHAP| per feature (on a sample of evaluation rows)."""
    names = booster.feature_name()
    gain = booster.feature_importance(importance_type="gain")
    contrib = booster.predict(X_sample, pred_contrib=True)[:, :-1]
    shap = np.abs(contrib).mean(axis=0)
    return {
        n: {"gain": float(g), "shap": float(s)} for n, g, s in zip(names, gain, shap, strict=True)
    }
