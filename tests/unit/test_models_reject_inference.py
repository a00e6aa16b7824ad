"""Reject-inference methods (weights and augmented rows by hand) and the study on a small
world whose truth is known: the exploration cell's labels must beat booked-only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import reject_inference as ri
from models.errors import DataError
from models.reject_study import StudyConfig, run_study


def world(n: int, seed: int = 3) -> pd.DataFrame:
    """Three features, a true PD from all three, labels drawn from it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    pd_true = 1 / (1 + np.exp(-(-2.2 + 1.2 * x[:, 0] + 0.8 * x[:, 1] - 0.6 * x[:, 2])))
    return pd.DataFrame({"f0": x[:, 0], "f1": x[:, 1], "f2": x[:, 2],
                         "event_time": np.arange(n), "oracle_pd": pd_true,
                         "label_default": (rng.random(n) < pd_true).astype(int)})


def test_ipw_weights_are_the_normalised_inverse_propensity() -> None:
    X, y = np.zeros((4, 1)), np.array([0, 1, 0, 1])
    booked = np.array([True, True, False, True])
    aug = ri.ipw(X, y, booked, np.array([0.5, 0.25, 0.9, 0.01]), clip=0.02)
    raw = np.array([2.0, 4.0, 50.0])
    assert aug.w == pytest.approx(raw / raw.mean()) and aug.y.tolist() == [0, 1, 1]


def test_fuzzy_gives_each_declined_a_bad_and_a_good_row_weighing_one() -> None:
    X = np.arange(5.0).reshape(-1, 1)
    booked = np.array([True, False, True, False, False])
    aug = ri.fuzzy(X, np.array([0, 0, 1, 0, 0]), booked, np.array([0, 0.2, 0, 0.5, 0.9]),
                   factor=1.5)
    assert len(aug.y) == 2 + 2 * 3
    assert aug.w[2:5].tolist() == pytest.approx([0.3, 0.75, 1.0])  # p x 1.5, capped at 1
    assert (aug.w[2:5] + aug.w[5:8]).tolist() == pytest.approx([1, 1, 1])
    assert aug.y[2:5].tolist() == [1, 1, 1] and aug.y[5:8].tolist() == [0, 0, 0]


def test_parcelling_draws_the_declined_at_their_bands_bad_rate_times_factor() -> None:
    rng = np.random.default_rng(0)
    n = 40_000
    score = rng.random(n)
    booked = score < 0.5
    y = (rng.random(n) < 0.1).astype(int)  # every booked band's bad rate is about 10%
    aug = ri.parcel(score.reshape(-1, 1), y, booked, score, factor=2.0)
    drawn = aug.y[int(booked.sum()):]
    assert len(aug.y) == n and drawn.mean() == pytest.approx(0.2, abs=0.01)


def test_explore_weights_the_explored_by_the_inverse_share() -> None:
    booked = np.array([True, False, False, True])
    explored = np.array([False, True, False, False])
    aug = ri.explore(np.zeros((4, 1)), np.array([0, 1, 1, 0]), booked, explored, 0.05)
    assert aug.w.tolist() == [1.0, 20.0, 1.0] and aug.y.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="share"):
        ri.explore(np.zeros((4, 1)), np.zeros(4), booked, explored, 0.0)


def test_the_study_ranks_the_exploration_cell_above_booked_only_against_the_truth() -> None:
    s = run_study(world(4500), ["f0", "f1", "f2"],
                  StudyConfig(approval_rate=0.5, explore_share=0.1, rounds=50))
    r = s.by_method()
    assert set(r) == {"approve-all", "booked only", "RI: ipw", "RI: parcel", "RI: fuzzy",
                      "RI: explore", "oracle"}
    assert r["oracle"].auc >= r["approve-all"].auc - 0.01
    # booked-only never saw the declined: it under-predicts their PD badly
    assert r["booked only"].calibration_ratio < r["RI: explore"].calibration_ratio <= 1.3
    assert r["RI: explore"].auc > r["booked only"].auc
    assert s.gap_closed("approve-all") == pytest.approx(1.0)
    assert s.explored > 0 and abs(s.booked - 0.5 * s.periods["policy"]) <= 1


def test_a_table_too_small_or_without_truth_is_refused() -> None:
    with pytest.raises(DataError, match="too few"):
        run_study(world(1000), ["f0"])
    with pytest.raises(DataError, match="oracle_pd"):
        run_study(world(3000).drop(columns=["oracle_pd"]), ["f0"])
