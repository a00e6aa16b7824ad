"""Drift inputs read from real ClickHouse: logged vectors of a window, scores by model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.clickhouse_data import feature_window, logged_span, scores_window
from models.drift import feature_drift, feature_reference
from sinks.rows import FEATURE_COLUMNS

pytestmark = pytest.mark.integration

T0 = datetime(2040, 3, 1, tzinfo=UTC)
NAMES = ["bureau_score", "vel_ip_apps_1h"]


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _insert_two_days(clickhouse_client) -> None:  # type: ignore[no-untyped-def]
    """Day 1 as trained; day 2 with scores moved and half of one feature missing.
    Deterministic, so inserting twice changes nothing (ReplacingMergeTree, FINAL)."""
    rng = np.random.default_rng(5)
    rows, decisions = [], []
    for day, shift in ((0, 0.0), (1, 60.0)):  # day 2: scores 60 points higher
        for i in range(400):
            t = T0 + timedelta(days=day, seconds=i)
            app = f"drift-{day}-{i}"
            score = float(rng.normal(680 + shift, 40))
            ip = None if (day == 1 and i % 2) else float(rng.poisson(1))  # half go missing
            rows.append([app, t, "BNPL", "fs-drift", NAMES, [score, ip]])
            decisions.append([app, t, t, "BNPL", "APPROVE", 0.02 + 0.01 * day,
                              {"model_pd": "pd-drift-1"}])
    rows.append(["drift-other-spec", T0, "BNPL", "fs-old", ["x"], [1.0]])
    clickhouse_client.insert("feature_vectors", rows, column_names=list(FEATURE_COLUMNS))
    clickhouse_client.insert("decisions", decisions, column_names=[
        "application_id", "event_time", "decided_at", "product", "decision", "pd", "versions"])


def test_windows_of_vectors_and_scores_feed_the_drift(clickhouse_client) -> None:  # type: ignore[no-untyped-def]
    _insert_two_days(clickhouse_client)
    first, last = logged_span(clickhouse_client)
    assert first <= _ms(T0) and last >= _ms(T0 + timedelta(days=1, seconds=399))
    day1 = feature_window(clickhouse_client, _ms(T0), _ms(T0 + timedelta(days=1)))
    day2 = feature_window(clickhouse_client, _ms(T0 + timedelta(days=1)),
                          _ms(T0 + timedelta(days=2)), limit=300)
    assert list(day1.columns) == NAMES and len(day1) == 400  # the other spec's row left out
    assert day1.attrs["feature_spec_version"] == "fs-drift" and len(day2) == 300
    assert day2["vel_ip_apps_1h"].isna().mean() == pytest.approx(0.5, abs=0.1)

    drift = {d.name: d for d in feature_drift(feature_reference(day1), day2)}
    assert drift["bureau_score"].status == "shift"
    assert drift["vel_ip_apps_1h"].status == "shift"  # by its missing share alone

    pd2 = scores_window(clickhouse_client, _ms(T0 + timedelta(days=1)),
                        _ms(T0 + timedelta(days=2)), "pd", "pd-drift-1")
    assert len(pd2) == 400 and np.allclose(pd2, 0.03)
    assert len(scores_window(clickhouse_client, _ms(T0), _ms(T0 + timedelta(days=2)), "pd",
                             "pd-other")) == 0


def test_cli_reports_and_alerts_through_the_sinks_query_server(
        clickhouse_client, sink_owned_state, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`loanrisk drift --reference previous --fail-on shift`: table, HTML, JSON, exit 3
    (CHECK_FAILED: a check found drift, never typer's usage-error code 2)."""
    import json

    from typer.testing import CliRunner

    from models.artifact import write_artifact
    from models.data import frame_to_dataset
    from models.registry import Registry
    from models.synth import make_loans
    from models.train import TrainConfig, train
    from streams.cli import app

    frame = make_loans(1500, seed=2)[["event_time", "label_default", "bureau_score", "dti"]]
    ds = frame_to_dataset(frame, "label_default", "event_time")
    cfg = TrainConfig(name="pd", model="lightgbm")
    reg = Registry(tmp_path / "models")
    reg.promote(reg.register(write_artifact(tmp_path / "a", train(ds, cfg), ds, cfg,
                                            version="pd-drift-1")), "champion")
    _insert_two_days(clickhouse_client)
    until = (T0 + timedelta(days=2)).isoformat()
    args = ["drift", "--window", "1d", "--until", until, "--reference", "previous",
            "--registry", str(reg.root), "--out", str(tmp_path / "d.html"),
            "--json", str(tmp_path / "d.json"), "--fail-on", "shift"]
    refused = CliRunner().invoke(app, args)  # 400 rows a day: under the default 500
    assert refused.exit_code == 1 and not (tmp_path / "d.json").exists()
    assert "400 in the current window and 400 in the reference" in refused.stderr
    assert "--min-rows" in refused.stderr
    result = CliRunner().invoke(app, [*args, "--min-rows", "300"])
    assert result.exit_code == 3, result.output
    assert "bureau_score" in result.output and "shift" in result.output
    figures = json.loads((tmp_path / "d.json").read_text())
    by_name = {f["name"]: f for f in figures["features"]}
    assert by_name["bureau_score"]["status"] == "shift"
    assert figures["scores"][0]["name"] == "pd (pd-drift-1)" and figures["scores"][0]["rows"] > 0
    assert "data:image/png" in (tmp_path / "d.html").read_text()


def test_cli_never_reports_a_shift_from_a_tiny_reference(  # type: ignore[no-untyped-def]
        clickhouse_client, sink_owned_state, tmp_path) -> None:
    """A champion trained on 9 rows: whatever its deciles say, no shift is reported."""
    import pandas as pd
    from typer.testing import CliRunner

    from models.artifact import write_artifact
    from models.data import frame_to_dataset
    from models.registry import Registry
    from models.train import TrainConfig, train
    from streams.cli import app

    frame = pd.DataFrame({"event_time": range(9), "bureau_score": [600.0 + i for i in range(9)],
                          "label_default": [0, 1, 0, 0, 1, 0, 1, 0, 1]})
    ds = frame_to_dataset(frame, "label_default")
    cfg = TrainConfig(name="pd", model="scorecard", folds=2)
    reg = Registry(tmp_path / "models")
    reg.promote(reg.register(write_artifact(tmp_path / "a", train(ds, cfg), ds, cfg,
                                            version="pd-tiny-1")), "champion")
    _insert_two_days(clickhouse_client)
    result = CliRunner().invoke(app, [
        "drift", "--window", "2d", "--until", (T0 + timedelta(days=2)).isoformat(),
        "--registry", str(reg.root), "--min-rows", "100", "--fail-on", "shift"])
    assert result.exit_code == 1, result.output
    assert "800 in the current window and 9 in the reference (training data of pd-tiny-1)" \
        in result.stderr


def test_the_dashboard_drift_plot_is_the_psi_of_each_bucket_against_training(
        clickhouse_client) -> None:  # type: ignore[no-untyped-def]
    """The console's drift plot: buckets of the last hours' vectors, each feature's PSI
    against the training reference, checked bin by bin against a brute-force count; the
    feature that moved leads, a stable one stays under the watch line."""
    from streams.console.drift_plot import MIN_BUCKET_ROWS, psi_rows

    rng = np.random.default_rng(11)
    names = ["plot_moves", "plot_stays"]
    trained = np.column_stack([rng.normal(0, 1, 4000), rng.normal(5, 2, 4000)])
    import pandas as pd

    ref = feature_reference(pd.DataFrame(trained, columns=names))
    t0 = datetime(2041, 5, 1, tzinfo=UTC)
    values: dict[str, list[float]] = {}
    rows = []
    for i in range(2400):  # 40 minutes, one a second; the second half moved by 1 sd
        t = t0 + timedelta(seconds=i)
        v = [float(rng.normal(1.0 if i >= 1200 else 0.0, 1)), float(rng.normal(5, 2))]
        rows.append([f"plot-{i}", t, "BNPL", "fs-plot", names, v])
        values[f"plot-{i}"] = v
    clickhouse_client.insert("feature_vectors", rows, column_names=list(FEATURE_COLUMNS))
    now = _ms(t0 + timedelta(minutes=45))
    got, note = psi_rows(clickhouse_client, ref, now)
    assert note is None
    by = {}
    for at, name, psi in got:
        by.setdefault(name, []).append((at, psi))
    assert list(by) == ["plot_moves", "plot_stays"]  # the one that moved comes first
    spans = len(by["plot_moves"])
    assert 8 <= spans <= 12
    early, late = by["plot_moves"][0][1], by["plot_moves"][-1][1]
    assert early < 0.10 < 0.25 < late
    assert max(p for _, p in by["plot_stays"]) < 0.10
    # brute force: the last bucket's values of plot_moves, counted bin by bin
    last_end = _ms(by["plot_moves"][-1][0])
    last_start = _ms(by["plot_moves"][-2][0])
    xs = [v[0] for k, v in values.items()
          if last_start <= _ms(t0 + timedelta(seconds=int(k.split("-")[1]))) < last_end]
    assert len(xs) >= MIN_BUCKET_ROWS
    edges = ref["plot_moves"]["edges"]
    counts = [sum(1 for x in xs if (j == 0 or x >= edges[j - 1])
                  and (j == len(edges) or x < edges[j])) for j in range(len(edges) + 1)]
    a = np.maximum(np.array([*counts, 0]) / len(xs), 1e-6)
    e = np.maximum(np.array(ref["plot_moves"]["shares"]), 1e-6)
    assert late == pytest.approx(float(np.sum((a - e) * np.log(a / e))), rel=1e-9)
    assert psi_rows(clickhouse_client, None, now)[1] == (
        "no champion PD model with training distributions")
    assert "fewer than" in str(psi_rows(clickhouse_client, ref, _ms(t0) - 86_400_000)[1])
