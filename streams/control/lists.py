"""Reading and publishing the block/allow lists on their compacted topic.

The topic is the source of truth: updates are ``ListUpdate`` records keyed
``LIST_TYPE:IDENTIFIER_TYPE:value`` (a null value is a tombstone); the current
lists are rebuilt by reading it from the start.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

from decisions.lists import ListIndex, list_key
from schemas import codec_for
from schemas.topics import LISTS
from streams import kafka


def publish(conn: kafka.Connection, updates: Iterable[dict[str, Any]], topic: str = LISTS.name,
            tombstones: Iterable[str] = ()) -> int:
    """Publish list updates (and null-valued tombstones) and wait for the broker's acks."""
    codec = codec_for("list_update")
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    producer = kafka.producer(conn, {"acks": "all", "enable.idempotence": True,
                                     "message.timeout.ms": 15000})
    bootstrap = kafka.connection(conn).bootstrap
    n = 0
    try:
        for u in updates:
            key = list_key(u["list_type"], u["identifier_type"], u["value"])
            producer.produce(topic, key=key.encode(), value=codec.encode(u),
                             on_delivery=on_delivery)
            n += 1
            producer.poll(0)
        for key in tombstones:
            producer.produce(topic, key=key.encode(), value=None, on_delivery=on_delivery)
            n += 1
        left = producer.flush(20)
    except KafkaException as exc:
        raise RuntimeError(f"cannot publish to {topic} at {bootstrap}: {exc}") from exc
    if left or errors:
        raise RuntimeError(
            f"{left} list updates not acknowledged, errors: {errors[:3]}; is Kafka up at "
            f"{bootstrap}? (loanrisk services status)")
    return n


def read_lists(conn: kafka.Connection, topic: str = LISTS.name, timeout_s: float = 20.0
               ) -> ListIndex:
    """Rebuild a ``decisions.lists.ListIndex`` by reading the lists topic to its end."""
    codec = codec_for("list_update")
    index = ListIndex()
    consumer = kafka.consumer(conn, f"loanrisk-lists-reader-{time.time_ns()}",
                              {"enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s)
        if meta.topics[topic].error is not None:
            raise RuntimeError(f"lists topic {topic}: {meta.topics[topic].error}; "
                               "create the topics first: `loanrisk services up`")
        ends: dict[int, int] = {}
        parts = []
        for p in meta.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            if high > low:
                ends[p] = high
                parts.append(TopicPartition(topic, p, OFFSET_BEGINNING))
        if not parts:
            return index
        consumer.assign(parts)
        deadline = time.monotonic() + timeout_s
        while ends and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                continue
            key, value = (msg.key() or b"").decode(), msg.value()
            if value is None:
                index.apply_tombstone(key)
            else:
                index.apply(codec.decode(value))
            partition, offset = msg.partition() or 0, msg.offset() or 0
            if offset + 1 >= ends.get(partition, 0):
                ends.pop(partition, None)
        if ends:
            raise RuntimeError(f"timed out reading {topic} after {timeout_s}s; is Kafka healthy?")
    finally:
        consumer.close()
    return index
