"""`loanrisk train --source clickhouse --reject-inference explore` on the real ClickHouse
(chDB): the exploration cell's loans booked below the PD cutoff carry 1 / the cell's share,
every other loan 1, and the manifest records it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from decisions.cells import Cells
from decisions.policy import Policy
from models.errors import DataError
from models.synth import make_loans
from models.workflow import ExploreDesign, training_data_from_clickhouse
from sinks.rows import DECISION_COLUMNS, PERFORMANCE_COLUMNS, decision_row
from tests.records import decision

pytestmark = pytest.mark.integration

DAY = 86_400_000
MONTH = 30 * DAY
T0 = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1000)
COLS = ["bureau_score", "dti", "apps_24h"]
CUT = 0.07  # the packaged policy's PERSONAL_LOAN approve_below


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _cells(tmp_path: Path) -> Path:
    path = tmp_path / "cells.yaml"
    path.write_text('version: "ri-itest"\nsalt: "s"\nexploration: {share: 0.2, max_pd: 0.6, '
                    'max_amount: {CREDIT_CARD: 400, PERSONAL_LOAN: 1200, BNPL: 120}}\n')
    return path


@pytest.fixture(scope="module")
def logged(clickhouse_client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """1,600 applications: control approves below the cutoff and declines above it (no
    performance); the explore cell (a fifth) is approved above it too. Booked loans get 7
    monthly statements, 60+ DPD from month 3 when their label is bad."""
    from sinks.ddl import apply_ddl

    cells = Cells.from_yaml(_cells(tmp_path_factory.mktemp("ri")))
    policy = Policy.default()
    apply_ddl(clickhouse_client)
    for t in ("decisions", "feature_vectors", "loan_performance"):
        clickhouse_client.command(f"TRUNCATE TABLE IF EXISTS {t}")
    book = make_loans(1600, seed=8)
    pd_ = np.clip(book["oracle_pd"].to_numpy() * 1.5, 0.001, 0.9)
    rng = np.random.default_rng(3)
    cell = np.where(rng.random(len(book)) < 0.2, "explore", "control")
    approve = (pd_ < CUT) | (cell == "explore")
    decisions, vectors, perf, explored = [], [], [], []
    for i, r in enumerate(book.itertuples()):
        app, t = f"ri-{i}", T0 + i * 1000
        decisions.append(decision_row(decision(
            application_id=app, event_time=t, decided_at=t + 5, pd=float(pd_[i]),
            decision="APPROVE" if approve[i] else "DECLINE", cell=str(cell[i]),
            versions={"cells": cells.version, "policy": policy.version})))
        vectors.append([app, _dt(t), "PERSONAL_LOAN", "fs-ri", COLS,
                        [r.bureau_score, r.dti, r.apps_24h]])
        if not approve[i]:
            continue
        if pd_[i] >= CUT:
            explored.append(app)
        for m in range(1, 8):
            dpd = 60 if r.label_default and m >= 3 else 0
            perf.append([f"{app}-{m}", f"loan-{app}", app, _dt(t + m * MONTH), m, dpd, 1.0,
                         "DELINQUENT" if dpd else "CURRENT"])
    clickhouse_client.insert("decisions", decisions, column_names=list(DECISION_COLUMNS))
    clickhouse_client.insert("feature_vectors", vectors, column_names=[
        "application_id", "event_time", "product", "feature_spec_version", "names", "values"])
    clickhouse_client.insert("loan_performance", perf, column_names=list(PERFORMANCE_COLUMNS))
    return {"cells": cells, "policy": policy, "explored": set(explored),
            "booked": int(approve.sum()), "as_of": _dt(T0 + 12 * MONTH).isoformat()}


def test_explored_loans_weigh_one_over_the_cells_share(clickhouse_client: Any,
                                                       logged: dict[str, Any]) -> None:
    c, pol = logged["cells"], logged["policy"]
    design = ExploreDesign(0.2, c.version, {"PERSONAL_LOAN": CUT}, pol.version)
    ds, _ = training_data_from_clickhouse(clickhouse_client, "label_default", None,
                                          as_of=logged["as_of"], min_matured=1, min_bads=1,
                                          include_fraud=True, explore=design)
    assert ds.ids is not None and ds.weight is not None and len(ds.y) == logged["booked"]
    want = np.array([5.0 if i in logged["explored"] else 1.0 for i in ds.ids])
    assert np.array_equal(ds.weight, want) and (want == 5.0).sum() == len(logged["explored"])
    assert ds.reject_inference["explored_loans"] == len(logged["explored"]) > 20
    other = ExploreDesign(0.2, "another+0", {"PERSONAL_LOAN": CUT}, pol.version)
    with pytest.raises(DataError, match="cells file ri-itest"):
        training_data_from_clickhouse(clickhouse_client, "label_default", None,
                                      as_of=logged["as_of"], min_matured=1, min_bads=1,
                                      explore=other)


def test_cli_trains_with_reject_inference_and_records_it(
        logged: dict[str, Any], sink_owned_state: Any, tmp_path: Path) -> None:
    from models.registry import Registry
    from streams.cli import app as cli

    reg = Registry(tmp_path / "models")
    args = ["train", "--source", "clickhouse", "--as-of", logged["as_of"], "--registry",
            str(reg.root), "--model", "logistic", "--min-matured", "1", "--min-bads", "1",
            "--include-fraud", "--reject-inference", "explore", "--cells",
            str(_cells(tmp_path))]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "reject inference explore" in result.stdout
    m = reg.show(reg.list()[0]["version"])
    ri = m["reject_inference"]
    assert ri["explored_loans"] == len(logged["explored"]) and ri["share"] == 0.2
    assert ri["weight_of_an_explored_loan"] == 5.0 and ri["cells"] == logged["cells"].version
    bad = CliRunner().invoke(cli, [*args[:-4], "--reject-inference", "parcel"])
    assert bad.exit_code == 2 and "applies explore" in bad.stderr
