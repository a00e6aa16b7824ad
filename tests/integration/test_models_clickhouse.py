"""Training rows from ClickHouse (chDB): point-in-time labels, maturity, exact vectors."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from models.clickhouse_data import load_from_clickhouse, parse_as_of
from models.errors import DataError

pytestmark = pytest.mark.integration

DAY = 86_400_000
MONTH = 30 * DAY
T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
NAMES = ["bureau_score", "dti", "apps_24h"]


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _insert(client):
    client.command("TRUNCATE TABLE IF EXISTS feature_vectors")
    client.command("TRUNCATE TABLE IF EXISTS loan_performance")
    # app id, decision time, months of performance, month of 60+ DPD, fraud month
    apps = [
        ("a-good", T0, 8, None, None),  # matured good
        ("a-bad", T0, 8, 3, None),  # 60+ DPD in month 3
        ("a-late-bad", T0, 8, 7, None),  # 60+ DPD only in month 7: outside the 6-month window
        ("a-young", T0 + 10 * MONTH, 2, None, None),  # not matured for default by as_of
        ("a-young-bad", T0 + 10 * MONTH, 2, 2, None),  # young but already defaulted: final
        ("a-fraud", T0 + 10 * MONTH, 2, None, 1),  # fraud confirmed early
        ("a-fraud-bad", T0, 8, 3, 5),  # defaulted, then confirmed fraud: not a credit bad
        ("a-future", T0 + 20 * MONTH, 1, None, None),  # decided after as_of: never seen
    ]
    vec_rows, perf_rows = [], []
    for i, (app, t, months, dpd_m, fraud_m) in enumerate(apps):
        vec = [600.0 + i, None if i == 2 else 0.1 * i, float(i)]
        # the sink may write a vector twice; ReplacingMergeTree + FINAL keeps one
        for _ in range(2):
            vec_rows.append([app, _dt(t), "personal_loan", "fs-test", NAMES, vec])
        for m in range(1, months + 1):
            dpd = 60 if dpd_m is not None and m >= dpd_m else 0
            status = "FRAUD_CONFIRMED" if fraud_m == m else ("DELINQUENT" if dpd else "CURRENT")
            perf_rows.append(
                [f"{app}-{m}", f"loan-{app}", app, _dt(t + m * MONTH), m, dpd, 1000.0, status]
            )
    client.insert(
        "feature_vectors",
        vec_rows,
        column_names=[
            "application_id",
            "event_time",
            "product",
            "feature_spec_version",
            "names",
            "values",
        ],
    )
    client.insert(
        "loan_performance",
        perf_rows,
        column_names=[
            "event_id",
            "loan_id",
            "application_id",
            "event_time",
            "month_on_book",
            "days_past_due",
            "balance",
            "status",
        ],
    )


def test_default_labels_are_point_in_time_and_matured(clickhouse_client):
    _insert(clickhouse_client)
    as_of = T0 + 12 * MONTH
    ds = load_from_clickhouse(clickhouse_client, "label_default", as_of)
    got = dict(zip(ds.ids.tolist(), ds.y.tolist(), strict=True))
    assert got == {"a-good": 0, "a-bad": 1, "a-late-bad": 0, "a-young-bad": 1}
    assert ds.label["excluded_fraud_rows"] == 1 and "excluded" in ds.label["confirmed_fraud"]
    every = load_from_clickhouse(clickhouse_client, "label_default", as_of, include_fraud=True)
    assert dict(zip(every.ids.tolist(), every.y.tolist(), strict=True)) == {**got,
                                                                           "a-fraud-bad": 1}
    assert ds.feature_names == NAMES
    row = ds.X.iloc[ds.ids.tolist().index("a-late-bad")]
    assert np.isnan(row["dti"]) and row["bureau_score"] == 602.0  # the logged vector, NULL kept
    assert ds.time is not None and ds.time.min() == T0

    # as of month 4, the month-7 delinquency and month-8 maturity are not known yet
    early = load_from_clickhouse(clickhouse_client, "label_default", T0 + 4 * MONTH)
    # (a-fraud-bad's confirmation in month 5 is not known yet either: a credit bad then)
    assert dict(zip(early.ids.tolist(), early.y.tolist(), strict=True)) == {"a-bad": 1,
                                                                          "a-fraud-bad": 1}


def test_fraud_labels_and_errors(clickhouse_client):
    _insert(clickhouse_client)
    ds = load_from_clickhouse(clickhouse_client, "label_fraud", T0 + 12 * MONTH)
    got = dict(zip(ds.ids.tolist(), ds.y.tolist(), strict=True))
    assert got["a-fraud"] == 1 and got["a-fraud-bad"] == 1 and got["a-good"] == 0
    assert "a-young" not in got  # 3 months old: fraud not yet matured
    with pytest.raises(DataError, match="no logged feature vectors"):
        load_from_clickhouse(clickhouse_client, "label_default", T0 - DAY)
    with pytest.raises(DataError):
        load_from_clickhouse(clickhouse_client, "label_other", T0)
    assert parse_as_of("2024-01-01") == T0


def test_cli_evaluates_a_model_on_logged_vectors_with_matured_labels(
        clickhouse_client, sink_owned_state, tmp_path):
    """`loanrisk evaluate --source clickhouse`: the champion on the loans that matured,
    read through the sink's query server (how analysts reach the embedded store)."""
    import json

    from typer.testing import CliRunner

    from models.artifact import write_artifact
    from models.data import frame_to_dataset
    from models.registry import Registry
    from models.synth import make_loans
    from models.train import TrainConfig, train
    from streams.cli import app as cli

    cols = ["bureau_score", "dti", "apps_24h"]
    frame = make_loans(3000, seed=4)[["event_time", "label_default", *cols]]
    ds = frame_to_dataset(frame, "label_default", "event_time", features=cols)
    cfg = TrainConfig(name="pd", model="lightgbm", feature_spec_version="fs-evalcli")
    reg = Registry(tmp_path / "models")
    version = reg.register(write_artifact(tmp_path / "art", train(ds, cfg), ds, cfg,
                                          version="pd-evalcli"))

    book = make_loans(600, seed=5)
    t = T0 + 30 * MONTH
    vectors, perf = [], []
    for i, r in enumerate(book.itertuples()):
        app = f"ev-{i}"
        vectors.append([app, _dt(t), "personal_loan", "fs-evalcli", cols,
                        [r.bureau_score, r.dti, r.apps_24h]])
        for m in range(1, 8):
            dpd = 60 if r.label_default and m >= 3 else 0
            perf.append([f"{app}-{m}", f"loan-{app}", app, _dt(t + m * MONTH), m, dpd, 1.0,
                         "DELINQUENT" if dpd else "CURRENT"])
    clickhouse_client.insert("feature_vectors", vectors, column_names=[
        "application_id", "event_time", "product", "feature_spec_version", "names", "values"])
    clickhouse_client.insert("loan_performance", perf, column_names=[
        "event_id", "loan_id", "application_id", "event_time", "month_on_book",
        "days_past_due", "balance", "status"])

    for i in range(30):  # booked two months before the label date, not defaulted: not final
        app = f"ev-young-{i}"
        vectors.append([app, _dt(t + 7 * MONTH), "personal_loan", "fs-evalcli", cols,
                        [650.0, 0.2, 1.0]])
        perf += [[f"{app}-{m}", f"loan-{app}", app, _dt(t + (7 + m) * MONTH), m, 0, 1.0,
                  "CURRENT"] for m in (1, 2)]
    clickhouse_client.insert("feature_vectors", vectors[-30:], column_names=[
        "application_id", "event_time", "product", "feature_spec_version", "names", "values"])
    clickhouse_client.insert("loan_performance", perf[-60:], column_names=[
        "event_id", "loan_id", "application_id", "event_time", "month_on_book",
        "days_past_due", "balance", "status"])

    as_of = _dt(t + 9 * MONTH).date().isoformat()
    result = CliRunner().invoke(cli, [
        "evaluate", "--model", version, "--registry", str(reg.root), "--source",
        "clickhouse", "--as-of", as_of, "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    assert "warning: 30 loans with fewer than 6 months on book" in result.stderr
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["rows"] == 600  # only this spec's vectors matured by --as-of
    assert metrics["metrics"]["bad_rate"] == pytest.approx(book["label_default"].mean())
    assert metrics["metrics"]["auc"] > 0.75  # the synthetic book's risk is learnable
    assert "booked loans" in (tmp_path / "eval" / "report.html").read_text()


def test_cli_train_refuses_below_readiness_and_never_registers_a_nan_validation(
        clickhouse_client, sink_owned_state, tmp_path):
    """`loanrisk train --source clickhouse` on a handful of matured loans: refused naming
    the counts and the thresholds; with the thresholds lowered, the validation cannot be
    computed on so few rows, and nothing is registered either way."""
    from typer.testing import CliRunner

    from models.registry import Registry
    from streams.cli import app as cli

    _insert(clickhouse_client)
    reg = Registry(tmp_path / "models")
    args = ["train", "--source", "clickhouse", "--as-of", _dt(T0 + 12 * MONTH).isoformat(),
            "--registry", str(reg.root), "--model", "scorecard"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1
    assert "4 matured applications with 2 bads (2 more not matured yet)" in refused.stderr
    assert "3,000 matured and 300 bads" in refused.stderr and "--min-matured" in refused.stderr
    lowered = CliRunner().invoke(cli, [*args, "--min-matured", "1", "--min-bads", "1"])
    assert lowered.exit_code == 1, lowered.output
    assert "too few" in lowered.stderr or "validation could not be computed" in lowered.stderr
    assert reg.list() == []


def _review(client, rows):
    """Review actions: (application id, action, acted at ms, reviewer)."""
    client.insert("review_actions", [
        [f"ev-{a}-{action}-{at}", a, "personal_loan", action, who, "reviewer", _dt(at), _dt(T0),
         "REVIEW", _dt(T0), action == "CONFIRM_FRAUD"] for a, action, at, who in rows],
        column_names=["event_id", "application_id", "product", "action", "reviewer", "role",
                      "acted_at", "application_event_time", "original_decision",
                      "original_decided_at", "final"])


def test_review_verdicts_are_early_point_in_time_fraud_labels(clickhouse_client):
    """A verdict is a final fraud label at once, even for an application never booked; the
    latest verdict by the label date counts; a cleared loan whose fraud servicing later
    confirmed stays a fraud; each row's source is counted for the manifest."""
    from models.clickhouse_data import load_with_maturity

    _insert(clickhouse_client)
    as_of = T0 + 12 * MONTH
    clickhouse_client.insert("feature_vectors", [
        [a, _dt(T0 + 11 * MONTH), "personal_loan", "fs-test", NAMES, [700.0, 0.2, 1.0]]
        for a in ("r-declined", "r-flipped", "r-late")],
        column_names=["application_id", "event_time", "product", "feature_spec_version",
                      "names", "values"])
    _review(clickhouse_client, [
        ("r-declined", "CONFIRM_FRAUD", T0 + 11 * MONTH + DAY, "rita"),  # never booked
        ("a-young", "CLEAR_GENUINE", T0 + 10 * MONTH + DAY, "rob"),  # final before maturity
        ("r-flipped", "CONFIRM_FRAUD", T0 + 11 * MONTH + DAY, "rita"),
        ("r-flipped", "CLEAR_GENUINE", T0 + 11 * MONTH + 2 * DAY, "sam"),  # latest wins
        ("r-late", "CONFIRM_FRAUD", as_of + DAY, "rita"),  # after the label date: unknown
        ("a-fraud", "CLEAR_GENUINE", T0 + 10 * MONTH + DAY, "rob"),  # a miss: fraud surfaced
    ])
    ds, mat = load_with_maturity(clickhouse_client, "label_fraud", as_of,
                                 labels="review+performance")
    got = dict(zip(ds.ids.tolist(), ds.y.tolist(), strict=True))
    # a-young-bad: 2 months old, fraud not matured and no verdict: still left out
    assert got == {"a-good": 0, "a-bad": 0, "a-late-bad": 0, "a-fraud": 1, "a-fraud-bad": 1,
                   "a-young": 0, "r-declined": 1, "r-flipped": 0}
    assert ds.label_source["labels"] == "review+performance"
    assert ds.label_source["rows"] == {"performance": {"rows": 5, "bads": 2},
                                       "review": {"rows": 3, "bads": 1}}
    assert (mat.matured, mat.bads) == (8, 3)
    only_perf, _ = load_with_maturity(clickhouse_client, "label_fraud", as_of)
    assert set(only_perf.ids) == {"a-good", "a-bad", "a-late-bad", "a-fraud", "a-fraud-bad"}
    assert only_perf.label_source["rows"] == {"performance": {"rows": 5, "bads": 2}}
    with pytest.raises(DataError, match="fraud labels"):
        load_with_maturity(clickhouse_client, "label_default", as_of,
                           labels="review+performance")


def test_cli_trains_a_fraud_model_on_review_labels_and_records_their_source(
        clickhouse_client, sink_owned_state, tmp_path):
    """`loanrisk train --source clickhouse --labels review+performance`: declined cases
    with reviewers' verdicts only (no loan was booked) are enough to train a fraud model,
    and the manifest says where its labels came from."""
    from typer.testing import CliRunner

    from models.registry import Registry
    from models.synth import make_loans
    from streams.cli import app as cli

    clickhouse_client.command("TRUNCATE TABLE IF EXISTS feature_vectors")
    clickhouse_client.command("TRUNCATE TABLE IF EXISTS loan_performance")
    book = make_loans(800, seed=9)
    t = T0 + 40 * MONTH
    clickhouse_client.insert("feature_vectors", [
        [f"rv-{i}", _dt(t + i * 1000), "personal_loan", "fs-review", NAMES,
         [r.bureau_score, r.dti, r.apps_24h]] for i, r in enumerate(book.itertuples())],
        column_names=["application_id", "event_time", "product", "feature_spec_version",
                      "names", "values"])
    _review(clickhouse_client, [
        (f"rv-{i}", "CONFIRM_FRAUD" if r.label_fraud else "CLEAR_GENUINE", t + i * 1000 + DAY,
         "rita") for i, r in enumerate(book.itertuples())])
    reg = Registry(tmp_path / "models")
    args = ["train", "--source", "clickhouse", "--target", "label_fraud", "--name", "fraud",
            "--as-of", _dt(t + 2 * MONTH).isoformat(), "--registry", str(reg.root),
            "--model", "logistic", "--min-matured", "1", "--min-bads", "1"]
    without = CliRunner().invoke(cli, args)
    assert without.exit_code == 1 and "no logged feature vectors" in without.stderr
    result = CliRunner().invoke(cli, [*args, "--labels", "review+performance"])
    assert result.exit_code == 0, result.output
    frauds = int(book["label_fraud"].sum())
    assert f"review 800 rows ({frauds} bads)" in result.output
    [entry] = reg.list()
    manifest = reg.show(entry["version"])
    assert manifest["label_source"]["from"] == "clickhouse"
    assert manifest["label_source"]["rows"] == {"review": {"rows": 800, "bads": frauds}}
