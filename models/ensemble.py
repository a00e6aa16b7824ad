"""An ensemble of the best candidates: the average of their calibrated log-odds.

Built from the fitted candidates of one split: the ``TOP`` best by validation AUC (the
ensemble itself excluded), averaged in logit space, then calibrated on the same
validation rows like any candidate. ``--model auto`` ships it only when it beats every
single candidate on validation by more than the tie margin (`models.candidates.choose`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from models.calibration import EPS, Calibrator, choose_calibrator
from models.candidates import Fitted
from models.metrics import auc

TOP = 3


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass
class EnsembleModel:
    """Members (each with its own calibrator); log-odds = mean of their calibrated logits."""

    members: list[Fitted]

    def raw(self, X: np.ndarray) -> np.ndarray:
        return np.mean([logit(m.proba(X)) for m in self.members], axis=0)


def fit_ensemble(fitted: Mapping[str, Fitted], X_valid: np.ndarray, y_valid: np.ndarray,
                 seed: int = 0, top: int = TOP) -> Fitted:
    """The ensemble of the ``top`` best of ``fitted`` on the validation rows, calibrated."""
    t0, c0 = time.perf_counter(), time.process_time()
    singles = {k: f for k, f in fitted.items() if k != "ensemble"}
    ranked = sorted(singles, key=lambda k: -auc(y_valid, singles[k].raw(X_valid)))[:top]
    model = EnsembleModel([singles[k] for k in ranked])
    f = Fitted("ensemble", model, Calibrator("none"), {}, params={"members": ranked})
    f.calibrator, f.calibration_scores = choose_calibrator(model.raw(X_valid), y_valid, seed)
    members = [singles[k] for k in ranked]
    f.fit_seconds = time.perf_counter() - t0 + sum(m.fit_seconds for m in members)
    f.fit_cpu_seconds = time.process_time() - c0 + sum(m.fit_cpu_seconds for m in members)
    return f
