"""Shadow report and backtest on decisions, feature vectors and labels in real ClickHouse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from decisions.backtest import backtest
from decisions.history import history_from_clickhouse, parse_time
from decisions.rules import RuleSet
from decisions.shadow import shadow_report

pytestmark = pytest.mark.integration

RULES = """
version: t
rules:
  - {id: V, category: fraud, condition: vel_device_apps_1h >= 3, action: decline,
     reason_code: V, reason_text: velocity}
"""


def test_history_shadow_and_backtest(clickhouse_client, sink_owned_state,  # type: ignore[no-untyped-def]
                                     tmp_path) -> None:
    t = datetime(2031, 5, 1, 12, tzinfo=UTC)
    rows = [  # id, decision, shadow, velocity, dpd (None = not booked)
        ("h1", "APPROVE", "APPROVE", 1.0, 90),
        ("h2", "APPROVE", "DECLINE", 4.0, 0),
        ("h3", "DECLINE", "DECLINE", 5.0, None),
        ("h4", "REVIEW", "APPROVE", 1.0, 0),
    ]
    clickhouse_client.insert(
        "decisions",
        [[i, t, t, "BNPL", d, 0.02, 0.01, s] for i, d, s, *_ in rows],
        column_names=["application_id", "event_time", "decided_at", "product", "decision", "pd",
                      "fraud_probability", "shadow_decision"],
    )
    clickhouse_client.insert(
        "feature_vectors",
        [[i, t, "BNPL", "fs-t", ["vel_device_apps_1h"], [v]] for i, _, _, v, _ in rows],
        column_names=["application_id", "event_time", "product", "feature_spec_version", "names",
                      "values"],
    )
    perf = []
    for i, *_, dpd in rows:
        if dpd is not None:
            for mob in range(1, 7):
                perf.append([f"{i}-{mob}", f"L{i}", i, t, mob, dpd if mob == 3 else 0, 100.0,
                             "OPEN"])
    clickhouse_client.insert(
        "loan_performance", perf,
        column_names=["event_id", "loan_id", "application_id", "event_time", "month_on_book",
                      "days_past_due", "balance", "status"],
    )
    df = history_from_clickhouse(clickhouse_client, parse_time("2031-05-01"),
                                 parse_time("2031-05-02"))
    assert sorted(df["application_id"]) == ["h1", "h2", "h3", "h4"]
    rep = shadow_report(df)
    assert rep.n == 4 and rep.approval_rate_diff == pytest.approx(0.0)
    assert rep.matrix.loc["APPROVE", "DECLINE"] == 1 and rep.matrix.loc["REVIEW", "APPROVE"] == 1
    # champion approvals h1 (bad), h2 (good) -> 0.5; challenger h1 (bad), h4 (good) -> 0.5
    assert rep.bad_rate["champion"]["bad_rate"] == pytest.approx(0.5)

    res = backtest(df, RuleSet.from_yaml(RULES))
    r = res.per_rule.set_index("rule_id")
    assert r.loc["V", "hits"] == 2  # h2, h3
    assert r.loc["V", "bad_rate"] == pytest.approx(0.0) and r.loc["V", "bad_labelled"] == 1

    # the same history through the CLI, reaching the store through the sink's query server
    import json

    from typer.testing import CliRunner

    from streams.cli import app

    window = ["--since", "2031-05-01", "--until", "2031-05-02"]
    shadow = CliRunner().invoke(app, ["shadow", "report", "--on", "clickhouse", *window,
                                      "--json"])
    assert shadow.exit_code == 0, shadow.output
    figures = json.loads(shadow.stdout)
    assert figures["applications"] == 4 and figures["matrix"]["APPROVE"]["DECLINE"] == 1
    assert figures["approvals"]["champion"]["bad_rate"] == pytest.approx(0.5)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    args = ["rules", "backtest", str(rules), "--on", "clickhouse", *window, "--rules-only",
            "--json"]
    refused = CliRunner().invoke(app, args)  # the packaged current rules read much more
    assert refused.exit_code == 1 and "current rules R-001 (vel_device_apps_10m)" in refused.stderr
    bt = CliRunner().invoke(app, [*args, "--skip-unevaluable"])
    assert bt.exit_code == 0, bt.output
    figures = json.loads(bt.stdout)
    by_rule = {r["rule_id"]: r for r in figures["rules"]}
    assert by_rule["V"]["hits"] == 2 and by_rule["V"]["bad_labelled"] == 1
    assert "R-020" in figures["skipped"]["current"]


APP_RULES = """
version: app
rules:
  - {id: R-020, category: credit, condition: 'employment_status == "UNEMPLOYED" &&
       requested_amount > 5000.0', action: decline, reason_code: U, reason_text: u}
  - {id: R-024, category: credit, condition: bureau_thin_file >= 1 && requested_amount > 15000.0,
     action: review, reason_code: T, reason_text: t, products: [PERSONAL_LOAN]}
"""


def test_backtest_rebuilds_what_rules_and_policy_read_from_the_logged_vectors(  # type: ignore[no-untyped-def]
        clickhouse_client, sink_owned_state, tmp_path) -> None:
    """Decisions log no application fields; the feature vectors logged beside them do hold
    features computed from them. Rules on those fields hit as they did live, and the
    policy approves (it reported 0% when it read nothing); a decision without a vector is
    left out, and said so."""
    import json

    from typer.testing import CliRunner

    from features.applicant import applicant_features
    from features.synthetic import application
    from streams.cli import app

    t = datetime(2031, 7, 1, 12, tzinfo=UTC)
    apps = [application(f"ra{i}", 0, requested_amount=amount, annual_income=60_000.0)
            for i, amount in enumerate([9_000.0, 2_000.0, 3_000.0])]
    apps[0]["employment_status"] = "UNEMPLOYED"  # R-020 hits ra0 only
    decisions, vectors = [], []
    for a in [*apps, application("ra-novector", 0)]:
        decisions.append([a["application_id"], t, t, a["product"], "APPROVE", 0.01, 0.001, 0.1])
        if a["application_id"] != "ra-novector":
            feats = applicant_features(a)
            vectors.append([a["application_id"], t, a["product"], "fs-app", list(feats),
                            list(feats.values())])
    clickhouse_client.insert("decisions", decisions, column_names=[
        "application_id", "event_time", "decided_at", "product", "decision", "pd",
        "fraud_probability", "anomaly_score"])
    clickhouse_client.insert("feature_vectors", vectors, column_names=[
        "application_id", "event_time", "product", "feature_spec_version", "names", "values"])
    rules = tmp_path / "app.yaml"
    rules.write_text(APP_RULES)
    bt = CliRunner().invoke(app, [
        "rules", "backtest", str(rules), "--current", str(rules), "--on", "clickhouse",
        "--since", "2031-07-01", "--until", "2031-07-02", "--json"])
    assert bt.exit_code == 0, bt.output
    figures = json.loads(bt.stdout)
    by_rule = {r["rule_id"]: r for r in figures["rules"]}
    assert by_rule["R-020"]["hits"] == 1 and by_rule["R-024"]["hits"] == 0
    assert figures["rows"] == 3 and figures["mode"] == "policy"
    assert figures["candidate_approval_rate"] == pytest.approx(2 / 3)  # ra1, ra2 get offers
    assert "1 decisions have no logged feature vector" in bt.stderr
