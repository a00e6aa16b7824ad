"""Training rows from ClickHouse: logged feature vectors joined with matured labels.

Point-in-time correct as of a label date ``as_of``:

* only performance events with ``event_time <= as_of`` count (what was known then);
* label_default = ever ``default_dpd``+ days past due within ``default_months`` on book;
  an application is matured for default once ``month_on_book >= default_months`` was
  observed, or it already defaulted / charged off (a default cannot un-happen);
* label_fraud = a FRAUD_CONFIRMED status was reported; matured once the application is
  older than ``fraud_window_days`` or fraud was confirmed;
* immature applications are left out, never counted as goods;
* a default label leaves out the applications whose fraud was confirmed by ``as_of``
  (a fraud loss is not a credit loss; `models.labels`).
* with ``labels="review+performance"`` a reviewer's verdict is an early, final fraud
  label (``models.label_sources``); every row's ``label_source`` is counted in
  ``attrs['label_sources']``, which the model's manifest records.

The vectors are exactly those served at decision time (``feature_vectors``), so
training and serving use identical features. Rows of one feature-spec version only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from models.data import Dataset, frame_to_dataset
from models.errors import DataError
from models.labels import apply_definition
from schemas.times import iso_to_ms

TARGETS = ("label_default", "label_fraud")
DAY_MS = 86_400_000

#: the logged vector's columns every training query selects (``f`` = feature_vectors)
VECTOR_COLUMNS = """
    f.application_id AS application_id,
    toUnixTimestamp64Milli(f.event_time) AS event_time,
    f.product AS product,
    f.feature_spec_version AS feature_spec_version,
    f.names AS names,
    f.values AS values"""

QUERY = "SELECT" + VECTOR_COLUMNS + """,
    p.mob AS max_month_on_book,
    p.label_default AS label_default,
    p.label_fraud AS label_fraud,
    p.charged_off AS charged_off
FROM feature_vectors AS f FINAL
INNER JOIN (
    SELECT
        application_id,
        max(month_on_book) AS mob,
        toUInt8(countIf(days_past_due >= {dpd} AND month_on_book <= {months}) > 0)
            AS label_default,
        toUInt8(countIf(status = 'FRAUD_CONFIRMED') > 0) AS label_fraud,
        toUInt8(countIf(status = 'CHARGED_OFF') > 0) AS charged_off
    FROM loan_performance FINAL
    WHERE event_time <= fromUnixTimestamp64Milli(toInt64({as_of}))
    GROUP BY application_id
) AS p ON p.application_id = f.application_id
WHERE f.event_time <= fromUnixTimestamp64Milli(toInt64({as_of}))
"""


def parse_as_of(text: str | None, option: str = "--as-of") -> int:
    """Epoch ms of an ISO date/time (UTC if no zone); now when ``text`` is empty.
    ``option`` names the flag in the error."""
    if not text:
        return int(datetime.now(UTC).timestamp() * 1000)
    try:
        return iso_to_ms(text)
    except ValueError as e:
        raise DataError(f"{option} {text!r} is not an ISO date like 2025-06-30") from e


def labelled_frame(
    client: Any,
    target: str,
    as_of_ms: int,
    *,
    product: str | None = None,
    feature_spec_version: str | None = None,
    default_dpd: int = 60,
    default_months: int = 6,
    fraud_window_days: int = 90,
    include_fraud: bool = False,
    labels: str = "performance",
) -> tuple[pd.DataFrame, list[str]]:
    """Matured rows as a wide DataFrame (one column per feature) and the feature names; a
    default label leaves out the fraud confirmed by ``as_of`` unless ``include_fraud``
    (`models.labels`; ``attrs['label']`` records the definition)."""
    from models.label_sources import LABEL_CHOICES, review_rows, source_counts, with_review_labels

    if target not in TARGETS:
        raise DataError(f"target {target!r}: the ClickHouse source knows {TARGETS}")
    if labels not in LABEL_CHOICES:
        raise DataError(f"labels {labels!r}: one of {', '.join(LABEL_CHOICES)}")
    if labels != "performance" and target != "label_fraud":
        raise DataError("review verdicts are fraud labels: --labels review+performance needs "
                        "--target label_fraud")
    sql = QUERY.format(dpd=int(default_dpd), months=int(default_months), as_of=int(as_of_ms))
    raw = client.query_df(sql)
    review = review_rows(client, as_of_ms) if labels != "performance" else pd.DataFrame()
    if raw.empty and review.empty:
        raise DataError(
            f"no logged feature vectors with {labels.replace('+', ' or ')} labels as of the "
            "label date; run the pipeline and the sink first, or train from a file with --data"
        )
    raw = with_review_labels(raw, review)
    if product is not None:
        raw = raw[raw["product"] == product]
    versions = raw["feature_spec_version"].value_counts()
    version = feature_spec_version or str(versions.index[0])
    raw = raw[raw["feature_spec_version"] == version]
    if target == "label_default":
        matured = (raw["max_month_on_book"] >= default_months) | (raw["label_default"] == 1)
        matured |= raw["charged_off"] == 1
    else:
        old = raw["event_time"] <= as_of_ms - fraud_window_days * DAY_MS
        matured = old | (raw["label_fraud"] == 1) | raw["review_final"]
    immature = int((~matured).sum())
    raw, label = apply_definition(raw[matured].reset_index(drop=True), target,
                                  include_fraud=include_fraud)
    if raw.empty:
        raise DataError(f"no application has a matured {target} as of the label date "
                        f"({immature:,} not matured yet); use a later --as-of or wait")
    wide = _wide(raw, version)
    names = list(wide.columns)
    meta = raw[["application_id", "event_time", "product", "label_default", "label_fraud"]]
    frame = pd.concat([meta.reset_index(drop=True), wide], axis=1)
    frame["event_time"] = frame["event_time"].astype(np.int64)
    frame.attrs["feature_spec_version"] = version
    frame.attrs["immature"] = immature
    frame.attrs["label"] = label
    frame.attrs["label_sources"] = {"labels": labels, "rows": source_counts(raw, target)}
    return frame, names


def _wide(raw: pd.DataFrame, version: str) -> pd.DataFrame:
    """The ``names`` / ``values`` arrays of logged vectors as one column per feature."""
    names = [str(n) for n in raw["names"].iloc[0]]
    if any(list(n) != names for n in raw["names"]):
        raise DataError(f"rows of spec {version} disagree on feature names; check the sink")
    values = np.array(
        [[np.nan if v is None else float(v) for v in row] for row in raw["values"]],
        dtype=np.float64,
    )
    return pd.DataFrame(values, columns=names)


WINDOW = """
SELECT feature_spec_version, names, values
FROM feature_vectors FINAL
WHERE event_time >= fromUnixTimestamp64Milli(toInt64({since}))
  AND event_time < fromUnixTimestamp64Milli(toInt64({until}))
ORDER BY cityHash64(application_id)
LIMIT {limit}
"""


def feature_window(
    client: Any, since_ms: int, until_ms: int, *, limit: int = 50_000
) -> pd.DataFrame:
    """Logged vectors decided in [since, until) as one column per feature: a deterministic
    sample of at most ``limit`` rows (hash of the application id), of the spec version
    most rows have; ``attrs['feature_spec_version']`` names it. Empty if none."""
    raw = client.query_df(WINDOW.format(since=int(since_ms), until=int(until_ms),
                                        limit=int(limit)))
    if raw.empty:
        return pd.DataFrame()
    version = str(raw["feature_spec_version"].value_counts().index[0])
    wide = _wide(raw[raw["feature_spec_version"] == version].reset_index(drop=True), version)
    wide.attrs["feature_spec_version"] = version
    return wide


def logged_span(client: Any) -> tuple[int, int] | None:
    """(first, last) decision event time in ms of the logged vectors; None if none."""
    rows = client.query(
        "SELECT toUnixTimestamp64Milli(min(event_time)), toUnixTimestamp64Milli(max(event_time)),"
        " count() FROM feature_vectors"
    ).result_rows
    if not rows or not rows[0][2]:
        return None
    return int(rows[0][0]), int(rows[0][1])


def scores_window(client: Any, since_ms: int, until_ms: int, column: str,
                  model_version: str) -> np.ndarray:
    """``pd`` or ``fraud_probability`` of decisions in [since, until) made by that model."""
    if column not in ("pd", "fraud_probability"):
        raise DataError(f"unknown score column {column!r}")
    if not re.fullmatch(r"[A-Za-z0-9._:+-]+", model_version):
        raise DataError(f"model version {model_version!r} has characters a version never has")
    key = "model_pd" if column == "pd" else "model_fraud"
    rows = client.query(
        f"SELECT {column} FROM decisions_of_record "
        f"WHERE event_time >= fromUnixTimestamp64Milli(toInt64({int(since_ms)})) "
        f"AND event_time < fromUnixTimestamp64Milli(toInt64({int(until_ms)})) "
        f"AND versions['{key}'] = '{model_version}' AND {column} IS NOT NULL"
    ).result_rows
    return np.array([r[0] for r in rows], dtype=np.float64)


@dataclass(frozen=True)
class Maturity:
    """Of the booked applications decided by the label date: those whose label is final
    (``matured``, with ``bads`` among them) and those left out because it is not
    (``immature``: a loan younger than the default window that has not defaulted)."""

    matured: int
    bads: int
    immature: int


def load_from_clickhouse(client: Any, target: str, as_of_ms: int, **options: Any) -> Dataset:
    """A `Dataset` of logged vectors with matured labels (time = decision time);
    ``options`` as for `load_with_maturity`."""
    return load_with_maturity(client, target, as_of_ms, **options)[0]


def load_with_maturity(
    client: Any,
    target: str,
    as_of_ms: int,
    *,
    product: str | None = None,
    feature_spec_version: str | None = None,
    features: Sequence[str] | None = None,
    default_dpd: int = 60,
    default_months: int = 6,
    fraud_window_days: int = 90,
    include_fraud: bool = False,
    labels: str = "performance",
) -> tuple[Dataset, Maturity]:
    """`load_from_clickhouse` and how many labels were final, bad, and left out (the
    confirmed fraud a PD label leaves out is in ``Dataset.label``, not in `Maturity`)."""
    frame, names = labelled_frame(
        client,
        target,
        as_of_ms,
        product=product,
        feature_spec_version=feature_spec_version,
        default_dpd=default_dpd,
        default_months=default_months,
        fraud_window_days=fraud_window_days,
        include_fraud=include_fraud,
        labels=labels,
    )
    ds = frame_to_dataset(
        frame,
        target,
        "event_time",
        "application_id",
        features=list(features or names),
        require_both_classes=False,  # checked by training; an early label date may have one
    )
    ds.dropped["feature_spec_version"] = str(frame.attrs["feature_spec_version"])
    ds.label = dict(frame.attrs["label"])
    ds.label_source = {"from": "clickhouse", "as_of_ms": int(as_of_ms),
                       **frame.attrs["label_sources"]}
    return ds, Maturity(len(ds.y), int((ds.y == 1).sum()), int(frame.attrs["immature"]))
