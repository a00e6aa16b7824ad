"""The monthly delinquency chain: one definition used both to simulate loan
performance and to compute the oracle probability of default exactly.

States: 0 current, 1..5 = 30..150 days past due, 6 charged off, 7 paid off.
Each month a current loan goes 30 DPD with its hazard ``h`` (or pays off);
a loan k buckets behind rolls one bucket further, cures back to current, or
stays (partial payment). Roll rates rise and cure rates fall with the
loan's latent risk. Fraud loans never pay (``h = 1``, rolls 1, no cures);
first-party bust-outs stop paying with a monthly hazard, then roll straight
through to charge-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CURRENT, CHARGED_OFF, PAID_OFF = 0, 6, 7
N_STATES = 8
STATUS = np.array(
    [
        "CURRENT",
        "DELINQUENT",
        "DELINQUENT",
        "DELINQUENT",
        "DELINQUENT",
        "DELINQUENT",
        "CHARGED_OFF",
        "PAID_OFF",
    ],
    dtype=object,
)


@dataclass(frozen=True)
class ChainParams:
    """Per-loan transition parameters (arrays of length n)."""

    hazard: np.ndarray  # current -> 30 DPD
    roll: np.ndarray  # (n, 5): bucket k -> k+1 (5 -> charged off)
    cure: np.ndarray  # (n, 5): bucket k -> current
    prepay: np.ndarray  # current -> paid off
    term: np.ndarray  # months; 0 = revolving (no scheduled pay-off)

    def transitions(self, month: int) -> list[tuple[int, int, np.ndarray]]:
        """(from, to, probability) for the step into ``month`` (1-based); the rest stays."""
        at_term = (self.term > 0) & (month >= self.term)
        payoff = np.where(at_term, 1.0 - self.hazard, self.prepay)
        out = [(CURRENT, 1, self.hazard), (CURRENT, PAID_OFF, payoff)]
        for k in range(5):
            out.append((k + 1, k + 2 if k < 4 else CHARGED_OFF, self.roll[:, k]))
            out.append((k + 1, CURRENT, self.cure[:, k]))
        return out


def prob_ever_reach(params: ChainParams, bucket: int, months: int) -> np.ndarray:
    """Exact P(the loan is ever ``bucket`` (1..6) or worse within ``months``)."""
    n = len(params.hazard)
    p = np.zeros((n, N_STATES))
    p[:, CURRENT] = 1.0
    hit = np.zeros(n)
    for m in range(1, months + 1):
        new = np.zeros_like(p)
        leaving = np.zeros_like(p)
        for f, t, pr in params.transitions(m):
            flow = p[:, f] * pr
            new[:, t] += flow
            leaving[:, f] += flow
        new += p - leaving
        hit += new[:, bucket : CHARGED_OFF + 1].sum(axis=1)
        new[:, bucket : CHARGED_OFF + 1] = 0.0
        p = new
    return np.clip(hit, 0.0, 1.0)


def simulate(params: ChainParams, months: int, rng: np.random.Generator) -> np.ndarray:
    """Sampled state paths, shape (n, months); column m-1 is the state at month m."""
    n = len(params.hazard)
    state = np.zeros(n, dtype=np.int8)
    out = np.empty((n, months), dtype=np.int8)
    for m in range(1, months + 1):
        u = rng.random(n)
        acc = np.zeros(n)
        new = state.copy()
        for f, t, pr in params.transitions(m):
            from_f = state == f
            acc_f = np.where(from_f, acc, 0.0)
            hit = from_f & (u >= acc_f) & (u < acc_f + pr)
            new[hit] = t
            acc = np.where(from_f, acc + pr, acc)
        state = new
        out[:, m - 1] = state
    return out
