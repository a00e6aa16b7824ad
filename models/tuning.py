"""Time-boxed LightGBM tuning with Optuna, on the validation rows only.

The search covers what matters for credit data (leaves, depth, learning rate, minimum
data per leaf, L1/L2, feature fraction); every trial is early-stopped on the validation
rows and scored by their AUC, so the test rows never take part. The sampler is seeded
and LightGBM is deterministic, so the same seed and the same number of trials give the
same trials again: the manifest records the seed, every trial and the best parameters,
and ``tune_trials`` set to the recorded count reproduces a run that the clock stopped.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from models.candidates import FitContext
from models.metrics import auc
from models.split import Split


@dataclass
class TuneResult:
    params: dict[str, Any]
    best_valid_auc: float
    seed: int
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    budget_minutes: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _suggest(trial: Any) -> dict[str, Any]:
    depth = trial.suggest_int("max_depth", 2, 8)
    return {
        "max_depth": depth,
        "num_leaves": trial.suggest_int("num_leaves", 3, min(2**depth, 64)),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 200, log=True),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-3, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
    }


def tune_lightgbm(X: np.ndarray, y: np.ndarray, sp: Split, ctx: FitContext, minutes: float,
                  max_trials: int, weight: np.ndarray | None = None) -> TuneResult:
    """Search for ``minutes`` (or ``max_trials`` trials, whichever ends first)."""
    import optuna

    from models.gbm import fit_lightgbm

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    wf = None if weight is None else weight[sp.fit]

    def objective(trial: Any) -> float:
        params = {**ctx.lgb_params, **_suggest(trial)}
        booster = fit_lightgbm(
            X[sp.fit], y[sp.fit], X[sp.valid], y[sp.valid], ctx.names,
            categorical=list(ctx.categories), monotone=ctx.monotone, params=params,
            seed=ctx.seed, num_boost_round=ctx.num_boost_round,
            early_stopping=ctx.early_stopping, weight_fit=wf, small_data=False)
        trial.set_user_attr("trees", booster.num_trees())
        return auc(y[sp.valid], booster.predict(X[sp.valid], raw_score=True))

    t0 = time.perf_counter()
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=ctx.seed))
    study.optimize(objective, n_trials=max_trials, timeout=max(minutes, 0.0) * 60)
    trials = [{"number": t.number, "valid_auc": t.value, **t.params,
               "trees": t.user_attrs.get("trees")} for t in study.trials if t.value is not None]
    return TuneResult(dict(study.best_params), float(study.best_value), ctx.seed, trials,
                      time.perf_counter() - t0, minutes)
