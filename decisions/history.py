"""History to backtest rules and compare champion with challenger on: one row per application.

From a file an analyst brings (Parquet or CSV), or from ClickHouse: the decisions logged
in a time range with the feature vectors served at decision time and the labels matured
since. Either way the result has the columns `decisions.backtest` and
`decisions.shadow` read (features, scores, ``decision``, ``shadow_decision``, labels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from decisions.errors import BacktestError
from schemas.times import iso_to_ms

if TYPE_CHECKING:
    import pandas as pd

TIME_FORMATS = "an ISO date or date-time in UTC, e.g. 2025-01-01 or 2025-01-01T12:30:00"

HISTORY_SQL = (
    "SELECT d.application_id AS application_id, d.product AS product, d.pd AS pd, "
    "d.fraud_probability AS fraud_probability, d.anomaly_score AS anomaly_score, "
    "d.scorecard_points AS scorecard_points, d.decision AS decision, "
    "d.shadow_decision AS shadow_decision, d.age_band AS age_band, d.cell AS cell, "
    "f.names AS names, f.values AS values, "
    "if(l.default_matured = 1, l.label_default, NULL) AS label_default, "
    "l.label_fraud AS label_fraud "
    "FROM decisions_of_record AS d "
    "LEFT JOIN feature_vectors_latest AS f ON f.application_id = d.application_id "
    "LEFT JOIN labels AS l ON l.application_id = d.application_id "
    "WHERE d.event_time >= fromUnixTimestamp64Milli(toInt64({since})) "
    "AND d.event_time < fromUnixTimestamp64Milli(toInt64({until})) "
    "ORDER BY d.event_time, d.application_id"
)


def parse_time(text: str, option: str = "time") -> int:
    """Epoch ms of an ISO date/time (UTC when no zone is given); ``option`` names the flag
    in the error, which lists the accepted formats."""
    try:
        return iso_to_ms(text)
    except ValueError as exc:
        raise BacktestError(f"{option} {text!r} is not a date: use {TIME_FORMATS}") from exc


def read_history(path: Path) -> pd.DataFrame:
    """A Parquet (.parquet, .pq) or CSV file of history; unreadable files name the problem."""
    import pandas as pd

    if not path.exists():
        raise BacktestError(f"no history file {path}; give a Parquet/CSV file or 'clickhouse'")
    readers = {".parquet": pd.read_parquet, ".pq": pd.read_parquet, ".csv": pd.read_csv}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise BacktestError(f"{path}: unknown format; use .parquet or .csv")
    try:
        frame: pd.DataFrame = reader(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BacktestError(f"{path}: cannot be read as {path.suffix[1:]}: {exc}") from exc
    return frame


def history_from_clickhouse(client: Any, since_ms: int, until_ms: int) -> pd.DataFrame:
    """Decisions in [since, until) with their logged feature vectors and matured labels,
    one column per feature (rows of other feature-spec versions keep their own names);
    ``feature_vector_logged`` says whether a decision has its vector."""
    import pandas as pd

    sql = HISTORY_SQL.format(since=int(since_ms), until=int(until_ms))
    df: pd.DataFrame = client.query_df(sql, settings={"join_use_nulls": 1})
    if "names" in df.columns:
        df["feature_vector_logged"] = [n is not None and len(n) > 0 for n in df["names"]]
    if len(df) and "names" in df.columns:
        feats = pd.DataFrame.from_records(
            [dict(zip(n, v, strict=False)) if n is not None else {}
             for n, v in zip(df["names"], df["values"], strict=True)],
            index=df.index,
        )
        df = pd.concat([df.drop(columns=["names", "values"]), feats], axis=1)
    return df


# --- application fields rebuilt from the logged feature vector ---------------------------
# The decision record carries no application fields, but the feature vector logged with it
# holds features computed from them (features/applicant.py), most of them invertible. A
# field is rebuilt only where a history has no column of that name; a row whose feature is
# null gets a null field. Two categorical fields are known only in part: the features tell
# some levels apart and lump the others together (``PARTIAL``), so a rule comparing such a
# field with a lumped level cannot be backtested on rebuilt data.

#: field -> the levels the features cannot tell apart, and the value rebuilt rows carry
PARTIAL: dict[str, tuple[str, ...]] = {
    "employment_status": ("EMPLOYED", "RETIRED"),
    "housing_status": ("OWN", "MORTGAGE", "OTHER"),
}


@dataclass(frozen=True)
class Reconstruction:
    """What `with_application_fields` did: the fields it rebuilt, those known only in part
    (field -> levels not told apart), and the decisions it left out for having no logged
    feature vector (nothing to rebuild from)."""

    fields: tuple[str, ...] = ()
    partial: dict[str, tuple[str, ...]] = dc_field(default_factory=dict)
    without_vector: int = 0


def _num(df: pd.DataFrame, name: str) -> Any:
    return df[name].astype("float64")


def _income(df: pd.DataFrame) -> Any:
    import numpy as np

    return np.round(np.expm1(_num(df, "app_log_income")), 6)  # app_log_income = log1p(income)


def _levels(df: pd.DataFrame, flags: dict[str, str], other: str) -> Any:
    """A categorical field from its one-hot features (null where the features are)."""
    import numpy as np

    cols = list(flags)
    known = df[cols].astype("float64")
    out = np.full(len(df), other, dtype=object)
    for col, level in flags.items():
        out[(known[col] == 1).to_numpy()] = level
    out[known.isna().any(axis=1).to_numpy()] = None
    return out


def _flag(df: pd.DataFrame, name: str) -> Any:
    v = _num(df, name)
    return [None if x != x else bool(x) for x in v]


def _bureau(df: pd.DataFrame) -> list[dict[str, Any] | None]:
    """The bureau record as rules and the policy read it (None = no bureau file)."""
    import math

    fields = [c for c in ("inquiries_6m", "delinquencies_24m", "utilisation",
                          "file_age_months", "open_accounts", "new_accounts_6m")
              if f"bureau_{c}" in df.columns]
    out: list[dict[str, Any] | None] = []
    for row in df.to_dict("records"):
        if row["bureau_missing"] != 0:
            out.append(None)
            continue
        rec: dict[str, Any] = {c: _null(row[f"bureau_{c}"]) for c in fields}
        thin = _null(row.get("bureau_thin_file"))
        rec["thin_file"] = None if thin is None else bool(thin)
        est = _null(row["bureau_log_income_estimate"])
        rec["income_estimate"] = None if est is None else round(math.expm1(est), 6)
        out.append(rec)
    return out


def _null(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and v != v) else v


#: field -> (the features it is rebuilt from, how)
RECIPES: dict[str, tuple[tuple[str, ...], Callable[[pd.DataFrame], Any]]] = {
    "annual_income": (("app_log_income",), _income),
    "requested_amount": (("app_log_income", "app_amount_to_income"),
                         lambda d: (_num(d, "app_amount_to_income") * _income(d)).round(6)),
    "monthly_debt_payments": (("app_log_income", "app_dti"),
                              lambda d: (_num(d, "app_dti") * _income(d) / 12.0).round(6)),
    "requested_term_months": (("app_term_months",), lambda d: _num(d, "app_term_months")),
    "employment_months": (("app_employment_months",),
                          lambda d: _num(d, "app_employment_months")),
    "employment_status": (
        ("app_emp_unemployed", "app_emp_self_employed", "app_emp_student"),
        lambda d: _levels(d, {"app_emp_unemployed": "UNEMPLOYED",
                              "app_emp_self_employed": "SELF_EMPLOYED",
                              "app_emp_student": "STUDENT"},
                          "|".join(PARTIAL["employment_status"]))),
    "housing_status": (("app_housing_rent",),
                       lambda d: _levels(d, {"app_housing_rent": "RENT"},
                                         "|".join(PARTIAL["housing_status"]))),
    "channel": (("channel_app", "channel_partner"),
                lambda d: _levels(d, {"channel_app": "APP", "channel_partner": "PARTNER"},
                                  "WEB")),
    "has_customer_id": (("app_known_customer",), lambda d: _flag(d, "app_known_customer")),
    "bureau": (("bureau_missing", "bureau_log_income_estimate"), _bureau),
}


def with_application_fields(df: pd.DataFrame) -> tuple[pd.DataFrame, Reconstruction]:
    """``df`` with the application fields rules and the policy read rebuilt from its
    feature columns where it has no column of that name; decisions logged without a
    feature vector (``feature_vector_logged`` false) are left out and counted."""
    without = 0
    if "feature_vector_logged" in df.columns:
        logged = df["feature_vector_logged"].astype(bool)
        without = int((~logged).sum())
        df = df[logged].reset_index(drop=True)
    built: dict[str, Any] = {}
    for name, (sources, build) in RECIPES.items():
        if name not in df.columns and all(s in df.columns for s in sources):
            built[name] = build(df)
    if built:
        df = df.assign(**built)
    partial = {f: PARTIAL[f] for f in built if f in PARTIAL}
    return df, Reconstruction(tuple(built), partial, without)
