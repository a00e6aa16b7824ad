"""Rules and model releases reach a worker through the compacted releases topic."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from decisions.rules import DEFAULT_RULES_PATH, RuleStore
from features.spec import FEATURE_SPEC
from streams.model_slots import ModelSlots
from streams.releases import publish_release, release_record, releases_follower

pytestmark = pytest.mark.integration


def _poll_until(follower, cond, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not cond():
        follower.poll()
        time.sleep(0.1)
    assert cond()


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
    _poll_until(follower, lambda: store.current.version != before)
    released = store.current.version

    bad = text + "\n  - {id: BROKEN, condition: 'nonsense >>> 1', action: decline}\n"
    publish_release(kafka_bootstrap, release_record("RULES", "bad", bad, "test"))
    _poll_until(follower, lambda: store.last_error is not None)
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
    follower.catch_up()
    roles = {"champion": {"pd": "pd-does-not-exist"}}
    publish_release(kafka_bootstrap,
                    release_record("MODEL_ROLES", "x", json.dumps(roles), "test"))
    _poll_until(follower, lambda: slots.last_error is not None)
    assert "pd-does-not-exist" in slots.last_error  # named, and nothing half-loaded
    assert slots.current.pd is None
    follower.close()
