"""Offline features: replay an event log through the live engine.

The training table is built by the same ``FeatureEngine`` the stream uses, on
a fresh Redis namespace, so offline and online values are equal by
construction -- and ``tests/integration/test_features_replay.py`` proves it.
Replay is batched for speed without changing any value: session events and
applications are grouped into one script call each, and a batch is cut
whenever reordering could matter (a session event for a session, or a device
event for a device, that a pending application uses; a fraud confirmation; a
DECLINE decision).

Declines: the DECLINE decisions in the log (``loan.decisions.v1``) are recorded in log
order, as the worker records the ones it publishes (before the applications that come
after them), so a log of each batch's applications followed by its decisions replays to
the vectors served. A simulator history is an approve-all test cell: it has no
decisions, and ``graph_component_declined_share_30d`` is 0 in every row built from it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from features.engine import FeatureEngine, Value
from features.errors import FeatureError
from schemas.records import LoanApplication

APPLICATION_TOPICS = {"loan.applications.v1", "application"}
DEVICE_TOPICS = {"device.events.v1", "device"}
BEHAVIOUR_TOPICS = {"behaviour.events.v1", "behaviour"}
PERFORMANCE_TOPICS = {"loan.performance.v1", "performance"}
DECISION_TOPICS = {"loan.decisions.v1", "decision"}

#: truth columns carried from a simulator history into the training table
TRUTH_COLUMNS = ("label_default", "label_fraud", "oracle_pd", "oracle_fraud", "fraud_type",
                 "genuine_sharing", "label_date")

Row = tuple[Mapping[str, Any], dict[str, Value]]


def replay(
    engine: FeatureEngine,
    events: Iterable[tuple[Any, ...]],
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Row]:
    """Feed ``(topic, [key,] record)`` events in log order; yield ``(application, features)``.

    The results equal calling the engine one event at a time in log order.
    Topics are the Kafka topic names or the short kinds application / device /
    behaviour / performance / decision; other topics are skipped.
    """
    beh: list[Mapping[str, Any]] = []
    dev: list[Mapping[str, Any]] = []
    apps: list[LoanApplication] = []
    frauds: list[tuple[str, int]] = []
    declines: list[tuple[str, int]] = []
    app_sessions: set[str] = set()
    app_devices: set[str] = set()

    def flush() -> Iterator[Row]:
        if beh or dev:
            engine.ingest_session_events(dev, beh)
            beh.clear()
            dev.clear()
        if apps:
            values = engine.compute_many(apps)
            batch = list(zip(list(apps), values, strict=True))
            apps.clear()
            app_sessions.clear()
            app_devices.clear()
            if progress is not None:
                progress(len(batch))
            yield from batch

    for ev in events:
        topic, record = ev[0], ev[-1]
        if topic in BEHAVIOUR_TOPICS:
            if record["session_id"] in app_sessions:
                yield from flush()
            beh.append(record)
        elif topic in DEVICE_TOPICS:
            if record["session_id"] in app_sessions or record["device_id"] in app_devices:
                yield from flush()
            dev.append(record)
        elif topic in APPLICATION_TOPICS:
            if frauds:
                engine.record_fraud_confirmations(frauds)
                frauds.clear()
            if declines:
                engine.record_declines(declines)
                declines.clear()
            apps.append(record)
            app_sessions.add(record["session_id"])
            app_devices.add(record["device_id"])
            if len(apps) >= batch_size:
                yield from flush()
        elif topic in PERFORMANCE_TOPICS and record.get("status") == "FRAUD_CONFIRMED":
            yield from flush()
            frauds.append((record["application_id"], int(record["event_time"])))
        elif topic in DECISION_TOPICS and record.get("decision") == "DECLINE":
            yield from flush()
            declines.append((record["application_id"], int(record["event_time"])))
    yield from flush()
    if frauds:
        engine.record_fraud_confirmations(frauds)
    if declines:
        engine.record_declines(declines)


def rows_to_frame(rows: Iterable[Row], spec_names: list[str]) -> Any:
    """A DataFrame: application_id, event_time, product, then every spec feature in order."""
    import numpy as np
    import pandas as pd

    ids, times, products, matrix = [], [], [], []
    for app, values in rows:
        ids.append(app["application_id"])
        times.append(int(app["event_time"]))
        products.append(str(app["product"]))
        matrix.append([np.nan if (v := values[n]) is None else v for n in spec_names])
    frame = pd.DataFrame(np.asarray(matrix, dtype=np.float64).reshape(len(ids), len(spec_names)),
                         columns=spec_names)
    frame.insert(0, "product", pd.Series(products, dtype="string"))
    frame.insert(0, "event_time", np.asarray(times, dtype=np.int64))
    frame.insert(0, "application_id", pd.Series(ids, dtype="string"))
    return frame


def fraud_confirmations(performance: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Time-ordered FRAUD_CONFIRMED performance events, as (topic, key, record).

    Merged after the history's event log at equal times, so a confirmation at
    the same millisecond as an application does not affect that application.
    """
    conf = performance[performance["status"] == "FRAUD_CONFIRMED"]
    conf = conf.sort_values("event_time", kind="stable")
    for app_id, t in zip(conf["application_id"].tolist(), conf["event_time"].tolist(),
                         strict=True):
        yield ("loan.performance.v1", app_id,
               {"application_id": app_id, "event_time": int(t), "status": "FRAUD_CONFIRMED"})


def build_training_table(
    history: Any,
    engine: FeatureEngine,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """Features for every application of a simulator ``History``, with its truth columns.

    ``engine`` should use a fresh prefix or database: replay starts from empty state.
    """
    from simulator.history import event_log

    events = heapq.merge(event_log(history), fraud_confirmations(history.performance),
                         key=lambda ev: int(ev[-1]["event_time"]))
    rows = replay(engine, events, batch_size=batch_size, progress=progress)
    frame = rows_to_frame(rows, engine.spec.names)
    apps = history.applications
    truth = [c for c in TRUTH_COLUMNS if c in apps.columns]
    if "application_id" not in apps.columns:
        raise FeatureError("history.applications has no application_id column")
    if truth:
        right = apps[["application_id", *truth]].drop_duplicates("application_id")
        right = right.assign(application_id=right["application_id"].astype("string"))
        frame = frame.merge(right, on="application_id", how="left")
    frame.attrs["feature_spec_version"] = engine.spec.version
    return frame
