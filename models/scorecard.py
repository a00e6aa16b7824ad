"""Classic credit scorecard: WOE binning + logistic regression, reported as points.

Conventions (documented for the report and adverse-action notices):

* WOE of a bin = ln(share of goods / share of bads): positive = safer than average.
* Bins come from optbinning (`models.binning`): numeric bins monotone in the declared
  direction (feature spec ``monotone``: +1 = risk rises with the value) or optbinning's
  detected trend, at least 5 % of rows each; nominal features get per-level WOE with
  small levels merged; missing values and special codes get bins of their own; a level
  never seen in training falls in "other" (neutral). Artifacts written before optbinning
  (quantile bins, (a, b] intervals) still load and score as they did.
* Score = offset + factor * ln(good:bad odds), factor = PDO / ln 2,
  offset = base_score - factor * ln(base_odds). More points = lower risk; every
  ``pdo`` points double the good:bad odds. Points per feature sum to the score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SMOOTH = 0.5  # pseudo-count so empty cells give finite WOE


@dataclass(frozen=True)
class Scale:
    """Points scale: ``base_score`` points at good:bad odds ``base_odds``; ``pdo`` to double."""

    pdo: float = 20.0
    base_score: float = 600.0
    base_odds: float = 50.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def points_for_pd(self, pd: float) -> float:
        """Score of a probability of default: offset - factor * ln(pd / (1 - pd))."""
        pd = min(max(pd, 1e-9), 1 - 1e-9)
        return self.offset - self.factor * math.log(pd / (1 - pd))

    def pd_for_points(self, points: float) -> float:
        return 1.0 / (1.0 + math.exp((points - self.offset) / self.factor))


@dataclass
class FeatureBins:
    """Bins of one feature: numeric cut points or categorical code groups, plus WOE per bin."""

    name: str
    kind: str  # "numeric" | "categorical"
    edges: list[float] = field(default_factory=list)  # numeric: bin i is (edges[i-1], edges[i]]
    groups: dict[int, int] = field(default_factory=dict)  # categorical: code -> bin
    woe: list[float] = field(default_factory=list)  # per bin, then the missing bin last
    labels: list[str] = field(default_factory=list)
    iv: float = 0.0
    closed: str = "right"  # numeric bins (a, b] ("right") or [a, b) ("left", optbinning's)
    specials: list[float] = field(default_factory=list)  # numeric codes with a bin of their own

    def bin_of(self, x: np.ndarray) -> np.ndarray:
        """Bin index of each value; the missing bin is the last one (labels give the count),
        the special bin (numeric, with specials) the one before it."""
        missing = len(self.labels) - 1
        if self.kind == "numeric":
            edges = np.asarray(self.edges)
            b = (np.searchsorted(edges, x, side="right") if self.closed == "left"
                 else np.searchsorted(edges, x, side="left"))
            if self.specials:
                b = np.where(np.isin(x, self.specials), missing - 1, b)
        else:
            other = missing - 1
            b = np.array([self.groups.get(int(v), other) if v == v else 0 for v in x],
                         dtype=np.intp)
        return np.where(np.isnan(x), missing, b)

    def to_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["groups"] = {str(k): v for k, v in self.groups.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureBins:
        d = dict(d)
        d["groups"] = {int(k): v for k, v in d["groups"].items()}
        return cls(**d)


def woe_iv(bad: np.ndarray, good: np.ndarray) -> tuple[np.ndarray, float]:
    """WOE per bin (ln share of goods / share of bads, smoothed) and the information value."""
    pb = (bad + SMOOTH) / (bad.sum() + SMOOTH * len(bad))
    pg = (good + SMOOTH) / (good.sum() + SMOOTH * len(good))
    woe = np.log(pg / pb)
    return woe, float(np.sum((pg - pb) * woe))


@dataclass
class Scorecard:
    """A fitted scorecard: bins, logistic coefficients and the points scale."""

    names: list[str]  # all input feature names, in order
    bins: list[FeatureBins]  # only the features kept (IV above the floor)
    coef: list[float]
    intercept: float
    scale: Scale = field(default_factory=Scale)

    def woe_matrix(self, X: np.ndarray) -> np.ndarray:
        idx = {n: i for i, n in enumerate(self.names)}
        out = np.empty((X.shape[0], len(self.bins)))
        for j, fb in enumerate(self.bins):
            out[:, j] = np.asarray(fb.woe)[fb.bin_of(X[:, idx[fb.name]])]
        return out

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of a bad."""
        return self.intercept + self.woe_matrix(X) @ np.asarray(self.coef)

    def points_table(self) -> list[np.ndarray]:
        """Points of every bin of every kept feature (they sum to the score)."""
        n = max(len(self.bins), 1)
        base = (self.scale.offset - self.scale.factor * self.intercept) / n
        return [
            base - self.scale.factor * c * np.asarray(fb.woe)
            for fb, c in zip(self.bins, self.coef, strict=True)
        ]

    def points(self, X: np.ndarray) -> np.ndarray:
        """Per-feature points, shape (rows, kept features)."""
        idx = {n: i for i, n in enumerate(self.names)}
        tables = self.points_table()
        out = np.empty((X.shape[0], len(self.bins)))
        for j, fb in enumerate(self.bins):
            out[:, j] = tables[j][fb.bin_of(X[:, idx[fb.name]])]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "bins": [b.to_dict() for b in self.bins],
            "coef": self.coef,
            "intercept": self.intercept,
            "scale": self.scale.__dict__,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scorecard:
        return cls(
            names=list(d["names"]),
            bins=[FeatureBins.from_dict(b) for b in d["bins"]],
            coef=list(d["coef"]),
            intercept=float(d["intercept"]),
            scale=Scale(**d["scale"]),
        )


def fit_scorecard(
    X: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    categories: Mapping[str, Sequence[str]] | None = None,
    monotone: Mapping[str, int] | None = None,
    scale: Scale | None = None,
    min_iv: float = 0.02,
    c: float = 1.0,
    weight: np.ndarray | None = None,
    specials: Sequence[float] = (),
) -> Scorecard:
    """Bin every feature (`models.binning`, optbinning), keep those with IV >= ``min_iv``,
    fit logistic regression on WOE. ``specials``: numeric codes binned apart."""
    from sklearn.linear_model import LogisticRegression

    from models.binning import bin_categorical, bin_numeric

    categories = categories or {}
    monotone = monotone or {}
    every = []
    for i, n in enumerate(names):
        if n in categories:
            every.append(bin_categorical(n, X[:, i], y, categories[n], weight))
        else:
            every.append(bin_numeric(n, X[:, i], y, int(monotone.get(n, 0)), specials, weight))
    # nothing informative: keep the best one so the model still fits
    bins = [fb for fb in every if fb.iv >= min_iv] or [max(every, key=lambda b: b.iv)]
    card = Scorecard(list(names), bins, [0.0] * len(bins), 0.0, scale or Scale())
    W = card.woe_matrix(X)
    lr = LogisticRegression(C=c, max_iter=2000).fit(W, y, sample_weight=weight)
    card.coef = lr.coef_[0].tolist()
    card.intercept = float(lr.intercept_[0])
    return card
