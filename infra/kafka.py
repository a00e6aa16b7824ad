"""Apache Kafka, single node in KRaft mode (broker + controller in one JVM).

The broker's jars come from Maven Central through the pinned
``infra/kafka/pom.xml``; storage is formatted once with
``kafka.tools.StorageTool``; the broker runs as ``java -cp 'libs/*' kafka.Kafka``.
Everything lives under ``<state_dir>/kafka``.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from infra.process import ManagedProcess, ServiceError, port_open

POM = Path(str(resources.files("infra") / "kafka" / "pom.xml"))
KAFKA_VERSION = "3.9.1"

LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
"""


def require_tool(tool: str, fix: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ServiceError(f"'{tool}' is not installed or not on PATH. Fix: {fix}")
    return path


@dataclass(frozen=True)
class KafkaNode:
    state_dir: Path
    port: int = 19092
    controller_port: int = 19093
    heap: str = "512m"

    @property
    def home(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(
            "kafka", self.home / "kafka.pid", self.home / "kafka.log",
            marker=str(self.home.resolve()), program="kafka.Kafka",
        )

    def ensure_jars(self) -> None:
        """Copy the pinned broker jars once (Maven caches them in ~/.m2 too)."""
        done = self.libs / f".complete-{KAFKA_VERSION}"
        if done.exists():
            return
        require_tool("java", "install Java 17+, e.g. `apt-get install openjdk-17-jre-headless`")
        mvn = require_tool("mvn", "install Maven, e.g. `apt-get install maven`")
        self.libs.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
             f"-DoutputDirectory={self.libs.resolve()}", "-DincludeScope=runtime"],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise ServiceError(
                "could not fetch the Kafka jars with Maven (needs Maven Central): "
                + (result.stdout + result.stderr)[-2000:]
            )
        done.touch()

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        props.write_text(
            "\n".join([
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={self.data_dir.resolve()}",
                "num.partitions=6",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=6",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.check.interval.ms=60000",
                "log.cleaner.backoff.ms=1000",
                "",
            ])
        )
        (self.home / "log4j.properties").write_text(LOG4J)
        return props

    def _format_storage(self, props: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        result = subprocess.run(
            ["java", "-cp", f"{self.libs.resolve()}/*", "kafka.tools.StorageTool", "format",
             f"--cluster-id={new_cluster_id()}", "-c", str(props), "--ignore-formatted"],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise ServiceError("formatting Kafka storage failed: " + result.stdout + result.stderr)

    def healthy(self) -> bool:
        if not port_open("127.0.0.1", self.port):
            return False
        try:
            return "Kafka Server started" in self.process.log_file.read_text(errors="replace")
        except OSError:
            return False

    def start(self, timeout_s: float = 90.0) -> None:
        if self.process.pid() is not None and self.healthy():
            return
        if self.process.pid() is None and port_open("127.0.0.1", self.port):
            raise ServiceError(
                f"port {self.port} is taken by another program; stop it or set "
                "LOANRISK_KAFKA_PORT to a free port"
            )
        self.ensure_jars()
        props = self._write_config()
        self._format_storage(props)
        if self.process.pid() is None:
            self.process.log_file.unlink(missing_ok=True)
        self.process.start(
            ["java", f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC",
             "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
             f"-Dlog4j.configuration=file:{(self.home / 'log4j.properties').resolve()}",
             "-cp", f"{self.libs.resolve()}/*", "kafka.Kafka", str(props.resolve())],
            cwd=self.home,
        )
        self.process.wait_healthy(self.healthy, timeout_s)

    def stop(self) -> bool:
        return self.process.stop(timeout_s=30.0)

    def wipe(self) -> None:
        """Delete the broker's data (not the jars): the next start is a fresh cluster."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def new_cluster_id() -> str:
    """A random KRaft cluster id (URL-safe base64 of a UUID). Like Kafka's own
    ``Uuid.randomUuid`` it never starts with '-', which the storage tool's argument
    parser would take for an option (about 1 start in 64 failed before this)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid
