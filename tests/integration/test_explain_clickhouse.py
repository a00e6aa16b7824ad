"""`loanrisk explain`: a logged decision re-scored from its logged vector, via the sink."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from sinks.rows import DECISION_COLUMNS, FEATURE_COLUMNS, decision_row, feature_row

pytestmark = pytest.mark.integration


def test_explain_reproduces_the_recorded_score_and_flags_a_mismatch(
        clickhouse_client, sink_owned_state, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from models.artifact import write_artifact
    from models.data import frame_to_dataset
    from models.registry import Registry
    from models.synth import REASONS, make_loans
    from models.train import TrainConfig, train
    from streams.cli import app as cli

    cols = ["bureau_score", "dti", "apps_24h"]
    frame = make_loans(3000, seed=8)[["event_time", "label_default", *cols]]
    ds = frame_to_dataset(frame, "label_default", "event_time", features=cols)
    cfg = TrainConfig(name="pd", model="lightgbm", reasons=REASONS)
    reg = Registry(tmp_path / "models")
    version = reg.register(write_artifact(tmp_path / "a", train(ds, cfg), ds, cfg,
                                          version="pd-explain-1"))
    model = reg.load_version(version)
    # the logged vector carries more features than the model uses, in another order
    names = ["apps_24h", "extra_feature", "dti", "bureau_score"]
    values = [2.0, 5.0, None, 540.0]
    pd_ = model.score(np.array([540.0, np.nan, 2.0]))  # the model's own column order
    t = int(datetime(2041, 1, 2, tzinfo=UTC).timestamp() * 1000)
    rows, vectors = [], []
    for app, recorded in (("explain-ok", pd_), ("explain-tampered", pd_ + 0.01)):
        rows.append(decision_row({
            "application_id": app, "event_time": t, "decided_at": t + 9, "product": "BNPL",
            "decision": "DECLINE", "pd": recorded, "worker": "w-1",
            "reason_codes": [{"code": "R01", "text": "Credit bureau score too low",
                              "source": "MODEL"}],
            "versions": {"model_pd": version, "rules": "r-1", "policy": "p-1"}}))
        vectors.append(feature_row({"application_id": app, "event_time": t, "product": "BNPL",
                                    "feature_spec_version": "fs-x", "names": names,
                                    "values": values}))
    clickhouse_client.insert("decisions", rows, column_names=list(DECISION_COLUMNS))
    clickhouse_client.insert("feature_vectors", vectors, column_names=list(FEATURE_COLUMNS))

    run = CliRunner().invoke
    ok = run(cli, ["explain", "explain-ok", "--registry", str(reg.root), "--json"])
    bad = run(cli, ["explain", "explain-tampered", "--registry", str(reg.root)])
    missing = run(cli, ["explain", "explain-nobody", "--registry", str(reg.root)])
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.output)
    check = out["reproduction"][0]
    assert check["reproduced"] is True and check["model"] == "pd-explain-1"
    assert check["recomputed"] == pytest.approx(pd_, abs=1e-12)
    drivers = {d["feature"]: d["value"] for d in check["drivers"]}
    assert drivers.get("bureau_score") == 540.0  # the value the applicant had, by name
    assert "extra_feature" not in drivers and out["versions"]["rules"] == "r-1"
    assert bad.exit_code == 3 and "DIFFERS" in bad.output
    assert missing.exit_code == 1 and "no decision for explain-nobody" in missing.output
