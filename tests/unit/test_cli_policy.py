"""`loanrisk policy show | release`: a policy file is checked before it can ship."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from decisions.policy import DEFAULT_POLICY_PATH
from streams.cli import app


def test_show_prints_each_products_cutoffs() -> None:
    result = CliRunner().invoke(app, ["policy", "show"])
    assert result.exit_code == 0, result.output
    assert "2025.06.1+" in result.output
    assert all(p in result.output for p in ("CREDIT_CARD", "PERSONAL_LOAN", "BNPL"))


def test_invalid_or_incomplete_policies_are_refused_before_release(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text()
    inverted = tmp_path / "inverted.yaml"
    inverted.write_text(text.replace("approve_below: 0.10, decline_at: 0.18",
                                     "approve_below: 0.30, decline_at: 0.18"))
    result = CliRunner().invoke(app, ["policy", "release", str(inverted), "--author", "t"])
    assert result.exit_code == 1
    assert "approve_below must be <= pd.decline_at" in result.output

    no_bnpl = tmp_path / "no_bnpl.yaml"
    no_bnpl.write_text(text.split("  BNPL:", 1)[0])
    result = CliRunner().invoke(app, ["policy", "show", str(no_bnpl)])
    assert result.exit_code == 1 and "no policy for BNPL" in result.output
