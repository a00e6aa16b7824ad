"""Session events and fraud confirmations read but not yet written to Redis (kafka engine).

They are held by (topic, partition) with the first offset of each: that partition's
commits stop there, so after a crash they are read again and nothing read is dropped.
While Redis is away they are tried again every ``STATE_HOLD_S``, and go with the next
applications' round trip too: no application is decided without the session state read
before it while Redis answers.
"""

from __future__ import annotations

import logging
import time

from streams.retry import Backoff
from streams.worker.core import STATE_BACKOFF, STATE_HOLD_S, Batch, WorkerCore

log = logging.getLogger("loanrisk.worker")


class HeldState:
    def __init__(self, core: WorkerCore) -> None:
        self.core = core
        self._pending: dict[tuple[str, int], tuple[int, Batch]] = {}
        self._retry_at = 0.0  # > 0: a write failed; the next try is not before

    def __bool__(self) -> bool:
        return bool(self._pending)

    def add(self, key: tuple[str, int], first_offset: int, part: Batch) -> None:
        """A batch's session events or fraud confirmations from one partition."""
        first = self._pending.get(key, (first_offset, Batch()))
        first[1].add_state(part)
        self._pending[key] = first

    def first_offset(self, key: tuple[str, int]) -> int | None:
        """Where the partition's held state begins (its commits stop there)."""
        held = self._pending.get(key)
        return None if held is None else held[0]

    def drop(self, key: tuple[str, int]) -> None:
        """The partition is revoked: its next owner reads the held messages again."""
        self._pending.pop(key, None)

    def merged(self) -> Batch | None:
        """Everything held, as one batch's state (None: nothing held)."""
        if not self._pending:
            return None
        merged = Batch()
        for _offset, part in self._pending.values():
            merged.add_state(part)
        return merged

    def done(self, written: bool) -> None:
        """What ``merged`` returned has been written (True), or not: try again later."""
        if not written:
            self._retry_at = time.monotonic() + STATE_HOLD_S
            return
        if self._retry_at > 0:
            log.info("state held while Redis was away is written")
        self._pending.clear()
        self._retry_at = 0.0

    def due(self) -> bool:
        """Something is held and may be tried now."""
        return bool(self._pending) and time.monotonic() >= self._retry_at

    def write(self) -> None:
        """Write what is held on its own (no applications to go with it): the whole
        backoff the first time, one try when retrying."""
        held = self.merged()
        if held is None or not self.due():
            return
        retrying = self._retry_at > 0
        self.done(self.core.fold_state(held, Backoff(()) if retrying else STATE_BACKOFF))
