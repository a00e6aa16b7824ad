"""Train-and-register and evaluate, as `loanrisk train` / `evaluate` run them, on files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from features.spec import FEATURE_SPEC
from models.errors import DataError, ModelLoadError
from models.registry import Registry
from models.synth import make_loans
from models.train import TrainConfig
from models.workflow import (
    evaluate_model,
    evaluation_data_from_file,
    git_version,
    model_to_evaluate,
    promote_servable,
    spec_metadata,
    train_and_register,
    training_data_from_file,
    write_evaluation,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Registry, str, Path]:
    """One scorecard trained from a CSV file and registered (no promotion)."""
    base = tmp_path_factory.mktemp("workflow")
    data = base / "loans.csv"
    loans = make_loans(2500, seed=3)
    loans.to_csv(data, index=False)
    ds, meta = training_data_from_file(data, "label_default", FEATURE_SPEC,
                                       time_col="event_time", id_col="application_id")
    reg = Registry(base / "models")
    said: list[str] = []
    done = train_and_register(ds, meta, TrainConfig(name="pd", model="scorecard"), reg,
                              served_names=FEATURE_SPEC.names, out_dir=base / "art",
                              progress=said.append)
    kept = int((loans["label_fraud"] == 0).sum())  # the PD label leaves confirmed fraud out
    assert kept < 2500
    assert said[0] == f"training on {kept:,} rows" and said[-1] == "writing report"
    assert done.promoted is None and reg.roles() == {}
    return reg, done.version, data


def test_spec_metadata_follows_the_columns_present() -> None:
    every = spec_metadata(FEATURE_SPEC.names, FEATURE_SPEC)
    assert every.features == FEATURE_SPEC.names and every.version == FEATURE_SPEC.version
    some = spec_metadata(["bureau_score", "dti"], FEATURE_SPEC)
    assert some.features is None and some.version == ""  # an analyst's partial columns
    assert some.reasons["bureau_score"] == (FEATURE_SPEC.by_name["bureau_score"].reason_code,
                                            FEATURE_SPEC.by_name["bureau_score"].reason_text)
    assert spec_metadata(["dti", "income"], FEATURE_SPEC).reasons == {}
    assert spec_metadata(FEATURE_SPEC.names, None).features is None


def test_registered_model_carries_metrics_spec_reasons_and_code_version(trained) -> None:  # type: ignore[no-untyped-def]
    reg, version, _ = trained
    m = reg.show(version)
    assert m["kind"] == "scorecard" and m["target"] == "label_default"
    assert 0.5 < m["metrics"]["auc"] <= 1.0
    assert "bureau_score" in m["reasons"]  # from the spec: its column is in the file
    assert m["code_version"]["git"] == git_version()["git"]
    assert (reg.path(version) / "report.html").exists()


def test_promotion_refuses_a_model_the_stream_cannot_feed(trained) -> None:  # type: ignore[no-untyped-def]
    reg, version, _ = trained
    with pytest.raises(ModelLoadError, match="does not compute"):
        promote_servable(reg, version, "champion", FEATURE_SPEC.names)
    assert reg.roles() == {}
    model_cols = reg.load_version(version).feature_names
    promote_servable(reg, version, "challenger", model_cols)  # a pipeline computing them
    assert reg.version_for("challenger", "pd") == version


def test_evaluation_on_a_file_writes_metrics_and_report(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, version, _ = trained
    later = tmp_path / "later.parquet"
    book = make_loans(1200, seed=9)
    book.to_parquet(later)
    kept = int((book["label_fraud"] == 0).sum())  # evaluated on the label it was trained on
    sm = model_to_evaluate(version, reg)
    ds, _ = evaluation_data_from_file(sm, later)
    ev = evaluate_model(sm, ds, later.name)
    assert ev.rows == kept < 1200 and 0.5 < ev.figures["metrics"]["auc"] <= 1.0
    out = write_evaluation(tmp_path / "eval", sm, ev, str(later))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["version"] == version and metrics["rows"] == kept
    assert metrics["data"] == str(later)
    assert "Evaluation of" in (out / "report.html").read_text()
    assert model_to_evaluate(str(reg.path(version)), reg).version == version  # a directory


def test_evaluation_refuses_a_single_class(trained) -> None:  # type: ignore[no-untyped-def]
    """Logged data read early (labels not matured) can hold goods only: no AUC to give."""
    import numpy as np

    reg, version, data = trained
    sm = model_to_evaluate(version, reg)
    ds, _ = evaluation_data_from_file(sm, data)
    goods = ds.subset(np.flatnonzero(ds.y == 0))
    with pytest.raises(DataError, match="only one class"):
        evaluate_model(sm, goods, "early labels")


def test_models_list_json_is_plain_and_stable(trained) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from streams.cli import app

    reg, version, _ = trained
    result = CliRunner().invoke(app, ["models", "list", "--json", "--registry", str(reg.root)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["version"] for r in rows] == [r["version"] for r in reg.list()]
    assert version in {r["version"] for r in rows}
    assert set(rows[0]) == {"version", "name", "kind", "target", "auc", "created_at", "role"}
