"""Avro messages travel intact through the real broker, with both Kafka clients."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from schemas import codec_for
from schemas.topics import ALL_TOPICS, APPLICATIONS, DEADLETTER, DECISIONS, LISTS
from streams import kafka
from streams.deadletter import TopicDecoder
from streams.kafka import ensure_topics
from tests import records
from tests.harness import consume_until

pytestmark = pytest.mark.integration


def test_topics_exist_with_layout_and_creating_twice_is_harmless(kafka_bootstrap: str) -> None:
    again = ensure_topics(kafka_bootstrap)
    assert set(again.values()) == {"exists"}
    admin = kafka.admin(kafka_bootstrap)
    md = admin.list_topics(timeout=10)
    for spec in ALL_TOPICS:
        assert len(md.topics[spec.name].partitions) == spec.partitions
    from confluent_kafka.admin import ConfigResource

    res = ConfigResource(ConfigResource.Type.TOPIC, LISTS.name)
    config = admin.describe_configs([res])[res].result()
    assert config["cleanup.policy"].value == "compact"


def test_confluent_kafka_round_trip(kafka_bootstrap: str) -> None:
    """Raw confluent-kafka clients (no project wrapper): records come back intact, and in
    the order they were sent within their partition."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    codec = codec_for("decision")
    sent = [records.decision(application_id=f"cf-{uuid.uuid4()}") for _ in range(5)]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for rec in sent:
        producer.produce(DECISIONS.name, key=rec["application_id"], value=codec.encode(rec),
                         partition=0)
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"t-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(DECISIONS.name, 0, 0)])
    ids = [r["application_id"] for r in sent]
    got: list[dict] = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < len(sent) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None and msg.key().decode() in ids:
                got.append(codec.decode(msg.value()))
    finally:
        consumer.close()
    assert got == sent  # the order sent, field for field


def test_aiokafka_round_trip(kafka_bootstrap: str) -> None:
    """aiokafka (the client inside faust-streaming) speaks to the pinned broker."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    codec = codec_for("loan_application")
    topic = APPLICATIONS.name
    rec = records.application(application_id=f"aio-{uuid.uuid4()}")

    async def run() -> dict:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, codec.encode(rec),
                                         key=rec["application_id"].encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap,
                                    group_id=f"aio-{uuid.uuid4()}", auto_offset_reset="earliest")
        await consumer.start()
        try:
            async with asyncio.timeout(30):
                async for msg in consumer:
                    if msg.key == rec["application_id"].encode():
                        return codec.decode(msg.value)
        finally:
            await consumer.stop()
        raise AssertionError("message not consumed")

    assert asyncio.run(run()) == rec


def test_malformed_messages_go_to_dead_letter_topic_with_bytes_and_reason(
    kafka_bootstrap: str,
) -> None:
    codec = codec_for("loan_application")
    run = uuid.uuid4().hex[:8]
    good = [records.application(application_id=f"good-{run}-{i}") for i in range(3)]
    bad_values = [
        b"not avro at all",
        codec.encode(records.application(application_id=f"neg-{run}", annual_income=-5.0)),
        codec.encode(records.application(application_id=f"trunc-{run}"))[:-7],
    ]
    producer = kafka.producer(kafka_bootstrap)
    topic = APPLICATIONS.name
    values = [codec.encode(good[0]), bad_values[0], codec.encode(good[1]), bad_values[1],
              bad_values[2], codec.encode(good[2])]
    for i, v in enumerate(values):
        kafka.produce(producer, topic, v, f"{run}-{i}".encode())
    assert producer.flush(10) == 0

    decoder = TopicDecoder(topic, lambda t, k, v: kafka.produce(producer, t, v, k),
                           component="test")
    decoded = []
    where: dict[bytes, tuple[int, int]] = {}  # key -> (partition, offset) consumed
    keys = {f"{run}-{i}".encode() for i in range(len(values))}
    for msg in consume_until(kafka_bootstrap, [topic], lambda ms: keys <= {m.key() for m in ms}):
        if not (msg.key() or b"").startswith(run.encode()):
            continue
        where[msg.key()] = (msg.partition(), msg.offset())
        rec = decoder.decode(msg.value(), msg.key(), msg.partition(), msg.offset())
        if rec is not None:
            decoded.append(rec["application_id"])
    assert producer.flush(10) == 0
    assert sorted(decoded) == sorted(g["application_id"] for g in good)
    assert decoder.dead_letters == 3

    dl_codec = codec_for("dead_letter")
    letters = [
        dl_codec.decode(m.value())
        for m in consume_until(kafka_bootstrap, [DEADLETTER.name],
                               lambda ms: sum((m.key() or b"").startswith(run.encode())
                                              for m in ms) >= 3)
    ]
    mine = {dl["payload"]: dl for dl in letters if dl["key"] and dl["key"].startswith(run.encode())}
    assert set(mine) == set(bad_values)  # original bytes, unchanged
    assert mine[bad_values[0]]["error_type"] == "DECODE"
    assert mine[bad_values[1]]["error_type"] == "VALIDATION"
    assert "annual_income" in mine[bad_values[1]]["error"]
    assert "corrupt" in mine[bad_values[2]]["error"]
    for dl in mine.values():  # the letter names where the bad message was
        assert dl["source_topic"] == topic
        assert (dl["source_partition"], dl["source_offset"]) == where[dl["key"]]
