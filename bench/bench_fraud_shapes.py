"""Fraud recall per ring shape, and false positives on genuine sharers, before and after the
identity graph.

Simulates a history (every shape and genuine sharing at their configured rates),
builds the feature table through the live engine on a private redis-server
(``features.offline``), and trains two LightGBM fraud models on the first 70% by
event time: BEFORE without the identity-graph features (``features.graph.FEATURES``),
AFTER with them. On the last 30% each model flags its top share of applications at each
operating point of ``FLAG_RATES`` (the same share for both models); the report is, per
operating point, the recall per fraud type and the share of genuine sharers (families,
offices, halls) and of other genuine applicants flagged, with the counts behind each
share. At a flag rate below the fraud rate a good model spends its flags on fraud and
flags no genuine sharer; the higher operating points are where the models' false
positives on genuine sharers separate.

``python -m bench fraud_shapes`` (``N_APPS`` applications over ``MONTHS`` months; its
redis-server on ``BENCH_PORT`` + ``LOANRISK_BENCH_PORT_OFFSET``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

BENCH_PORT = 36481
N_APPS, MONTHS, SEED = 30_000, 6, 11
FLAG_RATES = (0.05, 0.10, 0.20)
SHARING = ("family", "office", "halls")
PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 31,
          "min_data_in_leaf": 40, "feature_fraction": 0.8, "verbose": -1, "seed": 1}


def _table(n: int, months: int, seed: int) -> Any:
    import redis

    from bench.pipeline.plan import PORT_OFFSET
    from features.engine import FeatureEngine
    from features.offline import build_training_table
    from infra.redis import RedisNode
    from simulator.config import SimConfig
    from simulator.history import generate_history

    history = generate_history(SimConfig(), n, months, seed)
    with tempfile.TemporaryDirectory(prefix="bench-shapes-") as tmp:
        node = RedisNode(Path(tmp), BENCH_PORT + PORT_OFFSET, persistent=False)
        node.start()
        try:
            engine = FeatureEngine(redis.Redis.from_url(node.url), b"bench", prefix="shapes")
            return build_training_table(history, engine)
        finally:
            node.stop()


def _scores(train: Any, test: Any, columns: list[str]) -> np.ndarray:
    import lightgbm as lgb

    booster = lgb.train(PARAMS, lgb.Dataset(train[columns].to_numpy(float),
                                            train["label_fraud"].astype(int).to_numpy()), 300)
    return np.asarray(booster.predict(test[columns].to_numpy(float)))


def _groups(test: Any) -> dict[str, np.ndarray]:
    """Row masks: each fraud type, each kind of genuine sharer, genuine non-sharers."""
    ft = test["fraud_type"].fillna("none").to_numpy(object)
    share = test["genuine_sharing"].fillna("").to_numpy(object)
    out = {t: ft == t for t in sorted(set(ft)) if t != "none"}
    genuine = ft == "none"
    for k in SHARING:
        out[f"genuine {k}"] = genuine & (share == k)
    out["genuine, not sharing"] = genuine & (share == "")
    return out


def _report(name: str, scores: np.ndarray, groups: dict[str, np.ndarray],
            rate: float) -> dict[str, float]:
    """One row: the share of each group flagged when the top ``rate`` of scores is."""
    flagged = scores >= np.quantile(scores, 1 - rate)
    masks = {**groups, "genuine sharers": np.logical_or.reduce(
        [groups[f"genuine {k}"] for k in SHARING])}
    out = {g: float(flagged[m].mean()) for g, m in masks.items()}
    cells = [f"{out[g]:.1%} ({int(flagged[m].sum())})" for g, m in masks.items()]
    print(f"| {rate:.0%} | {name} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    from features import graph
    from features.spec import FEATURE_SPEC

    n, months, seed = N_APPS, MONTHS, SEED
    print(f"load average {os.getloadavg()[0]:.2f}; history of {n} applications over "
          f"{months} months, seed {seed}; flag rates {', '.join(f'{r:.0%}' for r in FLAG_RATES)}"
          " of the test period")
    table = _table(n, months, seed).sort_values("event_time")
    cut = int(len(table) * 0.7)
    train, test = table.iloc[:cut], table.iloc[cut:]
    counts = test["fraud_type"].fillna("none").value_counts().to_dict()
    print(f"  test period: {len(test)} applications, by type {counts}")
    after = list(FEATURE_SPEC.names)
    before = [c for c in after if c not in graph.FEATURES]
    groups = _groups(test)
    print(f"recall per fraud type / share of genuine applicants flagged, (flagged count); "
          f"features: before {len(before)}, after {len(after)}; group sizes "
          + ", ".join(f"{g} {int(m.sum())}" for g, m in groups.items()))
    models = {"before": _scores(train, test, before), "after": _scores(train, test, after)}
    print("| flagged | model | " + " | ".join([*groups, "genuine sharers"]) + " |")
    print("|---|---|" + "---|" * (len(groups) + 1))
    for rate in FLAG_RATES:
        for name, scores in models.items():
            _report(name, scores, groups, rate)


if __name__ == "__main__":
    main()
