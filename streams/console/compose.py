"""The console built from settings: the one place it reads configuration."""

from __future__ import annotations

from typing import Any

from decisions.policy import Policy
from decisions.rules import RuleSet
from reviews.catalogue import default_catalogue
from reviews.claims import CaseState
from reviews.privacy import Sealer
from streams.console.app import Console
from streams.console.auth import Accounts
from streams.console.casework import Casework
from streams.console.outbox import Outbox
from streams.console.store import ConsoleStore
from streams.settings import Settings


def accounts(settings: Settings, redis_client: Any) -> Accounts:
    return Accounts(redis_client, settings.redis_key_prefix,
                    int(settings.console_session_hours * 3600))


def build_console(settings: Settings, redis_client: Any, clickhouse: Any) -> Console:
    """A console over these clients (Redis for accounts and case state, a ClickHouse
    client for reading), publishing to the settings' Kafka."""
    from streams.worker.compose import policy_path, rules_path

    policy = Policy.from_yaml(policy_path(settings))
    rules = RuleSet.from_yaml(rules_path(settings))
    catalogue = default_catalogue((r.spec.reason_code, r.spec.reason_text)
                                  for r in rules.enabled)
    outbox = Outbox(settings.kafka)
    state = CaseState(redis_client, settings.redis_key_prefix, settings.console_claim_minutes * 60)
    casework = Casework(state, outbox, policy, catalogue, Sealer(settings.pii_seal_key),
                        settings.identifier_hash_key)
    from streams.console.dashboards import Dashboards

    return Console(accounts(settings, redis_client), ConsoleStore(clickhouse), casework, outbox,
                   settings.console_sla_minutes * 60, settings.console_secure_cookies,
                   Dashboards(clickhouse, drift_reference=lambda: champion_reference(settings)))


def champion_reference(settings: Settings) -> dict[str, Any] | None:
    """The champion PD model's training distributions (its manifest), None without one."""
    from models.registry import Registry

    registry = Registry(settings.models_dir)  # a broken one: the plot shows the error
    version = registry.version_for("champion", "pd")
    return registry.show(version).get("feature_reference") if version else None
