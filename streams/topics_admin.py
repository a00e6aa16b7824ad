"""Creates the project's topics through the Kafka admin API; safe to run twice."""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.errors import LoanRiskError
from schemas.topics import ALL_TOPICS, TopicSpec


class TopicAdminError(LoanRiskError):
    pass


def ensure_topics(bootstrap: str, topics: Iterable[TopicSpec] = ALL_TOPICS,
                  timeout_s: float = 60.0) -> dict[str, str]:
    """Create missing topics; return {name: "created" | "exists"}.

    Retries while the broker is still starting (metadata not ready yet).
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wanted = list(topics)
    deadline = time.monotonic() + timeout_s
    status: dict[str, str] = {}
    while True:
        try:
            existing = set(admin.list_topics(timeout=5).topics)
            missing = [t for t in wanted if t.name not in existing]
            for t in wanted:
                if t.name in existing:
                    status.setdefault(t.name, "exists")
            if not missing:
                return status
            futures = admin.create_topics(
                [NewTopic(t.name, num_partitions=t.partitions, replication_factor=1,
                          config=t.config) for t in missing],
                operation_timeout=30,
            )
            for name, fut in futures.items():
                try:
                    fut.result()
                    status[name] = "created"
                except KafkaException as exc:
                    if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                        raise
                    status[name] = "exists"
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise TopicAdminError(
                    f"could not create topics on {bootstrap}: {exc}. Is Kafka up? "
                    "Try `loanrisk services status`."
                ) from exc
            time.sleep(1.0)
