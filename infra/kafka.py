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
from infra.tls import Pki

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


SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule required"
PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule required"


@dataclass(frozen=True)
class SecureListeners:
    """A secured broker: SASL_SSL (SCRAM-SHA-256/512 and PLAIN) on the node's port and an
    SSL listener that requires a client certificate (mutual TLS) on ``mtls_port``; no
    plaintext listener. The broker talks to itself over SASL_SSL as SCRAM user ``admin``,
    created when the storage is formatted; other SCRAM users are created through the admin
    API. ``plain_users`` ((name, password), ...) are PLAIN's static users."""

    pki: Pki
    mtls_port: int
    admin_password: str
    plain_users: tuple[tuple[str, str], ...] = ()

    def properties(self, port: int, controller_port: int) -> list[str]:
        admin = f'username="admin" password="{self.admin_password}"'
        plain = " ".join(f'user_{u}="{p}"' for u, p in
                         (("admin", self.admin_password), *self.plain_users))
        store = self.pki.store_password
        return [
            f"listeners=SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{self.mtls_port},"
            f"CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{self.mtls_port}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
            "inter.broker.listener.name=SASL_SSL",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={SCRAM} {admin};",
            f"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={SCRAM} {admin};",
            f"listener.name.sasl_ssl.plain.sasl.jaas.config={PLAIN} {admin} {plain};",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={self.pki.broker_keystore.resolve()}",
            f"ssl.keystore.password={store}",
            f"ssl.key.password={store}",
            "ssl.truststore.type=PKCS12",
            f"ssl.truststore.location={self.pki.truststore.resolve()}",
            f"ssl.truststore.password={store}",
            "listener.name.ssl.ssl.client.auth=required",
        ]

    def format_arguments(self) -> list[str]:
        return ["--add-scram", f"SCRAM-SHA-512=[name=admin,password={self.admin_password}]"]


@dataclass(frozen=True)
class KafkaNode:
    state_dir: Path
    port: int = 19092
    controller_port: int = 19093
    heap: str = "512m"
    secure: SecureListeners | None = None

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

    def _listeners(self) -> list[str]:
        if self.secure is not None:
            return self.secure.properties(self.port, self.controller_port)
        return [
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
        ]

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        props.write_text(
            "\n".join([
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                *self._listeners(),
                "controller.listener.names=CONTROLLER",
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
             f"--cluster-id={new_cluster_id()}", "-c", str(props), "--ignore-formatted",
             *(self.secure.format_arguments() if self.secure else [])],
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
