"""The servicing chain: one definition of an account's monthly transitions, used both to
simulate statements and to compute the oracle's exact probabilities under any action.

The state of an account is (hidden stress, treatment of the current delinquency
episode, bucket): stress 0 healthy, 1 income shock, 2 over-indebted (``STRESS_STATES``);
treatment an index into ``TREATMENTS`` (0 = none; chosen when the account enters 30 DPD,
reset on cure); bucket 0 current, 1..5 = 30..150 DPD, 6 charged off, 7 closed (an
instalment loan paid off at term). Each month the stress moves first, then the bucket:
a current account misses a payment with ``sigmoid(base + stress_hazard[s] +
line_effect[s] * log(limit / original))``; a delinquent one rolls or cures at rates
scaled by its stress and its episode's treatment. What a customer *shows* (utilisation,
payments, cash advances) depends on the state but never feeds back into it, so the
probabilities below are exact (dynamic programming over 3 x 5 x 8 states per account).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from schemas.servicing import TREATMENTS
from simulator.servicing_config import ServicingConfig

CURRENT, CHARGED_OFF, CLOSED = 0, 6, 7
N_BUCKETS, N_STRESS, N_TREAT = 8, 3, len(TREATMENTS)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class ServicingParams:
    """Per-account chain parameters (leading axis n); ``line_log[:, m]`` is log(limit at
    month m / original limit), fixed by the actions taken (zero for loans)."""

    base_logit: np.ndarray  # (n,) healthy-customer hazard logit
    z: np.ndarray  # (n,) roll-rate scale from origination risk (cure is divided by it)
    stress_move: np.ndarray  # (n, 3, 3) monthly stress transition matrix
    init_stress: np.ndarray  # (n, 3) stress distribution at booking
    term: np.ndarray  # (n,) months; 0 = revolving
    nonpay: np.ndarray  # (n,) fraud that never pays
    bust: np.ndarray  # (n,) first-party bust-out
    line_log: np.ndarray  # (n, months + 1)

    def take(self, idx: np.ndarray) -> ServicingParams:
        return ServicingParams(*(getattr(self, f.name)[idx] for f in fields(self)))

    def with_line(self, line_log: np.ndarray) -> ServicingParams:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["line_log"] = line_log
        return ServicingParams(**d)


@dataclass(frozen=True)
class Rates:
    """The transition rates the chain and the sampler share (``ServicingConfig`` arrays)."""

    roll: np.ndarray  # (n, 3, T, 5)
    cure: np.ndarray  # (n, 3, T, 5)


def make_params(sc: ServicingConfig, risk: np.ndarray, hazard_logit: np.ndarray,
                term: np.ndarray, nonpay: np.ndarray, bust: np.ndarray,
                line_log: np.ndarray) -> ServicingParams:
    """Parameters from origination truth: ``risk`` (the applicant's true risk score) and
    ``hazard_logit`` (intercept + risk, the origination chain's)."""
    n = len(risk)
    p01 = _sigmoid(sc.shock_logit + 0.5 * risk)
    p02 = _sigmoid(sc.overindebted_logit + 0.7 * risk)
    move = np.zeros((n, 3, 3))
    move[:, 0, 1], move[:, 0, 2] = p01, p02
    move[:, 0, 0] = 1 - p01 - p02
    move[:, 1, 0], move[:, 1, 2] = sc.shock_recovery, sc.shock_to_overindebted
    move[:, 1, 1] = 1 - sc.shock_recovery - sc.shock_to_overindebted
    move[:, 2, 0] = sc.overindebted_recovery
    move[:, 2, 2] = 1 - sc.overindebted_recovery
    init = np.zeros((n, 3))
    init[:, 2] = 0.5 * p02 / (p02 + sc.overindebted_recovery)
    init[:, 1] = 0.5 * p01 / (p01 + sc.shock_recovery)
    init[:, 0] = 1 - init[:, 1] - init[:, 2]
    z = np.clip(np.exp(0.35 * (risk - 1.0)), 0.5, 1.6)
    return ServicingParams(hazard_logit + sc.hazard_offset, z, move, init, term.astype(np.int64),
                           nonpay.astype(bool), bust.astype(bool), line_log)


def hazard(sc: ServicingConfig, p: ServicingParams, month: np.ndarray,
           bust_hazard: float) -> np.ndarray:
    """(n, 3): P(a current account misses the payment due at ``month``), per stress."""
    line = p.line_log[np.arange(len(month)), np.minimum(month, p.line_log.shape[1] - 1)]
    logit = (p.base_logit[:, None] + np.asarray(sc.stress_hazard)[None, :]
             + line[:, None] * np.asarray(sc.line_effect)[None, :])
    h = _sigmoid(logit)
    h = np.where(p.bust[:, None], bust_hazard, h)
    return np.where(p.nonpay[:, None], 1.0, h)


def rates(sc: ServicingConfig, p: ServicingParams, roll_base: np.ndarray,
          cure_base: np.ndarray) -> Rates:
    """Roll and cure rates per (stress, treatment, bucket 1..5); fraud never cures."""
    z = p.z[:, None, None, None]
    t_roll = np.asarray(sc.treatment_roll).T[None, :, :, None]  # (1, 3, T, 1)
    t_cure = np.asarray(sc.treatment_cure).T[None, :, :, None]
    s_roll = np.asarray(sc.stress_roll)[None, :, None, None]
    s_cure = np.asarray(sc.stress_cure)[None, :, None, None]
    roll = np.minimum(roll_base[None, None, None, :] * z * s_roll * t_roll, 0.97)
    cure = np.minimum(cure_base[None, None, None, :] / z * s_cure * t_cure, 1 - roll)
    bad = (p.nonpay | p.bust)[:, None, None, None]
    return Rates(np.where(bad, 1.0, roll), np.where(bad, 0.0, cure))


@dataclass(frozen=True)
class Chain:
    """Everything one month's step needs: config, parameters, rates, bust-out hazard."""

    sc: ServicingConfig
    params: ServicingParams
    rates: Rates
    bust_hazard: float

    def step(self, dist: np.ndarray, month: np.ndarray, policy: np.ndarray) -> np.ndarray:
        """Distribution (n, 3, T, 8) after the step into ``month`` (per row); ``policy`` (T,)
        or (n, T): the treatment chosen by an account that enters 30 DPD."""
        p = self.params
        n = len(dist)
        moved = np.matmul(p.stress_move.transpose(0, 2, 1), dist.reshape(n, N_STRESS, -1))
        d = moved.reshape(dist.shape)
        h = hazard(self.sc, p, month, self.bust_hazard)  # (n, 3)
        at_term = ((p.term > 0) & (month >= p.term))[:, None]
        pol = np.broadcast_to(policy, (len(month), N_TREAT))[:, None, :]
        new = np.zeros_like(d)
        cur = d[:, :, :, CURRENT].sum(axis=2)  # (n, 3)
        new[:, :, :, 1] += (cur * h)[:, :, None] * pol
        new[:, :, 0, CLOSED] += cur * (1 - h) * at_term
        new[:, :, 0, CURRENT] += cur * (1 - h) * ~at_term
        for k in range(1, 6):
            mass = d[:, :, :, k]
            r, c = self.rates.roll[..., k - 1], self.rates.cure[..., k - 1]
            new[:, :, :, k + 1 if k < 5 else CHARGED_OFF] += mass * r
            new[:, :, 0, CURRENT] += (mass * c).sum(axis=2)
            new[:, :, :, k] += mass * (1 - r - c)
        new[:, :, :, CHARGED_OFF:] += d[:, :, :, CHARGED_OFF:]
        return new

    def reach(self, start: np.ndarray, month0: np.ndarray, months: int, buckets: slice,
              policy: np.ndarray) -> np.ndarray:
        """P(the account is in ``buckets`` at some month in month0+1 .. month0+months)."""
        dist, hit = start.copy(), np.zeros(len(start))
        for k in range(1, months + 1):
            dist = self.step(dist, month0 + k, policy)
            hit += dist[:, :, :, buckets].sum(axis=(1, 2, 3))
            dist[:, :, :, buckets] = 0.0
        return np.clip(hit, 0.0, 1.0)

    def sample_step(self, rng: np.random.Generator, state: tuple[np.ndarray, ...],
                    month: np.ndarray, policy: np.ndarray) -> tuple[np.ndarray, ...]:
        """One sampled month for every account: (stress, treatment, bucket) -> the next."""
        s, t, b = state
        n = len(s)
        p = self.params
        u_s = rng.random(n)
        cum = np.cumsum(p.stress_move[np.arange(n), s], axis=1)
        s = np.minimum((u_s[:, None] >= cum).sum(axis=1), 2)
        h = hazard(self.sc, p, month, self.bust_hazard)[np.arange(n), s]
        u = rng.random(n)
        pick = rng.choice(N_TREAT, size=n, p=policy)
        at_term = (p.term > 0) & (month >= p.term)
        new_b, new_t = b.copy(), t.copy()
        cur = b == CURRENT
        miss = cur & (u < h)
        new_b[miss], new_t[miss] = 1, pick[miss]
        new_b[cur & ~miss & at_term] = CLOSED
        dq = (b >= 1) & (b <= 5)
        k = np.clip(b - 1, 0, 4)
        r = self.rates.roll[np.arange(n), s, t, k]
        c = self.rates.cure[np.arange(n), s, t, k]
        roll = dq & (u < r)
        cured = dq & ~roll & (u < r + c)
        new_b[roll] = np.where(b[roll] == 5, CHARGED_OFF, b[roll] + 1)
        new_b[cured], new_t[cured] = CURRENT, 0
        return s, new_t, new_b


def one_hot(n: int, stress: np.ndarray, treatment: np.ndarray, bucket: np.ndarray) -> np.ndarray:
    """Start distributions (n, 3, T, 8) that put each account in its known state."""
    d = np.zeros((n, N_STRESS, N_TREAT, N_BUCKETS))
    d[np.arange(n), stress, treatment, bucket] = 1.0
    return d
