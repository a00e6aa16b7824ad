"""Ground truth: the true default process and the true fraud probability.

The monthly hazard of missing a payment is ``sigmoid(intercept + risk)``
where ``risk`` is a non-linear function of the applicant's *true* attributes
(true income, latent credit quality, debt burden with the new loan, bureau
file, employment, age, housing, product) with interactions, plus per-person
noise no model can see. The intercept is solved so the mean oracle PD over a
reference population equals ``credit.target_default_rate``.

``oracle_pd`` is the exact probability of the configured default label
(e.g. ever 60+ DPD within 6 months) under the delinquency chain, computed by
dynamic programming over the same chain that simulates performance.
``oracle_fraud`` is the exact probability of the fraud label (confirmed
within the window) given the hidden fraud type. Both use hidden truth, so
they bound any model from above.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pandas as pd

from simulator.chain import ChainParams, prob_ever_reach
from simulator.config import SimConfig
from simulator.errors import SimulatorError

NON_PAYING = ("third_party", "synthetic", "ring", "slow_ring", "mule", "identity_farm", "bot")


def risk_score(apps: pd.DataFrame, noise_sd: float) -> np.ndarray:
    """Log-odds contribution of the applicant's true attributes (intercept excluded)."""
    income = apps["latent_true_income"].to_numpy(float)
    product = apps["product"].to_numpy(object)
    has_file = apps["has_file"].to_numpy(bool)
    score = apps["bureau_score"].fillna(650).to_numpy(float)
    util = apps["bureau_utilisation"].fillna(0.3).to_numpy(float)
    delinq = apps["bureau_delinquencies_24m"].fillna(0).to_numpy(float)
    inq = apps["bureau_inquiries_6m"].fillna(0).to_numpy(float)
    thin = apps["bureau_thin_file"].fillna(False).to_numpy(bool)
    age = apps["latent_age"].to_numpy(float)
    emp = apps["employment_status"].to_numpy(object)
    tenure = apps["employment_months"].to_numpy(float)
    housing = apps["housing_status"].to_numpy(object)
    q = apps["latent_credit_quality"].to_numpy(float)
    r = (
        np.where(has_file, -0.9 * (score - 680) / 70, 0.6)
        + 0.35 * thin
        + amount_risk(apps, apps["requested_amount"].to_numpy(float))
        + 0.9 * util**2
        + 0.45 * np.log1p(delinq)
        + 0.12 * inq * (1 + 0.8 * (age < 30))
        + np.select(
            [emp == "UNEMPLOYED", emp == "SELF_EMPLOYED", emp == "STUDENT", emp == "RETIRED"],
            [0.9, 0.25, 0.45, -0.1],
            0.0,
        )
        + 0.35 * ((tenure < 6) & (emp == "EMPLOYED"))
        + 0.4 * np.exp(-(age - 18) / 6)
        + np.select(
            [housing == "RENT", housing == "OWN", housing == "MORTGAGE"], [0.2, -0.25, -0.1], 0.3
        )
        + np.select([product == "BNPL", product == "PERSONAL_LOAN"], [0.15, -0.05], 0.0)
        + 0.5 * util * (income < 20_000)
        - 0.3 * q
        + noise_sd * apps["latent_noise"].to_numpy(float)
    )
    return np.asarray(r, dtype=float)


def amount_risk(apps: pd.DataFrame, amount: np.ndarray) -> np.ndarray:
    """The part of ``risk_score`` the amount borrowed moves: the debt burden with the new
    credit's payment (over the requested term; 3% of a card limit) and amount to true
    income. A smaller loan is truly safer, by exactly this much."""
    income = apps["latent_true_income"].to_numpy(float)
    term = apps["requested_term_months"].to_numpy(float)
    card = apps["product"].to_numpy(object) == "CREDIT_CARD"
    payment = np.where(card, 0.03 * amount, amount * 1.08 / np.maximum(term, 1))
    dti = (apps["monthly_debt_payments"].to_numpy(float) + payment) / (income / 12 + 50)
    return np.asarray(0.8 * dti + 2.2 * np.maximum(dti - 0.35, 0)
                      + 0.6 * np.log1p(3 * amount / np.maximum(income, 1000)), dtype=float)


def chain_params(cfg: SimConfig, apps: pd.DataFrame, intercept: float) -> ChainParams:
    """Per-loan chain parameters from true risk and fraud type."""
    return _RiskedApps(cfg, apps).params(intercept)


class _RiskedApps:
    """The intercept-free part of ``chain_params``, computed once (the bisection in
    ``solve_intercept`` only moves the intercept)."""

    def __init__(self, cfg: SimConfig, apps: pd.DataFrame, r: np.ndarray | None = None) -> None:
        self.cfg = cfg
        self.r = risk_score(apps, cfg.credit.latent_noise_sd) if r is None else r
        ftype = apps["fraud_type"].to_numpy(object)
        self.nonpay = np.isin(ftype, NON_PAYING)
        self.bust = ftype == "first_party"
        self.term = apps["requested_term_months"].to_numpy(np.int64)

    def params(self, intercept: float) -> ChainParams:
        c = self.cfg.credit
        r, nonpay, bust = self.r, self.nonpay, self.bust
        hazard = 1 / (1 + np.exp(-(intercept + r)))
        z = np.clip(np.exp(0.35 * (r - 1.0)), 0.5, 1.6)[:, None]
        roll = np.minimum(np.asarray(c.roll_rates)[None, :] * z, 0.98)
        cure = np.minimum(np.asarray(c.cure_rates)[None, :] / z, 1 - roll)
        prepay = np.full(len(r), c.prepay_monthly)
        bad = nonpay | bust
        hazard = np.where(nonpay, 1.0, np.where(bust, c.bust_out_hazard, hazard))
        roll[bad] = 1.0
        cure[bad] = 0.0
        prepay[bad] = 0.0
        return ChainParams(hazard, roll, cure, prepay, self.term)


def oracle_pd(cfg: SimConfig, apps: pd.DataFrame, intercept: float) -> np.ndarray:
    lab = cfg.labels
    return prob_ever_reach(
        chain_params(cfg, apps, intercept), lab.default_dpd // 30, lab.default_horizon_months
    )


class AmountOracle:
    """The exact PD of applications of a written history had they borrowed another amount
    (same term, same person): what a counter-offer really changes.

    A history as written nulls the bureau fields of applicants without a file, which their
    truth was computed before, so ``risk_score`` cannot be recomputed from it. Each
    applicant's risk is read back instead from the stored ``oracle_pd`` (inverted through
    the chain, in which the PD rises with risk) and moved by ``amount_risk``; the PD of a
    non-paying or bust-out fraud does not depend on it."""

    def __init__(self, cfg: SimConfig, apps: pd.DataFrame, intercept: float | None = None):
        self.cfg, self.apps = cfg, apps.reset_index(drop=True)
        self.intercept = reference_intercept(cfg) if intercept is None else intercept
        target = self.apps["oracle_pd"].to_numpy(float)
        lo, hi = np.full(len(target), -40.0), np.full(len(target), 40.0)
        for _ in range(60):  # bisection, every row at once
            mid = (lo + hi) / 2
            below = self._pd(np.arange(len(target)), mid) < target
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        self.r = (lo + hi) / 2 - amount_risk(self.apps, self.apps["requested_amount"].to_numpy(
            float))

    def pd(self, rows: np.ndarray, amounts: np.ndarray) -> np.ndarray:
        """The oracle PD of ``rows`` (positions in the frame) borrowing ``amounts``."""
        part = self.apps.iloc[rows]
        return self._pd(rows, self.r[rows] + amount_risk(part, np.asarray(amounts, float)))

    def _pd(self, rows: np.ndarray, r: np.ndarray) -> np.ndarray:
        lab = self.cfg.labels
        risked = _RiskedApps(self.cfg, self.apps.iloc[rows], r)
        return prob_ever_reach(risked.params(self.intercept), lab.default_dpd // 30,
                               lab.default_horizon_months)


def confirm_prob(cfg: SimConfig, fraud_type: np.ndarray) -> np.ndarray:
    """P(this application is ever confirmed as fraud), before the window."""
    p = np.full(len(fraud_type), cfg.fraud.false_confirm_prob)
    for t, v in cfg.fraud.confirm_prob.items():
        p[fraud_type == t] = v
    return p


def confirm_delay_mean(cfg: SimConfig, fraud_type: np.ndarray) -> np.ndarray:
    """Mean months from booking to confirmation (exponential delay)."""
    d = np.full(len(fraud_type), 3.0)
    for t, v in cfg.fraud.confirm_delay_months.items():
        d[fraud_type == t] = v
    return d


def oracle_fraud(cfg: SimConfig, fraud_type: np.ndarray) -> np.ndarray:
    """Exact P(label_fraud = 1): confirmed, and within the fraud window."""
    w = cfg.labels.fraud_window_months
    return confirm_prob(cfg, fraud_type) * (1 - np.exp(-w / confirm_delay_mean(cfg, fraud_type)))


def solve_intercept(cfg: SimConfig, apps: pd.DataFrame) -> float:
    """Bisection for the hazard intercept that gives the target mean oracle PD."""
    target = cfg.credit.target_default_rate
    lab = cfg.labels
    risked = _RiskedApps(cfg, apps)

    def mean_pd(intercept: float) -> float:
        p = risked.params(intercept)
        return float(prob_ever_reach(p, lab.default_dpd // 30, lab.default_horizon_months).mean())

    lo, hi = -15.0, 5.0
    if mean_pd(lo) > target:
        raise SimulatorError(
            f"target_default_rate {target} is below the default rate fraud alone produces "
            f"({mean_pd(lo):.3f}); raise it or lower the fraud rates"
        )
    for _ in range(40):
        mid = (lo + hi) / 2
        if mean_pd(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@lru_cache(maxsize=8)
def _intercept_for(cfg_json: str) -> float:
    from simulator.population import make_applications  # local: population imports risk

    cfg = SimConfig.model_validate(json.loads(cfg_json))
    rng = np.random.default_rng(20240101)
    start = np.datetime64(cfg.start_date, "ms").astype(np.int64)
    times = np.sort(start + rng.integers(0, 30 * 86_400_000, 20_000))
    apps = make_applications(cfg, rng, times, ring_span_ms=3_600_000)
    return solve_intercept(cfg, apps)


def reference_intercept(cfg: SimConfig) -> float:
    """The intercept for this config, solved once on a fixed 20,000-applicant reference
    population, so history and live mode (any seed) share one default process."""
    return _intercept_for(cfg.model_dump_json())
