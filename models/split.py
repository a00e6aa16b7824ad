"""Validation design: out-of-time when a time column exists, otherwise stratified CV.

Out-of-time mirrors deployment (train on the past, judge on the future); without
time, stratified K-fold gives pooled out-of-fold predictions over every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.errors import DataError


@dataclass(frozen=True)
class Split:
    """Row indices of one fit / validation / test arrangement."""

    fit: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def out_of_time(time: np.ndarray, valid_share: float = 0.2, test_share: float = 0.2) -> Split:
    """Oldest rows fit, the next ``valid_share`` validate, the newest ``test_share`` test."""
    order = np.argsort(time, kind="stable")
    n = len(order)
    n_test, n_valid = int(n * test_share), int(n * valid_share)
    if min(n_test, n_valid, n - n_test - n_valid) < 20:
        raise DataError(f"only {n} rows: too few for an out-of-time split; add data or drop time")
    cut1, cut2 = n - n_test - n_valid, n - n_test
    return Split(fit=order[:cut1], valid=order[cut1:cut2], test=order[cut2:])


def stratified_holdout(
    y: np.ndarray, idx: np.ndarray, share: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, holdout) keeping the class balance of ``y``."""
    rng = np.random.default_rng(seed)
    rest, hold = [], []
    for cls in (0, 1):
        members = idx[y[idx] == cls]
        members = members[rng.permutation(len(members))]
        k = max(1, round(len(members) * share))
        hold.append(members[:k])
        rest.append(members[k:])
    return np.sort(np.concatenate(rest)), np.sort(np.concatenate(hold))


def stratified_folds(y: np.ndarray, k: int = 5, seed: int = 0) -> list[Split]:
    """K stratified folds; in each, the training part is split again 80/20 into fit/valid."""
    from sklearn.model_selection import StratifiedKFold

    if min(np.bincount(y, minlength=2)) < k:
        raise DataError(f"fewer than {k} rows of a class: too few for {k}-fold cross-validation")
    out = []
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for i, (train, test) in enumerate(skf.split(np.zeros(len(y)), y)):
        fit, valid = stratified_holdout(y, train, 0.2, seed + i + 1)
        out.append(Split(fit=fit, valid=valid, test=test))
    return out
