"""Population stability: is the traffic being decided the traffic the model learned from?

At training time each feature's distribution is summarised (decile edges, the share of
rows in each decile, the share missing, the mean) and stored in the model's manifest.
In production the same bins are filled from the logged feature vectors of a window
and compared by PSI = sum((a - e) * ln(a / e)). Missing values are a bin of their own:
a feature that stops arriving (a bureau outage, an SDK release) is drift too.

Usual reading (and the status given here): PSI < 0.10 stable, 0.10-0.25 watch,
above 0.25 a shift worth investigating before trusting the model's scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.metrics import binned_shares, decile_edges, psi_from_shares

WATCH_AT = 0.10
SHIFT_AT = 0.25


def status(psi: float) -> str:
    return "shift" if psi > SHIFT_AT else "watch" if psi >= WATCH_AT else "stable"


def reference_of(values: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Decile edges of the present values, bin shares (missing last), mean, missing share."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    edges = decile_edges(values, bins)
    return {
        "edges": edges.tolist(),
        "shares": binned_shares(values, edges).tolist(),
        "mean": float(present.mean()) if len(present) else None,
        "missing": float(1 - len(present) / max(len(values), 1)),
        "rows": len(values),
    }


def feature_reference(X: pd.DataFrame, bins: int = 10) -> dict[str, dict[str, Any]]:
    """``reference_of`` every column: what the manifest keeps of the training data."""
    return {str(c): reference_of(X[c].to_numpy(dtype=np.float64), bins) for c in X.columns}


@dataclass(frozen=True)
class Drift:
    """One feature's (or score's) stability between a reference and a current window."""

    name: str
    psi: float
    status: str
    reference_mean: float | None
    current_mean: float | None
    reference_missing: float
    current_missing: float
    edges: list[float]
    reference_shares: list[float]
    current_shares: list[float]
    rows: int

    def record(self) -> dict[str, Any]:
        return dict(self.__dict__)


def drift_of(name: str, reference: Mapping[str, Any], current: np.ndarray) -> Drift:
    edges = np.asarray(reference["edges"], dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    shares = binned_shares(cur, edges)
    value = psi_from_shares(np.asarray(reference["shares"]), shares)
    present = cur[~np.isnan(cur)]
    return Drift(name, value, status(value), reference.get("mean"),
                 float(present.mean()) if len(present) else None,
                 float(reference.get("missing", 0.0)), float(shares[-1]),
                 edges.tolist(), list(reference["shares"]), shares.tolist(), len(cur))


def feature_drift(reference: Mapping[str, Mapping[str, Any]], current: pd.DataFrame) -> list[Drift]:
    """Drift of every referenced feature present in ``current``, largest PSI first."""
    out = [drift_of(n, ref, current[n].to_numpy(dtype=np.float64))
           for n, ref in reference.items() if n in current.columns]
    return sorted(out, key=lambda d: -d.psi)
