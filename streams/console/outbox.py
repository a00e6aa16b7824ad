"""Everything the console publishes, each message acknowledged by Kafka before the page
that depends on it is sent: review events, final decisions, audit events, block-list
entries. One idempotent producer per console process (``streams.kafka``)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from schemas import codec_for
from schemas.errors import LoanRiskError
from schemas.topics import AUDIT, FINAL_DECISIONS, REVIEWS
from streams import kafka


class PublishError(LoanRiskError):
    pass


def new_id() -> str:
    return uuid.uuid4().hex


def now_ms() -> int:
    return int(time.time() * 1000)


class Outbox:
    def __init__(self, conn: kafka.Connection, timeout_s: float = 10.0) -> None:
        self.conn = conn
        self.producer = kafka.producer(conn, {"enable.idempotence": True, "acks": "all",
                                              "linger.ms": 0,
                                              "message.timeout.ms": int(timeout_s * 1000)})
        self.timeout_s = timeout_s
        self._codecs = {t.name: codec_for(t.schema) for t in (REVIEWS, FINAL_DECISIONS, AUDIT)}

    def send(self, messages: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Publish (topic, key, record) in order and wait for every acknowledgement."""
        errors: list[str] = []

        def done(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        for topic, key, record in messages:
            self.producer.produce(topic, self._codecs[topic].encode(record), key.encode(),
                                  on_delivery=done)
        left = self.producer.flush(self.timeout_s)
        if left or errors:
            raise PublishError(f"Kafka at {kafka.connection(self.conn).bootstrap} did not take "
                               f"the message ({errors[:1] or 'timed out'}); nothing was done, "
                               "try again")

    def audit(self, user: str, role: str, kind: str, application_id: str | None = None,
              detail: str = "", client_ip: str = "") -> None:
        self.send([(AUDIT.name, user, {
            "event_id": new_id(), "at": now_ms(), "user": user, "role": role, "kind": kind,
            "application_id": application_id, "detail": detail[:2000],
            "client_ip": client_ip})])
