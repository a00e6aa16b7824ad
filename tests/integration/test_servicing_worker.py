"""The servicing worker on real Kafka, Redis and ClickHouse: statements in, one decision
per statement out with scores, actions, reasons and versions, recomputed offline from the
same statements; a bad message is dead-lettered and the worker carries on; the sink lands
the decisions and the collections views read them."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from decisions.servicing_policy import AccountView, ServicingPolicy
from features.behaviour import facts_from_frame, window_features
from features.observation import SPEC_FOR_TARGET, delinquency_entries, observation_points
from models.registry import Registry
from models.train import TrainConfig
from models.workflow import train_and_register, training_data_from_file
from schemas import codec_for
from schemas.topics import ACCOUNT_ACTIONS, DEADLETTER, STATEMENTS
from simulator.config import SimConfig
from simulator.history import generate_history
from simulator.records import records_from_frame
from simulator.statements import simulate_statements
from streams.settings import Settings
from streams.sink.writer import ClickHouseSink, clickhouse_insert
from streams.worker.servicing import ServicingWorker
from streams.worker.servicing_core import Scorers
from tests.harness import consume_until, publish

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Scorers]:
    """A small book's statements and B-score / collection models trained on them."""
    work = tmp_path_factory.mktemp("servicing")
    apps = generate_history(SimConfig(), 900, 2, seed=31).applications
    st = simulate_statements(SimConfig(), apps, 12, seed=31)
    tag = uuid.uuid4().hex[:6]
    for col in ("account_id", "statement_id"):
        st[col] = tag + "-" + st[col]
    reg = Registry(work / "models")
    models = []
    for name, target, table in (("bscore", "label_bscore", observation_points(st).rows),
                                ("collection", "label_chargeoff",
                                 delinquency_entries(st).rows)):
        path = work / f"{name}.parquet"
        table.to_parquet(path)
        ds, meta = training_data_from_file(path, target, SPEC_FOR_TARGET[target],
                                           time_col="observation_time", id_col="account_id")
        done = train_and_register(ds, meta, TrainConfig(name=name, model="lightgbm"), reg,
                                  served_names=SPEC_FOR_TARGET[target].names,
                                  code_version={"git": "test"})
        models.append(reg.load_version(done.version))
    return st, Scorers(models[0], models[1])


def test_statements_in_decisions_out_landed_in_clickhouse(
        world: tuple[pd.DataFrame, Scorers], kafka_bootstrap: str, redis_url: str,
        clickhouse_client: Any, tmp_path: Path) -> None:
    st, scorers = world
    st = st.sort_values(["event_time", "statement_id"]).reset_index(drop=True)
    codec = codec_for(STATEMENTS.schema)
    msgs: list[Any] = [(STATEMENTS.name, r["account_id"].encode(), codec.encode(r), None)
                       for r in records_from_frame(st, STATEMENTS.schema)]
    bad_key = f"bad-{uuid.uuid4().hex[:6]}".encode()
    msgs.insert(10, (STATEMENTS.name, bad_key, b"not a statement", None))
    publish(kafka_bootstrap, msgs)
    settings = Settings(kafka_bootstrap=kafka_bootstrap, redis_url=redis_url,
                        redis_prefix=f"svc-{uuid.uuid4().hex[:6]}", state_dir=tmp_path,
                        servicing_group=f"svc-{uuid.uuid4().hex[:6]}")
    worker = ServicingWorker(settings, scorers)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    mine = set(st["statement_id"])
    codec_out = codec_for(ACCOUNT_ACTIONS.schema)

    def all_decided(ms: list[Any]) -> bool:
        got = {codec_out.decode(m.value())["statement_id"] for m in ms
               if m.topic() == ACCOUNT_ACTIONS.name}
        return mine <= got

    out = consume_until(kafka_bootstrap, [ACCOUNT_ACTIONS.name, DEADLETTER.name], all_decided,
                        timeout_s=120)
    stop.set()
    thread.join(30)
    decided = {}
    for m in out:
        if m.topic() == ACCOUNT_ACTIONS.name:
            rec = codec_out.decode(m.value())
            if rec["statement_id"] in mine:
                decided.setdefault(rec["statement_id"], rec)
    dead = [m for m in out if m.topic() == DEADLETTER.name and m.key() == bad_key]
    assert len(dead) == 1 and len(decided) == len(st)
    _check_against_offline(st, decided, scorers)
    _land_and_query(kafka_bootstrap, clickhouse_client, st, decided)


def _check_against_offline(st: pd.DataFrame, decided: dict[str, dict[str, Any]],
                           scorers: Scorers) -> None:
    """Every decision recomputed from the statements alone: the same features, scores
    and actions, and versions recorded."""
    policy = ServicingPolicy.from_yaml()
    actions_seen: set[str] = set()
    for _, g in st.sort_values(["account_id", "month_on_book"]).groupby("account_id"):
        facts = facts_from_frame(g)
        for i, row in enumerate(g.itertuples()):
            rec = decided[row.statement_id]
            f = window_features(facts[: i + 1])
            x = np.array([f[n] for n in scorers.bscore.feature_names])
            if row.days_past_due < 60 and row.status in ("CURRENT", "DELINQUENT"):
                assert rec["bscore"] == pytest.approx(scorers.bscore.score(x), abs=1e-12)
            else:
                assert rec["bscore"] is None
            kinds = [a["action"] for a in rec["actions"]]
            actions_seen.update(kinds)
            if row.days_past_due == 0 and rec["bscore"] is not None:
                view = AccountView(row.product == "CREDIT_CARD", row.month_on_book,
                                   f["utilisation"], f["worst_dpd_12m"], f["payment_ratio"],
                                   f["cash_advance_months_6m"], row.credit_limit,
                                   row.balance, row.income_on_file)
                want = [a.action for a in policy.account_actions(view, rec["bscore"])]
                assert kinds == want
            entering = row.days_past_due == 30 and (i == 0 or facts[i - 1].days_past_due == 0)
            assert ("COLLECTION_TREATMENT" in kinds) == bool(entering and row.status
                                                            == "DELINQUENT")
            assert rec["versions"]["policy"] == policy.version
            assert rec["versions"]["bscore"] == scorers.bscore.version
    assert {"EARLY_WARNING", "COLLECTION_TREATMENT"} <= actions_seen
    assert actions_seen & {"CREDIT_LINE_INCREASE", "CREDIT_LINE_DECREASE"}


def _land_and_query(bootstrap: str, client: Any, st: pd.DataFrame,
                    decided: dict[str, dict[str, Any]]) -> None:
    tag = st["account_id"].iloc[0].split("-")[0]
    sink = ClickHouseSink(bootstrap, clickhouse_insert(client), group=f"sink-{tag}",
                          max_age_s=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=sink.run, args=(stop,), daemon=True)
    thread.start()

    def count(table: str) -> int:
        return client.query(f"SELECT count() FROM {table} WHERE startsWith(account_id, "
                            f"'{tag}-')").result_rows[0][0]

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (count("account_decisions_of_record") < len(decided)
                                           or count("account_statements FINAL") < len(st)):
        time.sleep(0.5)
    stop.set()
    thread.join(60)
    assert count("account_decisions_of_record") == len(decided)
    n_actions = sum(len(r["actions"]) for r in decided.values())
    assert count("account_actions") == n_actions
    treated = sum(a["action"] == "COLLECTION_TREATMENT" for r in decided.values()
                  for a in r["actions"])
    rows = client.query("SELECT sum(treated) FROM collection_outcomes").result_rows
    assert rows[0][0] >= treated  # the view covers every treatment landed (ours included)
