"""A small synthetic loan book with known truth, for tests, benchmarks and demos.

Independent of the simulator so the models library can be exercised alone. Risk is a
logistic function of a few features (one monotone, one categorical, missing values),
and the true probabilities are returned as ``oracle_*`` columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REASONS = {
    "bureau_score": ("R01", "Credit bureau score too low"),
    "dti": ("R02", "Debt-to-income ratio too high"),
    "apps_24h": ("R03", "Too many recent applications"),
    "income": ("R04", "Income too low"),
    "channel": ("R05", "Application channel risk"),
    "device_age_days": ("R06", "Device recently first seen"),
}
MONOTONE = {"bureau_score": -1, "dti": 1, "apps_24h": 1, "income": -1}


def make_loans(n: int = 5000, seed: int = 0, start_ms: int = 1_700_000_000_000) -> pd.DataFrame:
    """``n`` applications with label_default/label_fraud, oracle_pd/oracle_fraud, event_time."""
    rng = np.random.default_rng(seed)
    bureau = rng.normal(680, 60, n).clip(300, 850)
    dti = rng.beta(2, 5, n)
    income = rng.lognormal(10.5, 0.5, n)
    apps = rng.poisson(0.3, n).astype(float)
    channel = rng.choice(["web", "app", "broker", "branch"], n, p=[0.5, 0.3, 0.15, 0.05])
    device_age = rng.exponential(200, n)
    noise = rng.normal(0, 1, n)
    z = (
        -3.0
        - (bureau - 680) / 40
        + 3.0 * (dti - 0.3)
        - 0.5 * (np.log(income) - 10.5)
        + np.where(channel == "broker", 0.7, 0.0)
        + 0.3 * noise
    )
    pd_true = 1 / (1 + np.exp(-z))
    zf = -4.5 + 1.2 * apps + np.where(device_age < 5, 2.0, 0.0) + np.where(channel == "app", 0.5, 0)
    pf_true = 1 / (1 + np.exp(-zf))
    df = pd.DataFrame(
        {
            "application_id": [f"app-{seed}-{i}" for i in range(n)],
            "event_time": start_ms + np.sort(rng.integers(0, 180 * 86_400_000, n)),
            "bureau_score": bureau,
            "dti": dti,
            "income": income,
            "apps_24h": apps,
            "channel": channel,
            "device_age_days": device_age,
            "noise": noise,
        }
    )
    df.loc[rng.random(n) < 0.05, "income"] = np.nan
    df["oracle_pd"] = pd_true
    df["oracle_fraud"] = pf_true
    df["label_default"] = (rng.random(n) < pd_true).astype(int)
    df["label_fraud"] = (rng.random(n) < pf_true).astype(int)
    return df
