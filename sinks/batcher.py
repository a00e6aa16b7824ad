"""Size- and time-bounded batches per table, flushed together (pure; no I/O).

The sink adds rows as they are consumed and asks ``due()`` whether to write:
when any table holds ``max_rows`` or the oldest row waited ``max_age_s``.
Offsets are committed only after every table's batch was written, so a crash
or a ClickHouse outage replays the batch from Kafka (and the ReplacingMergeTree
tables absorb the duplicates).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TableBatcher:
    max_rows: int = 5000
    max_age_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    rows: dict[str, list[list[Any]]] = field(default_factory=dict)
    _first_at: float | None = None

    def add(self, table: str, row: list[Any]) -> None:
        if self._first_at is None:
            self._first_at = self.clock()
        self.rows.setdefault(table, []).append(row)

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows.values())

    def due(self) -> bool:
        if self._first_at is None:
            return False
        if any(len(r) >= self.max_rows for r in self.rows.values()):
            return True
        return self.clock() - self._first_at >= self.max_age_s

    def take(self) -> dict[str, list[list[Any]]]:
        out, self.rows, self._first_at = self.rows, {}, None
        return out
