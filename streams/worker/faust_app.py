"""``loanrisk worker``: the Faust app that turns applications into decisions.

Built by a function from settings (no module-level app). Agents:

* ``sessions``   device events and behaviour batches -> session state in Redis
                 (one round trip per batch of messages);
* ``decide``     applications -> features, scores, decision -> ``loan.decisions.v1``
                 and the exact vector -> ``loan.features.v1`` (keyed by application id);
* ``performance`` fraud confirmations -> the graph's confirmed-fraud links;
* ``quotes``     quote requests -> indicative quotes -> ``loan.quotes.v1`` (nothing
                 recorded as an application: ``streams/worker/quotes.py``).

The agents only move messages: decoding, session folding, deciding, the lists and
releases topics, reloads, checkpoints and metrics are the shared core's
(``streams/worker/core.py``), the same as under the default confluent-kafka loop.
Offsets are committed only after the outputs are flushed (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from schemas.topics import (
    ALERTS,
    APPLICATIONS,
    BEHAVIOUR_EVENTS,
    DEADLETTER,
    DECISIONS,
    DEVICE_EVENTS,
    FEATURES,
    METRICS,
    PERFORMANCE,
    QUOTE_REQUESTS,
    QUOTES,
    REVIEWS,
)
from streams.settings import Settings
from streams.worker.core import Batch, Inbound, WorkerCore

log = logging.getLogger("loanrisk.worker")


def build_app(settings: Settings) -> faust.App:
    app = _faust_app(settings)
    pending_dead: list[tuple[bytes | None, bytes]] = []
    pending_alerts: list[tuple[bytes, bytes]] = []
    core = WorkerCore(settings, lambda key, value: pending_dead.append((key, value)),
                      lambda key, value: pending_alerts.append((key, value)))
    out = Outputs(app)

    async def flush_deadletters() -> None:  # and the look-back alerts of folded state
        while pending_dead:
            key, value = pending_dead.pop(0)
            await out.deadletter.send(key=key, value=value)
        while pending_alerts:
            akey, avalue = pending_alerts.pop(0)
            await out.alerts.send(key=akey, value=avalue)

    _add_agents(app, settings, core, out, flush_deadletters)
    _add_housekeeping(app, settings, core, out)
    app.loanrisk_pipeline = core.pipeline  # type: ignore[attr-defined]  # for operators' debugging
    app.loanrisk_core = core  # type: ignore[attr-defined]  # for the telemetry endpoint
    return app


def _faust_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.worker_group,
        **settings.kafka.faust_options(),  # brokers and credentials, as every client's
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


def _raw_topic(app: faust.App, *names: str) -> Any:
    return app.topic(*names, key_type=bytes, value_type=bytes,
                     key_serializer="raw", value_serializer="raw")


class Outputs:
    """The topics a worker writes."""

    def __init__(self, app: faust.App) -> None:
        self.decisions = _raw_topic(app, DECISIONS.name)
        self.features = _raw_topic(app, FEATURES.name)
        self.deadletter = _raw_topic(app, DEADLETTER.name)
        self.metrics = _raw_topic(app, METRICS.name)
        self.alerts = _raw_topic(app, ALERTS.name)
        self.quotes = _raw_topic(app, QUOTES.name)


def _sort(core: WorkerCore, events: list[Any]) -> Batch:
    return core.sort(Inbound(e.message.topic, e.message.key, e.message.value,
                             e.message.partition, e.message.offset) for e in events)


def _add_agents(app: faust.App, settings: Settings, core: WorkerCore, out: Outputs,
                flush_deadletters: Callable[[], Awaitable[None]]) -> None:
    @app.agent(_raw_topic(app, APPLICATIONS.name), name="decide")
    async def decide(stream: Any) -> None:
        window = settings.worker_batch_window_ms / 1000
        async for events in stream.take_events(settings.worker_batch_max, within=window):
            for d in core.decide(_sort(core, events).applications):
                key = d.application_id.encode()
                await out.decisions.send(key=key, value=d.decision_bytes)
                await out.features.send(key=key, value=d.features_bytes)
            await flush_deadletters()

    @app.agent(_raw_topic(app, DEVICE_EVENTS.name, BEHAVIOUR_EVENTS.name), name="sessions")
    async def ingest_sessions(stream: Any) -> None:
        window = settings.session_batch_window_ms / 1000
        async for events in stream.take_events(settings.session_batch_max, within=window):
            await core.fold_state_async(_sort(core, events))
            await flush_deadletters()

    @app.agent(_raw_topic(app, QUOTE_REQUESTS.name), name="quotes")
    async def quote(stream: Any) -> None:
        window = settings.worker_batch_window_ms / 1000
        async for events in stream.take_events(settings.worker_batch_max, within=window):
            inbound = [Inbound(e.message.topic, e.message.key, e.message.value,
                               e.message.partition, e.message.offset) for e in events]
            for key, value in core.quote(inbound):
                await out.quotes.send(key=key, value=value)
            await flush_deadletters()

    @app.agent(_raw_topic(app, PERFORMANCE.name, REVIEWS.name), name="performance")
    async def fraud_links(stream: Any) -> None:
        async for events in stream.take_events(500, within=0.05):
            await core.fold_state_async(_sort(core, events))
            await flush_deadletters()


def _add_housekeeping(app: faust.App, settings: Settings, core: WorkerCore, out: Outputs
                      ) -> None:
    @app.task
    async def follow_lists() -> None:
        await asyncio.get_running_loop().run_in_executor(None, core.catch_up)
        while True:
            core.poll_control()
            await asyncio.sleep(0.25)

    @app.timer(interval=settings.reload_interval_s)
    async def reload_rules_and_models() -> None:
        core.reload()

    @app.timer(interval=settings.metrics_interval_s)
    async def emit_metrics() -> None:
        key, value = core.metrics()
        await out.metrics.send(key=key, value=value)

    @app.timer(interval=settings.anomaly_checkpoint_interval_s)
    async def checkpoint_anomaly() -> None:
        core.checkpoint()


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Run one worker until SIGTERM/SIGINT; more processes share the partitions."""
    from faust.worker import Worker

    from streams.worker.telemetry import serve_worker_telemetry

    app = build_app(settings)
    assigned = [0]

    async def count_assigned(_app: Any, assigned_tps: Any, **_: Any) -> None:
        assigned[0] = len(assigned_tps)

    app.on_partitions_assigned.connect(count_assigned)  # type: ignore[arg-type]

    server = serve_worker_telemetry(settings, app.loanrisk_core,  # type: ignore[attr-defined]
                                    lambda: assigned[0])
    try:
        Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
    finally:
        if server is not None:
            server.stop()
