"""Training data: any table with a target column becomes a `Dataset`.

Analysts bring CSV or Parquet files; the pipeline brings logged feature vectors
(`models.clickhouse_data`). Both end here, so training never cares where rows came
from. Categorical (string) columns become integer codes with their levels recorded
(the same mapping is stored in the artifact for serving); missing values stay NaN,
which LightGBM and the scorecard's missing bin both handle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.errors import DataError

# Columns a simulator history or a labelled log carries that are truth or identity,
# never features (they would leak the answer or memorise people).
TRUTH_PREFIXES = ("label_", "oracle_", "truth_", "latent_")
TRUTH_COLUMNS = frozenset(
    {
        "fraud_type",
        "label_date",
        "ring_id",
        "application_id",
        "event_id",
        "event_time",
        "applicant_id",
        "loan_id",
        "session_id",
        "customer_id",
        "is_fraud",
        "is_default",
        "person_id",
        "is_repeat",
    }
)
POSITIVE_WORDS = frozenset({"1", "true", "yes", "bad", "default", "fraud", "y", "t"})
MAX_LEVELS = 200  # string columns with more levels are identifiers, not categories


@dataclass
class Dataset:
    """Features, 0/1 target and optional time/id, ready for training.

    ``X`` holds float64 columns only (categoricals as codes); ``categories`` maps each
    categorical column to its ordered levels (code i = levels[i]). ``extra`` keeps
    non-feature columns useful for evaluation (``oracle_*`` probabilities).
    """

    X: pd.DataFrame
    y: np.ndarray
    target: str
    time: np.ndarray | None = None
    ids: np.ndarray | None = None
    categories: dict[str, list[str]] = field(default_factory=dict)
    extra: pd.DataFrame | None = None
    dropped: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    #: what the target means and which rows it left out (`models.labels`)
    label: dict[str, Any] = field(default_factory=dict)
    #: sample weight per row (reject inference, `models.clickhouse_reject`) and its record
    weight: np.ndarray | None = None
    reject_inference: dict[str, Any] = field(default_factory=dict)
    #: where the labels came from (the manifest's ``label_source``): a file, or ClickHouse
    #: with the sources used and their rows and bads
    label_source: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return list(self.X.columns)

    def subset(self, idx: np.ndarray) -> Dataset:
        """Rows ``idx`` of this dataset (same columns, categories and fingerprint)."""
        return Dataset(
            X=self.X.iloc[idx].reset_index(drop=True),
            y=self.y[idx],
            target=self.target,
            time=None if self.time is None else self.time[idx],
            ids=None if self.ids is None else self.ids[idx],
            categories=self.categories,
            extra=None if self.extra is None else self.extra.iloc[idx].reset_index(drop=True),
            dropped=self.dropped,
            fingerprint=self.fingerprint,
            label=self.label,
            weight=None if self.weight is None else self.weight[idx],
            reject_inference=self.reject_inference,
        )


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a CSV or Parquet file, choosing by extension."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file {p} does not exist; pass an existing CSV or Parquet file")
    suffix = "".join(p.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        return pd.read_parquet(p)
    if suffix.endswith((".csv", ".csv.gz", ".txt")):
        return pd.read_csv(p, low_memory=False)
    raise DataError(f"{p}: unknown file type; use .csv, .csv.gz or .parquet")


def load_table(
    path: Path | str,
    target: str,
    time_col: str | None = None,
    id_col: str | None = None,
    *,
    positive: str | None = None,
    features: Sequence[str] | None = None,
    exclude: Iterable[str] = (),
    categories: Mapping[str, Sequence[str]] | None = None,
) -> Dataset:
    """Load an analyst's CSV/Parquet file as a `Dataset` (see `frame_to_dataset`)."""
    return frame_to_dataset(
        read_table(path),
        target,
        time_col,
        id_col,
        positive=positive,
        features=features,
        exclude=exclude,
        categories=categories,
    )


def frame_to_dataset(
    df: pd.DataFrame,
    target: str,
    time_col: str | None = None,
    id_col: str | None = None,
    *,
    positive: str | None = None,
    features: Sequence[str] | None = None,
    exclude: Iterable[str] = (),
    categories: Mapping[str, Sequence[str]] | None = None,
    require_both_classes: bool = True,
) -> Dataset:
    """Turn any DataFrame into a `Dataset`.

    ``features`` (e.g. the feature spec's names) fixes the feature columns exactly;
    otherwise every column except target, time, id, ``exclude`` and truth/identity
    columns (``label_*``, ``oracle_*``, ``fraud_type``...) is a feature. ``categories``
    reuses a trained model's levels so evaluation data is coded the same way.
    """
    _check_columns(df, target, time_col, id_col)
    y = encode_target(df[target], positive)
    if require_both_classes and len(np.unique(y)) < 2:
        raise DataError(f"target {target!r} has one class only; training needs goods and bads")
    dropped: dict[str, str] = {}
    cols = _feature_columns(df, {target, time_col, id_col, *exclude}, features, dropped)
    X, cats = _encode_features(df, cols, categories, features is None, dropped)
    extra_cols = [c for c in df.columns if str(c).startswith("oracle_")]
    return Dataset(
        X=X,
        y=y,
        target=target,
        time=None if time_col is None else time_to_ms(df[time_col]),
        ids=None if id_col is None else df[id_col].astype(str).to_numpy(),
        categories=cats,
        extra=df[extra_cols].reset_index(drop=True) if extra_cols else None,
        dropped=dropped,
        fingerprint=fingerprint(df),
    )


def _check_columns(df: pd.DataFrame, target: str, time_col: str | None, id_col: str | None) -> None:
    if target not in df.columns:
        raise DataError(f"target column {target!r} not in data; columns are {list(df.columns)}")
    for name, col in (("time", time_col), ("id", id_col)):
        if col is not None and col not in df.columns:
            raise DataError(
                f"{name} column {col!r} not in data; pass an existing column or omit it"
            )


def _feature_columns(
    df: pd.DataFrame,
    skip: set[Any],
    features: Sequence[str] | None,
    dropped: dict[str, str],
) -> list[str]:
    """The candidate feature columns: exactly ``features`` when given, else every column
    not skipped and not truth or identity (those are recorded in ``dropped``)."""
    if features is not None:
        missing = [f for f in features if f not in df.columns]
        if missing:
            raise DataError(f"feature columns missing from data: {missing}")
        return list(features)
    cols = []
    for c in df.columns:
        if c in skip:
            continue
        if c in TRUTH_COLUMNS or str(c).startswith(TRUTH_PREFIXES):
            dropped[c] = "truth or identity column"
            continue
        cols.append(c)
    return cols


def _encode_features(
    df: pd.DataFrame,
    cols: list[str],
    categories: Mapping[str, Sequence[str]] | None,
    drop_identifiers: bool,
    dropped: dict[str, str],
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The float64 feature frame and the levels of its categorical columns; columns that
    cannot be features (datetimes, identifier-like text) are recorded in ``dropped``."""
    X = pd.DataFrame(index=range(len(df)))
    cats: dict[str, list[str]] = {}
    for c in cols:
        s = df[c].reset_index(drop=True)
        known = None if categories is None else categories.get(c)
        if known is not None:
            txt = s.astype("string")
            txt = txt.where(txt.isin(list(known)))  # unseen levels -> missing
            X[c] = _codes(txt, list(known))
            cats[c] = list(known)
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            X[c] = s.astype(np.float64)
        elif pd.api.types.is_datetime64_any_dtype(s):
            dropped[c] = "datetime column (use it as --time-col instead)"
        else:
            levels = sorted(s.dropna().astype(str).unique())
            if drop_identifiers and len(levels) > min(MAX_LEVELS, max(2, len(df) // 2)):
                dropped[c] = f"text column with {len(levels)} distinct values (an identifier?)"
                continue
            X[c] = _codes(s.astype("string"), levels)
            cats[c] = levels
    if X.shape[1] == 0:
        raise DataError("no feature columns left; pass --features or check --exclude")
    return X, cats


def _codes(txt: pd.Series, levels: list[str]) -> np.ndarray:
    """Level codes as float64, NaN for missing values."""
    codes = pd.Categorical(txt, categories=levels).codes
    return np.where(codes < 0, np.nan, codes).astype(np.float64)


def encode_target(s: pd.Series, positive: str | None = None) -> np.ndarray:
    """Map a target column to 0/1; ``positive`` names the bad/fraud value if not numeric."""
    if s.isna().any():
        raise DataError(f"target {s.name!r} has {int(s.isna().sum())} missing values; drop them")
    if positive is not None:
        return (s.astype(str) == str(positive)).to_numpy(dtype=np.int8)
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        vals = set(np.unique(s.to_numpy()).tolist())
        if not vals <= {0, 1}:
            raise DataError(f"target {s.name!r} must be 0/1, got values {sorted(vals)[:5]}")
        return s.to_numpy().astype(np.int8)
    levels = s.astype(str).str.lower().unique().tolist()
    hits = [v for v in levels if v in POSITIVE_WORDS]
    if len(levels) != 2 or len(hits) != 1:
        raise DataError(
            f"target {s.name!r} has values {levels[:5]}; pass --positive VALUE naming the bad class"
        )
    return (s.astype(str).str.lower() == hits[0]).to_numpy(dtype=np.int8)


def time_to_ms(s: pd.Series) -> np.ndarray:
    """Epoch milliseconds from a numeric (taken as ms) or datetime-like column."""
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=np.int64)
    dt = pd.to_datetime(s, utc=True)
    return (dt.astype("datetime64[ms, UTC]").astype("int64")).to_numpy()


def fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 of column names and row hashes: identifies the exact training data."""
    h = hashlib.sha256(",".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def encode_row(
    row: Mapping[str, Any], names: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> np.ndarray:
    """One raw record to the float64 vector a model scores (slow path: tools, not the stream)."""
    out = np.full(len(names), np.nan)
    for i, n in enumerate(names):
        v = row.get(n)
        if v is None:
            continue
        if n in categories:
            levels = list(categories[n])
            out[i] = levels.index(str(v)) if str(v) in levels else np.nan
        else:
            out[i] = float(v)
    return out
