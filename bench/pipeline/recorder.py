"""The bench's consuming side: when each decision (or echo) first arrived, and the group
offsets that make a new worker set start at the topics' current end."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from confluent_kafka import Consumer, TopicPartition

from schemas.topics import TopicSpec
from streams import kafka


def end_positions(consumer: Consumer, topic: str, partitions: Iterable[int]
                  ) -> list[TopicPartition]:
    """Each partition of ``topic`` at its current high watermark."""
    out = []
    for p in partitions:
        _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        out.append(TopicPartition(topic, p, high))
    return out


def commit_at_end(conn: kafka.Connection, group: str, topics: list[TopicSpec]) -> None:
    """Give a new consumer group committed offsets at the topics' current end."""
    c = kafka.consumer(conn, group, {"enable.auto.commit": False})
    offsets = [tp for t in topics for tp in end_positions(c, t.name, range(t.partitions))]
    c.commit(offsets=offsets, asynchronous=False)
    c.close()


class Recorder(threading.Thread):
    """Consumes a topic from its current end (no group: explicit assignment); remembers when
    each key first arrived and, with ``keep_values``, its first value."""

    def __init__(self, conn: kafka.Connection, topic: str, keep_values: bool) -> None:
        super().__init__(daemon=True, name=f"recorder-{topic}")
        self.consumer = kafka.consumer(conn, "bench-unused", {"enable.auto.commit": False,
                                                              "fetch.wait.max.ms": 100})
        parts = sorted(self.consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        self.consumer.assign(end_positions(self.consumer, topic, parts))
        self.keep_values = keep_values
        self.recv: dict[str, float] = {}
        self.values: dict[str, bytes] = {}
        self.stopping = threading.Event()

    def reset(self) -> None:
        self.recv, self.values = {}, {}

    def run(self) -> None:
        while not self.stopping.is_set():
            # poll returns on the first message; consume(n, t) would wait the whole t for n
            first = self.consumer.poll(0.05)
            now = time.time()
            if first is None:
                continue
            msgs = [first, *self.consumer.consume(num_messages=999, timeout=0)]
            recv, values = self.recv, self.values
            for m in msgs:
                if m.error() is not None:
                    continue
                key = (m.key() or b"").decode()
                if key not in recv:
                    recv[key] = now
                    if self.keep_values:
                        values[key] = m.value() or b""
        self.consumer.close()

    def wait_for(self, ids: list[str], idle_s: float, deadline_s: float = 300.0) -> int:
        """Block until every id arrived, or nothing new came for ``idle_s``; how many came."""
        last, last_change, t_end = -1, time.monotonic(), time.monotonic() + deadline_s
        while True:
            recv = self.recv
            got = sum(1 for i in ids if i in recv)
            if got == len(ids):
                return got
            now = time.monotonic()
            if got != last:
                last, last_change = got, now
            elif now - last_change > idle_s or now > t_end:
                return got
            time.sleep(0.2)
