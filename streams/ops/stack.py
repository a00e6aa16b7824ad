"""A whole local pipeline as processes: services, N workers, the sink.

Used by ``loanrisk demo``, the end-to-end benchmark and the fault tests, so
all three run the same commands an operator would (``loanrisk worker``,
``loanrisk sink``) as real OS processes, configured through the
environment exactly like production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from streams.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The LOANRISK_* environment that reproduces ``settings`` in a child process."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):  # a child needs the secret itself, not its mask
            value = value.get_secret_value()
        if value is None or value == "" or value == {}:
            continue
        env[f"LOANRISK_{name.upper()}"] = (json.dumps(value) if isinstance(value, dict | list)
                                           else str(value))
    env["LOANRISK_STATE_DIR"] = str(settings.state_dir.resolve())
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    log_start: int = 0  # where this process's output begins (logs are appended across restarts)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout_s``)."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        if self.alive():
            self.popen.kill()
            self.popen.wait()

    def rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None


@dataclass
class LocalStack:
    settings: Settings
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        path = self.settings.state_dir / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def env(self, **overrides: str) -> dict[str, str]:
        return {**os.environ, **settings_env(self.settings), **self.extra_env, **overrides}

    def up(self) -> None:
        """``loanrisk services up`` as a child process, like an operator would run it.

        Not in this process: applying the DDL opens the embedded chDB store, which the sink
        must own later, and chDB allows one store path per process (a caller that already
        uses another store, e.g. a test session, would fail with "EmbeddedServer already
        initialized with path ...").
        """
        result = subprocess.run(
            [sys.executable, "-m", "streams.cli", "services", "up"], env=self.env(),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"services up failed (exit {result.returncode}):\n"
                               + result.stdout[-3000:] + result.stderr[-3000:])

    def spawn(self, name: str, *args: str, **env: str) -> Proc:
        log = self.logs / f"{name}.log"
        log_start = log.stat().st_size if log.exists() else 0
        fh = open(log, "ab")  # noqa: SIM115 - the child owns it
        popen = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *args], stdout=fh, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=self.env(**env), start_new_session=True,
        )
        proc = Proc(name, popen, log, log_start)
        self.procs.append(proc)
        return proc

    def worker(self, index: int = 0, **env: str) -> Proc:
        return self.spawn(f"worker-{index}", "worker", "--loglevel", "info",
                          LOANRISK_WORKER_ID=f"worker-{index}", **env)

    def sink(self, **env: str) -> Proc:
        return self.spawn("sink", "sink", **env)

    def wait_for_log(self, proc: Proc, text: str, timeout_s: float = 60.0) -> None:
        """Block until ``text`` appears in the process's log (e.g. 'Worker ready')."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with open(proc.log, "rb") as fh:  # only this process's output, not a predecessor's
                fh.seek(proc.log_start)
                if text in fh.read().decode(errors="replace"):
                    return
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited: see {proc.log}")
            time.sleep(0.2)
        raise TimeoutError(f"{proc.name} did not log {text!r} within {timeout_s}s; see {proc.log}")

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
