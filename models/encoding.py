"""The encoded inputs of the linear benchmark and the neural network.

A lender's logistic regression sees one-hot categoricals, standardised numerics and a
missing indicator per column that had missing values; the MLP is fed exactly the same
matrix. The encoding is fitted on the fit rows only and stored in the artifact as plain
lists, so serving builds the same vector from the same float64 feature row (categorical
columns arrive as the level codes of `models.data`; an unseen level is missing there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

CLIP = 10.0  # standardised values beyond +-10 sd are clipped: an outlier out of time
# must not swing a linear score without bound


@dataclass
class Encoding:
    """Column plan: numerics (fill, centre, scale), categoricals (levels), indicators."""

    names: list[str]
    numeric: list[int] = field(default_factory=list)  # input column of each numeric
    fill: list[float] = field(default_factory=list)  # the fit rows' median
    center: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    categorical: list[int] = field(default_factory=list)  # input column of each categorical
    n_levels: list[int] = field(default_factory=list)
    indicators: list[int] = field(default_factory=list)  # input columns with missing values

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(self.n_levels) + len(self.indicators)

    def groups(self) -> np.ndarray:
        """The input column each encoded column comes from (for per-feature reasons)."""
        out = list(self.numeric)
        for col, k in zip(self.categorical, self.n_levels, strict=True):
            out += [col] * k
        return np.asarray(out + list(self.indicators), dtype=np.intp)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Encoded matrix of float64 rows in ``names`` order (NaN = missing)."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, len(self.names))
        num = X[:, self.numeric]
        num = np.where(np.isnan(num), np.asarray(self.fill), num)
        num = np.clip((num - np.asarray(self.center)) / np.asarray(self.scale), -CLIP, CLIP)
        parts = [num]
        for col, k in zip(self.categorical, self.n_levels, strict=True):
            codes = X[:, col]
            parts.append((codes[:, None] == np.arange(k)[None, :]).astype(np.float64))
        parts.append(np.isnan(X[:, self.indicators]).astype(np.float64))
        return np.hstack(parts) if parts else np.zeros((len(X), 0))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Encoding:
        return cls(**{k: list(v) for k, v in d.items()})


def fit_encoding(
    X: np.ndarray, names: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> Encoding:
    """Learn the plan from the fit rows: medians and spreads, levels, which columns miss."""
    enc = Encoding(list(names))
    for i, n in enumerate(names):
        col = X[:, i]
        present = col[~np.isnan(col)]
        if n in categories:
            enc.categorical.append(i)
            enc.n_levels.append(len(categories[n]))
        else:
            med = float(np.median(present)) if len(present) else 0.0
            sd = float(np.std(present)) if len(present) > 1 else 0.0
            enc.numeric.append(i)
            enc.fill.append(med)
            enc.center.append(float(np.mean(present)) if len(present) else 0.0)
            enc.scale.append(sd if sd > 1e-12 else 1.0)
        if len(present) < len(col):
            enc.indicators.append(i)
    return enc
