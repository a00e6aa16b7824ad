"""PD models that lean less on age proxies: the model half of a search for a less
discriminatory alternative (`decisions.fair_levers` measures what each does to the age
screen at today's bad rate).

No feature is age, but some carry it (a young applicant has a short bureau file and
employment, few accounts). Each alternative drops the strongest proxies -- ranked by the
absolute Spearman correlation with age on the training rows -- and is refitted with the
same LightGBM, split and label (credit defaults, confirmed fraud left out) as the
reference refit that drops none, so the AUC it gives up is measured, not guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.errors import DataError
from models.gbm import fit_lightgbm
from models.labels import DEFAULT_TARGET, apply_definition
from models.metrics import auc


@dataclass(frozen=True)
class Alternative:
    dropped: tuple[str, ...]
    auc: float  # out of time: the newest ``test_share`` of the rows, credit label
    scores: np.ndarray  # PD of every row of the frame given
    features: tuple[str, ...]  # what it reads, in its order
    booster: Any  # the fitted LightGBM booster (``predict`` on ``features``)

    @property
    def name(self) -> str:
        return f"model without {len(self.dropped)} age proxies" if self.dropped else \
            "model refit (no proxy dropped)"


def age_proxies(frame: Any, names: Sequence[str], age: np.ndarray) -> list[tuple[str, float]]:
    """Features by |Spearman correlation| with ``age``, strongest first (NaN rows left out
    per feature; a constant feature has none)."""
    from scipy.stats import spearmanr

    out = []
    for n in names:
        x = frame[n].to_numpy(dtype=np.float64)
        ok = ~np.isnan(x)
        if ok.sum() < 3 or np.ptp(x[ok]) == 0:
            continue
        rho = spearmanr(x[ok], age[ok]).statistic
        if np.isfinite(rho):
            out.append((n, float(abs(rho))))
    return sorted(out, key=lambda t: -t[1])


def alternatives(frame: Any, names: Sequence[str], age: np.ndarray, drops: Sequence[int],
                 time_col: str, *, test_share: float = 0.2, seed: int = 0
                 ) -> tuple[list[tuple[str, float]], list[Alternative]]:
    """The proxy ranking and, per count in ``drops``, a model without that many of the
    strongest proxies, scored on every row of ``frame``."""
    if DEFAULT_TARGET not in frame.columns or time_col not in frame.columns:
        raise DataError(f"the history needs {DEFAULT_TARGET} and {time_col} to refit the PD "
                        "model")
    ranked = age_proxies(frame, names, age)
    order = np.argsort(frame[time_col].to_numpy(), kind="stable")
    train_rows, _ = apply_definition(frame.iloc[order].reset_index(drop=True), DEFAULT_TARGET)
    y = train_rows[DEFAULT_TARGET].to_numpy(dtype=np.float64)
    n_test = round(len(y) * test_share)
    n_fit = round((len(y) - n_test) * 0.8)
    out = []
    for k in drops:
        dropped = tuple(n for n, _ in ranked[:k])
        cols = [n for n in names if n not in dropped]
        X = train_rows[cols].to_numpy(dtype=np.float64)
        fit, valid, test = slice(0, n_fit), slice(n_fit, len(y) - n_test), slice(len(y) - n_test,
                                                                                  len(y))
        booster = fit_lightgbm(X[fit], y[fit], X[valid], y[valid], cols, seed=seed)
        out.append(Alternative(dropped, auc(y[test], booster.predict(X[test])),
                               np.asarray(booster.predict(frame[cols].to_numpy(
                                   dtype=np.float64))), tuple(cols), booster))
    return ranked, out
