"""Loading analysts' files: categoricals, missing values, truth columns and targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.data import encode_row, frame_to_dataset, load_table
from models.errors import DataError
from models.synth import make_loans


def test_csv_and_parquet_give_the_same_dataset(tmp_path):
    df = make_loans(500, seed=2)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_parquet(tmp_path / "a.parquet", index=False)
    a = load_table(tmp_path / "a.csv", "label_default", "event_time", "application_id")
    b = load_table(tmp_path / "a.parquet", "label_default", "event_time", "application_id")
    assert a.feature_names == b.feature_names
    np.testing.assert_allclose(a.X.to_numpy(), b.X.to_numpy())
    assert a.categories == {"channel": ["app", "branch", "broker", "web"]}
    for leak in ("oracle_pd", "label_fraud", "application_id", "event_time", "label_default"):
        assert leak not in a.feature_names
    assert a.X["income"].isna().sum() > 0  # missing values kept as NaN
    assert a.ids is not None and a.time is not None and a.time.dtype == np.int64


def test_string_targets_time_strings_and_identifier_columns():
    df = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=100, freq="D").astype(str),
            "email": [f"u{i}@x.io" for i in range(100)],
            "x": np.arange(100.0),
            "status": ["bad" if i % 4 == 0 else "good" for i in range(100)],
        }
    )
    ds = frame_to_dataset(df, "status", time_col="when")
    assert ds.y.sum() == 25 and ds.feature_names == ["x"] and "email" in ds.dropped
    assert ds.time is not None and ds.time[1] - ds.time[0] == 86_400_000
    with pytest.raises(DataError, match="--positive"):
        frame_to_dataset(df.assign(status=["a", "b"] * 50), "status")
    with pytest.raises(DataError, match="not in data"):
        frame_to_dataset(df, "missing")


def test_known_categories_and_encode_row_agree():
    df = pd.DataFrame({"c": ["a", "b", "zz", None], "y": [0, 1, 0, 1]})
    ds = frame_to_dataset(df, "y", categories={"c": ["a", "b"]})
    assert ds.X["c"].tolist()[:2] == [0.0, 1.0] and np.isnan(ds.X["c"].tolist()[2:]).all()
    assert encode_row({"c": "b"}, ["c"], {"c": ["a", "b"]}).tolist() == [1.0]
