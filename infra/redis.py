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


@dataclass(frozen=True)
class RedisClusterNodes:
    """A local Redis Cluster (under ``<state_dir>/cluster-redis``, a path that never contains
    a single node's own marker): ``masters`` masters with ``replicas`` replicas each, on
    ``port`` and the ports after it (``redis-server --cluster-enabled yes``, joined by
    ``redis-cli --cluster create``). For tests and trying the cluster layout on one
    machine; a production cluster is run by its operator (docs/topology.md)."""

    state_dir: Path
    port: int = 17000
    masters: int = 3
    replicas: int = 1
    node_timeout_ms: int = 2000

    @property
    def ports(self) -> list[int]:
        return [self.port + i for i in range(self.masters * (1 + self.replicas))]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def node(self, port: int) -> ManagedProcess:
        home = self.state_dir / "cluster-redis" / str(port)
        return ManagedProcess(f"redis-cluster-{port}", home / "redis.pid", home / "redis.log",
                              marker=str(home.resolve()), program="redis-server")

    def start(self, timeout_s: float = 60.0) -> None:
        binary = ensure_redis_server()
        for port in self.ports:
            self.start_node(port, binary)
        if not self.healthy():
            nodes = [f"127.0.0.1:{p}" for p in self.ports]
            subprocess.run(["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas",
                            str(self.replicas), "--cluster-yes"], check=True,
                           capture_output=True, timeout=timeout_s)
        import time

        deadline = time.monotonic() + timeout_s
        # a replica that has not finished its first sync never takes over a failed master
        while not (self.healthy() and self.replicas_synced()):
            if time.monotonic() > deadline:
                raise ServiceError(f"the Redis cluster on {self.ports} did not reach "
                                   "cluster_state:ok with every replica synced; see the logs "
                                   f"under {self.state_dir / 'cluster-redis'}")
            time.sleep(0.25)

    def start_node(self, port: int, binary: str | None = None) -> None:
        """Start (or restart) one node; a restarted node rejoins from its nodes.conf."""
        proc = self.node(port)
        home = proc.pid_file.parent
        home.mkdir(parents=True, exist_ok=True)
        proc.start([binary or ensure_redis_server(), "--port", str(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(self.node_timeout_ms), "--save", "",
                    "--appendonly", "no", "--dir", str(home.resolve()),
                    "--maxmemory-policy", "noeviction", "--set-proc-title", "no"])
        proc.wait_healthy(lambda: ping(port), 20.0)

    def cluster_info(self, port: int) -> dict[str, str]:
        return self.info(port, "cluster")

    def info(self, port: int, section: str) -> dict[str, str]:
        """``CLUSTER INFO`` (section ``cluster``) or an ``INFO`` section of one node."""
        cmd = ["cluster", "info"] if section == "cluster" else ["info", section]
        out = subprocess.run(["redis-cli", "-p", str(port), *cmd], capture_output=True,
                             text=True, timeout=5, check=False).stdout
        return dict(line.split(":", 1) for line in out.split() if ":" in line)

    def healthy(self) -> bool:
        """Every node up and agreeing that all 16384 slots are served."""
        return all(ping(p) and self.cluster_info(p).get("cluster_state") == "ok"
                   for p in self.ports if self.node(p).pid() is not None)

    def replicas_synced(self) -> bool:
        """Every running replica linked to its master with its first sync done."""
        for port in self.ports:
            if self.node(port).pid() is None:
                continue
            info = self.info(port, "replication")
            if info.get("role") == "slave" and (info.get("master_link_status") != "up" or
                                                info.get("master_sync_in_progress") != "0"):
                return False
        return True

    def master_of(self, key: str) -> int:
        """The port of the master that holds ``key``'s slot now."""
        out = subprocess.run(["redis-cli", "-p", str(self._live_port()), "cluster", "keyslot",
                              key], capture_output=True, text=True, timeout=5, check=True)
        slot = int(out.stdout.strip())
        nodes = subprocess.run(["redis-cli", "-p", str(self._live_port()), "cluster", "nodes"],
                               capture_output=True, text=True, timeout=5, check=True).stdout
        for line in nodes.splitlines():
            parts = line.split()
            if "master" not in parts[2] or "fail" in parts[2]:
                continue
            for span in parts[8:]:
                lo, _, hi = span.partition("-")
                if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                    return int(parts[1].split(":")[1].split("@")[0])
        raise ServiceError(f"no live master serves slot {slot}")

    def _live_port(self) -> int:
        return next(p for p in self.ports if ping(p))

    def stop(self) -> None:
        for port in self.ports:
            self.node(port).stop(timeout_s=10.0)

    def wipe(self) -> None:
        self.stop()
        shutil.rmtree(self.state_dir / "cluster-redis", ignore_errors=True)
