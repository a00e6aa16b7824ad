"""CLI conventions that need no service: --version, completion, usage errors (exit 2),
clear errors (exit 1) instead of tracebacks for bad files and bad list entries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app, package_version
from streams.cli.errors import ERROR, USAGE
from streams.cli.pipeline import query_error

run = CliRunner().invoke


def flat(output: str) -> str:
    """The output without rich's boxes and line wrapping."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", output)


def test_version_prints_the_installed_distribution() -> None:
    from importlib.metadata import version

    result = run(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"loanrisk {version('loanrisk')}" == \
        f"loanrisk {package_version()}"


def test_completion_script_names_the_program() -> None:
    result = run(app, ["--show-completion", "bash"], prog_name="loanrisk")
    assert result.exit_code == 0, result.output
    assert "_LOANRISK_COMPLETE=complete_bash" in result.output


def test_an_unknown_log_level_is_a_usage_error_listing_the_valid_ones() -> None:
    for command in (["worker"], ["sink"]):
        result = run(app, [*command, "--loglevel", "verbose"])
        assert result.exit_code == USAGE
        valid = "'verbose' is not one of debug, info, warning, error, critical"
        assert valid in flat(result.output)
        assert "Traceback" not in result.output


def test_sql_refuses_an_unknown_format_and_a_format_clause_it_cannot_print() -> None:
    result = run(app, ["sql", "SELECT 1", "--format", "xml"])
    assert result.exit_code == USAGE
    assert "'xml' is not one of table, csv, json" in flat(result.output)
    result = run(app, ["sql", "SELECT 1 FORMAT TSV"])
    assert result.exit_code == USAGE and "drop the FORMAT clause" in flat(result.output)
    result = run(app, ["sql", "SELECT 1 FORMAT JSON", "--format", "csv"])
    assert result.exit_code == USAGE and "give one" in result.output


def test_a_syntax_error_past_the_query_is_reported_as_an_incomplete_query() -> None:
    appended = ("Code: 62. DB::Exception: Syntax error: failed at position 33 (FORMAT) "
                "(line 2, col 2): FORMAT Native. Expected one of: BY, end of query. "
                "(SYNTAX_ERROR)")
    msg = query_error("SELECT 1 FROM system.one ORDER", appended)
    assert msg.startswith("the query is incomplete at its end (after 'SELECT 1 FROM")
    assert "Native" not in msg and "Expected one of: BY" in msg
    inside = "Code: 62. DB::Exception: Syntax error: failed at position 3 (x): x. (SYNTAX_ERROR)"
    assert query_error("SEL x FROM t", inside) == inside  # an error in the query is left alone


def test_policy_show_of_a_binary_file_names_the_problem(tmp_path: Path) -> None:
    binary = tmp_path / "table.parquet"
    binary.write_bytes(b"PAR1\x15\x04\x15\xcc\xff\x00" * 20)
    result = run(app, ["policy", "show", str(binary)])
    assert result.exit_code == ERROR
    assert "is not a YAML text file" in flat(result.output) and "Traceback" not in result.output


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--phone", "12345", "not in E.164 form"),
    ("--phone", "+44 7700 90O123", "not in E.164 form"),  # a letter O
    ("--email", "someone.example.com", "not an address"),
    ("--email", "a@b@example.com", "not an address"),
    ("--email", "someone@localhost", "not an address"),
])
def test_lists_add_refuses_malformed_phones_and_emails(option: str, value: str,
                                                       says: str) -> None:
    # refused before any Kafka client is built: nothing listens on this port
    result = run(app, ["lists", "add", "BLOCK", option, value, "--reason", "x"],
                 env={"LOANRISK_KAFKA_BOOTSTRAP": "127.0.0.1:9"})
    assert result.exit_code == ERROR and says in flat(result.output)


@pytest.mark.parametrize("expires", ["2020-01-01", "0d", "2026-01-01T00:00:00+00:00"])
def test_lists_add_refuses_an_expiry_in_the_past(expires: str) -> None:
    result = run(app, ["lists", "add", "BLOCK", "--device-id", "d-1", "--reason", "x",
                       "--expires", expires], env={"LOANRISK_KAFKA_BOOTSTRAP": "127.0.0.1:9"})
    assert result.exit_code == ERROR and "is not in the future" in flat(result.output)


def test_monitor_json_needs_once() -> None:
    result = run(app, ["monitor", "--json"])
    assert result.exit_code == USAGE and "use it with --once" in flat(result.output)
