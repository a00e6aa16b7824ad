"""Test cells on the real Redis and ClickHouse: the worker's decisions carry the cell drawn
from the applicant's keyed identity, and the cell views add up the way pandas does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from decisions.cells import Cells
from decisions.policy import DEFAULT_POLICY_PATH
from features.identity import hash_identifier
from models.registry import Registry
from schemas import codec_for
from sinks.rows import DECISION_COLUMNS, PERFORMANCE_COLUMNS, decision_row
from streams.settings import Settings
from streams.worker.compose import build_pipeline
from tests.harness import train_artifact
from tests.records import live_traffic

pytestmark = pytest.mark.integration

KEY = "cells-test"
STRATEGY = "strategy:itest-loose"


def _cells_file(tmp_path: Path) -> Path:
    loose = DEFAULT_POLICY_PATH.read_text().replace('version: "2025.06.1"',
                                                    'version: "itest-loose"')
    for a, b in (("approve_below: 0.08, decline_at: 0.15", "approve_below: 0.3, decline_at: 0.5"),
                 ("approve_below: 0.07, decline_at: 0.14", "approve_below: 0.3, decline_at: 0.5"),
                 ("approve_below: 0.10, decline_at: 0.18", "approve_below: 0.3, decline_at: 0.5")):
        loose = loose.replace(a, b)
    (tmp_path / "loose.yaml").write_text(loose)
    path = tmp_path / "cells.yaml"
    path.write_text("""
version: "itest"
salt: "itest-salt"
exploration: {share: 0.2, max_pd: 0.6,
              max_amount: {CREDIT_CARD: 400, PERSONAL_LOAN: 1200, BNPL: 120}}
strategies: [{name: itest-loose, share: 0.2, policy: loose.yaml}]
""")
    return path


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> list[dict[str, Any]]:
    """300 simulated applications decided by a worker pipeline with a PD champion and the
    test's cells file (exploration 20%, one strategy cell 20%)."""
    work = tmp_path_factory.mktemp("cells")
    reg = Registry(work / "models")
    reg.promote(reg.register(train_artifact(work, "pd-cells", name="pd", seed=5)), "champion")
    settings = Settings(redis_url=redis_url, redis_prefix="cells", state_dir=work,
                        hash_key=KEY, cells_file=_cells_file(work), redis_timeout_ms=5000)
    p = build_pipeline(settings)
    apps, dev, beh = live_traffic(300, seed=21)
    for i in range(0, len(dev), 100):  # a shared 2-core machine: small calls
        p.features.ingest_session_events(dev[i:i + 100], [])
    for i in range(0, len(beh), 2000):
        p.features.ingest_session_events([], beh[i:i + 2000])
    out = [d for i in range(0, len(apps), 50) for d in p.decide_batch(apps[i:i + 50])]
    codec = codec_for("decision")
    nid = {a["application_id"]: a["national_id"] for a in apps}
    return [{**codec.decode(d.decision_bytes), "national_id": nid[d.application_id]}
            for d in out]


def test_every_decision_carries_the_cell_of_its_applicants_keyed_identity(
        decided: list[dict[str, Any]], tmp_path: Path) -> None:
    cells = Cells.from_yaml(_cells_file(tmp_path))
    for rec in decided:  # recomputed from the national id and the key, independently
        expect = cells.assign({"NATIONAL_ID_HASH": hash_identifier(KEY.encode(), "id",
                                                                   rec["national_id"])})
        assert rec["cell"] == expect
        assert rec["versions"]["cells"].startswith("itest+")
        if rec["cell"] == STRATEGY:
            assert rec["versions"]["policy"].startswith("itest-loose+")
        else:
            assert rec["versions"]["policy"].startswith("2025.06.1+")
    by_cell = pd.Series([r["cell"] for r in decided]).value_counts()
    assert set(by_cell.index) == {"control", "explore", STRATEGY}
    explored = [r for r in decided if r["cell"] == "explore" and r["decision"] == "APPROVE"
                and r["pd"] >= _approve_below(r["product"])]
    assert explored, "no exploration approval below the cutoff in 300 applications"
    caps = {"CREDIT_CARD": 400, "PERSONAL_LOAN": 1200, "BNPL": 120}
    assert all(r["offer"]["amount"] <= caps[r["product"]] for r in explored)
    assert not [r for r in decided if r["cell"] == "control" and r["decision"] == "APPROVE"
                and r["pd"] >= _approve_below(r["product"])]


def _approve_below(product: str) -> float:
    return {"CREDIT_CARD": 0.08, "PERSONAL_LOAN": 0.07, "BNPL": 0.10}[product]


def test_cell_views_match_an_independent_computation(
        decided: list[dict[str, Any]], clickhouse_client: Any) -> None:
    from sinks.ddl import apply_ddl

    apply_ddl(clickhouse_client)
    clickhouse_client.insert("decisions", [decision_row(r) for r in decided],
                             column_names=list(DECISION_COLUMNS))
    perf, expect = _performance(decided)
    clickhouse_client.insert("loan_performance", perf, column_names=list(PERFORMANCE_COLUMNS))
    got = clickhouse_client.query_df(
        "SELECT * FROM cell_performance WHERE cell IN ('explore', {s:String})",
        parameters={"s": STRATEGY})
    got = got.set_index(["cell", "product"]).sort_index()
    assert {c for c, _ in got.index} == {"explore", STRATEGY}
    want = expect.loc[got.index]
    for col in ("applications", "loans", "matured", "bads", "frauds"):
        assert got[col].astype(int).tolist() == want[col].astype(int).tolist(), col
    for col in ("approval_rate", "bad_rate", "exposure", "interest", "loss", "profit"):
        assert got[col].astype(float).tolist() == pytest.approx(
            want[col].astype(float).tolist(), abs=0.011), col
    vint = clickhouse_client.query_df(
        "SELECT month_on_book, sum(loans) AS loans, sum(bads_60dpd) AS bads "
        "FROM vintages_by_cell WHERE cell = 'explore' GROUP BY month_on_book "
        "ORDER BY month_on_book")
    n_explore = int(want.xs("explore", level="cell")["loans"].sum())
    bads = int(want.xs("explore", level="cell")["bads"].sum())
    assert vint["loans"].tolist() == [n_explore] * 4 + [n_explore - bads] * 2
    assert vint["bads"].tolist()[:4] == [0, 0, bads, bads]


def _performance(decided: list[dict[str, Any]]) -> tuple[list[list[Any]], pd.DataFrame]:
    """Six monthly statements per approved loan; every third is 60+ DPD in month 3 and
    charged off in month 4 at half its amount (its last statement); and the cell figures
    they imply."""
    rows: list[list[Any]] = []
    loans = []
    for i, r in enumerate(r for r in decided if r["decision"] == "APPROVE"):
        amount, apr, bad = r["offer"]["amount"], r["offer"]["apr"], i % 3 == 0
        interest = loss = 0.0
        for mob in range(1, 5 if bad else 7):
            dpd = 60 if bad and mob == 3 else (180 if bad and mob == 4 else 0)
            status = "CHARGED_OFF" if bad and mob == 4 else "OPEN"
            balance = amount / 2 if bad and mob == 4 else amount
            interest += balance * apr / 12 if dpd == 0 else 0.0
            loss += balance if status == "CHARGED_OFF" else 0.0
            rows.append([f"{r['application_id']}-{mob}", f"l-{r['application_id']}",
                         r["application_id"], r["event_time"] + mob * 2_600_000_000, mob, dpd,
                         balance, status])
        loans.append({"cell": r["cell"], "product": r["product"], "bad": int(bad),
                      "exposure": amount, "interest": interest, "loss": loss})
    apps = pd.DataFrame([{"cell": r["cell"], "product": r["product"],
                          "approved": r["decision"] == "APPROVE"} for r in decided])
    a = apps.groupby(["cell", "product"]).agg(applications=("approved", "size"),
                                              approval_rate=("approved", "mean"))
    lo = pd.DataFrame(loans).groupby(["cell", "product"]).agg(
        loans=("bad", "size"), bads=("bad", "sum"), exposure=("exposure", "sum"),
        interest=("interest", "sum"), loss=("loss", "sum"))
    out = a.join(lo).fillna(0)
    out["matured"] = out["loans"]  # 6 months on book, or defaulted
    out["bad_rate"] = out["bads"] / out["matured"].where(out["matured"] > 0)
    out["frauds"] = 0
    out["profit"] = out["interest"] - out["loss"]
    return rows, out
