"""What integration tests drive real services with: waiting, publishing, reading topics,
finding processes, and the whole-pipeline stack of the fault tests.

Fixtures live in the conftest files; this module holds the plain code they and the tests
call, so test modules share it without importing each other. Every Kafka client here is
built by ``streams.kafka``, as the product builds its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Message as KafkaMessage
from confluent_kafka import TopicPartition

from schemas import codec_for
from schemas.topics import APPLICATIONS, BY_NAME
from simulator.config import SimConfig
from simulator.live import LiveGenerator
from streams import kafka
from streams.ops.stack import LocalStack, Proc
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# Every fixed test port moves by this, so two checkouts on one machine can run suites at once.
PORT_OFFSET = int(os.environ.get("LOANRISK_TEST_PORT_OFFSET", "0"))

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


def poll_until(follower: Any, cond: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Poll a control-topic follower until ``cond`` holds."""
    def step() -> bool:
        follower.poll()
        return cond()

    wait_until(step, timeout_s, "the follower to apply the release", every_s=0.1)


# --- Kafka ----------------------------------------------------------------------------------
def publish(conn: kafka.Connection, messages: Sequence[Message]) -> None:
    """Produce every message (waiting on a full queue) and fail unless all were delivered."""
    producer = kafka.producer(conn, {"linger.ms": 5, "acks": "all"})
    produce_all(producer, messages)


def produce_all(producer: Any, messages: Sequence[Message]) -> None:
    for topic, key, value, partition in messages:
        kafka.produce(producer, topic, value, key, partition)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} message(s) not delivered to Kafka"


def consume_until(conn: kafka.Connection, topics: Sequence[str],
                  until: Callable[[list[KafkaMessage]], bool],
                  timeout_s: float = 30.0) -> list[KafkaMessage]:
    """Messages of ``topics`` from the start (a fresh group), until ``until(messages)`` holds."""
    consumer = kafka.consumer(conn, f"t-{uuid.uuid4()}",
                              {"auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(list(topics))
    out: list[KafkaMessage] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not until(out) and time.monotonic() < deadline:
            out.extend(m for m in consumer.consume(500, timeout=0.5) if m.error() is None)
    finally:
        consumer.close()
    return out


def read_to_end(conn: kafka.Connection, topic: str, partitions: int) -> list[KafkaMessage]:
    """Every message of ``topic`` now in Kafka (reads to the high watermarks)."""
    consumer = kafka.consumer(conn, "test-reader", {"enable.auto.commit": False})
    try:
        highs = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                 for p in range(partitions)}
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out: list[KafkaMessage] = []
        done = {p for p, h in highs.items() if h == 0}
        deadline = time.monotonic() + 60
        while len(done) < partitions and time.monotonic() < deadline:
            out.extend(m for m in consumer.consume(num_messages=5000, timeout=0.5)
                       if m.error() is None)
            # positions, not message offsets: a transaction's commit marker takes the
            # last offset of a partition and is never delivered as a message
            for tp in consumer.position(consumer.assignment()):
                if tp.offset >= highs[tp.partition]:
                    done.add(tp.partition)
        assert len(done) == partitions, f"could not read {topic} to its end"
        return out
    finally:
        consumer.close()


def committed_to_end(conn: kafka.Connection, group: str,
                     topics: Sequence[tuple[str, int]]) -> bool:
    """True when ``group`` has committed everything now in ``topics`` ((name, partitions))."""
    consumer = kafka.consumer(conn, group, {"enable.auto.commit": False})
    try:
        tps = [TopicPartition(name, p) for name, n in topics for p in range(n)]
        for tp in consumer.committed(tps, timeout=10):
            high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                  timeout=10)[1]
            if high > 0 and tp.offset < high:
                return False
        return True
    finally:
        consumer.close()


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
                produce_all(self.producer, self.messages[i:i + self.slice_size])
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


# --- processes --------------------------------------------------------------------------------
def processes_of(state: Path) -> list[str]:
    """Command lines of the live (not zombie) processes that name ``state`` in their own."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                stat = (entry / "stat").read_text().split(")")[-1].split()[0]
            except OSError:
                continue
            if str(state) in cmd and stat != "Z":
                found.append(cmd)
    return found


def kill_orphans(state_dir: Path) -> None:
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


def fresh_state(state_dir: Path) -> None:
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


# --- the fault tests' whole pipeline ----------------------------------------------------------
FAULTS_STATE = ROOT / ".loanrisk" / "faults"
FAULTS_KAFKA_PORT = 39292 + PORT_OFFSET
FAULTS_KAFKA_CONTROLLER_PORT = 39293 + PORT_OFFSET
FAULTS_REDIS_PORT = 36579 + PORT_OFFSET


def fault_settings() -> Settings:
    return Settings(state_dir=FAULTS_STATE, kafka_port=FAULTS_KAFKA_PORT,
                    kafka_controller_port=FAULTS_KAFKA_CONTROLLER_PORT,
                    redis_port=FAULTS_REDIS_PORT, hash_key="test")


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

    wait_until = staticmethod(wait_until)

    # --- ClickHouse through the sink ----------------------------------------------------
    def owner_port(self) -> str | None:
        """The sink's ClickHouse HTTP address while it owns the store."""
        from streams.clients import embedded_http_dsn

        return embedded_http_dsn(self.settings)

    def query(self, sql: str) -> list[list[Any]]:
        """Over the sink's ClickHouse HTTP interface, with clickhouse-connect."""
        from streams.clients import analytics_client

        assert self.owner_port() is not None, "the sink is not serving queries"
        return [list(r) for r in analytics_client(self.settings).query(sql).result_rows]

    def scalar(self, sql: str) -> Any:
        return self.query(sql)[0][0]

    def wait_decided(self, prefix: str, expected: int, timeout_s: float = 240) -> None:
        """Until decisions_of_record holds ``expected`` applications whose ids start ``prefix``."""
        sql = ("SELECT count() FROM decisions_of_record "
               f"WHERE startsWith(application_id, '{prefix}')")
        wait_until(lambda: self.scalar(sql) >= expected, timeout_s,
                   f"{expected} decisions for {prefix!r} in ClickHouse")

    # --- Kafka ------------------------------------------------------------------------
    def publish(self, messages: Sequence[Message]) -> None:
        publish(self.settings.kafka, messages)

    def publisher(self, messages: Sequence[Message], slice_size: int = 100,
                  pause_s: float = 0.05) -> Publisher:
        producer = kafka.producer(self.settings.kafka, {"linger.ms": 5, "acks": "all"})
        return Publisher(producer, messages, slice_size, pause_s)

    def read_topic(self, topic: str, partitions: int) -> list[KafkaMessage]:
        return read_to_end(self.settings.kafka, topic, partitions)

    def sink_caught_up(self) -> bool:
        """True when the sink has committed (i.e. inserted) everything now in its topics."""
        from schemas.topics import DEADLETTER, DECISIONS

        return committed_to_end(self.settings.kafka, "loanrisk-sink",
                                [(t.name, t.partitions) for t in (DECISIONS, DEADLETTER)])


# --- models -----------------------------------------------------------------------------------
def train_artifact(workdir: Path, version: str, *, name: str = "pd", seed: int = 1,
                   rounds: int = 20, rows: int = 1500, folds: int = 2) -> Path:
    """A small real LightGBM ``name`` model (pd or fraud) trained on
    ``records.training_frame``, written as an artifact directory."""
    from features.spec import FEATURE_SPEC
    from models.artifact import write_artifact
    from models.data import frame_to_dataset
    from models.train import TrainConfig, train
    from tests.records import training_frame

    label = {"pd": "label_default", "fraud": "label_fraud"}[name]
    frame = training_frame(rows, seed).drop(
        columns=[c for c in ("label_default", "label_fraud") if c != label])
    ds = frame_to_dataset(frame, label, "event_time", features=FEATURE_SPEC.names)
    cfg = TrainConfig(name=name, model="lightgbm", seed=seed, num_boost_round=rounds,
                      folds=folds, feature_spec_version=FEATURE_SPEC.version,
                      candidates=("lightgbm",))
    path: Path = write_artifact(workdir / version, train(ds, cfg), ds, cfg, version=version)
    return path


def register_model(registry: Any, workdir: Path, version: str, **train_args: Any) -> str:
    """``train_artifact`` registered in ``registry``; returns the version."""
    version_id: str = registry.register(train_artifact(workdir, version, **train_args))
    return version_id


# --- simulated traffic for the fault stack ----------------------------------------------------
def traffic(prefix: str, n: int, seed: int, partitioned: bool = False
            ) -> tuple[list[Message], list[str]]:
    """``n`` simulated applicants (session events, then the application), encoded.

    Application ids get ``prefix`` so each test counts only its own. With
    ``partitioned`` the i-th application goes to partition i % 6 (every partition used).
    """
    gen = LiveGenerator(SimConfig(), seed=seed, start_ms=int(time.time() * 1000))
    messages: list[Message] = []
    ids: list[str] = []
    for i in range(n):
        for topic, key, rec in gen.next_application():
            partition = None
            if topic == APPLICATIONS.name:
                rec = dict(rec, application_id=f"{prefix}-{rec['application_id']}")
                key = rec["application_id"]
                ids.append(key)
                if partitioned:
                    partition = i % APPLICATIONS.partitions
            value = codec_for(BY_NAME[topic].schema).encode(rec)
            messages.append((topic, key.encode(), value, partition))
    assert len(set(ids)) == n
    return messages, ids
