"""`loanrisk rules` and `loanrisk shadow report` on files: JSON output, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from streams.cli import app
from streams.cli.errors import ERROR, USAGE

RULES = """
version: cli
rules:
  - {id: VEL, category: fraud, condition: vel_device_apps_1h >= 3, action: decline,
     reason_code: V, reason_text: velocity}
  - {id: INQ, category: credit, condition: bureau_inquiries_6m > 4.0, action: review,
     reason_code: I, reason_text: inquiries}
"""


def _rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


def _history(tmp_path: Path) -> Path:
    path = tmp_path / "history.parquet"
    pd.DataFrame({
        "vel_device_apps_1h": [1.0, 4.0, 5.0, 0.0],
        "label_default": [0.0, 1.0, None, 0.0],
        "decision": ["APPROVE", "DECLINE", "DECLINE", "APPROVE"],
        "shadow_decision": ["APPROVE", "APPROVE", "DECLINE", "REVIEW"],
    }).to_parquet(path)
    return path


def test_backtest_refuses_rules_the_file_cannot_feed_or_skips_them_explicitly(
        tmp_path: Path) -> None:
    args = ["rules", "backtest", str(_rules(tmp_path)), "--on", str(_history(tmp_path)),
            "--current", str(_rules(tmp_path)), "--rules-only", "--json"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == ERROR and refused.stdout == ""
    assert "INQ (bureau_inquiries_6m)" in refused.stderr and "--skip-unevaluable" in refused.stderr

    result = CliRunner().invoke(app, [*args, "--skip-unevaluable"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)  # stdout is JSON only; the skips are on stderr
    by_rule = {r["rule_id"]: r for r in figures["rules"]}
    assert by_rule["VEL"]["hits"] == 2 and by_rule["VEL"]["bad_rate"] == 1.0
    assert "INQ" not in by_rule  # left out, not shown as 0 hits
    assert figures["missing_inputs"] == {"INQ": ["bureau_inquiries_6m"]}
    assert figures["skipped"]["current"] == {"INQ": ["bureau_inquiries_6m"]}
    assert figures["rows"] == 4 and figures["mode"] == "rules-only"
    assert figures["candidate_approval_rate"] == 0.5
    assert "skipped" in result.stderr and "INQ (bureau_inquiries_6m)" in result.stderr


def test_backtest_rebuilds_application_fields_from_the_feature_columns(tmp_path: Path) -> None:
    """A history of feature vectors alone (what ClickHouse logs): the fields rules and the
    policy read come back from the features computed from them, so R-020-like rules hit."""
    rules = tmp_path / "app.yaml"
    rules.write_text("""
version: app
rules:
  - {id: BIG, category: credit, condition: 'employment_status == "UNEMPLOYED" &&
       requested_amount > 5000.0', action: decline, reason_code: U, reason_text: u}
  - {id: OWNER, category: credit, condition: 'housing_status == "OWN"', action: flag,
     reason_code: O, reason_text: o}
""")
    import math

    history = tmp_path / "vectors.parquet"
    income = [30000.0, 30000.0, 50000.0]
    pd.DataFrame({
        "app_log_income": [math.log1p(x) for x in income],
        "app_amount_to_income": [6000.0 / 30000.0, 1000.0 / 30000.0, 9000.0 / 50000.0],
        "app_emp_unemployed": [1.0, 1.0, 0.0], "app_emp_self_employed": [0.0, 0.0, 0.0],
        "app_emp_student": [0.0, 0.0, 0.0], "app_housing_rent": [0.0, 1.0, 0.0],
    }).to_parquet(history)
    args = ["rules", "backtest", str(rules), "--on", str(history), "--current", str(rules),
            "--rules-only", "--json"]
    refused = CliRunner().invoke(app, args)  # OWN is lumped with MORTGAGE and OTHER
    assert refused.exit_code == ERROR
    assert "OWNER (housing_status (OWN: not told apart" in refused.stderr
    result = CliRunner().invoke(app, [*args, "--skip-unevaluable"])
    assert result.exit_code == 0, result.output
    by_rule = {r["rule_id"]: r for r in json.loads(result.stdout)["rules"]}
    assert by_rule["BIG"]["hits"] == 1  # row 0 only: row 1 asks 1,000, row 2 is employed
    assert "rebuilt from the logged feature vectors: annual_income, requested_amount" \
        in result.stderr


def test_backtest_on_clickhouse_with_a_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "backtest", str(_rules(tmp_path)), "--on",
                                      "clickhouse", "--since", "yesterday", "--until",
                                      "2025-02-01"])
    assert result.exit_code == USAGE
    assert "--since 'yesterday' is not a date" in result.stderr
    assert "2025-01-01T12:30:00" in result.stderr  # the accepted formats, by example
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_refuses_a_binary_file_without_a_traceback(tmp_path: Path) -> None:
    table = _history(tmp_path)
    result = CliRunner().invoke(app, ["rules", "validate", str(table)])
    assert result.exit_code == ERROR
    assert "is not a text file" in result.stderr and "YAML" in result.stderr
    assert isinstance(result.exception, SystemExit)  # typer's exit, not a crash


def test_shadow_report_on_a_file_as_table_and_as_json(tmp_path: Path) -> None:
    history = _history(tmp_path)
    table = CliRunner().invoke(app, ["shadow", "report", "--on", str(history)])
    assert table.exit_code == 0, table.output
    assert "4 applications with a shadow decision" in table.stdout
    assert "disagreement matrix" in table.stdout

    result = CliRunner().invoke(app, ["shadow", "report", "--on", str(history), "--json"])
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    assert rep["applications"] == 4
    assert rep["champion_approval_rate"] == 0.5 and rep["challenger_approval_rate"] == 0.5
    assert rep["matrix"]["DECLINE"]["APPROVE"] == 1 and rep["matrix"]["APPROVE"]["REVIEW"] == 1
    # champion approves rows 0 and 3 (both good); challenger rows 0 and 1 (one bad)
    assert rep["approvals"]["champion"]["bad_rate"] == 0.0
    assert rep["approvals"]["challenger"]["bad_rate"] == 0.5


def test_shadow_report_names_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["shadow", "report", "--on", str(tmp_path / "none.csv")])
    assert result.exit_code == ERROR and "no history file" in result.stderr
