"""An isolated whole pipeline for the fault tests: Kafka, Redis, N workers and the sink as
real processes (``streams.ops.stack.LocalStack``), on ports of its own.

The workers and the sink are separate OS processes started exactly as an operator
would start them, so they cannot share the session fixtures of ``tests/conftest.py``;
this stack lives under ``.loanrisk/faults`` and is wiped at the start of each run
(except the Kafka jars). ClickHouse is reached only through the sink, which owns the
embedded store (``query_owner``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streams.ops.stack import LocalStack, Proc
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FAULTS_STATE = ROOT / ".loanrisk" / "faults"
FAULTS_KAFKA_PORT = 39292
FAULTS_KAFKA_CONTROLLER_PORT = 39293
FAULTS_REDIS_PORT = 36579

Message = tuple[str, bytes, bytes, int | None]  # topic, key, value, partition (None = any)


def wait_until(check: Callable[[], Any], timeout_s: float, what: str,
               every_s: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after
    ``timeout_s`` (generous: the machine is shared and slow)."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what} (last: {last!r})")


@dataclass
class Publisher:
    """Publishes messages from a background thread in slices, so faults can hit mid-stream."""

    producer: Any
    messages: Sequence[Message]
    slice_size: int = 100
    pause_s: float = 0.05
    sent: int = 0
    error: BaseException | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> Publisher:
        self._thread = threading.Thread(target=self._run, daemon=True, name="publisher")
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for i in range(0, len(self.messages), self.slice_size):
                _produce(self.producer, self.messages[i:i + self.slice_size])
                self.producer.flush(30)
                self.sent = min(i + self.slice_size, len(self.messages))
                time.sleep(self.pause_s)
        except BaseException as exc:  # surfaced by join()
            self.error = exc

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout_s: float = 120.0) -> None:
        assert self._thread is not None
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "publisher did not finish"
        if self.error is not None:
            raise self.error


def _produce(producer: Any, messages: Sequence[Message]) -> None:
    for topic, key, value, partition in messages:
        kwargs = {} if partition is None else {"partition": partition}
        while True:
            try:
                producer.produce(topic, key=key, value=value, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} message(s) not delivered to Kafka"


@dataclass
class FaultPipeline:
    """The running stack plus what the fault tests need to drive and observe it."""

    stack: LocalStack
    workers: dict[int, Proc] = field(default_factory=dict)
    sink_proc: Proc | None = None

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    # --- processes ------------------------------------------------------------------
    def start_worker(self, index: int) -> Proc:
        proc = self.stack.worker(index)
        self.workers[index] = proc
        self.stack.wait_for_log(proc, "Worker ready", timeout_s=180)
        return proc

    def start_sink(self) -> Proc:
        proc = self.stack.sink()
        self.sink_proc = proc
        self.stack.wait_for_log(proc, "sink owns", timeout_s=120)
        wait_until(self.owner_port, 60, "the sink to serve queries")
        return proc

    def ensure(self, workers: Sequence[int] = (0,)) -> None:
        """Exactly ``workers`` running, the sink running, Redis up: each test's baseline."""
        from streams.ops.services import redis_node

        node = redis_node(self.settings)
        if not node.healthy():
            node.start()
        for index, proc in list(self.workers.items()):
            if index not in workers and proc.alive():
                proc.stop()
        for index in workers:
            proc = self.workers.get(index)
            if proc is None or not proc.alive():
                self.start_worker(index)
        if self.sink_proc is None or not self.sink_proc.alive():
            self.start_sink()

    @staticmethod
    def wait_until(check: Callable[[], Any], timeout_s: float, what: str,
                   every_s: float = 0.5) -> Any:
        return wait_until(check, timeout_s, what, every_s)

    # --- ClickHouse through the sink ----------------------------------------------------
    def owner_port(self) -> int | None:
        from streams.sink.query_server import owner_port

        return owner_port(self.settings.state_dir / "clickhouse.owner")

    def query(self, sql: str) -> list[list[Any]]:
        from streams.sink.query_server import query_owner

        port = self.owner_port()
        assert port is not None, "the sink is not serving queries"
        rows: list[list[Any]] = query_owner(port, sql)["rows"]
        return rows

    def scalar(self, sql: str) -> Any:
        return self.query(sql)[0][0]

    def wait_decided(self, prefix: str, expected: int, timeout_s: float = 240) -> None:
        """Until decisions_latest holds ``expected`` applications with ids starting ``prefix``."""
        sql = ("SELECT count() FROM decisions_latest "
               f"WHERE startsWith(application_id, '{prefix}')")
        wait_until(lambda: self.scalar(sql) >= expected, timeout_s,
                   f"{expected} decisions for {prefix!r} in ClickHouse")

    # --- Kafka ------------------------------------------------------------------------
    def producer(self) -> Any:
        from confluent_kafka import Producer

        return Producer({"bootstrap.servers": self.settings.bootstrap_servers,
                         "linger.ms": 5, "acks": "all"})

    def publish(self, messages: Sequence[Message]) -> None:
        _produce(self.producer(), messages)

    def publisher(self, messages: Sequence[Message], slice_size: int = 100,
                  pause_s: float = 0.05) -> Publisher:
        return Publisher(self.producer(), messages, slice_size, pause_s)

    def read_topic(self, topic: str, partitions: int) -> list[Any]:
        """Every message of ``topic`` now in Kafka (reads to the high watermarks)."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.settings.bootstrap_servers,
                             "group.id": "faults-reader", "enable.auto.commit": False})
        try:
            highs = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                     for p in range(partitions)}
            consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
            out: list[Any] = []
            done = {p for p, h in highs.items() if h == 0}
            deadline = time.monotonic() + 60
            while len(done) < partitions and time.monotonic() < deadline:
                for msg in consumer.consume(num_messages=5000, timeout=0.5):
                    if msg.error() is None:
                        out.append(msg)
                # positions, not message offsets: a transaction's commit marker takes the
                # last offset of a partition and is never delivered as a message
                for tp in consumer.position(consumer.assignment()):
                    if tp.offset >= highs[tp.partition]:
                        done.add(tp.partition)
            assert len(done) == partitions, f"could not read {topic} to its end"
            return out
        finally:
            consumer.close()

    def sink_caught_up(self) -> bool:
        """True when the sink has committed (i.e. inserted) everything now in its topics."""
        from confluent_kafka import Consumer, TopicPartition

        from schemas.topics import DEADLETTER, DECISIONS

        consumer = Consumer({"bootstrap.servers": self.settings.bootstrap_servers,
                             "group.id": "loanrisk-sink", "enable.auto.commit": False})
        try:
            tps = [TopicPartition(t.name, p) for t in (DECISIONS, DEADLETTER)
                   for p in range(t.partitions)]
            committed = consumer.committed(tps, timeout=10)
            for tp in committed:
                high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                      timeout=10)[1]
                if high > 0 and tp.offset < high:
                    return False
            return True
        finally:
            consumer.close()


def _kill_orphans(state_dir: Path) -> None:
    """Workers/sinks left by an earlier, interrupted run of these tests (same state dir)."""
    marker = f"LOANRISK_STATE_DIR={state_dir.resolve()}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"streams.cli" in cmdline and marker in environ.split(b"\0"):
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)


def _fresh_state(state_dir: Path) -> None:
    """Delete everything of an earlier run except the Kafka jars (slow to fetch)."""
    if not state_dir.exists():
        return
    for child in state_dir.iterdir():
        if child.name == "kafka":
            for sub in child.iterdir():
                if sub.name != "libs":
                    (shutil.rmtree if sub.is_dir() else Path.unlink)(sub)
        elif child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


@pytest.fixture(scope="module")
def fault_pipeline() -> Iterator[FaultPipeline]:
    """Kafka + Redis + one worker + the sink, isolated; everything stopped at the end."""
    from streams.ops import services

    settings = Settings(state_dir=FAULTS_STATE, kafka_port=FAULTS_KAFKA_PORT,
                        kafka_controller_port=FAULTS_KAFKA_CONTROLLER_PORT,
                        redis_port=FAULTS_REDIS_PORT, hash_key="test")
    _kill_orphans(settings.state_dir)
    services.down(settings)
    _fresh_state(settings.state_dir)
    # Faust's default session timeout (60 s) is how long a SIGKILLed worker keeps its
    # partitions; 15 s keeps the crash test short without changing what it proves.
    stack = LocalStack(settings, extra_env={"BROKER_SESSION_TIMEOUT": "15"})
    pipeline = FaultPipeline(stack)
    try:
        stack.up()
        pipeline.ensure(workers=(0,))
        yield pipeline
    finally:
        try:
            stack.stop_all()
        finally:
            services.down(settings)


@pytest.fixture()
def sink_owned_state(clickhouse_client: Any, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A LOANRISK_STATE_DIR whose embedded store is 'owned by the sink': a query server over
    the session's ClickHouse, so CLI commands reach it the way analysts do."""
    from streams.sink.query_server import QueryServer

    state = tmp_path / "state"
    state.mkdir()
    server = QueryServer(clickhouse_client, threading.Lock(), state / "clickhouse.owner")
    server.start()
    monkeypatch.setenv("LOANRISK_STATE_DIR", str(state))
    try:
        yield state
    finally:
        server.stop()
