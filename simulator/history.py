"""History mode: a historical data set for offline training and backtesting.

Applications arrive over ``months`` months from ``config.start_date`` (more on
weekdays and in the evening). History is an *approve-all test cell*: every
application is booked, so performance and matured labels exist for all of
them (a real book only has labels for approvals; use ``label_date`` to
respect when each label became known).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.topics import APPLICATIONS, BEHAVIOUR_EVENTS, DEVICE_EVENTS
from simulator import strings as S
from simulator.batch import BUREAU, generate_batch, streams
from simulator.config import SimConfig
from simulator.errors import SimulatorError
from simulator.people import to_frame
from simulator.performance import MONTH_MS
from simulator.records import records_from_frame

FILES = ("applications", "device_events", "behaviour_events", "performance")
DAY_MS = 86_400_000

APPLICATION_COLUMNS = (
    "application_id",
    "event_time",
    "product",
    "customer_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "national_id",
    "email",
    "phone",
    "address_line1",
    "address_city",
    "address_postcode",
    "address_country",
    "employment_status",
    "employment_months",
    "annual_income",
    "monthly_debt_payments",
    "housing_status",
    "requested_amount",
    "requested_term_months",
    "bureau_score",
    *BUREAU,
    "channel",
    "session_id",
    "ip",
    "device_id",
    "employer",
    "bank_account",
    # session context (also in device_events), truth and latent attributes
    "device_os",
    "user_agent",
    "idfv",
    "emulator",
    "rooted",
    "geo_lat",
    "geo_lon",
    "geo_country",
    "ip_country",
    "timezone",
    "utc_offset_minutes",
    "oracle_pd",
    "oracle_fraud",
    "fraud_type",
    "ring_id",
    "genuine_sharing",
    "label_default",
    "label_fraud",
    "label_date",
    "person_id",
    "is_repeat",
    "latent_age",
    "latent_true_income",
    "latent_credit_quality",
    "latent_noise",
)


@dataclass
class History:
    """The four tables of a simulated history (pandas, Arrow-backed strings)."""

    applications: pd.DataFrame
    device_events: pd.DataFrame
    behaviour_events: pd.DataFrame
    performance: pd.DataFrame


def arrival_times(rng: np.random.Generator, n: int, start_ms: int, end_ms: int) -> np.ndarray:
    """Sorted arrival times with a daily (evening peak) and weekly (quieter weekend) shape."""
    days = max(int((end_ms - start_ms) // DAY_MS), 1)
    day = np.arange(days)
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    day_w = np.where(dow >= 5, 0.75, 1.0)
    d = rng.choice(days, size=n, p=day_w / day_w.sum())
    hour_w = np.array(
        [
            1,
            0.5,
            0.3,
            0.3,
            0.3,
            0.5,
            1,
            2,
            3,
            4,
            4.5,
            5,
            5,
            5,
            4.5,
            4.5,
            5,
            5.5,
            6,
            6.5,
            6.5,
            6,
            4,
            2,
        ]
    )
    h = rng.choice(24, size=n, p=hour_w / hour_w.sum())
    t = start_ms + d * DAY_MS + h * 3_600_000 + rng.integers(0, 3_600_000, n)
    return np.sort(t)


def generate_history(config: SimConfig, applications: int, months: int, seed: int) -> History:
    """Simulate ``applications`` applications over ``months`` months, all booked, with
    sessions, monthly performance, oracle probabilities and matured labels."""
    if applications < 1 or months < 1:
        raise SimulatorError("history needs at least 1 application and 1 month")
    rngs = streams(seed)
    start = int(np.datetime64(config.start_date, "ms").astype(np.int64))
    end = start + months * MONTH_MS
    times = arrival_times(rngs["arrivals"], applications, start, end)
    with _bulk_arrow_pool():
        span = int(config.fraud.ring_burst_hours * 3_600_000)
        b = generate_batch(config, rngs, times, span, performance_by_time=True)
        assert b.performance is not None
        apps = _sorted_frame({c: b.applications[c] for c in APPLICATION_COLUMNS})
        dev = _sorted_frame(b.device_events)
        beh = to_frame(b.behaviour_events)  # already in time order within each session
        perf = _sorted_frame(b.performance)
    return History(apps, dev, beh, perf)


@contextmanager
def _bulk_arrow_pool() -> Iterator[None]:
    """Allocate Arrow buffers from jemalloc (else the system allocator) meanwhile. The default
    mimalloc pool hands freed pages back to the OS at once, so the hundreds of MB of
    short-lived string buffers of a big history are faulted in again and again (this
    doubled the generation time). Buffers remember their pool, so switching back is safe."""
    previous = pa.default_memory_pool()
    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowException):
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _sorted_frame(cols: dict[str, Any]) -> pd.DataFrame:
    """``to_frame(cols)`` stably sorted by event_time; the rows are reordered in Arrow,
    before pandas (several times faster than ``sort_values`` on Arrow-backed columns)."""
    t = np.asarray(cols["event_time"])
    if len(t) < 2 or bool((t[1:] >= t[:-1]).all()):
        return to_frame(cols)
    order = np.argsort(t, kind="stable")
    return to_frame(S.take_cols(cols, order))


def write_history(history: History, out_dir: str | Path) -> dict[str, Path]:
    """Write the four Parquet files (pyarrow, zstd level 1, dictionary-encoded columns, no pandas
    index); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in FILES:
        p = out / f"{name}.parquet"
        table = pa.Table.from_pandas(getattr(history, name), preserve_index=False)
        pq.write_table(table, p, compression="zstd", compression_level=1, use_dictionary=True)
        paths[name] = p
    return paths


def read_history(out_dir: str | Path) -> History:
    out = Path(out_dir)
    missing = [f"{n}.parquet" for n in FILES if not (out / f"{n}.parquet").exists()]
    if missing:
        raise SimulatorError(
            f"{out} is not a complete history (missing {', '.join(missing)}); "
            "create one with `loanrisk simulate history --out PATH`"
        )
    return History(*(pd.read_parquet(out / f"{n}.parquet") for n in FILES))


_KINDS = (
    (DEVICE_EVENTS.name, "device_event", "device_events"),
    (BEHAVIOUR_EVENTS.name, "behaviour_event", "behaviour_events"),
    (APPLICATIONS.name, "loan_application", "applications"),
)
_KEY = ("session_id", "session_id", "application_id")


def event_log(history: History, chunk: int = 50_000) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(topic, key, record) for device, behaviour and application events in event-time order
    (ties: device, then behaviour, then application). Records match the Avro schemas."""
    frames = [getattr(history, attr) for _, _, attr in _KINDS]
    t = np.concatenate([f["event_time"].to_numpy(np.int64) for f in frames])
    kind = np.concatenate([np.full(len(f), k, np.int8) for k, f in enumerate(frames)])
    row = np.concatenate([np.arange(len(f)) for f in frames])
    order = np.lexsort((row, kind, t))
    for lo in range(0, len(order), chunk):
        sel = order[lo : lo + chunk]
        ks, rs = kind[sel], row[sel]
        built: list[list[dict[str, Any]]] = []
        for k, (_, schema, _) in enumerate(_KINDS):
            part = frames[k].iloc[rs[ks == k]]
            built.append(records_from_frame(part, schema) if len(part) else [])
        pos = np.zeros(3, dtype=np.int64)
        for k in ks.tolist():
            rec = built[k][pos[k]]
            pos[k] += 1
            yield _KINDS[k][0], rec[_KEY[k]], rec


def application_records(apps: pd.DataFrame) -> list[dict[str, Any]]:
    return records_from_frame(apps, "loan_application")


__all__ = [
    "History",
    "application_records",
    "event_log",
    "generate_history",
    "read_history",
    "write_history",
]
