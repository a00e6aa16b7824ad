"""Reject inference: training rows for the applicants a policy declined, whose outcome
nobody observed.

A PD model trained only on booked loans learns the booked population; scored on the
declined it is too optimistic, and each generation trained on its own approvals sees a
narrower one. Each method here turns the logged decisions (features of every applicant,
labels of the booked) into weighted training rows (`Augmented`) that any fit taking
sample weights uses (LightGBM's ``weight``; `models.reject_study` measures them):

- ``ipw``: booked rows weighted by 1 / P(approved | x), the propensity estimated from the
  logged decisions (clipped, since a deterministic cutoff gives P near 0 or 1);
- ``parcel``: the declined scored by the booked-only model, grouped in score bands, and
  given labels at random at the booked band's bad rate times ``factor`` (the declined are
  worse than the booked at the same score);
- ``fuzzy``: each declined applicant as two rows, bad with weight p and good with 1 - p,
  p from the booked-only model times ``factor``;
- ``explore``: the exploration cell's labels (`decisions.cells`): declined-by-policy
  applicants approved at random, weighted by 1 / the exploration share, beside the booked.
  The only method whose correction comes from observed outcomes rather than assumption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("ipw", "parcel", "fuzzy", "explore")


@dataclass(frozen=True)
class Augmented:
    """Training rows: features, labels (0/1) and sample weights."""

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.X) == len(self.y) == len(self.w)):
            raise ValueError("X, y and w must have one entry per row")


def booked_only(X: np.ndarray, y: np.ndarray, booked: np.ndarray) -> Augmented:
    """What training from logged decisions sees without reject inference."""
    return Augmented(X[booked], y[booked].astype(np.float64), np.ones(int(booked.sum())))


def propensity(X: np.ndarray, approved: np.ndarray, seed: int = 0) -> np.ndarray:
    """P(approved | x) from the logged decisions: a small gradient-boosted classifier."""
    import lightgbm as lgb

    params = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 15,
              "min_data_in_leaf": 50, "verbose": -1, "seed": seed, "deterministic": True}
    model = lgb.train(params, lgb.Dataset(X, approved.astype(np.float64)), 100)
    return np.asarray(model.predict(X), dtype=np.float64)


def ipw(X: np.ndarray, y: np.ndarray, booked: np.ndarray, p_approve: np.ndarray,
        clip: float = 0.02) -> Augmented:
    """Booked rows weighted by the inverse of their probability of approval."""
    w = 1.0 / np.clip(p_approve[booked], clip, 1.0)
    return Augmented(X[booked], y[booked].astype(np.float64), w / w.mean())


def parcel(X: np.ndarray, y: np.ndarray, booked: np.ndarray, score: np.ndarray,
           factor: float = 1.5, bands: int = 10, seed: int = 0) -> Augmented:
    """Booked rows plus the declined with labels drawn at their score band's booked bad
    rate times ``factor`` (``score``: the booked-only model's PD of every applicant)."""
    rng = np.random.default_rng(seed)
    edges = np.unique(np.quantile(score[booked], np.linspace(0, 1, bands + 1)[1:-1]))
    band = np.searchsorted(edges, score, side="right")
    rate = np.array([y[booked & (band == b)].mean() if (booked & (band == b)).any() else 0.0
                     for b in range(len(edges) + 1)])
    declined = ~booked
    p = np.clip(rate[band[declined]] * factor, 0.0, 1.0)
    drawn = (rng.random(int(declined.sum())) < p).astype(np.float64)
    return Augmented(np.vstack([X[booked], X[declined]]),
                     np.concatenate([y[booked].astype(np.float64), drawn]),
                     np.ones(len(y)))


def fuzzy(X: np.ndarray, y: np.ndarray, booked: np.ndarray, score: np.ndarray,
          factor: float = 1.5) -> Augmented:
    """Booked rows plus each declined applicant twice: bad with weight p, good with 1 - p."""
    declined = ~booked
    p = np.clip(score[declined] * factor, 0.0, 1.0)
    Xd = X[declined]
    return Augmented(np.vstack([X[booked], Xd, Xd]),
                     np.concatenate([y[booked].astype(np.float64), np.ones(len(p)),
                                     np.zeros(len(p))]),
                     np.concatenate([np.ones(int(booked.sum())), p, 1 - p]))


def explore(X: np.ndarray, y: np.ndarray, booked: np.ndarray, explored: np.ndarray,
            share: float) -> Augmented:
    """Booked rows, the explored ones (booked only because of the cell) weighted by
    1 / ``share``: they stand for every declined applicant like them."""
    if share <= 0:
        raise ValueError("the exploration share must be positive")
    rows = booked | explored
    w = np.where(explored[rows], 1.0 / share, 1.0)
    return Augmented(X[rows], y[rows].astype(np.float64), w)
