"""Redis for feature state: Debian's ``redis-server`` on loopback, persistent by default.

Persistence is an append-only file fsynced every second: the redelivery memo (which
makes a replayed application get its original decision) and the velocity state must
survive a restart. A kill loses at most the last second of writes; the decision of
record in ClickHouse (the first published) covers that gap. In production, run Redis
with AOF (or a managed service with persistence) for the same reason.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.process import ManagedProcess, ServiceError, port_open


def ensure_redis_server() -> str:
    """Path to redis-server; installs Debian's package when missing and we are root."""
    import os

    path = shutil.which("redis-server")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=False,
                       capture_output=True)
        path = shutil.which("redis-server")
        if path:
            return path
    raise ServiceError(
        "'redis-server' is not installed. Fix: `sudo apt-get install redis-server` "
        "(or point LOANRISK_REDIS_URL at an existing Redis)"
    )


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass(frozen=True)
class RedisNode:
    state_dir: Path
    port: int = 16379
    persistent: bool = True

    @property
    def home(self) -> Path:
        return self.state_dir / "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("redis", self.home / "redis.pid", self.home / "redis.log",
                              marker=str(self.home.resolve()), program="redis-server")

    def healthy(self) -> bool:
        return ping(self.port)

    def start(self, timeout_s: float = 20.0) -> None:
        if self.process.pid() is not None and self.healthy():
            return
        if self.process.pid() is None and port_open("127.0.0.1", self.port):
            raise ServiceError(
                f"port {self.port} is taken by another program; stop it or set "
                "LOANRISK_REDIS_PORT to a free port"
            )
        binary = ensure_redis_server()
        self.home.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *self._persistence(), "--dir", str(self.home.resolve()),
             "--maxmemory-policy", "noeviction", "--protected-mode", "yes",
             "--set-proc-title", "no"],  # keep argv, which names our state dir
        )
        self.process.wait_healthy(self.healthy, timeout_s)

    def _persistence(self) -> list[str]:
        if not self.persistent:
            return ["--appendonly", "no"]
        return ["--appendonly", "yes", "--appendfsync", "everysec",
                "--appendfilename", "loanrisk.aof"]

    def stop(self) -> bool:
        return self.process.stop(timeout_s=10.0)
