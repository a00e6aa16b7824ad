"""Champion/challenger in the worker's step: the shadow is recorded, never published."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.spec import FEATURE_SPEC
from models.artifact import write_artifact
from models.data import frame_to_dataset
from models.registry import Registry
from models.train import TrainConfig, train
from streams.settings import Settings
from streams.worker.compose import build_pipeline
from tests.integration.test_pipeline_step import VOLATILE, _traffic

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _frame(n: int, seed: int) -> pd.DataFrame:
    """Feature-spec columns with a label driven by bureau score and velocity."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({name: rng.random(n) for name in FEATURE_SPEC.names})
    df["bureau_score"] = rng.normal(680, 60, n)
    df["vel_device_apps_24h"] = rng.poisson(0.5, n).astype(float)
    z = -2.5 - (df["bureau_score"] - 680) / 40 + 0.8 * df["vel_device_apps_24h"]
    df["label_default"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    df["event_time"] = np.arange(n) * 60_000 + 1_700_000_000_000
    return df


def _register(reg: Registry, tmp: Path, version: str, seed: int, rounds: int) -> str:
    ds = frame_to_dataset(_frame(3000, seed), "label_default", "event_time",
                          features=FEATURE_SPEC.names)
    cfg = TrainConfig(name="pd", model="lightgbm", seed=seed, num_boost_round=rounds,
                      feature_spec_version=FEATURE_SPEC.version)
    return reg.register(write_artifact(tmp / version, train(ds, cfg), ds, cfg, version=version))


def test_shadow_is_recorded_and_never_changes_the_published_decision(
    redis_client, redis_url: str, tmp_path: Path
) -> None:
    reg = Registry(tmp_path / "state" / "models")
    reg.promote(_register(reg, tmp_path, "pd-champion", seed=1, rounds=60), "champion")
    challenger = _register(reg, tmp_path, "pd-challenger", seed=2, rounds=5)
    apps, dev, beh = _traffic(60, seed=21)

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
    strip = (*VOLATILE, "shadow")
    assert [{k: v for k, v in d.items() if k not in strip} for d in with_shadow] == [
        {k: v for k, v in d.items() if k not in strip} for d in without]
    # the challenger really is another model: it scores differently
    assert any(d["shadow"]["pd"] != d["pd"] for d in with_shadow)
