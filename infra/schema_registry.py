"""Apicurio Registry, a real Schema Registry server with a Confluent-compatible API.

Maven Central serves the app's runnable Quarkus layout as an attached archive
(``infra/apicurio/pom.xml``); it is fetched once (Maven caches it in ~/.m2 too), unpacked
under ``<state_dir>/apicurio`` and run as ``java -jar quarkus-run.jar`` with its default
in-memory storage (H2): every start is an empty registry. Clients use ``url``, the
``/apis/ccompat/v7`` API that confluent-kafka's ``SchemaRegistryClient`` speaks. The 3.x
line is compiled for Java 21, so a JVM of 21 or newer is looked for (``JAVA_HOME``, the
``java`` on PATH, then ``/usr/lib/jvm/*``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from infra.kafka import require_tool
from infra.process import ManagedProcess, ServiceError, port_open

POM = Path(str(resources.files("infra") / "apicurio" / "pom.xml"))
APICURIO_VERSION = "3.3.3"
JAVA_MIN = 21


def java_major(java: str) -> int:
    """The feature version of a ``java`` binary (0 if it does not run)."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True,
                             check=False, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return 0
    found = re.search(r'version "(\d+)', out)
    return int(found.group(1)) if found else 0


def find_java(minimum: int = JAVA_MIN) -> str:
    """A ``java`` of at least ``minimum``: JAVA_HOME's, PATH's, then any under /usr/lib/jvm."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    if shutil.which("java"):
        candidates.append(str(shutil.which("java")))
    candidates += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java"))
    for java in candidates:
        if java_major(java) >= minimum:
            return java
    raise ServiceError(
        f"Apicurio Registry {APICURIO_VERSION} needs Java {minimum}+, none found (tried "
        f"{', '.join(candidates) or 'no java at all'}). Fix: set JAVA_HOME to a JDK {minimum}+, "
        f"e.g. `apt-get install openjdk-{minimum}-jre-headless`")


@dataclass(frozen=True)
class ApicurioRegistry:
    state_dir: Path
    port: int = 18081
    heap: str = "384m"

    @property
    def home(self) -> Path:
        return self.state_dir / "apicurio"

    @property
    def app_dir(self) -> Path:
        return self.home / f"app-{APICURIO_VERSION}"

    @property
    def url(self) -> str:
        """The Confluent-compatible API (what LOANRISK_SCHEMA_REGISTRY_URL is set to)."""
        return f"http://127.0.0.1:{self.port}/apis/ccompat/v7"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(
            "schema-registry", self.home / "registry.pid", self.home / "registry.log",
            marker=str(self.home.resolve()), program="quarkus-run.jar",
        )

    def ensure_app(self) -> None:
        """Fetch and unpack the pinned release once."""
        done = self.app_dir / ".complete"
        if done.exists():
            return
        mvn = require_tool("mvn", "install Maven, e.g. `apt-get install maven`")
        dist = self.home / "dist"
        dist.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
             f"-DoutputDirectory={dist.resolve()}"],
            capture_output=True, text=True, check=False,
        )
        archive = dist / f"apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"
        if result.returncode != 0 or not archive.exists():
            raise ServiceError(
                "could not fetch Apicurio Registry with Maven (needs Maven Central): "
                + (result.stdout + result.stderr)[-2000:])
        shutil.rmtree(self.app_dir, ignore_errors=True)
        with tarfile.open(archive) as tar:
            tar.extractall(self.app_dir, filter="data")
        archive.unlink()  # ~160 MB, and Maven keeps its own copy
        done.touch()

    def healthy(self) -> bool:
        if not port_open("127.0.0.1", self.port):
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def start(self, timeout_s: float = 120.0) -> None:
        if self.process.pid() is not None and self.healthy():
            return
        if self.process.pid() is None and port_open("127.0.0.1", self.port):
            raise ServiceError(f"port {self.port} is taken by another program; stop it or "
                               "choose another port for the schema registry")
        java = find_java()
        self.ensure_app()
        self.process.log_file.unlink(missing_ok=True)
        self.process.start(
            [java, f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             f"-Dquarkus.http.port={self.port}", "-Dquarkus.http.host=127.0.0.1",
             # its management interface (0.0.0.0:9000 by default) would clash between
             # checkouts and is not needed: health is read from the API itself
             "-Dquarkus.management.enabled=false",
             f"-Dapicurio.storage.snapshot.location={self.home.resolve()}",
             "-jar", str((self.app_dir / "quarkus-run.jar").resolve())],
            cwd=self.home,
        )
        self.process.wait_healthy(self.healthy, timeout_s)

    def stop(self) -> bool:
        return self.process.stop(timeout_s=20.0)
