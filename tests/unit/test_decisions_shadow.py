"""Shadow decisions never change the published one; the report's numbers."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from decisions.errors import BacktestError
from decisions.rules import RuleSet
from decisions.shadow import shadow_decide, shadow_report
from tests.decision_cases import APP, FEATS, RULES_YAML, SCORES, VERSIONS, block, engine


def test_shadow_never_changes_published_decision() -> None:
    eng = engine()
    champion = eng.decide(APP, FEATS, SCORES, VERSIONS)
    snapshot = copy.deepcopy(champion)
    strict = RuleSet.from_yaml(RULES_YAML.replace('"r1"', '"r-strict"').replace(
        "vel_device_apps_1h >= 5", "vel_device_apps_1h >= 1"))
    shadow = shadow_decide(eng, APP, FEATS, {**SCORES, "pd": 0.5}, {"model_pd": "pd-2"},
                           rules=strict)
    assert shadow["decision"] == "DECLINE" and champion["decision"] == "APPROVE"
    assert shadow["pd"] == 0.5 and shadow["versions"]["model_pd"] == "pd-2"
    assert shadow["versions"]["rules"].startswith("r-strict+")
    assert champion == snapshot  # the champion record is untouched
    assert eng.decide(APP, FEATS, SCORES, VERSIONS) == snapshot  # engine state untouched
    assert eng.rules.current.version.startswith("r1+")


def test_shadow_defaults_to_champion_rules_and_policy() -> None:
    eng = engine()
    shadow = shadow_decide(eng, APP, FEATS, SCORES, {"model_pd": "pd-1"})
    assert shadow["decision"] == "APPROVE"
    assert shadow["versions"]["rules"] == eng.rules.current.version
    assert shadow["versions"]["policy"] == eng.policy.version


def test_shadow_is_decided_on_the_champions_lists() -> None:
    eng = engine(block("DEVICE_ID", "dev-1"))
    clean = {**SCORES, "pd": 0.001, "fraud_probability": 0.0}  # scores alone would approve
    shadow = shadow_decide(eng, APP, FEATS, clean, {"model_pd": "pd-2"})
    assert shadow == {"decision": "DECLINE", "pd": 0.001, "fraud_probability": 0.0,
                      "versions": {"model_pd": "pd-2", "rules": eng.rules.current.version,
                                   "policy": eng.policy.version}}


def test_report_numbers() -> None:
    df = pd.DataFrame({
        "decision":        ["APPROVE", "APPROVE", "DECLINE", "REVIEW", "APPROVE", "APPROVE"],
        "shadow_decision": ["APPROVE", "DECLINE", "DECLINE", "APPROVE", "APPROVE", None],
        "label_default":   [0, 1, None, 0, None, 1],
        "label_fraud":     [0, 0, None, 1, 0, 0],
    })
    rep = shadow_report(df)
    assert rep.n == 5  # row without shadow excluded
    assert rep.champion_approval_rate == pytest.approx(3 / 5)
    assert rep.challenger_approval_rate == pytest.approx(3 / 5)
    assert rep.approval_rate_diff == pytest.approx(0.0)
    assert rep.agreement_rate == pytest.approx(3 / 5)
    assert rep.matrix.loc["APPROVE", "DECLINE"] == 1
    assert rep.matrix.loc["REVIEW", "APPROVE"] == 1
    assert rep.matrix.loc["APPROVE", "APPROVE"] == 2
    assert int(rep.matrix.to_numpy().sum()) == 5
    # champion approvals rows 0,1,4: default labels 0,1,None -> 1/2
    assert rep.bad_rate["champion"]["bad_rate"] == pytest.approx(0.5)
    # challenger approvals rows 0,3,4: default 0,0,None -> 0; fraud 0,1,0 -> 1/3
    assert rep.bad_rate["challenger"]["bad_rate"] == pytest.approx(0.0)
    assert rep.bad_rate["challenger"]["fraud_rate"] == pytest.approx(1 / 3)


def test_report_needs_shadow_rows() -> None:
    with pytest.raises(BacktestError, match="no rows with a shadow"):
        shadow_report(pd.DataFrame({"decision": ["APPROVE"], "shadow_decision": [None]}))
    with pytest.raises(BacktestError, match="shadow_decision"):
        shadow_report(pd.DataFrame({"decision": ["APPROVE"]}))
