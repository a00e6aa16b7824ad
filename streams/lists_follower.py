"""Every worker's copy of the block/allow lists, read from the compacted lists topic.

Outside any consumer group (each worker must hold every entry), from the
beginning, so a restarted worker rebuilds the lists; then polled without
blocking for new entries.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from decisions.lists import ListIndex
from schemas import codec_for
from schemas.topics import LISTS

log = logging.getLogger("loanrisk.lists")


class ListsFollower:
    """Reads the compacted lists topic from the beginning into a ListIndex, without a group."""

    def __init__(self, bootstrap: str, index: ListIndex) -> None:
        self.index = index
        self.codec = codec_for(LISTS.schema)
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                                  "enable.auto.commit": False})
        self.consumer.assign([TopicPartition(LISTS.name, p, OFFSET_BEGINNING)
                              for p in range(LISTS.partitions)])
        self.applied = 0

    def poll(self) -> int:
        """Apply whatever has arrived; never blocks."""
        n = 0
        for msg in self.consumer.consume(num_messages=1000, timeout=0):
            if msg.error() is not None:
                continue
            if msg.value() is None:
                self.index.apply_tombstone(msg.key().decode())
            else:
                try:
                    self.index.apply(self.codec.decode(msg.value()))
                except Exception as exc:  # a bad list entry must not stop the worker
                    log.error("ignoring bad list update at offset %s: %s", msg.offset(), exc)
                    continue
            n += 1
        self.applied += n
        return n

    def catch_up(self, timeout_s: float = 10.0) -> None:
        """Block until the end of the topic, so the first decision sees every entry."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            lows_highs = [self.consumer.get_watermark_offsets(tp, timeout=2)
                          for tp in self.consumer.assignment()]
            positions = self.consumer.position(self.consumer.assignment())
            done = all((pos.offset if pos.offset >= 0 else low) >= high
                       for pos, (low, high) in zip(positions, lows_highs, strict=True))
            if done:
                return
            self.poll()
            time.sleep(0.05)
