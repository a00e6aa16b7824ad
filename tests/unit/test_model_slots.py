"""ModelSlots: hot swap on promotion; a model that fails to load keeps the previous one."""

from __future__ import annotations

import numpy as np
import pytest

from models.artifact import write_artifact
from models.data import frame_to_dataset
from models.registry import Registry
from models.slots import ModelSlots
from models.synth import make_loans
from models.train import TrainConfig, train


@pytest.fixture(scope="module")
def pd_artifacts(tmp_path_factory):
    """Three PD artifacts of the same model (versions v1, v2, v3), and a row to score."""
    base = tmp_path_factory.mktemp("slots")
    ds = frame_to_dataset(make_loans(2000, seed=11), "label_default", "event_time",
                          exclude=["label_default", "label_fraud"])
    cfg = TrainConfig(name="pd", model="lightgbm")
    trained = train(ds, cfg)
    arts = {v: write_artifact(base / v, trained, ds, cfg, version=v)
            for v in ("pd-v1", "pd-v2", "pd-v3")}
    return arts, np.ascontiguousarray(ds.X.to_numpy()[0])


def _promote(reg: Registry, version: str) -> None:
    reg.promote(version, "champion")


def test_swap_on_promotion_and_broken_artifact_keeps_previous(tmp_path, pd_artifacts):
    arts, x = pd_artifacts
    reg = Registry(tmp_path / "models")
    slots = ModelSlots(reg.root, reason_map={})
    assert slots.refresh() is False  # no roles file yet: nothing to load, cold start
    assert slots.current.pd is None

    _promote(reg, reg.register(arts["pd-v1"]))
    assert slots.refresh() is True
    assert slots.current.pd is not None and slots.current.pd.version == "pd-v1"
    before = slots.current.pd.score(x)
    assert slots.refresh() is False  # nothing changed: no reload

    # a release whose model file is corrupt: reported, the previous model stays in service
    v2 = reg.register(arts["pd-v2"])
    (reg.path(v2) / "model.txt").write_text("this is not a LightGBM model")
    _promote(reg, v2)
    slots.refresh()
    assert slots.current.pd is not None
    assert slots.current.pd.version == "pd-v1"
    assert slots.current.pd.score(x) == before
    assert slots.last_error is not None and "pd-v2" in slots.last_error

    # a release whose artifact directory vanished: same
    v3 = reg.register(arts["pd-v3"])
    _promote(reg, v3)
    (reg.path(v3) / "model.txt").unlink()
    slots.refresh()
    assert slots.current.pd is not None and slots.current.pd.version == "pd-v1"
    assert "pd-v3" in (slots.last_error or "")

    # a good release after the bad ones is picked up
    (reg.path(v3) / "model.txt").write_bytes((arts["pd-v3"] / "model.txt").read_bytes())
    _promote(reg, v2)  # roles change again (v2 is still broken) ...
    slots.refresh()
    assert slots.current.pd.version == "pd-v1"
    _promote(reg, v3)  # ... then the repaired v3
    assert slots.refresh() is True
    assert slots.current.pd.version == "pd-v3"
    assert slots.current.pd.score(x) == pytest.approx(before)


def test_corrupt_roles_file_keeps_current_models(tmp_path, pd_artifacts):
    arts, _x = pd_artifacts
    reg = Registry(tmp_path / "models")
    _promote(reg, reg.register(arts["pd-v1"]))
    slots = ModelSlots(reg.root, reason_map={})
    assert slots.refresh() is True
    (reg.root / "roles.json").write_text("{ not json")
    assert slots.refresh() is False
    assert slots.current.pd is not None and slots.current.pd.version == "pd-v1"
    assert slots.last_error is not None and "roles.json" in slots.last_error


def test_vectors_in_another_feature_order_are_mapped_by_name(tmp_path, pd_artifacts):
    """A worker whose spec gained features since the model was trained still feeds the model
    its own columns; a model that needs a feature the worker lacks is refused, not misfed."""
    arts, x = pd_artifacts
    reg = Registry(tmp_path / "models")
    _promote(reg, reg.register(arts["pd-v1"]))
    plain = ModelSlots(reg.root, reason_map={})
    plain.refresh()
    names = plain.current.pd.feature_names
    # the worker's vectors: reversed order with two features the model never saw
    wider = ["new_feature_a", *reversed(names), "new_feature_b"]
    wide_x = np.concatenate([[7.0], x[::-1], [-3.0]])
    slots = ModelSlots(reg.root, reason_map={}, feature_names=wider)
    assert slots.refresh() is True
    assert slots.current.pd.score(wide_x) == plain.current.pd.score(x)
    assert slots.current.pd.reasons(wide_x) == plain.current.pd.reasons(x)

    narrower = ModelSlots(reg.root, reason_map={}, feature_names=names[1:])
    narrower.refresh()
    assert narrower.current.pd is None  # refused, and the error names the missing feature
    assert narrower.last_error is not None and names[0] in narrower.last_error
    assert "Retrain" in narrower.last_error
