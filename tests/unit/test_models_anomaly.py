"""Online anomaly model: bounded scores, outliers rank high, checkpoints restore exactly."""

from __future__ import annotations

import numpy as np
import pytest

from models.anomaly import AnomalyModel, bounds_from_frame
from models.errors import ModelLoadError
from models.synth import make_loans

F = ["bureau_score", "dti", "income", "apps_24h", "device_age_days"]


@pytest.fixture(scope="module")
def rows():
    df = make_loans(3000, seed=11)
    return df, df[F].to_dict("records")


@pytest.mark.parametrize("use_bounds", [True, False])
def test_checkpoint_restore_gives_identical_scores(tmp_path, rows, use_bounds):
    df, recs = rows
    m = AnomalyModel(F, bounds_from_frame(df, F) if use_bounds else None, window_size=250)
    for r in recs[:1500]:
        m.learn_one(r)
    m.save(tmp_path / "hst.pkl")
    back = AnomalyModel.load(tmp_path / "hst.pkl")
    assert back.version == m.version and back.n_learned == 1500
    a = [m.score_and_learn(r) for r in recs[1500:]]
    b = [back.score_and_learn(r) for r in recs[1500:]]
    assert a == b  # identical, also across window swaps after the restore


def test_scores_in_unit_interval_and_outliers_rank_high(rows):
    df, recs = rows
    m = AnomalyModel(F, bounds_from_frame(df, F), window_size=250)
    for r in recs:
        m.learn_one(r)
    normal = [m.score_one(r) for r in recs[:500]]
    weird = {"bureau_score": 320, "dti": 0.98, "income": 1e3, "apps_24h": 12, "device_age_days": 0}
    s = m.score_one(weird)
    assert all(0.0 <= v <= 1.0 for v in [*normal, s])
    assert s > np.quantile(normal, 0.99)
    assert m.score_one({**weird, "income": None}) >= 0.0  # missing values are tolerated


def test_same_seed_same_scores_and_bad_checkpoint(tmp_path, rows):
    _, recs = rows
    a, b = AnomalyModel(F, seed=3), AnomalyModel(F, seed=3)
    assert [a.score_and_learn(r) for r in recs[:600]] == [b.score_and_learn(r) for r in recs[:600]]
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"nope")
    with pytest.raises(ModelLoadError, match=r"bad\.pkl"):
        AnomalyModel.load(bad)
