"""One retry-with-backoff policy for every call to a store that may blink (Redis).

The pauses are the whole policy: ``Backoff((0.05, 0.2))`` tries three times, sleeping
50 ms and then 200 ms between tries; the last failure is raised to the caller, who
decides what "unavailable" means there (degraded decisions, holding a batch).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    pauses: tuple[float, ...]
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    @property
    def attempts(self) -> int:
        return len(self.pauses) + 1

    def call(self, fn: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
        for pause in self.pauses:
            try:
                return fn()
            except self.retry_on:
                sleep(pause)
        return fn()

    async def acall(self, fn: Callable[[], T],
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> T:
        """The same policy inside an event loop: the pauses do not block it."""
        for pause in self.pauses:
            try:
                return fn()
            except self.retry_on:
                await sleep(pause)
        return fn()
