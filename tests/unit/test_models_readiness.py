"""Training and evaluation refuse a bad premise: a validation that could not be measured,
labels that are not final yet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from features.spec import FEATURE_SPEC
from models.errors import DataError
from models.registry import Registry
from models.synth import make_loans
from models.train import TrainConfig
from models.workflow import matured_rows, train_and_register, training_data_from_file
from streams.cli import app
from streams.cli.errors import ERROR


def test_a_model_whose_validation_is_nan_is_never_registered(tmp_path: Path) -> None:
    """Every bad among the oldest rows: the validation and test splits hold goods only."""
    loans = make_loans(400, seed=1).sort_values("event_time").reset_index(drop=True)
    loans["label_default"] = np.where(np.arange(len(loans)) < 200, loans.index % 4 == 0, 0)
    data = tmp_path / "young.csv"
    loans.to_csv(data, index=False)
    ds, meta = training_data_from_file(data, "label_default", FEATURE_SPEC,
                                       time_col="event_time", id_col="application_id")
    reg = Registry(tmp_path / "models")
    with pytest.raises(DataError, match=r"validation could not be computed \(validation AUC "
                       r"of scorecard, validation AUC of logistic, test AUC, test KS: NaN; "
                       r"the 78 test rows hold 0 bads of 390 rows"):  # 10 frauds left out
        train_and_register(ds, meta, TrainConfig(name="pd", model="scorecard"), reg,
                           served_names=FEATURE_SPEC.names)
    assert reg.list() == []
    result = CliRunner().invoke(app, [
        "train", "--data", str(data), "--time-col", "event_time", "--id-col",
        "application_id", "--model", "scorecard", "--registry", str(reg.root)])
    assert result.exit_code == ERROR and "nothing was registered" in result.stderr
    assert reg.list() == []


def test_immature_loans_are_counted_and_left_out_of_a_default_evaluation() -> None:
    frame = make_loans(10, seed=2)[["label_default"]].assign(label_default=[1, 0] * 5)
    frame["max_month_on_book"] = [2, 2, 2, 7, 7, 7, 3, 3, 9, 9]
    kept, mat = matured_rows(frame, "label_default")
    # rows 1 and 7 are young goods (not final); young bads (0, 2, 6) are final
    assert mat is not None and (mat.matured, mat.bads, mat.immature) == (8, 5, 2)
    assert len(kept) == 8
    assert matured_rows(frame, "label_fraud")[1] is None  # maturity here is for defaults
    assert matured_rows(frame.drop(columns="max_month_on_book"), "label_default")[1] is None


@pytest.fixture(scope="module")
def model_and_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("evalmature")
    data = base / "loans.csv"
    make_loans(1500, seed=3).to_csv(data, index=False)
    ds, meta = training_data_from_file(data, "label_default", FEATURE_SPEC,
                                       time_col="event_time", id_col="application_id")
    reg = Registry(base / "models")
    done = train_and_register(ds, meta, TrainConfig(name="pd", model="scorecard"), reg,
                              served_names=FEATURE_SPEC.names, out_dir=base / "art")
    book = make_loans(520, seed=4)
    book["max_month_on_book"] = np.where(np.arange(len(book)) % 7 == 0, 2, 8)
    path = base / "book.csv"
    book.to_csv(path, index=False)
    return done.path, path


def test_evaluate_warns_of_immature_loans_and_refuses_too_few_final_ones(
        model_and_book: tuple[Path, Path], tmp_path: Path) -> None:
    model, book = model_and_book
    args = ["evaluate", "--model", str(model), "--data", str(book), "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--min-rows", "100"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    frame = pd.read_csv(book)
    assert frame["label_fraud"].sum() > 0
    frame = frame[frame["label_fraud"] == 0]  # the model's PD label leaves confirmed fraud out
    young_goods = int(((frame["max_month_on_book"] < 6) & (frame["label_default"] == 0)).sum())
    assert young_goods > 0
    assert f"warning: {young_goods:,} loans with fewer than 6 months on book" in result.stderr
    assert f"{len(frame) - young_goods:,} rows" in result.stdout
    refused = CliRunner().invoke(app, args)  # default: at least 500 final labels
    assert refused.exit_code == ERROR
    assert f"only {len(frame) - young_goods:,} loans have a final label" in refused.stderr
    assert "--min-rows" in refused.stderr


def test_the_pd_label_leaves_confirmed_fraud_out_and_the_manifest_says_so(
        model_and_book: tuple[Path, Path], tmp_path: Path) -> None:
    """Training rows from a file: a confirmed fraud is neither a good nor a bad of the PD
    model (unless --include-fraud); the fraud model keeps every row; the manifest records
    which definition was used and how many rows it left out."""
    import json

    model, _book = model_and_book
    loans = make_loans(1500, seed=3)
    frauds = int(loans["label_fraud"].sum())
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["label"]["excluded_fraud_rows"] == frauds > 0
    assert manifest["label"]["confirmed_fraud"].startswith("excluded")
    assert manifest["rows"]["total"] == len(loans) - frauds
    path = tmp_path / "loans.csv"
    loans.to_csv(path, index=False)
    ds, _ = training_data_from_file(path, "label_default", FEATURE_SPEC)
    assert len(ds.y) == len(loans) - frauds
    assert int(ds.y.sum()) == int(loans.loc[loans["label_fraud"] == 0, "label_default"].sum())
    every, _ = training_data_from_file(path, "label_default", FEATURE_SPEC, include_fraud=True)
    assert len(every.y) == len(loans) and every.label["excluded_fraud_rows"] == 0
    assert "counted as default" in every.label["confirmed_fraud"]
    fraud, _ = training_data_from_file(path, "label_fraud", FEATURE_SPEC)
    assert len(fraud.y) == len(loans) and int(fraud.y.sum()) == frauds
    no_fraud_col = tmp_path / "nofraud.csv"
    loans.drop(columns="label_fraud").to_csv(no_fraud_col, index=False)
    unknown, _ = training_data_from_file(no_fraud_col, "label_default", FEATURE_SPEC)
    assert len(unknown.y) == len(loans) and "not known" in unknown.label["confirmed_fraud"]
