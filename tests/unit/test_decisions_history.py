"""History files for backtests and shadow reports: reading, dates, and what rules lack."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from decisions.backtest import backtest, missing_inputs
from decisions.errors import BacktestError
from decisions.history import parse_time, read_history
from decisions.rules import RuleSet
from decisions.shadow import shadow_report

DECISIONS = pd.DataFrame({
    "application_id": ["a1", "a2", "a3", "a4", "a5"],
    "product": ["BNPL", "BNPL", "CREDIT_CARD", "BNPL", "BNPL"],
    "decision": ["APPROVE", "APPROVE", "DECLINE", "REVIEW", "APPROVE"],
    "shadow_decision": ["APPROVE", "DECLINE", "DECLINE", "APPROVE", None],
    "label_default": [1.0, 0.0, None, 0.0, 0.0],
})

RULES = """
version: h
rules:
  - {id: FEAT, category: fraud, condition: vel_device_apps_1h >= 3, action: decline,
     reason_code: F, reason_text: f}
  - {id: BUREAU, category: credit, condition: bureau_inquiries_6m > 4.0, action: review,
     reason_code: B, reason_text: b}
  - {id: KNOWN, category: credit, condition: has_customer_id && pd > 0.5, action: review,
     reason_code: K, reason_text: k}
"""


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_decisions_file_reads_back_and_feeds_the_shadow_report(
        tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"decisions{suffix}"
    DECISIONS.to_csv(path, index=False) if suffix == ".csv" else DECISIONS.to_parquet(path)
    df = read_history(path)
    assert list(df["application_id"]) == ["a1", "a2", "a3", "a4", "a5"]
    rep = shadow_report(df)
    assert rep.n == 4  # a5 has no shadow decision
    assert rep.champion_approval_rate == pytest.approx(2 / 4)
    assert rep.challenger_approval_rate == pytest.approx(2 / 4)
    assert rep.matrix.loc["APPROVE", "DECLINE"] == 1 and rep.matrix.loc["REVIEW", "APPROVE"] == 1
    # champion approves a1 (bad) and a2 (good); challenger a1 (bad) and a4 (good)
    assert rep.bad_rate["champion"]["bad_rate"] == pytest.approx(0.5)
    assert rep.bad_rate["challenger"]["bad_rate"] == pytest.approx(0.5)


def test_unreadable_history_files_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(BacktestError, match="no history file"):
        read_history(tmp_path / "absent.csv")
    (tmp_path / "h.json").write_text("{}")
    with pytest.raises(BacktestError, match=r"unknown format; use \.parquet or \.csv"):
        read_history(tmp_path / "h.json")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(BacktestError, match="cannot be read as parquet"):
        read_history(tmp_path / "broken.parquet")


def test_times_are_iso_in_utc_and_bad_ones_list_the_formats() -> None:
    assert parse_time("1970-01-02") == 86_400_000
    assert parse_time("1970-01-01T01:00:00") == 3_600_000
    assert parse_time("1970-01-01T01:00:00+01:00") == 0
    with pytest.raises(BacktestError, match=r"--since 'yesterday' is not a date: use an ISO"):
        parse_time("yesterday", "--since")


def test_rules_whose_inputs_the_history_lacks_are_named() -> None:
    rs = RuleSet.from_yaml(RULES)
    assert missing_inputs(rs, ["vel_device_apps_1h"]) == {
        "BUREAU": ("bureau_inquiries_6m",), "KNOWN": ("has_customer_id", "pd")}
    # the application forms rules read them from: a bureau record, a customer id
    assert missing_inputs(rs, ["vel_device_apps_1h", "bureau", "customer_id", "pd"]) == {}
    history = pd.DataFrame({"vel_device_apps_1h": [1.0, 4.0]})
    # never a silent zero: refused naming the rules and fields, or skipped explicitly
    with pytest.raises(BacktestError, match=r"candidate rules BUREAU \(bureau_inquiries_6m\); "
                       r"KNOWN \(has_customer_id, pd\)"):
        backtest(history, rs)
    res = backtest(history, rs, skip_unevaluable=True)
    assert res.missing_inputs == {"BUREAU": ("bureau_inquiries_6m",),
                                  "KNOWN": ("has_customer_id", "pd")}
    record = res.record()
    assert record["missing_inputs"]["KNOWN"] == ["has_customer_id", "pd"]
    assert record["skipped"]["candidate"]["BUREAU"] == ["bureau_inquiries_6m"]
    assert [r["rule_id"] for r in record["rules"]] == ["FEAT"]  # no 0-hit rows for the rest
    assert record["rules"][0]["hits"] == 1
