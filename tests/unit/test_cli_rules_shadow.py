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


def test_backtest_json_and_the_rules_the_file_cannot_feed(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "backtest", str(_rules(tmp_path)), "--on",
                                      str(_history(tmp_path)), "--rules-only", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)  # stdout is JSON only; the warning is on stderr
    by_rule = {r["rule_id"]: r for r in figures["rules"]}
    assert by_rule["VEL"]["hits"] == 2 and by_rule["VEL"]["bad_rate"] == 1.0
    assert by_rule["INQ"]["hits"] == 0
    assert figures["missing_inputs"] == {"INQ": ["bureau_inquiries_6m"]}
    assert figures["rows"] == 4 and figures["mode"] == "rules-only"
    assert figures["candidate_approval_rate"] == 0.5
    assert "INQ (bureau_inquiries_6m)" in result.stderr and "cannot hit" in result.stderr


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
