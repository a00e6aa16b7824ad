"""Backtest numbers against a small case computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from decisions.backtest import backtest
from decisions.errors import BacktestError
from decisions.policy import Policy
from decisions.rules import RuleSet

CANDIDATE = """
version: cand
rules:
  - {id: A, category: fraud, condition: x >= 5, action: decline, reason_code: A, reason_text: a}
  - {id: B, category: credit, condition: y >= 1, action: review, reason_code: B, reason_text: b}
  - {id: C, category: fraud, condition: x >= 8, action: flag, reason_code: C, reason_text: c}
  - {id: D, category: fraud, condition: y >= 2, action: decline, reason_code: D, reason_text: d,
     enabled: false}
"""
CURRENT = """
version: cur
rules:
  - {id: A, category: fraud, condition: x >= 9, action: decline, reason_code: A, reason_text: a}
"""

# row:      0    1    2    3    4     5
# x:        1    5    8    9    2     6
# y:        0    1    0    2    1   None
# hits A:        *    *    *          *        -> 4 of 6
# hits B:        *         *    *     (y missing: skip) -> 3 of 6
# hits C:             *    *                   -> 2
# hits D:                  *                   -> 1 (disabled)
DF = pd.DataFrame({
    "x": [1, 5, 8, 9, 2, 6],
    "y": [0, 1, 0, 2, 1, None],
    "label_default": [0, 1, None, 1, 0, 0],
    "label_fraud": [0, 0, 1, 1, None, 0],
})


def test_hand_computed_case() -> None:
    res = backtest(DF, RuleSet.from_yaml(CANDIDATE), RuleSet.from_yaml(CURRENT))
    r = res.per_rule.set_index("rule_id")
    assert r["hits"].to_dict() == {"A": 4, "B": 3, "C": 2, "D": 1}
    assert r.loc["A", "hit_rate"] == pytest.approx(4 / 6)
    # A hits rows 1,2,3,5: default labels 1,None,1,0 -> 2/3; fraud 0,1,1,0 -> 2/4
    assert r.loc["A", "bad_rate"] == pytest.approx(2 / 3) and r.loc["A", "bad_labelled"] == 3
    assert r.loc["A", "fraud_rate"] == pytest.approx(0.5)
    # B hits rows 1,3,4: default 1,1,0 -> 2/3; fraud 0,1,None -> 1/2
    assert r.loc["B", "bad_rate"] == pytest.approx(2 / 3)
    assert r.loc["B", "fraud_rate"] == pytest.approx(0.5)
    # overlap with other ENABLED rules: A's rows 1,2,3,5 vs B(1,3,4)|C(2,3) -> 1,2,3 = 3/4
    assert r.loc["A", "overlap"] == pytest.approx(3 / 4)
    assert r.loc["B", "overlap"] == pytest.approx(2 / 3)  # rows 1,3 also hit by A
    assert r.loc["C", "overlap"] == pytest.approx(1.0)
    assert res.co_hits.loc["A", "B"] == 2 and res.co_hits.loc["A", "A"] == 4
    # approvals (rules-only): candidate passes rows 0 only -> 1/6; current fails row 3 -> 5/6
    assert res.candidate_approval_rate == pytest.approx(1 / 6)
    assert res.current_approval_rate == pytest.approx(5 / 6)
    assert res.approval_rate_change == pytest.approx(-4 / 6)
    assert res.mode == "rules-only" and res.rows == 6


def test_rule_without_labels_has_no_rate() -> None:
    res = backtest(DF.drop(columns=["label_default", "label_fraud"]),
                   RuleSet.from_yaml(CANDIDATE))
    r = res.per_rule.set_index("rule_id")
    assert r.loc["A", "bad_rate"] is None or math.isnan(r.loc["A", "bad_rate"])
    assert res.current_approval_rate is None and res.approval_rate_change is None


def test_policy_mode_counts_full_decisions() -> None:
    df = pd.DataFrame({
        "product": ["BNPL"] * 4, "x": [1, 1, 1, 6], "y": [0, 0, 0, 0],
        "pd": [0.01, 0.5, 0.01, 0.01], "fraud_probability": [0.0] * 4,
        "annual_income": [40000.0, 40000.0, 100.0, 40000.0],
        "monthly_debt_payments": [0.0] * 4, "requested_amount": [200.0] * 4,
        "requested_term_months": [3] * 4, "bureau": [None] * 4, "anomaly_score": [0.0] * 4,
    })
    res = backtest(df, RuleSet.from_yaml(CANDIDATE), RuleSet.from_yaml(CURRENT),
                   Policy.default())
    # row 1 declined by pd, row 2 unaffordable, row 3 declined by candidate rule A only
    assert res.candidate_approval_rate == pytest.approx(1 / 4)
    assert res.current_approval_rate == pytest.approx(2 / 4)
    with pytest.raises(BacktestError, match=r"policy \(product, pd \(or bureau_score\), "
                       r"annual_income"):
        backtest(DF, RuleSet.from_yaml(CANDIDATE), policy=Policy.default())
    # a policy without its inputs is never a 0% approval: refused, or skipped explicitly
    lacking = df.drop(columns=["annual_income", "bureau"])
    with pytest.raises(BacktestError, match=r"policy \(annual_income, bureau\)"):
        backtest(lacking, RuleSet.from_yaml(CANDIDATE), policy=Policy.default())
    skipped = backtest(lacking, RuleSet.from_yaml(CANDIDATE), policy=Policy.default(),
                       skip_unevaluable=True)
    assert skipped.mode == "rules-only" and skipped.skipped.policy == ("annual_income", "bureau")
    assert skipped.candidate_approval_rate == pytest.approx(3 / 4)  # only rule A declines


def test_empty_input_rejected() -> None:
    with pytest.raises(BacktestError, match="no rows"):
        backtest(DF.iloc[:0], RuleSet.from_yaml(CANDIDATE))
