"""How wrong each reject-inference method is, measured on the simulator's truth.

A simulator history is approve-all: every applicant has a label and an oracle PD. The
study replays lending under a real policy on it, in three periods by application time:

1. *launch* (first ``launch_share``): an approve-all test cell; the incumbent PD model is
   trained on it;
2. *policy* (next): the incumbent approves its lowest-PD ``approval_rate`` of applicants;
   the declined are unlabelled, as in life, except an ``explore_share`` exploration cell
   approved anyway. Each method (`models.reject_inference`) trains a PD model here, next
   to the booked-only model and the approve-all model (every label: the ceiling);
3. *test* (last ``test_share``): every model is scored on the through-the-door
   population: AUC, calibration among the applicants the incumbent declines (mean
   predicted PD against the oracle's), and the bad rate each model's ranking gives at a
   few approval rates (the approval/bad-rate frontier). The oracle's own PD is the floor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models import reject_inference as ri
from models.errors import DataError
from models.metrics import auc

APPROVAL_POINTS = (0.5, 0.7, 0.9)


@dataclass(frozen=True)
class StudyConfig:
    approval_rate: float = 0.6
    explore_share: float = 0.03
    launch_share: float = 0.2
    test_share: float = 0.3
    factor: float = 1.5  # parcelling / fuzzy: how much worse the declined are assumed
    seed: int = 0
    rounds: int = 400


@dataclass(frozen=True)
class MethodResult:
    method: str
    train_rows: int
    auc: float
    declined_mean_pd: float  # mean predicted PD among the incumbent's test declines
    declined_true_pd: float  # the oracle's mean PD among them
    bad_rate_at: dict[float, float]  # approval rate -> observed bad rate

    @property
    def calibration_ratio(self) -> float:
        """Predicted over true mean PD among the declined (1 = calibrated)."""
        return self.declined_mean_pd / self.declined_true_pd


@dataclass(frozen=True)
class Study:
    results: list[MethodResult]
    periods: dict[str, int]
    booked: int
    explored: int

    def by_method(self) -> dict[str, MethodResult]:
        return {r.method: r for r in self.results}

    def gap_closed(self, method: str) -> float:
        """Share of the AUC gap between booked-only and approve-all the method closes."""
        r = self.by_method()
        lo, hi = r["booked only"].auc, r["approve-all"].auc
        return (r[method].auc - lo) / (hi - lo) if hi != lo else 0.0

    def winner(self) -> str:
        cands = [f"RI: {m}" for m in ri.METHODS]
        return max(cands, key=lambda m: (self.by_method()[m].auc,
                                         -abs(1 - self.by_method()[m].calibration_ratio)))


def run_study(frame: Any, features: Sequence[str], cfg: StudyConfig | None = None,
              progress: Callable[[str], None] | None = None) -> Study:
    """The study on a training table (features, ``label_default``, ``oracle_pd``,
    ``event_time``); raises DataError when it is too small to split."""
    cfg = cfg or StudyConfig()
    say = progress or (lambda _m: None)
    missing = [c for c in ("label_default", "oracle_pd", "event_time") if c not in frame.columns]
    if missing:
        raise DataError(f"the study needs a simulator training table with {', '.join(missing)} "
                        "(`loanrisk features build` writes one from `simulate history`)")
    df = frame.sort_values("event_time", kind="stable").reset_index(drop=True)
    n = len(df)
    a, b = int(n * cfg.launch_share), int(n * (1 - cfg.test_share))
    if a < 300 or b - a < 1000 or n - b < 500:
        raise DataError(f"{n:,} applications are too few for the study (launch {a:,}, policy "
                        f"{b - a:,}, test {n - b:,}; it needs 300, 1,000 and 500): simulate "
                        "a larger history")
    X = df[list(features)].to_numpy(dtype=np.float64)
    y = df["label_default"].to_numpy(dtype=np.float64)
    oracle = df["oracle_pd"].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(cfg.seed)
    say("incumbent model on the launch cell")
    incumbent = _fit(ri.Augmented(X[:a], y[:a], np.ones(a)), features, cfg.seed, cfg.rounds)
    inc_pd = incumbent.predict(X)
    cutoff = float(np.quantile(inc_pd[a:b], cfg.approval_rate))
    Xp, yp = X[a:b], y[a:b]
    booked = inc_pd[a:b] < cutoff
    explored = ~booked & (rng.random(b - a) < cfg.explore_share)
    logged = booked | explored
    sets = _training_sets(Xp, yp, booked, explored, logged, features, cfg, say)
    test = slice(b, n)
    declined = inc_pd[test] >= cutoff
    results = []
    for name, aug in sets.items():
        say(f"training: {name}")
        p = _fit(aug, features, cfg.seed, cfg.rounds).predict(X[test])
        results.append(_measure(name, len(aug.y), p, y[test], oracle[test], declined))
    results.append(_measure("oracle", 0, oracle[test], y[test], oracle[test], declined))
    return Study(results, {"launch": a, "policy": b - a, "test": n - b}, int(booked.sum()),
                 int(explored.sum()))


def _training_sets(X: np.ndarray, y: np.ndarray, booked: np.ndarray, explored: np.ndarray,
                   logged: np.ndarray, features: Sequence[str], cfg: StudyConfig,
                   say: Callable[[str], None]) -> dict[str, ri.Augmented]:
    """Every method's rows from the policy period (declined unlabelled but the explored)."""
    say("booked-only model and propensity")
    base = ri.booked_only(X, y, booked)
    score = _fit(base, features, cfg.seed, cfg.rounds).predict(X)
    return {
        "approve-all": ri.Augmented(X, y, np.ones(len(y))),
        "booked only": base,
        "RI: ipw": ri.ipw(X, y, booked, ri.propensity(X, booked, cfg.seed)),
        "RI: parcel": ri.parcel(X, y, booked, score, cfg.factor, seed=cfg.seed),
        "RI: fuzzy": ri.fuzzy(X, y, booked, score, cfg.factor),
        "RI: explore": ri.explore(X, y, booked, explored, cfg.explore_share),
    }


def _fit(aug: ri.Augmented, features: Sequence[str], seed: int, rounds: int) -> Any:
    """LightGBM (the project's parameters, `models.gbm`) on the rows, weights honoured;
    20% of them (at random) for early stopping."""
    import lightgbm as lgb

    from models.gbm import DEFAULT_PARAMS

    rng = np.random.default_rng(seed)
    valid = rng.random(len(aug.y)) < 0.2
    fit = lgb.Dataset(aug.X[~valid], aug.y[~valid], weight=aug.w[~valid],
                      feature_name=list(features), free_raw_data=False)
    dvalid = lgb.Dataset(aug.X[valid], aug.y[valid], weight=aug.w[valid], reference=fit)
    return lgb.train({**DEFAULT_PARAMS, "seed": seed}, fit, num_boost_round=rounds,
                     valid_sets=[dvalid], callbacks=[lgb.early_stopping(30, verbose=False)])


def _measure(name: str, rows: int, p: np.ndarray, y: np.ndarray, oracle: np.ndarray,
             declined: np.ndarray) -> MethodResult:
    order = np.argsort(p, kind="stable")
    at = {r: float(y[order[: int(len(y) * r)]].mean()) for r in APPROVAL_POINTS}
    return MethodResult(name, rows, float(auc(y, p)), float(p[declined].mean()),
                        float(oracle[declined].mean()), at)
