"""`loanrisk explain` on a decline: the counterfactual computed from what ClickHouse recorded
(application, vector, versions) with the registered model, re-decided here by the engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from sinks.rows import (
    APPLICATION_COLUMNS,
    DECISION_COLUMNS,
    FEATURE_COLUMNS,
    application_converter,
    decision_row,
    feature_row,
)

pytestmark = pytest.mark.integration


def _amount_model(tmp_path):  # type: ignore[no-untyped-def]
    """A registered logistic PD model whose risk grows with the amount asked."""
    from models.artifact import write_artifact
    from models.data import frame_to_dataset
    from models.registry import Registry
    from models.train import TrainConfig, train

    rng = np.random.default_rng(4)
    n = 3000
    ati = rng.uniform(0.0, 0.8, n)
    pti = rng.uniform(0.0, 0.3, n)
    score = rng.normal(680, 60, n)
    logit = -4.2 + 5.0 * ati + 3.0 * pti - 0.01 * (score - 680)
    frame = pd.DataFrame({"app_amount_to_income": ati, "app_pti": pti, "bureau_score": score,
                          "event_time": np.arange(n) * 1000,
                          "label_default": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)})
    cols = ["app_amount_to_income", "app_pti", "bureau_score"]
    ds = frame_to_dataset(frame, "label_default", "event_time", features=cols)
    cfg = TrainConfig(name="pd", model="logistic", n_boot=20)
    reg = Registry(tmp_path / "models")
    version = reg.register(write_artifact(tmp_path / "a", train(ds, cfg), ds, cfg,
                                          version="pd-cf-1"))
    return reg, version


def test_explain_gives_the_counterfactual_of_a_decline_and_its_letter(
        clickhouse_client, sink_owned_state, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from decisions.engine import DecisionEngine
    from decisions.lists import ListIndex
    from decisions.policy import Policy
    from decisions.rules import DEFAULT_RULES_PATH, RuleStore
    from features.applicant import applicant_features
    from features.spec import FEATURE_SPEC
    from models.serving import for_feature_order
    from models.slots import ModelSet, model_scores
    from streams.cli import app as cli
    from tests.records import application

    reg, version = _amount_model(tmp_path)
    models = ModelSet(pd=for_feature_order(reg.load_version(version), FEATURE_SPEC.names))
    engine = DecisionEngine(ListIndex(), RuleStore.from_path(DEFAULT_RULES_PATH,
                                                             FEATURE_SPEC.names),
                            Policy.default())
    t = int(datetime(2041, 3, 4, tzinfo=UTC).timestamp() * 1000)

    def decide(app):  # type: ignore[no-untyped-def]
        """The worker's decision: full vector from the application, the model, the engine."""
        values = FEATURE_SPEC.complete(applicant_features(app))
        d = engine.decide(app, values, model_scores(models, FEATURE_SPEC.to_array(values)),
                          {**models.versions(), "feature_spec": FEATURE_SPEC.version})
        return d, values

    app = application(application_id="cf-decline", event_time=t, requested_amount=30000.0,
                      requested_term_months=36)
    decision, values = decide(app)
    assert decision["decision"] == "DECLINE", decision["reason_codes"]
    stale = {**decision, "application_id": "cf-stale-policy",
             "versions": {**decision["versions"], "policy": "2020.01.1+000000000000"}}
    rows, vectors, apps = [], [], []
    convert = application_converter(b"test-key", lambda _personal: "")
    for d in (decision, stale):
        rows.append(decision_row({**d, "decided_at": t + 7, "worker": "w-1"}))
        vectors.append(feature_row({"application_id": d["application_id"], "event_time": t,
                                    "product": d["product"],
                                    "feature_spec_version": FEATURE_SPEC.version,
                                    "names": FEATURE_SPEC.names,
                                    "values": FEATURE_SPEC.to_list(values)}))
        apps.append(convert({**app, "application_id": d["application_id"]}))
    clickhouse_client.insert("decisions", rows, column_names=list(DECISION_COLUMNS))
    clickhouse_client.insert("feature_vectors", vectors, column_names=list(FEATURE_COLUMNS))
    clickhouse_client.insert("applications", apps, column_names=list(APPLICATION_COLUMNS))

    run = CliRunner().invoke
    out = run(cli, ["explain", "cf-decline", "--registry", str(reg.root), "--json"])
    assert out.exit_code == 0, out.output
    cf = json.loads(out.output)["counterfactual"]
    assert cf["computed"] is True, cf
    best = cf["smallest"]
    assert best["changed"] == ["amount"] and best["term_months"] == 36
    # re-decided by the worker's path: approved in full; one policy step more is not
    step = Policy.default().for_product("PERSONAL_LOAN").offer.round_to
    yes, _ = decide({**app, "requested_amount": best["amount"]})
    no, _ = decide({**app, "requested_amount": best["amount"] + step})
    assert yes["decision"] == "APPROVE" and yes["offer"]["amount"] >= best["amount"]
    assert not (no["decision"] == "APPROVE" and no["offer"]["amount"] >= best["amount"] + step)
    assert cf["held"] and "anomaly" in cf["held"][0]
    letter = run(cli, ["explain", "cf-decline", "--registry", str(reg.root), "--letter"])
    assert letter.exit_code == 0, letter.output
    amount = f"£{best['amount']:,.0f}"
    assert f"An amount of {amount}" in letter.output and "over 36 months" in letter.output
    text = run(cli, ["explain", "cf-decline", "--registry", str(reg.root)])
    assert text.exit_code == 0 and "counterfactual (" in text.output
    # a policy version this machine does not have: no counterfactual, and the letter
    # claims nothing about other amounts
    stale_out = run(cli, ["explain", "cf-stale-policy", "--registry", str(reg.root), "--json"])
    got = json.loads(stale_out.output)
    assert got["counterfactual"]["computed"] is False
    assert "--policy FILE" in got["counterfactual"]["why"]
    assert "would have been approved" not in got["adverse_action_letter"]
