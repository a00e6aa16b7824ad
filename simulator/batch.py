"""One vectorised batch of the world: applications, sessions, truth and (optionally) performance.

Shared by history mode (one big batch) and live mode (small chunks), so both
modes produce the same world.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from simulator.chain import ChainParams, prob_ever_reach
from simulator.config import SimConfig
from simulator.performance import MONTH_MS, perform
from simulator.population import build_applications
from simulator.risk import chain_params, oracle_fraud, reference_intercept
from simulator.sessions import make_sessions

BUREAU = (
    "bureau_inquiries_6m",
    "bureau_delinquencies_24m",
    "bureau_utilisation",
    "bureau_file_age_months",
    "bureau_open_accounts",
    "bureau_thin_file",
    "bureau_new_accounts_6m",
    "bureau_income_estimate",
)


@dataclass
class Batch:
    """Columns (numpy / Arrow) of one batch."""

    applications: dict[str, Any]
    device_events: dict[str, Any]
    behaviour_events: dict[str, Any]
    performance: dict[str, Any] | None
    people: dict[str, Any]
    params: ChainParams


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators per component, so changing one part keeps the others' draws."""
    names = ("apps", "sessions", "performance", "arrivals")
    ss = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(s) for n, s in zip(names, ss, strict=True)}


def generate_batch(
    cfg: SimConfig,
    rngs: dict[str, np.random.Generator],
    arrival_ms: np.ndarray,
    ring_span_ms: int,
    *,
    prior: dict[str, Any] | None = None,
    ring_offset: int = 0,
    with_performance: bool = True,
    month_ms: int = MONTH_MS,
    performance_by_time: bool = False,
) -> Batch:
    a, people = build_applications(cfg, rngs["apps"], arrival_ms, ring_span_ms, prior, ring_offset)
    behaviour, device = make_sessions(rngs["sessions"], a)
    # truth
    import pandas as pd  # risk works on a frame view of the columns it needs

    view = pd.DataFrame({k: _np(a[k]) for k in _RISK_COLS})
    params = chain_params(cfg, view, reference_intercept(cfg))
    lab = cfg.labels
    a["oracle_pd"] = prob_ever_reach(params, lab.default_dpd // 30, lab.default_horizon_months)
    a["oracle_fraud"] = oracle_fraud(cfg, a["fraud_type"])
    perf = None
    if with_performance:
        rng, by_time = rngs["performance"], performance_by_time
        perf, labels = perform(cfg, rng, params, a, a["event_time"], month_ms, by_time=by_time)
        a.update(labels)
    _null_missing_bureau(a)
    return Batch(a, device, behaviour, perf, people, params)


_RISK_COLS = (
    "latent_true_income",
    "requested_amount",
    "requested_term_months",
    "product",
    "monthly_debt_payments",
    "has_file",
    "bureau_score",
    "bureau_utilisation",
    "bureau_delinquencies_24m",
    "bureau_inquiries_6m",
    "bureau_thin_file",
    "latent_age",
    "employment_status",
    "employment_months",
    "housing_status",
    "latent_credit_quality",
    "latent_noise",
    "fraud_type",
)


def _np(col: Any) -> np.ndarray:
    return col.to_numpy(zero_copy_only=False) if isinstance(col, pa.Array) else np.asarray(col)


def _null_missing_bureau(a: dict[str, Any]) -> None:
    """No bureau file: bureau_score and every bureau_* attribute are null."""
    no_file = ~np.asarray(a["has_file"], dtype=bool)
    for col in ("bureau_score", *BUREAU):
        v = a[col]
        if isinstance(v, pa.Array):
            v = v.to_numpy(zero_copy_only=False)
        a[col] = pa.array(v, mask=no_file)
    a["fraud_type"] = pa.array(a["fraud_type"], pa.string())
