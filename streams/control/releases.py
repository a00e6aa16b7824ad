"""Rules, policy and model releases over Kafka, so a change reaches every worker without restart.

``loanrisk rules release FILE``, ``loanrisk policy release FILE`` and ``loanrisk
models promote`` publish to the compacted ``risk.releases.v1`` topic (key = kind);
each worker follows it from the beginning (``CompactedFollower``) and applies the
latest release of each kind: RULES and POLICY releases go through the same
validation as a file, and an invalid one leaves the active version in place; a
MODEL_ROLES release names the versions to serve, loaded from the model registry
(shared storage). Workers also poll the local rules file and registry, which is
enough on one machine.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from decisions.engine import DecisionEngine
from decisions.policy import Policy
from decisions.rules import RuleStore
from models.slots import ModelSlots
from schemas import codec_for
from schemas.topics import RELEASES
from streams import kafka
from streams.control.follower import CompactedFollower

log = logging.getLogger("loanrisk.releases")


def release_record(kind: str, version: str, content: str, author: str) -> dict[str, Any]:
    return {"kind": kind, "version": version, "content": content, "author": author,
            "event_time": int(time.time() * 1000)}


def publish_release(conn: kafka.Connection, record: dict[str, Any], timeout_s: float = 10.0
                    ) -> None:
    producer = kafka.producer(conn, {"enable.idempotence": True})
    producer.produce(RELEASES.name, codec_for(RELEASES.schema).encode(record),
                     record["kind"].encode())
    if producer.flush(timeout_s):
        where = kafka.connection(conn).bootstrap
        raise TimeoutError(f"release not acknowledged by Kafka at {where} within "
                           f"{timeout_s:.0f}s; is it up? (`loanrisk services status`)")


def releases_follower(
    conn: kafka.Connection,
    rules: RuleStore,
    models: ModelSlots,
    decider: DecisionEngine | None = None,
) -> CompactedFollower:
    """``decider``: the engine whose policy POLICY releases replace (None: ignored)."""

    def apply(_key: str, record: dict[str, Any] | None) -> None:
        if record is None:
            return
        if record["kind"] == "RULES":
            try:
                new = rules.load_text(record["content"])
                log.info("rules release %s active (by %s)", new.version, record["author"])
            except Exception as exc:
                log.error("rules release %s rejected, keeping %s: %s", record["version"],
                          rules.current.version, exc)
        elif record["kind"] == "POLICY":
            if decider is None:
                return
            try:
                policy = Policy.from_yaml(record["content"])
                dropped = set(decider.policy.products) - set(policy.products)
                if dropped:
                    raise ValueError(f"it has no policy for {sorted(dropped)}")
            except Exception as exc:
                log.error("policy release %s rejected, keeping %s: %s", record["version"],
                          decider.policy.version, exc)
                return
            decider.use_policy(policy)
            log.info("policy release %s active (by %s)", policy.version, record["author"])
        elif record["kind"] == "MODEL_ROLES":
            models.apply_roles(json.loads(record["content"]))
            log.info("model release applied: %s", record["version"])

    return CompactedFollower(conn, RELEASES, apply)
