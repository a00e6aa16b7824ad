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


def test_an_infeasible_optimisation_names_the_binding_screen_and_the_levers(tmp_path: Path
                                                                           ) -> None:
    """The optimiser's command on a history where the young are riskier and the bad rate is
    held at half today's: exit 1, the verdict table, report.json (feasible: false), no
    policy, and where to look for a fairer alternative."""
    import json

    from tests.unit.test_decisions_optimise import history

    on = tmp_path / "history.parquet"
    history().to_parquet(on)
    out = tmp_path / "opt"
    result = CliRunner().invoke(app, ["policy", "optimise", "--on", str(on), "--out", str(out),
                                      "--skip-unevaluable", "--grid", "6",
                                      "--max-bad-rate", "0.005"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "NOT MET (binding)" in text and "no policy was written" in text
    assert "loanrisk policy fair-levers" in text
    assert json.loads((out / "report.json").read_text())["feasible"] is False
    assert not (out / "policy.yaml").exists()
