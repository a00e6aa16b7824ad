"""Schema Registry framing for this process's topics (``LOANRISK_WIRE_FORMAT``).

With ``LOANRISK_SCHEMA_REGISTRY_URL`` set, every topic codec resolves Schema Registry ids
through confluent-kafka's ``SchemaRegistryClient`` (cached: one lookup per id, never per
message), so readers take both framings; with ``LOANRISK_WIRE_FORMAT=confluent`` this
process also registers each topic's schema under its subject (``<topic>-value``, the
TopicNameStrategy Kafka Connect and ksqlDB use) once at start and writes that framing.
Any Confluent-compatible registry works (Confluent, Apicurio's ``/apis/ccompat/v7``,
Karapace); ``mock://name`` is confluent-kafka's in-process registry.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from schemas import codec_for
from schemas.topics import ALL_TOPICS
from streams.settings import Settings

log = logging.getLogger("loanrisk.registry")

_CLIENTS: dict[str, Any] = {}  # one client per registry URL and process


def registry_client(settings: Settings) -> Any:
    """confluent-kafka's client for ``LOANRISK_SCHEMA_REGISTRY_URL`` (None when unset)."""
    url = settings.schema_registry_url
    if not url:
        return None
    if url not in _CLIENTS:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        conf: dict[str, Any] = {"url": url}
        auth = settings.schema_registry_auth.get_secret_value()
        if auth:
            conf["basic.auth.user.info"] = auth
        if settings.kafka_ssl_ca_file is not None and url.startswith("https://"):
            conf["ssl.ca.location"] = str(settings.kafka_ssl_ca_file)
        _CLIENTS[url] = SchemaRegistryClient.new_client(conf)
    return _CLIENTS[url]


def _schema_text(client: Any, schema_id: int) -> str:
    text: str = client.get_schema(schema_id).schema_str
    return text


def configure_wire_format(settings: Settings) -> dict[str, int]:
    """Attach the registry to every topic codec; register and write the Confluent framing
    when the settings say so. Returns {subject: schema id} of what was registered."""
    client = registry_client(settings)
    if client is None:
        if settings.wire_format == "confluent":
            raise ValueError("LOANRISK_WIRE_FORMAT=confluent needs LOANRISK_SCHEMA_REGISTRY_URL")
        return {}
    from confluent_kafka.schema_registry import Schema

    resolve = partial(_schema_text, client)
    registered: dict[str, int] = {}
    for topic in ALL_TOPICS:
        codec = codec_for(topic.schema)
        schema_id = None
        if settings.wire_format == "confluent":
            subject = f"{topic.name}-value"
            schema_id = client.register_schema(subject, Schema(json.dumps(codec.schema), "AVRO"))
            registered[subject] = schema_id
        codec.use_registry(resolve, schema_id)
    if registered:
        log.info("writing Schema Registry framing: %s", registered)
    return registered
