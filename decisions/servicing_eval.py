"""The lifecycle evaluation against the truth: the B-score out of time, and the
collections strategy against no treatment and the oracle's best (one report).

Out of time = the newest 20% of rows by observation time, the rows ``loanrisk train``'s
out-of-time split holds out as its test when it trains on the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from decisions.collections_eval import StrategyResult, Truth, compare, uplift
from decisions.servicing_policy import ServicingPolicy
from schemas.servicing import TREATMENTS

FLAGS = tuple(f"treat_{t.lower()}" for t in TREATMENTS[1:])
TEST_SHARE = 0.2


class Scorer(Protocol):
    feature_names: list[str]
    version: str

    def score_batch(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ScoreFigures:
    """A score against its label, beside the oracle on the same rows."""

    version: str
    rows: int
    bad_rate: float
    auc: float
    ks: float
    oracle_auc: float
    oracle_ks: float

    @property
    def share(self) -> float:
        return (self.auc - 0.5) / (self.oracle_auc - 0.5) if self.oracle_auc > 0.5 else np.nan


@dataclass(frozen=True)
class LifecycleReport:
    bscore: ScoreFigures
    collection: ScoreFigures
    strategies: list[StrategyResult]
    uplift: dict[str, float]
    policy_version: str

    def as_dict(self) -> dict[str, Any]:
        return {"bscore": {**self.bscore.__dict__, "share_of_oracle": self.bscore.share},
                "collection": {**self.collection.__dict__,
                               "share_of_oracle": self.collection.share},
                "strategies": [{**s.__dict__, "net_cost": s.net_cost} for s in self.strategies],
                "uplift": self.uplift, "policy_version": self.policy_version}


def newest(frame: pd.DataFrame, share: float = TEST_SHARE) -> pd.DataFrame:
    order = np.argsort(frame["observation_time"].to_numpy(), kind="stable")
    return frame.iloc[order[len(order) - int(len(order) * share):]].reset_index(drop=True)


def figures(model: Scorer, rows: pd.DataFrame, label: str, oracle: str) -> ScoreFigures:
    from models.metrics import auc, ks

    y = rows[label].to_numpy(int)
    p = model.score_batch(rows[model.feature_names].to_numpy(float))
    o = rows[oracle].to_numpy(float)
    return ScoreFigures(model.version, len(rows), float(y.mean()), auc(y, p), ks(y, p)[0],
                        auc(y, o), ks(y, o)[0])


def p_by_treatment(model: Scorer, rows: pd.DataFrame) -> np.ndarray:
    """(rows, treatments): the collection score with each treatment's flags set."""
    out = np.empty((len(rows), len(TREATMENTS)))
    for i, t in enumerate(TREATMENTS):
        x = rows.copy()
        for f in FLAGS:
            x[f] = 1.0 if f == f"treat_{t.lower()}" else 0.0
        out[:, i] = model.score_batch(x[model.feature_names].to_numpy(float))
    return out


def policy_choice(policy: ServicingPolicy, p: np.ndarray, balance: np.ndarray) -> np.ndarray:
    """The policy's champion choice (no challenger cells): lowest expected cost."""
    c = policy.doc.collections
    cost = np.array([c.costs[t] for t in TREATMENTS])[None, :]
    return np.argmin(cost + p * balance[:, None] * c.loss_given_chargeoff, axis=1)


def evaluate_lifecycle(obs: pd.DataFrame, entries: pd.DataFrame, bscore: Scorer,
                       collection: Scorer, policy: ServicingPolicy, truth: Truth
                       ) -> LifecycleReport:
    """Both scores on their newest rows, and the strategies on the newest entries."""
    if getattr(collection, "target", "label_chargeoff") != "label_chargeoff":
        raise ValueError(f"the collection model {collection.version} predicts "
                         f"{getattr(collection, 'target', '?')}; the policy's expected cost "
                         "needs P(charge-off): train it with --target label_chargeoff")
    b_rows, c_rows = newest(obs), newest(entries)
    for name, rows, need in (("observation points", b_rows, 200),
                             ("delinquency entries", c_rows, 30)):
        if len(rows) < need:
            raise ValueError(f"only {len(rows)} out-of-time {name} (need {need}); simulate "
                             "more accounts or months")
    b = figures(bscore, b_rows, "label_bscore", "oracle_bscore")
    c = figures(collection, c_rows, "label_chargeoff", "oracle_chargeoff")
    choice = policy_choice(policy, p_by_treatment(collection, c_rows),
                           c_rows["balance"].to_numpy(float))
    results = compare(c_rows, choice, truth)
    return LifecycleReport(b, c, results, uplift(results), policy.version)

