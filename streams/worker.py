"""``loanrisk worker``: the Faust app that turns applications into decisions.

Built by a function from settings (no module-level app). Agents:

* ``sessions``   device events and behaviour batches -> session state in Redis
                 (one round trip per batch of messages);
* ``decide``     applications -> features, scores, decision -> ``loan.decisions.v1``
                 and the exact vector -> ``loan.features.v1`` (keyed by application id);
* ``performance`` fraud confirmations -> the graph's confirmed-fraud links.

Every worker also follows the compacted lists topic from its start (outside the
consumer group, so every worker holds every entry), reloads rules and promoted
models on a timer, checkpoints the anomaly model, and emits metrics.
Offsets are committed only after the outputs are flushed (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

import faust

from decisions.lists import ListIndex
from schemas import codec_for
from schemas.topics import (
    APPLICATIONS,
    BEHAVIOUR_EVENTS,
    DEADLETTER,
    DECISIONS,
    DEVICE_EVENTS,
    FEATURES,
    METRICS,
    PERFORMANCE,
)
from streams.compose import anomaly_checkpoint, build_pipeline, rules_path, worker_id
from streams.deadletter import TopicDecoder
from streams.followers import ListsFollower
from streams.metrics import WorkerStats
from streams.releases import releases_follower
from streams.settings import Settings

log = logging.getLogger("loanrisk.worker")


def build_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.worker_group,
        broker=f"kafka://{settings.bootstrap_servers}",
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset=settings.worker_offset_reset,
        broker_commit_interval=1.0,
        producer_linger_ms=1,
        processing_guarantee=settings.processing_guarantee,
        stream_wait_empty=False,
    )
    lists = ListIndex()
    pipeline = build_pipeline(settings, lists)
    follower = ListsFollower(settings.bootstrap_servers, lists)
    releases = releases_follower(settings.bootstrap_servers, pipeline.decider.rules,
                                 pipeline.models, pipeline.decider)
    stats = WorkerStats(worker_id(settings))
    metrics_codec = codec_for(METRICS.schema)

    def raw_topic(*names: str) -> Any:
        return app.topic(*names, key_type=bytes, value_type=bytes,
                         key_serializer="raw", value_serializer="raw")

    applications = raw_topic(APPLICATIONS.name)
    sessions = raw_topic(DEVICE_EVENTS.name, BEHAVIOUR_EVENTS.name)
    performance = raw_topic(PERFORMANCE.name)
    decisions_out = raw_topic(DECISIONS.name)
    features_out = raw_topic(FEATURES.name)
    deadletter_out = raw_topic(DEADLETTER.name)
    metrics_out = raw_topic(METRICS.name)

    pending_dead: list[tuple[bytes | None, bytes]] = []

    def to_deadletter(_topic: str, key: bytes | None, value: bytes) -> None:
        pending_dead.append((key, value))
        stats.dead_letters += 1

    async def flush_deadletters() -> None:
        while pending_dead:
            key, value = pending_dead.pop(0)
            await deadletter_out.send(key=key, value=value)

    component = f"worker:{stats.worker}"
    decoders = {t.name: TopicDecoder(t.name, to_deadletter, component)
                for t in (APPLICATIONS, DEVICE_EVENTS, BEHAVIOUR_EVENTS, PERFORMANCE)}

    def decode(event: Any) -> dict[str, Any] | None:
        m = event.message
        return decoders[m.topic].decode(m.value, m.key, m.partition, m.offset)

    @app.agent(applications, name="decide")
    async def decide(stream: Any) -> None:
        window = settings.worker_batch_window_ms / 1000
        async for events in stream.take_events(settings.worker_batch_max, within=window):
            apps = [a for a in map(decode, events) if a is not None]
            for d in pipeline.decide_batch(apps):
                key = d.application_id.encode()
                await decisions_out.send(key=key, value=d.decision_bytes)
                await features_out.send(key=key, value=d.features_bytes)
                if not d.redelivered:
                    stats.record(d.decision)
            await flush_deadletters()

    @app.agent(sessions, name="sessions")
    async def ingest_sessions(stream: Any) -> None:
        window = settings.session_batch_window_ms / 1000
        async for events in stream.take_events(settings.session_batch_max, within=window):
            device, behaviour = [], []
            for ev in events:
                rec = decode(ev)
                if rec is None:
                    continue
                if ev.message.topic == DEVICE_EVENTS.name:
                    device.append(rec)
                else:
                    behaviour.extend(rec["events"])
            await _with_retry(
                partial(pipeline.features.ingest_session_events, device, behaviour),
                "session ingest")
            await flush_deadletters()

    @app.agent(performance, name="performance")
    async def fraud_links(stream: Any) -> None:
        async for events in stream.take_events(500, within=0.05):
            confirmed = [(r["application_id"], r["event_time"])
                         for r in map(decode, events)
                         if r is not None and r["status"] == "FRAUD_CONFIRMED"]
            if confirmed:
                await _with_retry(
                    partial(pipeline.features.record_fraud_confirmations, confirmed),
                    "fraud confirmations")
            await flush_deadletters()

    @app.task
    async def follow_lists() -> None:
        await asyncio.get_running_loop().run_in_executor(None, follower.catch_up)
        await asyncio.get_running_loop().run_in_executor(None, releases.catch_up)
        log.info("lists loaded: %d updates; releases applied: %d", follower.applied,
                 releases.applied)
        while True:
            follower.poll()
            releases.poll()
            await asyncio.sleep(0.25)

    @app.timer(interval=settings.reload_interval_s)
    async def reload_rules_and_models() -> None:
        path = rules_path(settings)
        if pipeline.decider.rules.reload_if_changed(path):
            log.info("rules reloaded: %s", pipeline.decider.rules.current.version)
        elif pipeline.decider.rules.last_error:
            log.error("rules file rejected, keeping %s: %s",
                      pipeline.decider.rules.current.version, pipeline.decider.rules.last_error)
        pipeline.models.refresh()

    @app.timer(interval=settings.metrics_interval_s)
    async def emit_metrics() -> None:
        await metrics_out.send(key=stats.worker.encode(),
                               value=metrics_codec.encode(stats.snapshot()))

    @app.timer(interval=settings.anomaly_checkpoint_interval_s)
    async def checkpoint_anomaly() -> None:
        if pipeline.anomaly is not None:
            path = anomaly_checkpoint(settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            pipeline.anomaly.save(path)

    app.loanrisk_pipeline = pipeline  # type: ignore[attr-defined]  # for operators' debugging
    return app


async def _with_retry(call: Any, what: str, pauses: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0)
                      ) -> None:
    """Retry a Redis write with backoff; session/fraud state is best-effort after that."""
    for pause in (*pauses, None):
        try:
            call()
            return
        except Exception as exc:
            if pause is None:
                log.error("%s failed after retries, continuing without it: %s", what, exc)
                return
            await asyncio.sleep(pause)


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Run one worker until SIGTERM/SIGINT; more processes share the partitions."""
    from faust.worker import Worker

    app = build_app(settings)
    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
