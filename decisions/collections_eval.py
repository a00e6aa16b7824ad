"""Collections strategies scored against the simulator's truth.

For accounts entering 30 days past due, each strategy assigns a treatment; the oracle
gives every account's exact P(cure within 3 months) and P(charge-off within 9 months)
under every treatment, so a strategy's expected cured accounts and net cost (treatment
costs + expected credit loss after recoveries) are computed without sampling noise.
Compared: no treatment, the history's uniformly random treatment, the policy (the
collection score and expected-cost choice of ``decisions.servicing_policy``) and the
oracle's best treatment per account (the ceiling no strategy can beat).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schemas.servicing import TREATMENTS


@dataclass(frozen=True)
class StrategyResult:
    """Expected outcomes of one strategy over the same accounts."""

    name: str
    accounts: int
    cured: float
    charged_off: float
    treatment_cost: float
    credit_loss: float
    mix: dict[str, float]

    @property
    def net_cost(self) -> float:
        return self.treatment_cost + self.credit_loss


@dataclass(frozen=True)
class Truth:
    """The world's costs and recovery rates per treatment (``ServicingConfig``)."""

    cost: Sequence[float]
    recovery: Sequence[float]


def oracle_matrix(entries: pd.DataFrame, outcome: str) -> np.ndarray:
    """(rows, treatments) oracle probabilities of ``outcome`` (cure, chargeoff, roll)."""
    cols = [f"oracle_{outcome}_{t.lower()}" for t in TREATMENTS]
    missing = [c for c in cols if c not in entries.columns]
    if missing:
        raise ValueError(f"entries lack the oracle columns {missing}: build them with "
                         "`loanrisk features build --kind delinquency-entries`")
    return entries[cols].to_numpy(float)


def score(name: str, entries: pd.DataFrame, choice: np.ndarray, truth: Truth) -> StrategyResult:
    """Expected outcomes when row i gets treatment index ``choice[i]``."""
    rows = np.arange(len(entries))
    cure = oracle_matrix(entries, "cure")[rows, choice]
    co = oracle_matrix(entries, "chargeoff")[rows, choice]
    balance = entries["balance"].to_numpy(float)
    loss = co * balance * (1 - np.asarray(truth.recovery)[choice])
    counts = np.bincount(choice, minlength=len(TREATMENTS)) / max(len(choice), 1)
    return StrategyResult(name, len(entries), float(cure.sum()), float(co.sum()),
                          float(np.asarray(truth.cost)[choice].sum()), float(loss.sum()),
                          {t: float(c) for t, c in zip(TREATMENTS, counts, strict=True)})


def oracle_best(entries: pd.DataFrame, truth: Truth) -> np.ndarray:
    """Per row, the treatment with the lowest true expected net cost."""
    co = oracle_matrix(entries, "chargeoff")
    balance = entries["balance"].to_numpy(float)[:, None]
    net = np.asarray(truth.cost)[None, :] + co * balance * (1 - np.asarray(truth.recovery))
    return np.argmin(net, axis=1)


def compare(entries: pd.DataFrame, policy_choice: np.ndarray, truth: Truth,
            seed: int = 0) -> list[StrategyResult]:
    """No treatment, random (the history's own), the policy and the oracle's best."""
    n = len(entries)
    rng = np.random.default_rng(seed)
    return [
        score("no treatment", entries, np.zeros(n, np.int64), truth),
        score("random (history)", entries, rng.integers(0, len(TREATMENTS), n), truth),
        score("policy", entries, policy_choice, truth),
        score("oracle best", entries, oracle_best(entries, truth), truth),
    ]


def uplift(results: Sequence[StrategyResult]) -> dict[str, float]:
    """The policy against no treatment, and the share of the oracle's saving it captures."""
    by: Mapping[str, StrategyResult] = {r.name: r for r in results}
    none, pol, best = by["no treatment"], by["policy"], by["oracle best"]
    possible = none.net_cost - best.net_cost
    return {
        "cured_vs_none": pol.cured - none.cured,
        "net_saving_vs_none": none.net_cost - pol.net_cost,
        "net_gap_to_oracle": pol.net_cost - best.net_cost,
        "share_of_oracle_saving": (none.net_cost - pol.net_cost) / possible if possible else
        float("nan"),
        "cost_per_cure": pol.treatment_cost / pol.cured if pol.cured else float("nan"),
    }
