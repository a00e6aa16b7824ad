"""Schema Registry (Confluent) framing against confluent-kafka's own AvroSerializer and
AvroDeserializer, on its in-process registry (``mock://``), without a server; the
integration test (tests/integration/test_registry_framing.py) repeats it against a real
registry server started by the project (Apicurio Registry)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from schemas import codec_for
from schemas.errors import DecodeError
from schemas.topics import ALL_TOPICS, APPLICATIONS, DECISIONS
from streams.registry import configure_wire_format, registry_client
from streams.settings import Settings
from tests import records


@pytest.fixture()
def registry() -> Iterator[Settings]:
    settings = Settings(schema_registry_url=f"mock://{uuid.uuid4().hex}")
    yield settings
    for topic in ALL_TOPICS:  # the codecs are shared by the process: back to single-object
        codec_for(topic.schema).use_registry(None)


def _context(topic: str) -> SerializationContext:
    return SerializationContext(topic, MessageField.VALUE)


def test_confluents_serializer_is_read_next_to_single_object(registry: Settings) -> None:
    configure_wire_format(registry)  # readers only: this process still writes C3 01
    codec = codec_for(APPLICATIONS.schema)
    app = records.application()
    theirs = AvroSerializer(registry_client(registry), json.dumps(codec.schema))(
        app, _context(APPLICATIONS.name))
    assert theirs[0] == 0  # magic byte, then the 4-byte id
    ours = codec.encode(app)
    assert ours[:2] == b"\xc3\x01"
    assert codec.decode(theirs) == codec.decode(ours) == codec.decode(codec.encode(app))


def test_our_confluent_framing_decodes_with_confluents_deserializer(registry: Settings) -> None:
    subjects = configure_wire_format(registry.model_copy(update={"wire_format": "confluent"}))
    client = registry_client(registry)
    codec = codec_for(DECISIONS.schema)
    decision = records.decision()
    data = codec.encode(decision)
    schema_id = subjects[f"{DECISIONS.name}-value"]
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == schema_id
    assert client.get_latest_version(f"{DECISIONS.name}-value").schema_id == schema_id
    theirs = AvroDeserializer(client)(data, _context(DECISIONS.name))
    assert theirs == codec.decode(data)
    assert theirs["application_id"] == decision["application_id"]


def test_ids_are_resolved_once_and_unknown_ids_are_dead_letters(registry: Settings) -> None:
    codec = codec_for(APPLICATIONS.schema)
    client = registry_client(registry)
    schema_id = client.register_schema("other-value", Schema(json.dumps(codec.schema), "AVRO"))
    calls: list[int] = []

    def resolve(i: int) -> str:
        calls.append(i)
        text: str = client.get_schema(i).schema_str
        return text

    codec.use_registry(resolve)
    body = AvroSerializer(client, json.dumps(codec.schema),
                          conf={"auto.register.schemas": False, "use.latest.version": False,
                                "subject.name.strategy": lambda *_: "other-value"})
    data = body(records.application(), _context(APPLICATIONS.name))
    for _ in range(50):
        codec.decode(data)
    assert calls == [schema_id]  # one lookup for fifty messages
    unknown = b"\x00" + (schema_id + 999).to_bytes(4, "big") + data[5:]
    for _ in range(3):
        with pytest.raises(DecodeError, match="not resolved"):
            codec.decode(unknown)
    assert calls == [schema_id, schema_id + 999]  # a bad id is not asked for again either
    codec.use_registry(None)
    with pytest.raises(DecodeError, match="LOANRISK_SCHEMA_REGISTRY_URL"):
        codec.decode(data)
