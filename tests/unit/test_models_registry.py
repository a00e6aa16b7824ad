"""Registry: register, promote and load round trip."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from models.artifact import write_artifact
from models.data import frame_to_dataset
from models.errors import ModelLoadError, RegistryError
from models.registry import Registry
from models.synth import make_loans
from models.train import TrainConfig, train


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    base = tmp_path_factory.mktemp("arts")
    df = make_loans(3000, seed=7)
    out = {}
    for name, target, kind in (
        ("pd", "label_default", "lightgbm"),
        ("fraud", "label_fraud", "scorecard"),
    ):
        ds = frame_to_dataset(df, target, "event_time", exclude=["label_default", "label_fraud"])
        cfg = TrainConfig(name=name, model=kind)
        out[name] = (write_artifact(base / name, train(ds, cfg), ds, cfg, version=f"{name}-v1"), ds)
    return out


def test_register_promote_load_round_trip(tmp_path, artifacts):
    reg = Registry(tmp_path / "reg")
    assert reg.list() == []
    v_pd = reg.register(artifacts["pd"][0])
    v_fr = reg.register(artifacts["fraud"][0])
    assert {r["version"] for r in reg.list()} == {v_pd, v_fr}
    with pytest.raises(RegistryError):
        reg.load("champion", "pd")
    reg.promote(v_pd, "champion")
    reg.promote(v_fr, "champion")
    champs = reg.champions()
    assert champs.pd is not None and champs.fraud is not None
    assert champs.pd.version == v_pd and champs.fraud.kind == "scorecard"
    ds = artifacts["pd"][1]
    x = np.ascontiguousarray(ds.X.to_numpy()[0])
    from models.serving import load_model

    assert champs.pd.score(x) == load_model(artifacts["pd"][0]).score(x)
    reg.promote(v_pd, "challenger")  # moving roles: no longer champion
    assert reg.version_for("champion", "pd") is None
    assert reg.version_for("challenger", "pd") == v_pd
    assert {r["role"] for r in reg.list()} == {"challenger:pd", "champion:fraud"}
    assert reg.show(v_pd)["data_fingerprint"] == ds.fingerprint


def test_registry_errors(tmp_path, artifacts):
    reg = Registry(tmp_path / "reg")
    v = reg.register(artifacts["pd"][0])
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(artifacts["pd"][0])
    with pytest.raises(RegistryError, match="unknown role"):
        reg.promote(v, "king")
    with pytest.raises(RegistryError, match="no version"):
        reg.promote("nope", "champion")
    reg.promote(v, "champion")
    (reg.path(v) / "model.txt").write_text("garbage")
    with pytest.raises(ModelLoadError, match=r"model\.txt"):
        reg.load("champion", "pd")
    shutil.rmtree(reg.path(v))
    with pytest.raises(RegistryError):
        reg.load("champion", "pd")


def test_cli_refuses_to_promote_a_model_the_stream_cannot_feed(tmp_path, artifacts):
    """`loanrisk models promote` checks the model's features against the feature spec:
    a model trained on an analyst's own columns stays registered but is not served."""
    from typer.testing import CliRunner

    from streams.cli import app

    reg = Registry(tmp_path / "reg")
    version = reg.register(artifacts["pd"][0])
    result = CliRunner().invoke(
        app, ["models", "promote", version, "--champion", "--registry", str(reg.root)]
    )
    assert result.exit_code != 0
    assert "does not compute" in result.output and "Retrain" in result.output
    assert reg.roles() == {}


def test_manifest_keeps_the_training_distribution_of_every_feature(artifacts):
    """What `loanrisk drift --reference model` compares live traffic with."""
    import json

    art, ds = artifacts["pd"]
    manifest = json.loads((art / "manifest.json").read_text())
    ref = manifest["feature_reference"]
    assert list(ref) == ds.feature_names
    for name in ds.feature_names:
        assert sum(ref[name]["shares"]) == pytest.approx(1.0)
        assert len(ref[name]["shares"]) == len(ref[name]["edges"]) + 2  # bins + missing
    # and the out-of-time test months are reported one by one
    metrics = json.loads((art / "metrics.json").read_text())
    assert len(metrics["by_month"]) >= 1
    assert sum(r["rows"] for r in metrics["by_month"]) == metrics["metrics"]["rows"]
    assert "By month of application" in (art / "report.html").read_text()
