"""Model scoring costs per application, each against a baseline measured in the same run.

- score:    PD + fraud LightGBM together through `models.serving` (C API fast path +
            calibration) vs the same two boosters through ``Booster.predict``;
            target (issue 5): under 50 µs p99 for both together.
- explain:  TreeSHAP reason codes via the fast path (``predict_type=CONTRIB``) vs
            ``Booster.predict(pred_contrib=True)``; only paid on declines/reviews.
- scorecard: single-row scorecard points + PD.
- anomaly:  our `AnomalyModel` score-and-learn (HalfSpaceTrees 25 trees, height 6,
            window 1,000) vs River HalfSpaceTrees at height 12 (window 250); target
            p99.9 under 1 ms per event (no window-swap stalls).

Models are trained with the production parameters (models/gbm.py: 8 leaves, depth 4) on
40 synthetic columns at the tree counts early stopping picks on the simulator's data
(140 and 80 trees).
Run: ``python -m bench models`` (part of ``make bench``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

N_ROWS = 20_000
N_COLS = 40
N_SCORE = 20_000


def _pcts(us: list[float]) -> tuple[float, float, float]:
    s = sorted(us)
    return tuple(s[min(len(s) - 1, int(q * len(s)))] for q in (0.5, 0.99, 0.999))  # type: ignore[return-value]


def _line(name: str, us: list[float]) -> str:
    p50, p99, p999 = _pcts(us)
    rate = len(us) / (sum(us) / 1e6)
    return f"{name:<40} p50 {p50:8.1f}  p99 {p99:8.1f}  p99.9 {p999:8.1f} µs  {rate:9.0f}/s"


def _time(fn: Callable[[Any], Any], xs: list[Any], n: int) -> list[float]:
    out = []
    clock = time.perf_counter_ns
    for i in range(n):
        x = xs[i % len(xs)]
        t0 = clock()
        fn(x)
        out.append((clock() - t0) / 1000)
    return out


def _models() -> tuple[Any, Any, Any, Any]:
    import lightgbm as lgb
    import numpy as np

    from models.gbm import DEFAULT_PARAMS
    from models.serving import LightGBMServing

    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_ROWS, N_COLS))
    X[rng.random(X.shape) < 0.05] = np.nan
    names = [f"f{i:02d}" for i in range(N_COLS)]
    out = []
    for t in (0, 1):
        z = np.nan_to_num(X[:, t]) + 0.5 * np.nan_to_num(X[:, t + 2]) ** 2 - 2.5
        y = (rng.random(N_ROWS) < 1 / (1 + np.exp(-z))).astype(int)
        # the production training parameters at the tree counts early stopping picks on the
        # simulator's feature table (PD ~140, fraud ~80 trees)
        params = {**DEFAULT_PARAMS, "num_threads": 2}
        booster = lgb.train(params, lgb.Dataset(X, y, feature_name=names),
                            num_boost_round=140 if t == 0 else 80)
        manifest = {
            "version": f"bench-{t}",
            "feature_names": names,
            "calibration": {"method": "platt", "a": 1.1, "b": -0.2, "xs": [], "ys": []},
        }
        out.append(LightGBMServing(manifest, booster))
    return out[0], out[1], X, names


def _scorecard() -> tuple[Any, list[Any]]:
    import numpy as np

    from models.data import frame_to_dataset
    from models.scorecard import fit_scorecard
    from models.serving import ScorecardServing
    from models.synth import MONOTONE, make_loans

    ds = frame_to_dataset(make_loans(5000), "label_default")
    card = fit_scorecard(ds.X.to_numpy(), ds.y, ds.feature_names, ds.categories, MONOTONE)
    manifest = {
        "version": "bench-card",
        "feature_names": ds.feature_names,
        "calibration": {"method": "none", "a": 1, "b": 0, "xs": [], "ys": []},
    }
    rows = [np.ascontiguousarray(r) for r in ds.X.to_numpy()[:2000]]
    return ScorecardServing(manifest, card), rows


def _anomaly_rows(n: int) -> list[dict[str, float]]:
    import numpy as np

    rng = np.random.default_rng(1)
    feats = [f"a{i}" for i in range(12)]
    M = rng.normal(size=(n, len(feats)))
    return [dict(zip(feats, r.tolist(), strict=True)) for r in M]


def _bench_scoring(pd_model: Any, fraud_model: Any, X: Any, rows: list[Any]) -> None:
    """The serving fast path against LightGBM's own Booster.predict, after checking they agree."""
    import numpy as np

    b_pd, b_fr = pd_model.booster, fraud_model.booster

    def fast(x: Any) -> None:
        pd_model.score(x)
        fraud_model.score(x)

    def booster(x: Any) -> None:
        r = x.reshape(1, -1)
        b_pd.predict(r)
        b_fr.predict(r)

    # correctness check while we are here: fast path == Booster.predict
    raw = [pd_model.score_raw(r) for r in rows[:500]]
    err = float(np.max(np.abs(np.array(raw) - b_pd.predict(X[:500], raw_score=True))))
    print(f"max |fast - Booster.predict| raw score on 500 rows: {err:.2e}")

    for f in (fast, booster):
        _time(f, rows, 2000)  # warm-up
    gc.collect()
    gc.freeze()
    t_fast = _time(fast, rows, N_SCORE)
    t_boost = _time(booster, rows, N_SCORE // 4)
    print(_line("score pd+fraud (serving fast path)", t_fast))
    print(_line("score pd+fraud (Booster.predict) [base]", t_boost))
    print(
        f"  ratio p50 {_pcts(t_boost)[0] / _pcts(t_fast)[0]:.1f}x faster, "
        f"p99 {_pcts(t_boost)[1] / _pcts(t_fast)[1]:.1f}x; target p99 < 50 µs: "
        f"{'MET' if _pcts(t_fast)[1] < 50 else 'MISSED'}"
    )


def _bench_reasons(pd_model: Any, rows: list[Any]) -> None:
    b_pd = pd_model.booster
    t_exp = _time(lambda x: pd_model.reasons(x, 4), rows, 3000)
    t_exp_b = _time(lambda x: b_pd.predict(x.reshape(1, -1), pred_contrib=True), rows, 1000)
    print(_line("reasons top 4, one model (fast contrib)", t_exp))
    print(_line("pred_contrib (Booster.predict) [base]", t_exp_b))
    print(f"  ratio p50 {_pcts(t_exp_b)[0] / _pcts(t_exp)[0]:.1f}x")


def _bench_scorecard() -> None:
    card, crow = _scorecard()
    t_card = _time(card.score, crow, N_SCORE)
    t_card_b = _time(lambda x: card.card.raw(x.reshape(1, -1)), crow, N_SCORE // 4)
    print(_line("scorecard PD, one row (bisect plan)", t_card))
    print(_line("scorecard PD, numpy per row [base]", t_card_b))
    print(f"  ratio p50 {_pcts(t_card_b)[0] / _pcts(t_card)[0]:.1f}x")


def _river_baseline(arows: list[dict[str, float]]) -> tuple[list[float], float]:
    """River's HalfSpaceTrees on the same rows: (per-step µs, seconds of the first 500)."""
    from river import anomaly

    base = anomaly.HalfSpaceTrees(n_trees=25, height=12, window_size=250, seed=42)

    def base_step(x: dict[str, float]) -> None:
        z = {k: min(max((v + 4.0) / 8.0, 0.0), 1.0) for k, v in x.items()}
        base.score_one(z)
        base.learn_one(z)

    t0 = time.perf_counter()
    for r in arows[:500]:
        base_step(r)
    warm = time.perf_counter() - t0
    gc.collect()
    gc.freeze()
    t_base = _time(base_step, arows[500:], 3000)
    gc.unfreeze()
    return t_base, warm


def _bench_anomaly() -> None:
    import numpy as np

    from models.anomaly import AnomalyModel

    arows = _anomaly_rows(40_000)
    feats = list(arows[0])
    bounds = {f: (-4.0, 4.0) for f in feats}
    ours = AnomalyModel(feats, bounds)
    for r in arows[:3000]:
        ours.learn_one(r)
    gc.collect()
    gc.freeze()
    t_an = _time(ours.score_and_learn, arows[3000:], 30_000)
    gc.unfreeze()
    print(_line(f"anomaly score+learn ({ours.version})", t_an))
    t_base, warm = _river_baseline(arows)
    print(_line("River HST t25 h12 w250 [base]", t_base) + f"  (first 500: {warm:.1f}s)")
    print(
        f"  ratio p99.9 {_pcts(t_base)[2] / _pcts(t_an)[2]:.0f}x lower; max ours "
        f"{max(t_an):.0f} µs vs base {max(t_base):.0f} µs; target p99.9 < 1000 µs: "
        f"{'MET' if _pcts(t_an)[2] < 1000 else 'MISSED'}"
    )
    s = np.array([ours.score_one(r) for r in arows[:2000]])
    print(
        f"  anomaly score quantiles p50 {np.quantile(s, 0.5):.3f}  p99 {np.quantile(s, 0.99):.3f}"
    )


def main() -> None:
    import os

    import numpy as np

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (noisy if > 1)")
    print(f"training two LightGBM models ({N_COLS} features, 140 and 80 trees)...", flush=True)
    pd_model, fraud_model, X, _ = _models()
    rows = [np.ascontiguousarray(r) for r in X[:2000]]
    _bench_scoring(pd_model, fraud_model, X, rows)  # freezes the heap for the next two
    _bench_reasons(pd_model, rows)
    _bench_scorecard()
    gc.unfreeze()
    _bench_anomaly()

if __name__ == "__main__":
    main()
