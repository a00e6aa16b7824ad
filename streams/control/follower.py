"""Every worker's copy of a compacted topic: the block/allow lists and the releases.

Read outside any consumer group (each worker must hold every entry) from the
beginning, so a restarted worker rebuilds its state; then polled without
blocking for what is new.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

from decisions.lists import ListIndex
from schemas import codec_for
from schemas.topics import LISTS, TopicSpec
from streams import kafka

log = logging.getLogger("loanrisk.follower")

#: (key, decoded record or None for a tombstone) -> None
Apply = Callable[[str, dict[str, Any] | None], None]


class CompactedFollower:
    def __init__(self, conn: kafka.Connection, topic: TopicSpec, apply: Apply) -> None:
        self.topic = topic
        self.apply = apply
        self.codec = codec_for(topic.schema)
        self.consumer = kafka.consumer(conn, "unused", {"enable.auto.commit": False})
        self.consumer.assign([TopicPartition(topic.name, p, OFFSET_BEGINNING)
                              for p in range(topic.partitions)])
        self.applied = 0

    def poll(self) -> int:
        """Apply whatever has arrived; never blocks."""
        n = 0
        for msg in self.consumer.consume(num_messages=1000, timeout=0):
            if msg.error() is not None:
                continue
            key = (msg.key() or b"").decode()
            try:
                self.apply(key, None if msg.value() is None else self.codec.decode(msg.value()))
            except Exception as exc:  # a bad entry must not stop the worker
                log.error("ignoring bad %s entry at offset %s: %s", self.topic.name,
                          msg.offset(), exc)
                continue
            n += 1
        self.applied += n
        return n

    def catch_up(self, timeout_s: float = 10.0) -> None:
        """Block until the end of the topic, so the first decision sees every entry."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                lows_highs = [self.consumer.get_watermark_offsets(tp, timeout=2)
                              for tp in self.consumer.assignment()]
            except KafkaException as exc:  # e.g. a topic just created has no leader yet
                log.info("waiting for %s: %s", self.topic.name, exc)
                time.sleep(0.2)
                continue
            positions = self.consumer.position(self.consumer.assignment())
            done = all((pos.offset if pos.offset >= 0 else low) >= high
                       for pos, (low, high) in zip(positions, lows_highs, strict=True))
            if done:
                return
            self.poll()
            time.sleep(0.05)

    def close(self) -> None:
        self.consumer.close()


class ListsFollower(CompactedFollower):
    """The lists topic into a ListIndex."""

    def __init__(self, conn: kafka.Connection, index: ListIndex) -> None:
        self.index = index

        def apply(key: str, record: dict[str, Any] | None) -> None:
            if record is None:
                index.apply_tombstone(key)
            else:
                index.apply(record)

        super().__init__(conn, LISTS, apply)
