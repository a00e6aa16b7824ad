"""Training: fit every candidate on the same split, calibrate, choose one, evaluate.

The candidates (`models.candidates`) are reported side by side with bootstrap
confidence intervals (`models.benchmark`); ``--model auto`` ships the validation winner,
or a cheaper candidate whose paired-bootstrap AUC gap to it on the validation rows is
within the noise (`models.candidates.choose`). Validation design (written into every report):

* time column present -> out-of-time: oldest 60 % fit, next 20 % validate (early
  stopping, tuning, calibration choice, model choice), newest 20 % test (reported
  metrics).
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

from models.benchmark import compare, paired_auc_gaps
from models.candidates import CANDIDATES, FitContext, Fitted, choose, fit_candidate
from models.data import Dataset
from models.errors import DataError
from models.metrics import auc, best_f1_cutoff
from models.reasons import ReasonMap
from models.scorecard import Scale, Scorecard
from models.split import Split, out_of_time, stratified_folds, stratified_holdout

ORACLE_FOR = {"label_default": "oracle_pd", "label_fraud": "oracle_fraud",
              # servicing: the B-score and the collection scores (simulator.servicing_oracle)
              "label_bscore": "oracle_bscore", "label_rolled": "oracle_roll",
              "label_cured": "oracle_cure", "label_chargeoff": "oracle_chargeoff"}
#: what --model accepts: auto (the validation winner) or one candidate
KINDS = ("auto", *(k for k in CANDIDATES if k != "ensemble"))
#: candidates fitted by default (lightgbm_tuned joins when a tuning budget is given)
BASE = ("logistic", "lightgbm", "lightgbm_library", "scorecard", "mlp", "ensemble")


@dataclass
class TrainConfig:
    """Everything that shapes a training run (recorded in the artifact manifest)."""

    name: str = "pd"
    model: str = "auto"  # auto | one of CANDIDATES but ensemble
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
    #: candidates to fit; None: every one for auto, else the forced one and the benchmark
    candidates: tuple[str, ...] | None = None
    tune_minutes: float = 0.0  # LightGBM search budget (0: no tuned candidate)
    tune_trials: int = 40  # at most this many trials within the budget
    n_boot: int = 200  # bootstrap resamples of the confidence intervals
    special_codes: tuple[float, ...] = ()  # numeric sentinels the scorecard bins apart

    def kinds(self) -> tuple[str, ...]:
        """The candidates this run fits, the shipped one among them."""
        if self.model not in KINDS:
            raise DataError(f"unknown model {self.model!r}; use {', '.join(KINDS)}")
        if self.candidates is not None:
            unknown = [k for k in self.candidates if k not in CANDIDATES]
            if unknown:
                raise DataError(f"unknown candidates {unknown}; use {', '.join(CANDIDATES)}")
            chosen = tuple(self.candidates)
        elif self.model == "auto":
            chosen = (*BASE[:-1], "lightgbm_tuned", "ensemble") if self.tune_minutes > 0 else BASE
        else:
            chosen = (self.model, "logistic")
        if self.model != "auto" and self.model not in chosen:
            chosen = (self.model, *chosen)
        if "lightgbm_tuned" in chosen and self.tune_minutes <= 0:
            raise DataError("the tuned LightGBM needs a budget: give --tune-minutes N (> 0)")
        return tuple(dict.fromkeys(chosen))


@dataclass
class TrainResult:
    """The chosen model plus everything the report and manifest need."""

    chosen: Fitted
    design: str  # human-readable validation design
    candidates: dict[str, dict[str, Any]]  # kind -> valid_auc, test figures with CIs, time
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
    selection: dict[str, Any] = field(default_factory=dict)  # how the shipped one was chosen


def _context(ds: Dataset, cfg: TrainConfig, seed: int,
             tuned: Mapping[str, Any] | None = None) -> FitContext:
    return FitContext(ds.feature_names, ds.categories, cfg.monotone, cfg.scale, seed,
                      cfg.lgb_params, cfg.num_boost_round, cfg.early_stopping, tuned,
                      tuple(cfg.special_codes))


@dataclass
class _Chosen:
    """What one validation design yields: the chosen model, its evaluation predictions
    (calibrated and raw), the rows they are on, and the rows that set the cutoff."""

    fitted: Fitted
    design: str
    candidates: dict[str, dict[str, Any]]
    eval_idx: np.ndarray
    train_idx: np.ndarray
    p_eval: np.ndarray
    raw_eval: np.ndarray  # raw scores (log-odds) of the chosen kind on eval_idx
    y_valid: np.ndarray
    p_valid: np.ndarray
    selection: dict[str, Any]


def train(
    ds: Dataset, cfg: TrainConfig, progress: Callable[[str], None] | None = None,
    weight: np.ndarray | None = None,
) -> TrainResult:
    """Fit every candidate on the same split, choose one, and return predictions for
    evaluation. ``weight``: a sample weight per row of ``ds`` (e.g. reject inference)."""
    say = progress or (lambda _msg: None)
    kinds = cfg.kinds()
    X = ds.X.to_numpy(dtype=np.float64)
    y = ds.y.astype(np.int64)
    if len(np.unique(y)) < 2:
        raise DataError(f"target {ds.target!r} has one class only; training needs goods and bads")
    if weight is not None and len(weight) != len(y):
        raise DataError(f"{len(weight)} sample weights for {len(y)} rows; give one per row")
    oracle_col = cfg.oracle_col or ORACLE_FOR.get(ds.target)
    oracle = None
    if ds.extra is not None and oracle_col in ds.extra.columns:
        oracle = ds.extra[oracle_col].to_numpy(dtype=np.float64)
    if ds.time is not None:
        c = _out_of_time(ds, ds.time, cfg, kinds, X, y, say, weight)
    else:
        c = _cross_validated(ds, cfg, kinds, X, y, say, weight)
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
        selection=c.selection,
    )


def _tuned(kinds: tuple[str, ...], ds: Dataset, cfg: TrainConfig, X: np.ndarray,
           y: np.ndarray, sp: Split, weight: np.ndarray | None,
           say: Callable[[str], None]) -> dict[str, Any] | None:
    """The tuning study on ``sp`` (fit/valid rows only), when a tuned candidate is wanted."""
    if "lightgbm_tuned" not in kinds:
        return None
    from models.tuning import tune_lightgbm

    say(f"tuning LightGBM ({cfg.tune_minutes:g} min, at most {cfg.tune_trials} trials)")
    return tune_lightgbm(X, y, sp, _context(ds, cfg, cfg.seed), cfg.tune_minutes,
                         cfg.tune_trials, weight).to_dict()


def _select(cfg: TrainConfig, valid_auc: Mapping[str, float], y_sel: np.ndarray,
            scores: Mapping[str, np.ndarray]) -> tuple[str, str, dict[str, Any]]:
    """The shipped candidate, the rule that picked it, and the paired validation figures
    behind it (``scores``: each candidate's scores on the selection rows ``y_sel``)."""
    if cfg.model != "auto":
        return cfg.model, f"--model {cfg.model} (forced)", {}
    finite = [k for k in valid_auc if np.isfinite(valid_auc[k])]
    if not finite:
        return next(iter(valid_auc)), "no candidate has a validation AUC", {}
    top = max(finite, key=lambda k: valid_auc[k])
    gaps = paired_auc_gaps(y_sel, {k: scores[k] for k in finite}, top, cfg.n_boot, cfg.seed)
    best = choose(valid_auc, gaps)
    g = gaps[best]
    figures: dict[str, Any] = {"valid_winner": top, "valid_gap_to_winner": g.gap,
                               "valid_gap_to_winner_lo": g.lo, "valid_gap_to_winner_hi": g.hi}
    if best == top:
        return best, "the validation winner", figures
    return best, (f"cheaper to serve and explain than the validation winner ({top}) and "
                  f"behind it by no more than the noise: validation AUC gap {g.gap:.4f}, "
                  f"paired 95% interval [{g.lo:.4f}, {g.hi:.4f}]"), figures


def _table(params: Mapping[str, dict[str, Any]], valid_auc: Mapping[str, float], y_eval: np.ndarray,
           p_eval: Mapping[str, np.ndarray], shipped: str, cfg: TrainConfig,
           seconds: Mapping[str, tuple[float, float]]) -> dict[str, dict[str, Any]]:
    """The side-by-side table: validation AUC, evaluation figures with CIs, fit times."""
    bench = compare(y_eval, p_eval, shipped=shipped, n_boot=cfg.n_boot, seed=cfg.seed)
    return {k: {"valid_auc": valid_auc[k], **bench[k],
                "fit_seconds": seconds[k][0], "fit_cpu_seconds": seconds[k][1],
                "params": params[k]} for k in params}


def _selection(shipped: str, rule: str, table: Mapping[str, Mapping[str, Any]],
               valid: Mapping[str, Any]) -> dict[str, Any]:
    row = table[shipped]
    out: dict[str, Any] = {"shipped": shipped, "rule": rule, **valid}
    for key in ("auc_lift", "auc_lift_lo", "auc_lift_hi", "best_on_test", "auc_gap_to_best",
                "auc_gap_to_best_lo", "auc_gap_to_best_hi"):
        if key in row:
            out[key] = row[key]
    return out


def _out_of_time(
    ds: Dataset,
    time: np.ndarray,
    cfg: TrainConfig,
    kinds: tuple[str, ...],
    X: np.ndarray,
    y: np.ndarray,
    say: Callable[[str], None],
    weight: np.ndarray | None,
) -> _Chosen:
    """Fit each kind on the oldest rows, choose on validation, evaluate on the newest."""
    sp = out_of_time(time)
    design = (
        "out-of-time: oldest 60% of rows fit, next 20% validate (early stopping, tuning, "
        "calibration and model choice), newest 20% test (metrics below)"
    )
    tuned = _tuned(kinds, ds, cfg, X, y, sp, weight, say)
    ctx = _context(ds, cfg, cfg.seed, tuned and tuned["params"])
    fitted: dict[str, Fitted] = {}
    for k in kinds:
        if k == "ensemble":
            continue
        say(f"fitting {k} (out-of-time)")
        fitted[k], _ = fit_candidate(k, X, y, sp, ctx, weight)
    if tuned:
        fitted["lightgbm_tuned"].params["tuning"] = tuned
    if "ensemble" in kinds:
        from models.ensemble import fit_ensemble

        fitted["ensemble"] = fit_ensemble(fitted, X[sp.valid], y[sp.valid], cfg.seed)
    raw_valid = {k: f.raw(X[sp.valid]) for k, f in fitted.items()}
    valid_auc = {k: auc(y[sp.valid], r) for k, r in raw_valid.items()}
    best, rule, valid_figures = _select(cfg, valid_auc, y[sp.valid], raw_valid)
    chosen = fitted[best]
    p_test = {k: f.proba(X[sp.test]) for k, f in fitted.items()}
    seconds = {k: (f.fit_seconds, f.fit_cpu_seconds) for k, f in fitted.items()}
    table = _table({k: f.params for k, f in fitted.items()}, valid_auc, y[sp.test], p_test,
                   best, cfg, seconds)
    p_valid = chosen.proba(X[sp.valid])
    raw_eval = chosen.raw(X[sp.test])
    return _Chosen(chosen, design, table, sp.test, sp.fit, p_test[best], raw_eval,
                   y[sp.valid], p_valid, _selection(best, rule, table, valid_figures))


def _cross_validated(
    ds: Dataset,
    cfg: TrainConfig,
    kinds: tuple[str, ...],
    X: np.ndarray,
    y: np.ndarray,
    say: Callable[[str], None],
    weight: np.ndarray | None,
) -> _Chosen:
    """Choose the kind by pooled out-of-fold AUC, then fit the shipped model on all rows."""
    folds = stratified_folds(y, cfg.folds, cfg.seed)
    design = (
        f"stratified {cfg.folds}-fold cross-validation: in each fold the training part "
        "is split 80/20 into fit/validate (early stopping, calibration); metrics below "
        "are on the pooled out-of-fold predictions; the shipped model is fitted on a "
        "stratified 80/20 fit/validate split of all rows (tuning, if any, on the first "
        "fold's fit/validate rows)"
    )
    tuned = _tuned(kinds, ds, cfg, X, y, folds[0], weight, say)
    params = tuned and tuned["params"]
    base = [k for k in kinds if k != "ensemble"]
    oof = {k: np.zeros(len(y)) for k in kinds}
    oof_raw = {k: np.zeros(len(y)) for k in kinds}
    seconds = {k: [0.0, 0.0] for k in kinds}
    for i, fsp in enumerate(folds):
        fold: dict[str, Fitted] = {}
        for k in base:
            say(f"fold {i + 1}/{len(folds)}: fitting {k}")
            fold[k], _ = fit_candidate(k, X, y, fsp, _context(ds, cfg, cfg.seed + i, params),
                                       weight)
        if "ensemble" in kinds:
            from models.ensemble import fit_ensemble

            fold["ensemble"] = fit_ensemble(fold, X[fsp.valid], y[fsp.valid], cfg.seed + i)
        for k, f in fold.items():
            oof_raw[k][fsp.test] = f.raw(X[fsp.test])
            oof[k][fsp.test] = f.calibrator.apply(oof_raw[k][fsp.test])
            seconds[k][0] += f.fit_seconds
            seconds[k][1] += f.fit_cpu_seconds
    valid_auc = {k: auc(y, oof[k]) for k in kinds}
    best, rule, valid_figures = _select(cfg, valid_auc, y, oof)
    fit_idx, valid_idx = stratified_holdout(y, np.arange(len(y)), 0.2, cfg.seed)
    say(f"fitting the shipped {best} on all rows")
    chosen = _fit_shipped(best, base, ds, cfg, X, y, Split(fit_idx, valid_idx, valid_idx),
                          params, weight)
    if tuned and "lightgbm_tuned" in chosen.params.get("members", [chosen.kind]):
        chosen.params["tuning"] = tuned
    shown: dict[str, dict[str, Any]] = {k: {} for k in kinds}
    shown[best] = chosen.params
    table = _table(shown, valid_auc, y, oof, best, cfg,
                   {k: (v[0], v[1]) for k, v in seconds.items()})
    return _Chosen(chosen, design, table, np.arange(len(y)), fit_idx, oof[best], oof_raw[best],
                   y, oof[best], _selection(best, rule, table, valid_figures))


def _fit_shipped(best: str, base: list[str], ds: Dataset, cfg: TrainConfig, X: np.ndarray,
                 y: np.ndarray, sp: Split, params: Mapping[str, Any] | None,
                 weight: np.ndarray | None) -> Fitted:
    """The shipped model fitted on all rows' fit/validate split (an ensemble: its members)."""
    ctx = _context(ds, cfg, cfg.seed, params)
    if best != "ensemble":
        return fit_candidate(best, X, y, sp, ctx, weight)[0]
    from models.ensemble import fit_ensemble

    members = {k: fit_candidate(k, X, y, sp, ctx, weight)[0] for k in base}
    return fit_ensemble(members, X[sp.valid], y[sp.valid], cfg.seed)


def is_scorecard(model: Any) -> bool:
    return isinstance(model, Scorecard)
