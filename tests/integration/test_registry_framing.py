"""A worker decides applications written by confluent-kafka's AvroSerializer (Schema
Registry framing) and publishes decisions that confluent's AvroDeserializer reads.

Twice: against a real registry server, Apicurio Registry started by the project
(``infra/schema_registry.py``, its Confluent-compatible API), where the decisions are read
back by a fresh client that must fetch the writer schema over HTTP; and against
confluent-kafka's in-process registry (``mock://``), the fallback where no JVM 21+ runs.
Kafka and Redis are the session's real services; the worker is the product's
``KafkaWorker``.
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from schemas import codec_for
from schemas.topics import ALL_TOPICS, APPLICATIONS, DECISIONS
from streams.registry import configure_wire_format, registry_client
from streams.settings import Settings
from streams.worker.kafka_loop import KafkaWorker
from tests.harness import consume_until, publish, traffic

pytestmark = pytest.mark.integration


@pytest.fixture(params=["apicurio", "mock"])
def confluent_settings(request: pytest.FixtureRequest, kafka_bootstrap: str, redis_url: str,
                       tmp_path: Path) -> Iterator[Settings]:
    run = uuid.uuid4().hex[:8]
    url = (request.getfixturevalue("schema_registry") if request.param == "apicurio"
           else f"mock://{run}")
    settings = Settings(state_dir=tmp_path, kafka_bootstrap=kafka_bootstrap,
                        redis_url=redis_url, hash_key="test", worker_group=f"sr-{run}",
                        worker_id=f"sr-{run}", redis_prefix=f"sr{run}",
                        wire_format="confluent", schema_registry_url=url)
    yield settings
    for topic in ALL_TOPICS:  # codecs are per process: back to single-object for the rest
        codec_for(topic.schema).use_registry(None)


def test_worker_decides_confluent_framed_applications(confluent_settings: Settings) -> None:
    settings = confluent_settings
    subjects = configure_wire_format(settings)
    client = registry_client(settings)
    serializer = AvroSerializer(client, json.dumps(codec_for(APPLICATIONS.schema).schema))
    messages, ids = traffic(f"{settings.worker_id}-app", 30, seed=5)
    framed = []
    for topic, key, value, partition in messages:
        if topic == APPLICATIONS.name:  # upstream writes applications the Confluent way
            record = codec_for(APPLICATIONS.schema).decode(value)
            value = serializer(record, SerializationContext(topic, MessageField.VALUE))
            assert value[0] == 0
        framed.append((topic, key, value, partition))
    publish(settings.kafka, framed)

    worker = KafkaWorker(settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    real_server = not settings.schema_registry_url.startswith("mock://")
    if real_server:  # the subjects are on the server, and a reader starting cold finds them
        with urllib.request.urlopen(f"{settings.schema_registry_url}/subjects") as reply:
            assert set(subjects) <= set(json.load(reply))
        client = SchemaRegistryClient({"url": settings.schema_registry_url})
    deserializer = AvroDeserializer(client)
    wanted = set(ids)
    decided: dict[str, Any] = {}

    def done(msgs: list[Any]) -> bool:
        for m in msgs[len(decided.get("_seen", [])):]:
            if m.key() is not None and m.key().decode() in wanted:
                decided[m.key().decode()] = m.value()
        decided["_seen"] = list(msgs)
        return wanted <= decided.keys()

    try:
        consume_until(settings.kafka, [DECISIONS.name], done, timeout_s=120)
    finally:
        stop.set()
        thread.join(30)
    assert wanted <= decided.keys(), f"undecided: {sorted(wanted - decided.keys())[:5]}"
    schema_id = subjects[f"{DECISIONS.name}-value"]
    for app_id in ids:
        value = decided[app_id]
        assert value[0] == 0 and int.from_bytes(value[1:5], "big") == schema_id
        record = deserializer(value, SerializationContext(DECISIONS.name, MessageField.VALUE))
        assert record["application_id"] == app_id
        assert record["decision"] in ("APPROVE", "REVIEW", "DECLINE")
    # (none of ours was dead-lettered: each was decided; the shared topic also carries other
    # tests' deliberately bad messages, so the worker's dead-letter count is not ours alone)
