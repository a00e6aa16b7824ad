"""Champion/challenger in the worker's step: the shadow is recorded, never published."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.registry import Registry
from streams.settings import Settings
from streams.worker.compose import build_pipeline
from tests.harness import register_model
from tests.records import VOLATILE_DECISION_FIELDS, live_traffic

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_shadow_is_recorded_and_never_changes_the_published_decision(
    redis_client, redis_url: str, tmp_path: Path
) -> None:
    reg = Registry(tmp_path / "state" / "models")
    reg.promote(register_model(reg, tmp_path, "pd-champion", seed=1, rounds=60, rows=3000),
                "champion")
    challenger = register_model(reg, tmp_path, "pd-challenger", seed=2, rounds=5, rows=3000)
    apps, dev, beh = live_traffic(60, seed=21)

    def run(prefix: str) -> list[dict]:
        settings = Settings(redis_url=redis_url, redis_prefix=prefix, hash_key="shadow",
                            state_dir=tmp_path / "state")
        p = build_pipeline(settings)
        p.features.ingest_session_events(dev, beh)
        return [d.decision for d in p.decide_batch(apps)]

    without = run("no-shadow")
    reg.promote(challenger, "challenger")
    with_shadow = run("shadow")
    assert all(d["shadow"] is not None for d in with_shadow)
    assert {d["shadow"]["versions"]["model_pd"] for d in with_shadow} == {"pd-challenger"}
    assert {d["versions"]["model_pd"] for d in with_shadow} == {"pd-champion"}
    strip = (*VOLATILE_DECISION_FIELDS, "shadow")
    assert [{k: v for k, v in d.items() if k not in strip} for d in with_shadow] == [
        {k: v for k, v in d.items() if k not in strip} for d in without]
    # the challenger really is another model: it scores differently
    assert any(d["shadow"]["pd"] != d["pd"] for d in with_shadow)
