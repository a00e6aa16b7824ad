"""Fraud recall per ring shape, and false positives on genuine sharers, before and after the
identity graph.

Simulates a history (every shape and genuine sharing at their configured rates),
builds the feature table through the live engine on a private redis-server
(``features.offline``), and trains two LightGBM fraud models on the first 70% by
event time: BEFORE without the identity-graph features (``features.graph.FEATURES``),
AFTER with them. On the last 30% each flags its top ``FLAG_RATE`` of applications;
the report is the recall per fraud type and the share of genuine sharers (families,
offices, halls) and of other genuine applicants flagged.

``python -m bench fraud_shapes`` (``N_APPS`` applications over ``MONTHS`` months).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

BENCH_PORT = 36481
N_APPS, MONTHS, SEED = 30_000, 6, 11
FLAG_RATE = 0.05
PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 31,
          "min_data_in_leaf": 40, "feature_fraction": 0.8, "verbose": -1, "seed": 1}


def _table(n: int, months: int, seed: int) -> Any:
    import redis

    from features.engine import FeatureEngine
    from features.offline import build_training_table
    from infra.redis import RedisNode
    from simulator.config import SimConfig
    from simulator.history import generate_history

    history = generate_history(SimConfig(), n, months, seed)
    with tempfile.TemporaryDirectory(prefix="bench-shapes-") as tmp:
        node = RedisNode(Path(tmp), BENCH_PORT, persistent=False)
        node.start()
        try:
            engine = FeatureEngine(redis.Redis.from_url(node.url), b"bench", prefix="shapes")
            return build_training_table(history, engine)
        finally:
            node.stop()


def _flag(train: Any, test: Any, columns: list[str]) -> np.ndarray:
    import lightgbm as lgb

    booster = lgb.train(PARAMS, lgb.Dataset(train[columns].to_numpy(float),
                                            train["label_fraud"].astype(int).to_numpy()), 300)
    p = booster.predict(test[columns].to_numpy(float))
    return np.asarray(p >= np.quantile(p, 1 - FLAG_RATE))


def _report(name: str, test: Any, flagged: np.ndarray) -> dict[str, float]:
    ft = test["fraud_type"].fillna("none").to_numpy(object)
    share = test["genuine_sharing"].fillna("").to_numpy(object)
    out = {t: float(flagged[ft == t].mean()) for t in sorted(set(ft)) if t != "none"}
    genuine = ft == "none"
    for k in ("family", "office", "halls"):
        out[f"genuine {k}"] = float(flagged[genuine & (share == k)].mean())
    out["genuine, not sharing"] = float(flagged[genuine & (share == "")].mean())
    print(f"  {name}: " + ", ".join(f"{k} {v:.1%}" for k, v in out.items()))
    return out


def main() -> None:
    from features import graph
    from features.spec import FEATURE_SPEC

    n, months, seed = N_APPS, MONTHS, SEED
    print(f"load average {os.getloadavg()[0]:.2f}; history of {n} applications over "
          f"{months} months, seed {seed}; flag rate {FLAG_RATE:.0%} of the test period")
    table = _table(n, months, seed).sort_values("event_time")
    cut = int(len(table) * 0.7)
    train, test = table.iloc[:cut], table.iloc[cut:]
    counts = test["fraud_type"].fillna("none").value_counts().to_dict()
    print(f"  test period: {len(test)} applications, by type {counts}")
    after = list(FEATURE_SPEC.names)
    before = [c for c in after if c not in graph.FEATURES]
    print(f"recall per fraud type / share of genuine applicants flagged "
          f"(features: before {len(before)}, after {len(after)})")
    _report("before", test, _flag(train, test, before))
    _report("after ", test, _flag(train, test, after))


if __name__ == "__main__":
    main()
