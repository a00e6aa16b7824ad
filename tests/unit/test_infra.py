"""Local services: KRaft cluster ids, and process start-up without a fork/exec race."""

from __future__ import annotations

import base64
import contextlib
import os
import signal

from infra.kafka import new_cluster_id
from infra.process import ManagedProcess


def test_cluster_ids_are_16_byte_uuids_that_never_start_with_a_dash() -> None:
    ids = [new_cluster_id() for _ in range(3000)]  # ~47 would start with '-' by chance
    assert not any(i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_started_process_is_recognised_before_start_returns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """start() returns only once the child runs the program: a pid() check straight after
    (services up's health wait) must not take a child still exec'ing for a dead one."""
    marker = "30.4242"  # appears in the cmdline only after the shell execs `sleep`
    proc = ManagedProcess("slow", tmp_path / "slow.pid", tmp_path / "slow.log",
                          marker=marker, program="sleep")
    pid = proc.start(["sh", "-c", 'sleep 0.3; exec sleep "$M"'], env={"M": marker})
    try:
        assert proc.pid() == pid
        assert proc.stop(timeout_s=5.0)
        assert proc.pid() is None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # never leave it behind, even when an assert failed
