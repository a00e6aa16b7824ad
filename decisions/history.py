"""History to backtest rules and compare champion with challenger on: one row per application.

From a file an analyst brings (Parquet or CSV), or from ClickHouse: the decisions logged
in a time range with the feature vectors served at decision time and the labels matured
since. Either way the result has the columns `decisions.backtest` and
`decisions.shadow` read (features, scores, ``decision``, ``shadow_decision``, labels).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from decisions.errors import BacktestError

if TYPE_CHECKING:
    import pandas as pd

TIME_FORMATS = "an ISO date or date-time in UTC, e.g. 2025-01-01 or 2025-01-01T12:30:00"

HISTORY_SQL = (
    "SELECT d.application_id AS application_id, d.product AS product, d.pd AS pd, "
    "d.fraud_probability AS fraud_probability, d.anomaly_score AS anomaly_score, "
    "d.scorecard_points AS scorecard_points, d.decision AS decision, "
    "d.shadow_decision AS shadow_decision, f.names AS names, f.values AS values, "
    "if(l.default_matured = 1, l.label_default, NULL) AS label_default, "
    "l.label_fraud AS label_fraud "
    "FROM decisions_latest AS d "
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
        dt = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise BacktestError(f"{option} {text!r} is not a date: use {TIME_FORMATS}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


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
    one column per feature (rows of other feature-spec versions keep their own names)."""
    import pandas as pd

    sql = HISTORY_SQL.format(since=int(since_ms), until=int(until_ms))
    df: pd.DataFrame = client.query_df(sql, settings={"join_use_nulls": 1})
    if len(df) and "names" in df.columns:
        feats = pd.DataFrame.from_records(
            [dict(zip(n, v, strict=False)) if n is not None else {}
             for n, v in zip(df["names"], df["values"], strict=True)],
            index=df.index,
        )
        df = pd.concat([df.drop(columns=["names", "values"]), feats], axis=1)
    return df
