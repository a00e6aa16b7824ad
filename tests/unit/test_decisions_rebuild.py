"""Application fields rebuilt from logged feature vectors: the fields rules and the policy
read come back from the features computed from them, and the decision comes out the same."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from decisions.engine import decide_outcome
from decisions.history import with_application_fields
from decisions.policy import Policy
from decisions.rules import DEFAULT_RULES_PATH, RuleSet, application_value
from features.applicant import applicant_features
from features.synthetic import T0, application


def _apps() -> list[dict[str, Any]]:
    """Applications across products, employment, housing, channel and bureau files."""
    out = []
    cases = [("PERSONAL_LOAN", "UNEMPLOYED", "RENT", "WEB", True, 31_250.55, 9_000.0, 36),
             ("CREDIT_CARD", "EMPLOYED", "OWN", "APP", True, 54_000.0, 3_000.0, 0),
             ("BNPL", "STUDENT", "MORTGAGE", "PARTNER", False, 12_345.67, 400.0, 3),
             ("PERSONAL_LOAN", "RETIRED", "OTHER", "WEB", True, 88_000.0, 20_000.0, 60),
             ("PERSONAL_LOAN", "SELF_EMPLOYED", "RENT", "APP", True, 40_000.0, 16_000.0, 48)]
    for i, (product, emp, housing, channel, bureau, income, amount, term) in enumerate(cases):
        app = application(f"r{i}", T0, product=product, annual_income=income,
                          requested_amount=amount, term=term, bureau=bureau)
        app.update(employment_status=emp, housing_status=housing, channel=channel,
                   monthly_debt_payments=150.0 * (i + 1), customer_id="c1" if i % 2 else None)
        if bureau:
            app["bureau"]["thin_file"] = i == 4
            app["bureau"]["income_estimate"] = income * 0.8  # caps affordability
        out.append(app)
    return out


def _logged(apps: list[dict[str, Any]]) -> pd.DataFrame:
    """What ClickHouse keeps of each decision: product, scores and the feature vector."""
    rows = [{"product": a["product"], "pd": 0.01 + 0.005 * i, "fraud_probability": 0.001,
             "anomaly_score": 0.1, **applicant_features(a)} for i, a in enumerate(apps)]
    return pd.DataFrame(rows)


def test_the_fields_rules_read_come_back_from_the_features() -> None:
    apps = _apps()
    rebuilt, how = with_application_fields(_logged(apps))
    assert {"annual_income", "requested_amount", "monthly_debt_payments", "employment_status",
            "channel", "has_customer_id", "bureau"} <= set(how.fields)
    for app, row in zip(apps, rebuilt.to_dict("records"), strict=True):
        for name in ("annual_income", "requested_amount", "monthly_debt_payments",
                     "requested_term_months", "employment_months", "channel",
                     "bureau_income_estimate"):
            assert application_value(row, name) == pytest.approx(application_value(app, name))
        assert row["has_customer_id"] == application_value(app, "has_customer_id")
        if app["employment_status"] in ("UNEMPLOYED", "SELF_EMPLOYED", "STUDENT"):
            assert row["employment_status"] == app["employment_status"]
        else:  # lumped, and said so
            assert app["employment_status"] in how.partial["employment_status"]


def test_rules_and_policy_on_rebuilt_fields_decide_as_live() -> None:
    apps = _apps()
    rebuilt, _ = with_application_fields(_logged(apps))
    rules, policy = RuleSet.from_yaml(DEFAULT_RULES_PATH), Policy.default()
    outcomes = set()
    for app, row in zip(apps, rebuilt.to_dict("records"), strict=True):
        feats = applicant_features(app)
        scores = {k: row[k] for k in ("pd", "fraud_probability", "anomaly_score")}
        live = decide_outcome(rules, policy, app, feats, scores, [])
        replay = decide_outcome(rules, policy, row, row, scores, [])
        assert (replay.decision, replay.offer) == (live.decision, live.offer)
        assert [h.rule_id for h in replay.rule_hits] == [h.rule_id for h in live.rule_hits]
        outcomes.add(live.decision)
    assert len(outcomes) > 1  # the cases exercise more than one outcome


def test_decisions_without_a_logged_vector_are_left_out_and_counted() -> None:
    logged = _logged(_apps()[:2]).assign(feature_vector_logged=[True, False])
    rebuilt, how = with_application_fields(logged)
    assert len(rebuilt) == 1 and how.without_vector == 1
