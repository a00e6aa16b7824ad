"""The candidate models every training run fits on the same split, and how one is chosen.

Candidates (``CANDIDATES``): the plain logistic regression (the benchmark), LightGBM with
this project's shallow defaults, LightGBM at the library's own defaults, LightGBM as
tuned (`models.tuning`, when a budget is given), the WOE scorecard, an MLP on the
logistic regression's encoded inputs, and an ensemble of the best (`models.ensemble`,
kept only when it wins on validation). Each is fitted on the fit rows, calibrated on
the validation rows, and timed. ``fit_candidate`` takes sample weights (e.g. reject
inference's) for every kind.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.benchmark import Gap
from models.calibration import Calibrator, choose_calibrator
from models.scorecard import Scale
from models.split import Split

# Cheapest reasons first: a candidate whose validation AUC is behind the best by no more
# than the paired bootstrap's noise (or TIE_AUC) is preferred to a costlier one (TreeSHAP
# on deep trees is paid on every decline).
CANDIDATES = ("scorecard", "logistic", "lightgbm", "lightgbm_tuned", "lightgbm_library",
              "mlp", "ensemble")
TIE_AUC = 0.001
#: the serving kind (artifact layout) of each candidate
SERVING_KIND = {"lightgbm_tuned": "lightgbm", "lightgbm_library": "lightgbm"}
#: LightGBM's own defaults (31 leaves, no depth limit), early-stopped like the others
LIBRARY_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1, "num_leaves": 31, "max_depth": -1, "min_data_in_leaf": 20,
    "feature_fraction": 1.0, "bagging_fraction": 1.0, "bagging_freq": 0, "lambda_l2": 0.0,
    "cat_l2": 10.0, "cat_smooth": 10.0, "min_data_per_group": 100,
}


@dataclass
class FitContext:
    """What every candidate's fit needs besides the rows."""

    names: list[str]
    categories: Mapping[str, Sequence[str]]
    monotone: Mapping[str, int] = field(default_factory=dict)
    scale: Scale = field(default_factory=Scale)
    seed: int = 0
    lgb_params: Mapping[str, Any] = field(default_factory=dict)
    num_boost_round: int = 2000
    early_stopping: int = 50
    tuned_params: Mapping[str, Any] | None = None  # from models.tuning, for lightgbm_tuned
    special_codes: tuple[float, ...] = ()  # numeric codes the scorecard bins apart


@dataclass
class Fitted:
    """One fitted candidate with its calibrator and how long the fit took."""

    kind: str  # a name in CANDIDATES
    model: Any  # lightgbm.Booster | Scorecard | LinearModel | MLPModel | EnsembleModel
    calibrator: Calibrator
    calibration_scores: dict[str, float]
    fit_seconds: float = 0.0  # wall clock of fit + calibration
    fit_cpu_seconds: float = 0.0  # CPU time of this process (both LightGBM threads)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def serving_kind(self) -> str:
        return SERVING_KIND.get(self.kind, self.kind)

    def raw(self, X: np.ndarray) -> np.ndarray:
        if self.serving_kind == "lightgbm":
            return np.asarray(self.model.predict(X, raw_score=True), dtype=np.float64)
        return np.asarray(self.model.raw(X), dtype=np.float64)

    def proba(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator.apply(self.raw(X))


def _fit_model(kind: str, X: np.ndarray, y: np.ndarray, sp: Split, ctx: FitContext,
               w: np.ndarray | None) -> tuple[Any, dict[str, Any]]:
    """The uncalibrated model of one kind, fitted on ``sp.fit``, and its parameters."""
    wf = None if w is None else w[sp.fit]
    if kind.startswith("lightgbm"):
        from models.gbm import fit_lightgbm

        extra = {"lightgbm_library": LIBRARY_PARAMS,
                 "lightgbm_tuned": dict(ctx.tuned_params or {})}.get(kind, {})
        params = {**ctx.lgb_params, **extra}
        booster = fit_lightgbm(
            X[sp.fit], y[sp.fit], X[sp.valid], y[sp.valid], ctx.names,
            categorical=list(ctx.categories), monotone=ctx.monotone, params=params,
            seed=ctx.seed, num_boost_round=ctx.num_boost_round,
            early_stopping=ctx.early_stopping, weight_fit=wf,
            weight_valid=None if w is None else w[sp.valid],
            small_data=kind == "lightgbm")
        from models.benchmark import tree_shape

        return booster, {**params, **tree_shape(booster)}
    if kind == "scorecard":
        from models.scorecard import fit_scorecard

        card = fit_scorecard(X[sp.fit], y[sp.fit], ctx.names, ctx.categories, ctx.monotone,
                             ctx.scale, weight=wf, specials=ctx.special_codes)
        return card, {"kept": len(card.bins)}
    if kind == "logistic":
        from models.linear import fit_logistic

        lin = fit_logistic(X[sp.fit], y[sp.fit], ctx.names, ctx.categories, ctx.seed, wf)
        return lin, {"C": lin.c, "encoded_columns": lin.encoding.width}
    if kind == "mlp":
        from models.mlp import HIDDEN, fit_mlp
        from models.split import stratified_holdout

        # early-stopped on a tenth of the fit rows, not on the validation rows that choose
        # the model: stopping on those flattered the MLP (simulator: validation AUC 0.956,
        # test 0.933, chosen over a LightGBM that tested 0.942)
        rest, inner = stratified_holdout(y, sp.fit, 0.1, ctx.seed)
        wr = None if w is None else w[rest]
        net = fit_mlp(X[rest], y[rest], X[inner], y[inner], ctx.names, ctx.categories,
                      ctx.seed, wr)
        return net, {"hidden": list(HIDDEN), "epochs": net.epochs}
    raise ValueError(f"unknown candidate {kind!r}; one of {', '.join(CANDIDATES)}")


def fit_candidate(kind: str, X: np.ndarray, y: np.ndarray, sp: Split, ctx: FitContext,
                  weight: np.ndarray | None = None) -> tuple[Fitted, np.ndarray]:
    """Fit ``kind`` on ``sp.fit`` (``weight``: one per row of ``X``, or None), calibrate on
    ``sp.valid``; returns it and its raw validation scores."""
    t0, c0 = time.perf_counter(), time.process_time()
    model, params = _fit_model(kind, X, y, sp, ctx, weight)
    f = Fitted(kind, model, Calibrator("none"), {}, params=params)
    raw_valid = f.raw(X[sp.valid])
    f.calibrator, f.calibration_scores = choose_calibrator(raw_valid, y[sp.valid], ctx.seed)
    f.fit_seconds = time.perf_counter() - t0
    f.fit_cpu_seconds = time.process_time() - c0
    return f, raw_valid


def choose(valid_auc: Mapping[str, float], gaps: Mapping[str, Gap] | None = None,
           tie: float = TIE_AUC) -> str:
    """The validation winner, unless a cheaper candidate (``CANDIDATES`` order) is behind it
    by no more than the noise: the paired-bootstrap interval of its AUC gap to the winner
    (``gaps``, `models.benchmark.paired_auc_gaps` with the winner as reference) reaches 0,
    or its gap is within ``tie``. A candidate whose gap is beyond its interval's noise is
    never preferred, however cheap."""
    finite = {k: v for k, v in valid_auc.items() if np.isfinite(v)}
    if not finite:
        return next(iter(valid_auc))
    best = max(finite.values())
    order = [k for k in CANDIDATES if k in finite] + [k for k in finite if k not in CANDIDATES]

    def within_noise(k: str) -> bool:
        if finite[k] >= best - tie:
            return True
        g = (gaps or {}).get(k)
        return g is not None and np.isfinite(g.lo) and g.lo <= 0.0

    return next(k for k in order if within_noise(k))
