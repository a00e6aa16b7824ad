"""`models.lda`: age proxies ranked by correlation with age, and refits without them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.lda import age_proxies, alternatives


def _frame(n: int = 4000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(2)
    age = rng.uniform(18, 70, n)
    score = rng.normal(0, 1, n)
    logit = -3 + 1.2 * score + 2.0 * np.exp(-(age - 18) / 8)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    fraud = (rng.random(n) < 0.03).astype(float)
    return pd.DataFrame({
        "file_age": age * 12 + rng.normal(0, 30, n),  # the strong proxy
        "tenure": np.minimum(age - 18, 20) + rng.normal(0, 6, n),  # a weaker one
        "score": score, "constant": np.ones(n),
        "label_default": y, "label_fraud": fraud, "event_time": np.arange(n),
    }), age


def test_proxies_are_ranked_by_their_correlation_with_age() -> None:
    frame, age = _frame()
    ranked = age_proxies(frame, ["score", "tenure", "file_age", "constant"], age)
    assert [n for n, _ in ranked][:2] == ["file_age", "tenure"]
    assert ranked[0][1] > 0.95 and ranked[-1][0] == "score" and ranked[-1][1] < 0.05
    assert "constant" not in dict(ranked)


def test_a_refit_without_the_proxies_leans_less_on_age_and_costs_auc() -> None:
    frame, age = _frame()
    names = ["score", "tenure", "file_age"]
    _, (ref, without) = alternatives(frame, names, age, [0, 2], "event_time")
    assert ref.dropped == () and set(without.dropped) == {"file_age", "tenure"}
    assert len(ref.scores) == len(frame) == len(without.scores)
    assert without.auc < ref.auc
    corr = [abs(np.corrcoef(a.scores, age)[0, 1]) for a in (ref, without)]
    assert corr[1] < corr[0] / 3
