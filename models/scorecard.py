"""Classic credit scorecard: WOE binning + logistic regression, reported as points.

Conventions (documented for the report and adverse-action notices):

* WOE of a bin = ln(share of goods / share of bads): positive = safer than average.
* Numeric features are cut at quantiles, then adjacent bins are merged until bad rates
  are monotonic whenever the trend is clear (|Spearman| of bin index vs bad rate >= 0.5)
  or a direction is declared (feature spec ``monotone``: +1 = risk rises with the value).
  Missing values get their own bin; categorical levels below 2 % share pool into "other".
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

    def bin_of(self, x: np.ndarray) -> np.ndarray:
        """Bin index of each value; the missing bin is the last one."""
        missing = len(self.woe) - 1
        if self.kind == "numeric":
            b = np.searchsorted(np.asarray(self.edges), x, side="left")
        else:
            other = missing - 1
            b = np.array([self.groups.get(int(v), other) if v == v else 0 for v in x])
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


def _woe(bad: np.ndarray, good: np.ndarray) -> tuple[np.ndarray, float]:
    pb = (bad + SMOOTH) / (bad.sum() + SMOOTH * len(bad))
    pg = (good + SMOOTH) / (good.sum() + SMOOTH * len(good))
    woe = np.log(pg / pb)
    return woe, float(np.sum((pg - pb) * woe))


def _monotone_merge(bad: list[float], tot: list[float], direction: int) -> list[int]:
    """Pool adjacent violators: group ids making bad rate monotone in ``direction``."""
    blocks = [[i] for i in range(len(bad))]
    b, t = list(bad), list(tot)
    i = 0
    while i < len(blocks) - 1:
        r0, r1 = b[i] / max(t[i], 1), b[i + 1] / max(t[i + 1], 1)
        if (r1 - r0) * direction < 0:
            blocks[i] += blocks.pop(i + 1)
            b[i] += b.pop(i + 1)
            t[i] += t.pop(i + 1)
            i = max(i - 1, 0)
        else:
            i += 1
    gid = [0] * len(bad)
    for g, members in enumerate(blocks):
        for m in members:
            gid[m] = g
    return gid


def bin_numeric(
    name: str, x: np.ndarray, y: np.ndarray, max_bins: int = 10, monotone: int = 0
) -> FeatureBins:
    present = ~np.isnan(x)
    xs, ys = x[present], y[present]
    qs: Any = np.unique(np.quantile(xs, np.linspace(0, 1, max_bins + 1)[1:-1])) if len(xs) else []
    edges = list(map(float, qs))
    b = np.searchsorted(np.asarray(edges), xs, side="left")
    nb = len(edges) + 1
    bad = np.bincount(b, weights=ys, minlength=nb)
    tot = np.bincount(b, minlength=nb).astype(float)
    direction = monotone
    if direction == 0 and nb > 2:
        from scipy.stats import spearmanr

        rho = float(spearmanr(np.arange(nb), bad / np.maximum(tot, 1)).statistic)
        direction = int(np.sign(rho)) if abs(rho) >= 0.5 else 0
    if direction != 0:
        gid = _monotone_merge(bad.tolist(), tot.tolist(), direction)
        edges = [edges[i] for i in range(len(edges)) if gid[i] != gid[i + 1]]
        b = np.searchsorted(np.asarray(edges), xs, side="left")
        nb = len(edges) + 1
        bad = np.bincount(b, weights=ys, minlength=nb)
        tot = np.bincount(b, minlength=nb).astype(float)
    mbad, mtot = float(y[~present].sum()), float((~present).sum())
    woe, iv = _woe(np.append(bad, mbad), np.append(tot - bad, mtot - mbad))
    if mtot == 0:
        woe[-1] = 0.0  # never seen missing: neutral
    lo = ["-inf", *[f"{e:.4g}" for e in edges]]
    hi = [*[f"{e:.4g}" for e in edges], "inf"]
    labels = [f"({a}, {c}]" for a, c in zip(lo, hi, strict=True)] + ["missing"]
    return FeatureBins(name, "numeric", edges=edges, woe=woe.tolist(), labels=labels, iv=iv)


def bin_categorical(
    name: str, x: np.ndarray, y: np.ndarray, levels: Sequence[str], min_share: float = 0.02
) -> FeatureBins:
    present = ~np.isnan(x)
    codes = x[present].astype(int)
    counts = np.bincount(codes, minlength=len(levels))
    keep = [c for c in range(len(levels)) if counts[c] >= min_share * len(x)]
    groups = {c: i for i, c in enumerate(keep)}
    other = len(keep)
    b = np.array([groups.get(c, other) for c in codes], dtype=int)
    bad = np.bincount(b, weights=y[present], minlength=other + 1)
    tot = np.bincount(b, minlength=other + 1).astype(float)
    mbad, mtot = float(y[~present].sum()), float((~present).sum())
    woe, iv = _woe(np.append(bad, mbad), np.append(tot - bad, mtot - mbad))
    if tot[other] == 0:
        woe[other] = 0.0
    if mtot == 0:
        woe[-1] = 0.0
    labels = [levels[c] for c in keep] + ["other", "missing"]
    return FeatureBins(name, "categorical", groups=groups, woe=woe.tolist(), labels=labels, iv=iv)


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
    max_bins: int = 10,
    min_iv: float = 0.02,
    c: float = 1.0,
    weight: np.ndarray | None = None,
) -> Scorecard:
    """Bin every feature, keep those with IV >= ``min_iv``, fit logistic regression on WOE."""
    from sklearn.linear_model import LogisticRegression

    categories = categories or {}
    monotone = monotone or {}
    bins = []
    for i, n in enumerate(names):
        col = X[:, i]
        if n in categories:
            fb = bin_categorical(n, col, y, categories[n])
        else:
            fb = bin_numeric(n, col, y, max_bins, int(monotone.get(n, 0)))
        if fb.iv >= min_iv:
            bins.append(fb)
    if not bins:  # nothing informative: keep the best one so the model still fits
        all_bins = [
            bin_categorical(n, X[:, i], y, categories[n])
            if n in categories
            else bin_numeric(n, X[:, i], y, max_bins)
            for i, n in enumerate(names)
        ]
        bins = [max(all_bins, key=lambda b: b.iv)]
    card = Scorecard(list(names), bins, [0.0] * len(bins), 0.0, scale or Scale())
    W = card.woe_matrix(X)
    lr = LogisticRegression(C=c, max_iter=2000).fit(W, y, sample_weight=weight)
    card.coef = lr.coef_[0].tolist()
    card.intercept = float(lr.intercept_[0])
    return card
