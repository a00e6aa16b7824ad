"""Start, check and stop a local service process with a pid file and a log file.

Idempotent by design: starting a service whose pid file points at a live
process of the same program does nothing; a stale pid file (process gone, or
the pid reused by another program) is removed and the service started anew.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import LoanRiskError


class ServiceError(LoanRiskError):
    """A local service could not be started, reached or stopped."""


@dataclass(frozen=True)
class ManagedProcess:
    name: str
    pid_file: Path
    log_file: Path
    marker: str  # a string that must appear in /proc/<pid>/cmdline, guards against pid reuse
    program: str  # the program name, also required in the cmdline

    def pid(self) -> int | None:
        """The live pid of this service, or None.

        A stale pid file (process gone or pid reused) is replaced by a scan of
        /proc for our program with our marker, so a lost pid file neither blocks
        a start nor leaves an orphan behind on stop.
        """
        try:
            pid = int(self.pid_file.read_text().strip())
            if self._matches(pid):
                return pid
        except (OSError, ValueError):
            pass
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and self._matches(int(entry.name)):
                self.pid_file.parent.mkdir(parents=True, exist_ok=True)
                self.pid_file.write_text(entry.name)
                return int(entry.name)
        self.pid_file.unlink(missing_ok=True)
        return None

    def _matches(self, pid: int) -> bool:
        return _cmdline_contains(pid, self.marker) and _cmdline_contains(pid, self.program)

    def start(self, argv: Sequence[str], cwd: Path | None = None,
              env: dict[str, str] | None = None) -> int:
        existing = self.pid()
        if existing is not None:
            return existing
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        self.pid_file.write_text(str(proc.pid))
        # Until the child has exec'd, /proc/<pid>/cmdline is still ours, so pid() would
        # not recognise it (and a failed start-up check would leave it orphaned). Wait for
        # the exec, or for an early death, which wait_healthy reports with the log.
        deadline = time.monotonic() + 10.0
        while (not self._matches(proc.pid) and proc.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.005)
        return proc.pid

    def wait_healthy(self, check: Callable[[], bool], timeout_s: float) -> None:
        pid = self.pid()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if pid is None or not _alive(pid):
                raise ServiceError(
                    f"{self.name} exited during start-up; see its log: {self.log_file}\n"
                    + tail(self.log_file)
                )
            if check():
                return
            time.sleep(0.25)
        raise ServiceError(
            f"{self.name} did not become healthy within {timeout_s:.0f}s; log: {self.log_file}\n"
            + tail(self.log_file)
        )

    def stop(self, timeout_s: float = 20.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout_s``; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline_contains(pid: int, marker: str) -> bool:
    if not _alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return marker.encode() in fh.read()
    except OSError:
        return False


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log yet)"


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
