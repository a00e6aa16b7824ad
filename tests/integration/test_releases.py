"""Rules and model releases reach a worker through the compacted releases topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from decisions.engine import DecisionEngine
from decisions.lists import ListIndex
from decisions.policy import DEFAULT_POLICY_PATH, Policy
from decisions.rules import DEFAULT_RULES_PATH, RuleStore
from features.spec import FEATURE_SPEC
from models.slots import ModelSlots
from streams.control.releases import publish_release, release_record, releases_follower
from tests.harness import poll_until

pytestmark = pytest.mark.integration


def test_rules_release_takes_effect_and_an_invalid_one_is_refused(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    store = RuleStore.from_path(DEFAULT_RULES_PATH, known_names=FEATURE_SPEC.names)
    slots = ModelSlots(tmp_path / "registry", {})
    follower = releases_follower(kafka_bootstrap, store, slots)
    follower.catch_up()
    before = store.current.version

    text = DEFAULT_RULES_PATH.read_text().replace("version:", "version: 9.9.9 #", 1)
    publish_release(kafka_bootstrap, release_record("RULES", "new", text, "test"))
    poll_until(follower, lambda: store.current.version != before)
    released = store.current.version

    bad = text + "\n  - {id: BROKEN, condition: 'nonsense >>> 1', action: decline}\n"
    publish_release(kafka_bootstrap, release_record("RULES", "bad", bad, "test"))
    poll_until(follower, lambda: store.last_error is not None)
    assert store.current.version == released  # the previous release stays active

    # a restarted worker rebuilds from the compacted topic: the latest valid state wins
    fresh = RuleStore.from_path(DEFAULT_RULES_PATH, known_names=FEATURE_SPEC.names)
    again = releases_follower(kafka_bootstrap, fresh, ModelSlots(tmp_path / "r2", {}))
    again.catch_up()
    assert fresh.current.version == released
    follower.close()
    again.close()


def test_model_roles_release_names_versions_to_serve(kafka_bootstrap: str,
                                                     tmp_path: Path) -> None:
    slots = ModelSlots(tmp_path / "registry", {})
    store = RuleStore.from_path(DEFAULT_RULES_PATH, known_names=FEATURE_SPEC.names)
    follower = releases_follower(kafka_bootstrap, store, slots)
    follower.catch_up()  # earlier releases on the shared topic (other tests') apply first
    roles = {"champion": {"pd": "pd-does-not-exist"}}
    publish_release(kafka_bootstrap,
                    release_record("MODEL_ROLES", "x", json.dumps(roles), "test"))
    poll_until(follower, lambda: "pd-does-not-exist" in (slots.last_error or ""))
    assert "failed to load" in (slots.last_error or "")  # named, and nothing half-loaded
    assert slots.current.pd is None
    follower.close()


def test_policy_release_changes_cutoffs_without_restart(kafka_bootstrap: str, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """`loanrisk policy release`'s record: the next decision uses the new cutoffs and
    records the new policy version; a policy that drops a product is refused."""
    store = RuleStore.from_path(DEFAULT_RULES_PATH, known_names=FEATURE_SPEC.names)
    engine = DecisionEngine(ListIndex(), store, Policy.default())
    follower = releases_follower(kafka_bootstrap, store, ModelSlots(tmp_path / "r", {}), engine)
    follower.catch_up()
    app = {"application_id": "a-pol", "event_time": 1_700_000_000_000, "product": "BNPL",
           "annual_income": 40000.0, "monthly_debt_payments": 200.0, "requested_amount": 300.0,
           "requested_term_months": 3, "bureau_score": 700}
    scores = {"pd": 0.08, "fraud_probability": 0.01, "anomaly_score": 0.1}
    assert engine.decide(app, {}, scores, {})["decision"] == "APPROVE"  # BNPL: below 0.10

    text = DEFAULT_POLICY_PATH.read_text()
    stricter = text.replace('version: "2025.06.1"', 'version: "2025.07.1"').replace(
        "pd: {approve_below: 0.10, decline_at: 0.18}",
        "pd: {approve_below: 0.05, decline_at: 0.07}")
    assert stricter.count("2025.07.1") == 1 and "approve_below: 0.05" in stricter
    publish_release(kafka_bootstrap, release_record("POLICY", "2025.07.1", stricter, "test"))
    poll_until(follower, lambda: engine.policy.version.startswith("2025.07.1"))
    rec = engine.decide(app, {}, scores, {})
    assert rec["decision"] == "DECLINE" and rec["versions"]["policy"].startswith("2025.07.1")

    only_cards = "version: bad\nproducts:\n  CREDIT_CARD:" + text.split("CREDIT_CARD:", 1)[1]
    only_cards = only_cards.split("  PERSONAL_LOAN:", 1)[0]
    seen = follower.applied
    publish_release(kafka_bootstrap, release_record("POLICY", "bad", only_cards, "test"))
    publish_release(kafka_bootstrap, release_record("RULES", "marker",
                                                    DEFAULT_RULES_PATH.read_text(), "test"))
    poll_until(follower, lambda: follower.applied >= seen + 2)
    assert engine.policy.version.startswith("2025.07.1")  # the valid release stays
    assert "policy release bad rejected" in caplog.text and "PERSONAL_LOAN" in caplog.text
    follower.close()
