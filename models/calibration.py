"""Probability calibration: isotonic or Platt, chosen on validation data.

Both work on the model's raw log-odds. The choice is made by 2-fold cross-fitting
on the validation rows (fit on one half, log loss on the other, both ways), then the
winner is refitted on all validation rows. Applying either is a few float
operations, cheap enough for the stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EPS = 1e-6


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@dataclass
class Calibrator:
    """Raw log-odds -> calibrated probability. ``method`` is isotonic, platt or none."""

    method: str = "none"
    a: float = 1.0
    b: float = 0.0
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._xs = np.asarray(self.xs, dtype=np.float64)
        self._ys = np.asarray(self.ys, dtype=np.float64)

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        if self.method == "platt":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
            self.a, self.b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        elif self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip").fit(raw, y)
            self.xs = iso.X_thresholds_.tolist()
            self.ys = iso.y_thresholds_.tolist()
        self.__post_init__()
        return self

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Vectorised calibration."""
        if self.method == "platt":
            return np.clip(sigmoid(self.a * raw + self.b), EPS, 1 - EPS)
        if self.method == "isotonic":
            return np.interp(raw, self._xs, self._ys)
        return sigmoid(raw)

    def apply_one(self, raw: float) -> float:
        """Single-value calibration for the hot path (no array allocation for Platt)."""
        if self.method == "platt":
            z = self.a * raw + self.b
            p = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
            return min(max(p, EPS), 1 - EPS)
        if self.method == "isotonic":
            return float(np.interp(raw, self._xs, self._ys))
        return 1.0 / (1.0 + math.exp(-raw))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b, "xs": self.xs, "ys": self.ys}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        return cls(d["method"], d["a"], d["b"], list(d["xs"]), list(d["ys"]))


def choose_calibrator(
    raw: np.ndarray, y: np.ndarray, seed: int = 0
) -> tuple[Calibrator, dict[str, float]]:
    """Pick isotonic or Platt by cross-fitted log loss on validation rows; return it refitted.

    The second value is the log loss of each candidate (and of no calibration), for the report.
    """
    rng = np.random.default_rng(seed)
    half = rng.permutation(len(y)) < len(y) // 2
    scores: dict[str, float] = {"none": log_loss(y, sigmoid(raw))}
    for method in ("isotonic", "platt"):
        losses = []
        for a_mask in (half, ~half):
            b_mask = ~a_mask
            if len(np.unique(y[a_mask])) < 2:
                losses.append(math.inf)
                continue
            cal = Calibrator(method).fit(raw[a_mask], y[a_mask])
            losses.append(log_loss(y[b_mask], cal.apply(raw[b_mask])) * b_mask.sum())
        scores[method] = float(sum(losses) / len(y))
    best = min(("isotonic", "platt"), key=lambda m: scores[m])
    return Calibrator(best).fit(raw, y), scores
