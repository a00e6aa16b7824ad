"""Training: fit LightGBM and the scorecard, calibrate, pick the candidate, evaluate.

Validation design (written into every report):

* time column present -> out-of-time: oldest 60 % fit, next 20 % validate (early
  stopping, calibration choice, model choice), newest 20 % test (reported metrics).
* no time column -> stratified 5-fold CV: in each fold the training part is split
  80/20 into fit/validate, predictions on the held-out fold are pooled, and metrics
  are computed on the pooled out-of-fold predictions. The shipped model is then
  fitted on a stratified 80/20 fit/validate split of all rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.calibration import Calibrator, choose_calibrator
from models.data import Dataset
from models.errors import DataError
from models.metrics import auc, best_f1_cutoff
from models.reasons import ReasonMap
from models.scorecard import Scale, Scorecard, fit_scorecard
from models.split import Split, out_of_time, stratified_folds, stratified_holdout

KINDS = ("lightgbm", "scorecard")
ORACLE_FOR = {"label_default": "oracle_pd", "label_fraud": "oracle_fraud",
              # servicing: the B-score and the collection scores (simulator.servicing_oracle)
              "label_bscore": "oracle_bscore", "label_rolled": "oracle_roll",
              "label_cured": "oracle_cure", "label_chargeoff": "oracle_chargeoff"}


@dataclass
class TrainConfig:
    """Everything that shapes a training run (recorded in the artifact manifest)."""

    name: str = "pd"
    model: str = "auto"  # auto | lightgbm | scorecard
    seed: int = 0
    monotone: Mapping[str, int] = field(default_factory=dict)
    reasons: ReasonMap = field(default_factory=dict)
    feature_spec_version: str = ""
    scale: Scale = field(default_factory=Scale)
    cutoff: float | None = None
    lgb_params: Mapping[str, Any] = field(default_factory=dict)
    num_boost_round: int = 2000
    early_stopping: int = 50
    folds: int = 5
    loss_per_bad: float = 1.0
    revenue_per_good: float = 0.15
    oracle_col: str | None = None


@dataclass
class Fitted:
    """One fitted model of one kind with its calibrator."""

    kind: str
    model: Any  # lightgbm.Booster | Scorecard
    calibrator: Calibrator
    calibration_scores: dict[str, float]

    def raw(self, X: np.ndarray) -> np.ndarray:
        if self.kind == "lightgbm":
            return np.asarray(self.model.predict(X, raw_score=True), dtype=np.float64)
        return self.model.raw(X)

    def proba(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator.apply(self.raw(X))


@dataclass
class TrainResult:
    """The chosen model plus everything the report and manifest need."""

    chosen: Fitted
    design: str  # human-readable validation design
    candidates: dict[str, dict[str, float]]  # kind -> {"valid_auc": ...}
    y_eval: np.ndarray  # test rows (OOT) or all rows (CV, out-of-fold)
    p_eval: np.ndarray  # calibrated predictions of the chosen kind on y_eval's rows
    raw_eval: np.ndarray  # uncalibrated probabilities, to show what calibration did
    p_train: np.ndarray  # predictions on training-period rows (PSI reference)
    X_eval: np.ndarray
    cutoff: float
    oracle_eval: np.ndarray | None
    window: dict[str, int | None]
    time_eval: np.ndarray | None  # application times of y_eval's rows, when known
    n_rows: dict[str, int]


def _fit_kind(
    kind: str, ds: Dataset, sp: Split, cfg: TrainConfig, seed: int
) -> tuple[Fitted, np.ndarray]:
    """Fit one kind on sp.fit, calibrate on sp.valid; returns it and its raw validation scores."""
    X = ds.X.to_numpy(dtype=np.float64)
    names = ds.feature_names
    if kind == "lightgbm":
        from models.gbm import fit_lightgbm

        model: Any = fit_lightgbm(
            X[sp.fit],
            ds.y[sp.fit],
            X[sp.valid],
            ds.y[sp.valid],
            names,
            categorical=list(ds.categories),
            monotone=cfg.monotone,
            params=cfg.lgb_params,
            seed=seed,
            num_boost_round=cfg.num_boost_round,
            early_stopping=cfg.early_stopping,
        )
    else:
        model = fit_scorecard(
            X[sp.fit], ds.y[sp.fit], names, ds.categories, cfg.monotone, cfg.scale
        )
    f = Fitted(kind, model, Calibrator("none"), {})
    raw_valid = f.raw(X[sp.valid])
    f.calibrator, f.calibration_scores = choose_calibrator(raw_valid, ds.y[sp.valid], seed)
    return f, raw_valid


@dataclass
class _Chosen:
    """What one validation design yields: the chosen model, its evaluation predictions
    (calibrated and raw), the rows they are on, and the rows that set the cutoff."""

    fitted: Fitted
    design: str
    candidates: dict[str, dict[str, float]]
    eval_idx: np.ndarray
    train_idx: np.ndarray
    p_eval: np.ndarray
    raw_eval: np.ndarray  # raw scores (log-odds) of the chosen kind on eval_idx
    y_valid: np.ndarray
    p_valid: np.ndarray


def train(
    ds: Dataset, cfg: TrainConfig, progress: Callable[[str], None] | None = None
) -> TrainResult:
    """Train the candidates, choose one, and return predictions for evaluation."""
    say = progress or (lambda _msg: None)
    kinds = KINDS if cfg.model == "auto" else (cfg.model,)
    if any(k not in KINDS for k in kinds):
        raise DataError(f"unknown model {cfg.model!r}; use auto, lightgbm or scorecard")
    X = ds.X.to_numpy(dtype=np.float64)
    y = ds.y.astype(np.int64)
    if len(np.unique(y)) < 2:
        raise DataError(f"target {ds.target!r} has one class only; training needs goods and bads")
    oracle_col = cfg.oracle_col or ORACLE_FOR.get(ds.target)
    oracle = None
    if ds.extra is not None and oracle_col in ds.extra.columns:
        oracle = ds.extra[oracle_col].to_numpy(dtype=np.float64)
    if ds.time is not None:
        c = _out_of_time(ds, ds.time, cfg, kinds, X, y, say)
    else:
        c = _cross_validated(ds, cfg, kinds, X, y, say)
    cutoff = cfg.cutoff if cfg.cutoff is not None else best_f1_cutoff(c.y_valid, c.p_valid)
    window: dict[str, int | None] = {"start_ms": None, "end_ms": None}
    if ds.time is not None:
        window = {"start_ms": int(ds.time[c.train_idx].min()), "end_ms": int(ds.time.max())}
    return TrainResult(
        chosen=c.fitted,
        design=c.design,
        candidates=c.candidates,
        y_eval=y[c.eval_idx],
        p_eval=c.p_eval,
        raw_eval=1 / (1 + np.exp(-c.raw_eval)),
        p_train=c.fitted.proba(X[c.train_idx]),
        X_eval=X[c.eval_idx],
        cutoff=float(cutoff),
        oracle_eval=None if oracle is None else oracle[c.eval_idx],
        window=window,
        time_eval=None if ds.time is None else np.asarray(ds.time)[c.eval_idx],
        n_rows={"total": len(y), "train": len(c.train_idx), "eval": len(c.eval_idx)},
    )


def _out_of_time(
    ds: Dataset,
    time: np.ndarray,
    cfg: TrainConfig,
    kinds: tuple[str, ...],
    X: np.ndarray,
    y: np.ndarray,
    say: Callable[[str], None],
) -> _Chosen:
    """Fit each kind on the oldest rows, choose by validation AUC, evaluate on the newest."""
    sp = out_of_time(time)
    design = (
        "out-of-time: oldest 60% of rows fit, next 20% validate (early stopping, "
        "calibration and model choice), newest 20% test (metrics below)"
    )
    fitted, cand = {}, {}
    for k in kinds:
        say(f"fitting {k} (out-of-time)")
        fitted[k], raw_valid = _fit_kind(k, ds, sp, cfg, cfg.seed)
        cand[k] = {"valid_auc": auc(y[sp.valid], raw_valid)}
    best = max(kinds, key=lambda k: cand[k]["valid_auc"])
    chosen = fitted[best]
    p_valid = chosen.calibrator.apply(chosen.raw(X[sp.valid]))
    raw_eval = chosen.raw(X[sp.test])
    p_eval = chosen.calibrator.apply(raw_eval)
    return _Chosen(chosen, design, cand, sp.test, sp.fit, p_eval, raw_eval, y[sp.valid], p_valid)


def _cross_validated(
    ds: Dataset,
    cfg: TrainConfig,
    kinds: tuple[str, ...],
    X: np.ndarray,
    y: np.ndarray,
    say: Callable[[str], None],
) -> _Chosen:
    """Choose the kind by pooled out-of-fold AUC, then fit the shipped model on all rows."""
    folds = stratified_folds(y, cfg.folds, cfg.seed)
    design = (
        f"stratified {cfg.folds}-fold cross-validation: in each fold the training part "
        "is split 80/20 into fit/validate (early stopping, calibration); metrics below "
        "are on the pooled out-of-fold predictions; the shipped model is fitted on a "
        "stratified 80/20 fit/validate split of all rows"
    )
    oof = {k: np.zeros(len(y)) for k in kinds}
    oof_raw = {k: np.zeros(len(y)) for k in kinds}
    for i, fsp in enumerate(folds):
        for k in kinds:
            say(f"fold {i + 1}/{len(folds)}: fitting {k}")
            f, _ = _fit_kind(k, ds, fsp, cfg, cfg.seed + i)
            oof_raw[k][fsp.test] = f.raw(X[fsp.test])
            oof[k][fsp.test] = f.calibrator.apply(oof_raw[k][fsp.test])
    cand = {k: {"valid_auc": auc(y, oof[k])} for k in kinds}
    best = max(kinds, key=lambda k: cand[k]["valid_auc"])
    fit_idx, valid_idx = stratified_holdout(y, np.arange(len(y)), 0.2, cfg.seed)
    say(f"fitting the shipped {best} on all rows")
    chosen, _ = _fit_kind(best, ds, Split(fit_idx, valid_idx, valid_idx), cfg, cfg.seed)
    p_eval = oof[best]
    return _Chosen(
        chosen, design, cand, np.arange(len(y)), fit_idx, p_eval, oof_raw[best], y, p_eval
    )


def is_scorecard(model: Any) -> bool:
    return isinstance(model, Scorecard)
