"""Decode-or-dead-letter: the first step on every consumed message.

A message that fails to decode (not our wire format, corrupt, unknown schema)
or to validate (e.g. negative income) is published to ``loan.deadletter.v1``
with its original key and value bytes, the source coordinates and the reason,
and the caller moves on: the pipeline never stops on bad input, and nothing is
lost because the original bytes can be replayed once the producer is fixed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schemas import codec_for
from schemas.errors import DecodeError
from schemas.topics import BY_NAME, DEADLETTER
from schemas.validate import VALIDATORS

# (topic, key, value) -> None; a confluent-kafka Producer.produce or a Faust send
Publish = Callable[[str, bytes | None, bytes], Any]


def dead_letter(source_topic: str, partition: int, offset: int, key: bytes | None,
                value: bytes | None, error_type: str, error: str, component: str) -> dict[str, Any]:
    return {
        "source_topic": source_topic, "source_partition": partition, "source_offset": offset,
        "key": key, "payload": value, "error_type": error_type, "error": error,
        "component": component, "failed_at": int(time.time() * 1000),
    }


@dataclass
class TopicDecoder:
    """Decodes messages of one topic; routes bad ones to the dead-letter topic."""

    topic: str
    publish: Publish
    component: str
    dead_letters: int = 0
    _codec: Any = field(init=False, repr=False)
    _validate: Callable[..., list[str]] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        schema = BY_NAME[self.topic].schema
        self._codec = codec_for(schema)
        self._validate = VALIDATORS.get(schema)
        self._dl_codec = codec_for(DEADLETTER.schema)

    def decode(self, value: bytes | None, key: bytes | None = None, partition: int = -1,
               offset: int = -1) -> dict[str, Any] | None:
        """The record, or None after publishing a dead letter for it."""
        try:
            record = self._codec.decode(value)
        except DecodeError as exc:
            self._reject(value, key, partition, offset, exc.kind, str(exc))
            return None
        if self._validate is not None:
            problems = self._validate(record)
            if problems:
                self._reject(value, key, partition, offset, "VALIDATION", "; ".join(problems))
                return None
        return record

    def _reject(self, value: bytes | None, key: bytes | None, partition: int, offset: int,
                kind: str, reason: str) -> None:
        self.dead_letters += 1
        record = dead_letter(self.topic, partition, offset, key, value, kind, reason,
                             self.component)
        self.publish(DEADLETTER.name, key, self._dl_codec.encode(record))
