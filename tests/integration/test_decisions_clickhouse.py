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
    bt = CliRunner().invoke(app, ["rules", "backtest", str(rules), "--on", "clickhouse",
                                  *window, "--rules-only", "--json"])
    assert bt.exit_code == 0, bt.output
    by_rule = {r["rule_id"]: r for r in json.loads(bt.stdout)["rules"]}
    assert by_rule["V"]["hits"] == 2 and by_rule["V"]["bad_labelled"] == 1
