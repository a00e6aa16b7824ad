"""`loanrisk train`'s source, label and reject-inference options (streams/cli/training_data.py)
refuse what cannot go together before any data is read: usage errors, exit 2, that say why."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app as cli


@pytest.mark.parametrize("args,says", [
    (["--reject-inference", "parcel", "--source", "clickhouse"], "only method whose correction"),
    (["--reject-inference", "explore"], "applies to --source clickhouse"),
    (["--labels", "review+performance"], "--labels applies to --source clickhouse"),
    ([], "pass --data FILE"),
])
def test_options_that_cannot_go_together_are_usage_errors(args: list[str], says: str,
                                                           tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", "--registry", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split())


def test_train_help_lists_the_options_of_both_modules() -> None:
    out = CliRunner().invoke(cli, ["train", "--help"]).output
    for opt in ("--source", "--labels", "--include-fraud", "--reject-inference", "--cells",
                "--policy", "--model", "--min-matured"):
        assert opt in out
