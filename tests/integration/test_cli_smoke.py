"""Every ``loanrisk`` command, run for real on a small fresh state.

One state directory for the module (a fresh embedded ClickHouse store, a registry, a
worker group and Redis namespace of its own) on the session's Kafka and Redis. Commands
that need no process of their own run in-process (typer's CliRunner); the ones an
operator starts as processes (services, sink, worker, simulate live, demo) run as
``python -m streams.cli`` subprocesses. Long-running ones run until they did observable
work, then get SIGTERM. ``tests/cli_smoke_table.py`` lists every command path; the last
test checks each one was run here.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from decisions.policy import DEFAULT_POLICY_PATH
from decisions.rules import DEFAULT_RULES_PATH
from streams.cli import app
from streams.cli.errors import ERROR, USAGE
from streams.ops.stack import LocalStack
from streams.settings import Settings
from tests.cli_smoke_table import SMOKE_RUNS
from tests.harness import kill_orphans, wait_until

pytestmark = pytest.mark.integration

RAN: set[str] = set()  # command paths run so far in this session


def flat(output: str) -> str:
    """Output without rich's boxes and line wrapping, for substring checks."""
    return re.sub(r"[\s│╭╮╰╯─┃━┏┓┗┛┡┩]+", " ", output)


def _record(args: tuple[str, ...]) -> None:
    for k in range(len(args), 0, -1):
        path = " ".join(args[:k])
        if path in SMOKE_RUNS:
            RAN.add(path)
            return


@dataclass
class Smoke:
    """The module's state, and the two ways to run a command on it."""

    stack: LocalStack
    work: Path
    versions: dict[str, str] = field(default_factory=dict)  # role -> model version
    truth_ids: list[str] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    def cli(self, *args: str, code: int = 0) -> Result:
        """In-process, with the module's environment."""
        _record(args)
        env = {**self.stack.env(), "COLUMNS": "200"}  # rich tables unabridged
        result = CliRunner().invoke(app, list(args), env=env, prog_name="loanrisk")
        assert result.exit_code == code, f"loanrisk {' '.join(args)}:\n{result.output}"
        return result

    def sh(self, *args: str, code: int = 0, timeout: float = 300,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """As a process, the way an operator runs it (no terminal, stdin closed)."""
        _record(args)
        proc = subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env or
                              self.stack.env(), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=False)
        assert proc.returncode == code, \
            f"loanrisk {' '.join(args)} -> {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def query(self, sql: str) -> list[list[Any]]:
        """Over the sink's ClickHouse HTTP interface, as analysts' tools reach the store."""
        from streams.clients import analytics_client, embedded_http_dsn

        assert embedded_http_dsn(self.settings) is not None, "the sink is not serving queries"
        return [list(r) for r in analytics_client(self.settings).query(sql).result_rows]

    def ids_sql(self) -> str:
        return "('" + "','".join(self.truth_ids) + "')"


@pytest.fixture(scope="module")
def smoke(kafka_bootstrap: str, redis_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smoke]:
    tag = uuid.uuid4().hex[:8]
    root = tmp_path_factory.mktemp("cli-smoke")
    settings = Settings(state_dir=root / "state", kafka_bootstrap=kafka_bootstrap,
                        redis_url=redis_url, hash_key="smoke", worker_group=f"smoke-{tag}",
                        worker_offset_reset="latest", metrics_interval_s=1.0,
                        reload_interval_s=1.0, redis_prefix=f"smoke{tag}")
    stack = LocalStack(settings)
    try:
        yield Smoke(stack, root / "work")
    finally:
        stack.stop_all()
        kill_orphans(settings.state_dir)


def test_root_options(smoke: Smoke) -> None:
    from importlib.metadata import version

    assert smoke.cli("--version").output.strip() == f"loanrisk {version('loanrisk')}"
    script = smoke.sh("--show-completion", "bash").stdout  # no terminal, no shell to detect
    assert "complete -o default -F _loanrisk_completion loanrisk" in script
    assert "_LOANRISK_COMPLETE=complete_bash" in script


def test_services(smoke: Smoke) -> None:
    up = json.loads(smoke.sh("services", "up", "--json").stdout)
    assert up["healthy"] is True
    assert [s["name"] for s in up["services"]] == ["kafka", "redis", "clickhouse"]
    status = json.loads(smoke.sh("services", "status", "--json").stdout)
    assert status["healthy"] is True
    assert smoke.settings.bootstrap_servers in status["services"][0]["detail"]
    table = smoke.sh("services", "status").stdout
    assert "clickhouse" in table and "yes" in table


def _registered(output: str) -> str:
    m = re.search(r"registered (\S+) \(", output)
    assert m, output
    return m.group(1)


def test_simulate_features_and_models(smoke: Smoke) -> None:
    import yaml

    hist, table = smoke.work / "history", smoke.work / "features.parquet"
    assert "live" in yaml.safe_load(smoke.cli("simulate", "config").output)
    out = smoke.cli("simulate", "history", "-n", "3000", "--months", "6", "--seed", "3",
                    "--out", str(hist)).output
    assert "3,000 applications" in out and (hist / "applications.parquet").exists()
    assert "bureau_score" in smoke.cli("features", "spec").output
    assert "wrote 3000 rows" in smoke.cli("features", "build", "--history", str(hist),
                                          "--out", str(table)).output
    common = ("--data", str(table), "--time-col", "event_time", "--id-col", "application_id",
              "--model", "lightgbm")
    for role, name, target, seed in (("champion", "pd", "label_default", "0"),
                                     ("champion", "fraud", "label_fraud", "0"),
                                     ("challenger", "pd", "label_default", "1")):
        promote = ("--promote", "champion") if role == "champion" else ()
        out = smoke.cli("train", *common, "--target", target, "--name", name, "--seed", seed,
                        *promote).output
        smoke.versions[f"{role}-{name}"] = _registered(out)
    challenger = smoke.versions["challenger-pd"]
    smoke.cli("models", "promote", challenger, "--challenger")
    roles = {m["version"]: m["role"] or "" for m in
             json.loads(smoke.cli("models", "list", "--json").stdout)}
    assert "champion" in roles[smoke.versions["champion-pd"]]
    assert "champion" in roles[smoke.versions["champion-fraud"]]
    assert "challenger" in roles[challenger]
    assert challenger in smoke.cli("models", "list").output  # the table form
    shown = smoke.cli("models", "show", smoke.versions["champion-pd"]).output
    assert "label_default" in shown
    report = smoke.work / "eval"
    smoke.cli("evaluate", "--model", smoke.versions["champion-pd"], "--data", str(table),
              "--out", str(report))
    assert any(report.iterdir())
    study = json.loads(smoke.cli("reject-inference", "--data", str(table), "--rounds", "30",
                                 "--json").stdout)
    assert {m["method"] for m in study["methods"]} >= {"booked only", "RI: explore", "oracle"}
    assert study["winner"].startswith("RI: ")


def test_servicing_lifecycle(smoke: Smoke) -> None:
    """Statements of the smoke history's accounts, both observation-point tables, and the
    B-score trained from them (with its oracle)."""
    hist = smoke.work / "history"
    out = smoke.cli("simulate", "statements", "--history", str(hist), "--months", "12",
                    "--accounts", "1500", "--seed", "3").output
    assert "statements of 1,500 accounts" in out and (hist / "statements.parquet").exists()
    obs, dq = smoke.work / "observation_points.parquet", smoke.work / "entries.parquet"
    assert "observation-points" in smoke.cli("features", "build", "--history", str(hist),
                                             "--out", str(obs), "--kind",
                                             "observation-points").output
    assert "delinquency-entries" in smoke.cli("features", "build", "--history", str(hist),
                                              "--out", str(dq), "--kind",
                                              "delinquency-entries").output
    out = smoke.cli("train", "--data", str(obs), "--target", "label_bscore", "--time-col",
                    "observation_time", "--id-col", "account_id", "--name", "bscore",
                    "--model", "lightgbm", "--promote", "champion").output
    assert "oracle AUC" in out
    smoke.versions["bscore"] = _registered(out)
    out = smoke.cli("train", "--data", str(dq), "--target", "label_chargeoff", "--time-col",
                    "observation_time", "--id-col", "account_id", "--name", "collection",
                    "--model", "lightgbm", "--promote", "champion").output
    smoke.versions["collection"] = _registered(out)
    figures = json.loads(smoke.cli("servicing", "evaluate", "--history", str(hist), "--bscore",
                                   smoke.versions["bscore"], "--collection",
                                   smoke.versions["collection"], "--json").stdout)
    assert 0.5 < figures["bscore"]["auc"] <= figures["bscore"]["oracle_auc"]
    names = [s["name"] for s in figures["strategies"]]
    assert names == ["no treatment", "random (history)", "policy", "oracle best"]
    net = {s["name"]: s["net_cost"] for s in figures["strategies"]}
    assert net["oracle best"] <= min(net.values()) + 1e-6
    table = smoke.cli("servicing", "evaluate", "--history", str(hist), "--bscore",
                      smoke.versions["bscore"], "--collection", smoke.versions["bscore"],
                      code=ERROR).output
    assert "label_chargeoff" in table  # a B-score is not a collection score
    missing = smoke.cli("features", "build", "--history", str(smoke.work), "--out",
                        str(obs), "--kind", "observation-points", code=ERROR)
    assert "simulate statements" in missing.output
    _servicing_live(smoke, hist)


def _servicing_live(smoke: Smoke, hist: Path, n: int = 200) -> None:
    """`servicing worker` as a process (its own group, reading from the end once it has
    its partitions) and `servicing publish`: a decision for each of the first ``n``
    statements, with the champions' versions, then a clean stop on SIGTERM."""
    import pandas as pd

    from schemas import codec_for
    from schemas.topics import ACCOUNT_ACTIONS
    from tests.harness import consume_until

    assert "--loglevel" in smoke.sh("servicing", "worker", "--loglevel", "loud",
                                    code=USAGE).stderr
    _record(("servicing", "worker"))
    proc = smoke.stack.spawn("servicing-worker", "servicing", "worker",
                             LOANRISK_SERVICING_GROUP=f"smoke-{uuid.uuid4().hex[:6]}")
    try:
        smoke.stack.wait_for_log(proc, "Servicing worker ready", timeout_s=180)
        out = smoke.cli("servicing", "publish", "--history", str(hist), "--limit",
                        str(n)).output
        assert f"published {n} statements" in out
        st = pd.read_parquet(hist / "statements.parquet").sort_values(
            ["event_time", "statement_id"], kind="stable")
        mine = set(st["statement_id"].iloc[:n])
        codec = codec_for(ACCOUNT_ACTIONS.schema)

        got: dict[str, dict[str, Any]] = {}
        read = [0]

        def all_decided(ms: list[Any]) -> bool:  # decodes each message once
            for m in ms[read[0]:]:
                r = codec.decode(m.value())
                if r["statement_id"] in mine:
                    got.setdefault(r["statement_id"], r)
            read[0] = len(ms)
            return len(got) >= n

        consume_until(smoke.settings.kafka, [ACCOUNT_ACTIONS.name], all_decided, timeout_s=180)
        assert len(got) == n, f"{len(got)} decisions of {n}; see {proc.log}"
        versions = next(iter(got.values()))["versions"]
        assert versions["bscore"] == smoke.versions["bscore"]
        assert versions["collection"] == smoke.versions["collection"]
    finally:
        code = proc.stop()
    assert code == 0, proc.log.read_text()[proc.log_start:][-3000:]


def test_rules_and_policy(smoke: Smoke) -> None:
    assert "valid" in smoke.cli("rules", "validate", str(DEFAULT_RULES_PATH)).output
    out = smoke.cli("rules", "backtest", str(DEFAULT_RULES_PATH), "--on",
                    str(smoke.work / "features.parquet"), "--skip-unevaluable",
                    "--json").stdout  # the training table has no model scores
    figures = json.loads(out)
    assert figures  # every figure of the backtest, as JSON
    assert "released" in smoke.cli("rules", "release", str(DEFAULT_RULES_PATH),
                                   "--author", "smoke").output
    shown = smoke.cli("policy", "show").output
    assert all(p in shown for p in ("CREDIT_CARD", "PERSONAL_LOAN", "BNPL"))
    assert shown == smoke.cli("policy", "show", str(DEFAULT_POLICY_PATH)).output
    assert "released policy" in smoke.cli("policy", "release", str(DEFAULT_POLICY_PATH),
                                          "--author", "smoke").output
    # the optimiser on the simulated history (scored with the champions), then its swap set
    opt, apps = smoke.work / "optimised", smoke.work / "history" / "applications.parquet"
    on = ("--on", str(smoke.work / "features.parquet"), "--applications", str(apps),
          "--skip-unevaluable")
    rec = json.loads(smoke.cli("policy", "optimise", *on, "--fairness", "no-worse", "--grid",
                               "8", "--out", str(opt), "--json").stdout)
    assert rec["constraints"] and all(c["met"] for c in rec["constraints"])
    assert rec["optimised"]["profit"] >= rec["base"]["profit"]
    assert "PERSONAL_LOAN" in smoke.cli("policy", "show", str(opt / "policy.yaml")).output
    swap = json.loads(smoke.cli("policy", "compare", str(DEFAULT_POLICY_PATH),
                                str(opt / "policy.yaml"), *on, "--json").stdout)
    assert sum(g["count"] for g in swap["groups"]) == swap["applications"] == rec["applications"]
    # the fair-lending levers on the same history, measured with the simulator's truth
    levers = json.loads(smoke.cli("policy", "fair-levers", *on, "--grid", "6", "--drop-proxies",
                                  "0,3", "--json").stdout)
    names = [p["lever"] for p in levers["portfolio"]]
    assert names[0].startswith("cutoff") and names[-1].startswith("oracle +")
    assert any("without 3 age proxies" in n for n in names)
    for f in levers["products"]:
        today, best = f["today"], f["best"]
        assert best["bad_rate"] <= today["bad_rate"] + 1e-9
        if f["lever"] == names[0]:  # today's policy is one of its points
            assert (best["min_adverse_impact"] or 1) >= (today["min_adverse_impact"] or 1) - 1e-9


def test_lists(smoke: Smoke) -> None:
    tag = uuid.uuid4().hex[:8]
    device, phone = f"smoke-dev-{tag}", f"+4477009{int(tag, 16) % 10**5:05d}"
    assert smoke.cli("lists", "add", "BLOCK", "--device-id", device, "--reason", "ring",
                     "--expires", "30d").output.strip() == f"added BLOCK:DEVICE_ID:{device}"
    assert smoke.cli("lists", "add", "BLOCK", "--phone", phone,
                     "--reason", "mule").output.strip() == "added BLOCK:PHONE_HASH"
    entries = json.loads(smoke.cli("lists", "show", "--json").stdout)
    mine = [e for e in entries if e["value"] == device]
    assert len(mine) == 1 and mine[0]["reason"] == "ring" and mine[0]["active"] is True
    assert phone not in json.dumps(entries)  # a phone leaves only as its keyed hash
    assert device in smoke.cli("lists", "show").output

    assert smoke.cli("lists", "remove", "BLOCK", "--device-id",
                     device).output.strip() == "removed BLOCK:DEVICE_ID"
    again = smoke.cli("lists", "remove", "BLOCK", "--device-id", device, code=ERROR)
    assert "no such entry" in again.output and "removed" not in again.output
    forced = smoke.cli("lists", "remove", "BLOCK", "--device-id", device, "--force")
    assert "there was no such entry" in forced.output

    rows = smoke.work / "lists.csv"
    rows.write_text("list_type,identifier_type,value,reason\n"
                    f"ALLOW,DEVICE_ID,{device}-a,vip\nBLOCK,EMAIL,{tag}@example.com,fraud\n")
    assert "published 2 list updates" in smoke.cli("lists", "import", str(rows)).output
    values = {e["value"] for e in json.loads(smoke.cli("lists", "show", "--json").stdout)}
    assert f"{device}-a" in values and device not in values


def test_lists_show_with_kafka_down_names_services_up(smoke: Smoke) -> None:
    env = {**smoke.stack.env(), "LOANRISK_KAFKA_BOOTSTRAP": "127.0.0.1:9"}  # nobody listens
    proc = smoke.sh("lists", "show", "--timeout", "2", code=ERROR, env=env)
    assert "loanrisk services up" in proc.stderr and "Traceback" not in proc.stderr
    proc = smoke.sh("monitor", "--once", "--json", code=ERROR, env=env)
    assert "loanrisk services up" in proc.stderr and proc.stdout == ""


def _run_traffic(smoke: Smoke) -> tuple[Any, Any]:
    """The sink and one worker as processes, then a few seconds of live traffic."""
    import pandas as pd

    stack = smoke.stack
    RAN.update({"sink", "worker"})
    sink = stack.sink()
    stack.wait_for_log(sink, "sink owns", timeout_s=120)
    worker = stack.worker(0)
    stack.wait_for_log(worker, "Worker ready", timeout_s=180)
    truth = smoke.work / "truth.parquet"
    out = smoke.sh("simulate", "live", "--rate", "20", "--duration", "3", "--seed", "5",
                   "--no-decisions", "--truth-out", str(truth)).stdout
    smoke.truth_ids = list(pd.read_parquet(truth)["application_id"])
    n = len(smoke.truth_ids)  # paced in real time: about --rate x --duration
    assert n > 20 and f"published {n} applications" in out
    wait_until(lambda: smoke.query(f"SELECT count() FROM decisions_of_record WHERE application_id "
                                   f"IN {smoke.ids_sql()}")[0][0] == n,
               180, f"the {n} decisions in ClickHouse")
    return sink, worker


def test_pipeline(smoke: Smoke) -> None:
    sink, worker = _run_traffic(smoke)
    ids, n = smoke.ids_sql(), len(smoke.truth_ids)

    snap = json.loads(smoke.cli("monitor", "--once", "--json", "--settle", "3").stdout)
    assert snap["totals"]["workers"] == 1 and snap["totals"]["lag"] == 0
    assert [w["worker"] for w in snap["workers"]] == ["worker-0"]

    by_decision = json.loads(smoke.cli(
        "sql", f"SELECT decision, count() AS n FROM decisions_of_record WHERE application_id IN "
        f"{ids} GROUP BY decision ORDER BY decision", "--format", "json").stdout)
    assert by_decision["columns"] == ["decision", "n"]
    assert sum(count for _, count in by_decision["rows"]) == n
    shadow_sql = (f"SELECT application_id, decision, shadow_decision, product FROM "
                  f"decisions_of_record WHERE application_id IN {ids} ORDER BY application_id")
    exported = smoke.cli("sql", shadow_sql, "--format", "csv").stdout
    assert "\r" not in exported and exported.count("\n") == n + 1
    assert f"│ {n} " in smoke.cli("sql", f"SELECT count() FROM decisions_of_record WHERE "
                                   f"application_id IN {ids}").output  # the table form
    assert smoke.cli("sql", f"{shadow_sql} FORMAT CSVWithNames").stdout == exported
    incomplete = smoke.cli("sql", "SELECT count() FROM decisions_of_record WHERE", code=ERROR)
    assert "the query is incomplete at its end" in incomplete.output
    assert "Native" not in incomplete.output  # nothing about the clause the client appends
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert all(r["shadow_decision"] for r in rows), "the challenger decided each one too"

    explained = json.loads(smoke.cli("explain", rows[0]["application_id"], "--json").stdout)
    assert explained["decision"] == rows[0]["decision"]
    assert explained["versions"]["model_pd"] == smoke.versions["champion-pd"]
    assert explained["reproduction"] and all(c["reproduced"] for c in explained["reproduction"])

    figures = smoke.work / "drift.json"
    assert "PSI" in smoke.cli("drift", "--window", "1h", "--json", str(figures),
                              "--min-rows", "1").output  # a smoke-sized window
    drift = json.loads(figures.read_text())
    assert drift["features"] and drift["scores"][0]["rows"] == n

    on_file = smoke.work / "shadow.csv"
    on_file.write_text(exported)
    from_file = flat(smoke.cli("shadow", "report", "--on", str(on_file)).output)
    assert f"{n} applications with a shadow decision" in from_file
    from_clickhouse = flat(smoke.cli("shadow", "report").output)  # --on clickhouse
    m = re.search(r"(\d+) applications with a shadow decision", from_clickhouse)
    assert m and int(m[1]) >= n and "disagreement matrix" in from_clickhouse
    smoke.cli("rules", "backtest", str(DEFAULT_RULES_PATH), "--on", "clickhouse",
              "--since", "2000-01-01", "--until", "2100-01-01")

    assert worker.stop() == 0 and sink.stop() == 0  # SIGTERM: flush, commit, stop
    sink_log = sink.log.read_text()[sink.log_start:]
    assert "sink stopped" in sink_log


def test_demo(smoke: Smoke) -> None:
    """The smallest honest demo: its own store and group, the champions already trained
    (PD and fraud, B-score and collection); a summary line for each of the four stages."""
    demo_state = smoke.work / "demo-state"
    shutil.copytree(smoke.settings.models_dir, demo_state / "models")
    env = {**smoke.stack.env(), "LOANRISK_STATE_DIR": str(demo_state)}
    try:
        out = smoke.sh("demo", "--rate", "20", "--duration", "2", "--workers", "1",
                       env=env, timeout=300).stdout
    finally:
        kill_orphans(demo_state)  # the demo's own sink and worker, if it was stopped early
    flat_out = flat(out)
    assert "already in the registry" in flat_out  # no 60k-application bootstrap
    m = re.search(r"applications published (\d+), decided (\d+)", flat_out)
    assert m and int(m[1]) > 10 and m[2] == m[1], out[-3000:]
    assert "approval rate" in flat_out and "loanrisk sql" in flat_out
    assert "B-score and collection models already in the registry" in flat_out
    q = re.search(r"quotes: requested (\d+), quoted (\d+) ", flat_out)
    assert q and int(q[1]) > 0 and q[2] == q[1], out[-3000:]
    s = re.search(r"account actions: statements published (\d+), decided (\d+);", flat_out)
    assert s and int(s[1]) > 0 and s[2] == s[1], out[-3000:]
    assert re.search(r"collection treatments: \d+ accounts entering 30 DPD treated", flat_out)
    assert re.search(r"review console on http://127\.0\.0\.1:\d+/ \(log in as demo", flat_out)
    r = re.search(r"reviews worked (\d+) of (\d+) REVIEW cases by the simulated reviewers: "
                  r"confirmed fraud (\d+), cleared (\d+), accuracy vs truth \S+, labels "
                  r"landed (\d+)", flat_out)
    assert r, out[-3000:]
    worked, cases, confirmed, cleared, labels = map(int, r.groups())
    assert worked <= cases and labels == worked == confirmed + cleared
    assert cases == 0 or worked > 0  # the drain leaves time for the few cases of a tiny run


def test_console(smoke: Smoke) -> None:
    """Accounts, then the console as a process: it serves its login page and refuses the
    queue without a login (the browser tests drive it in test_console.py)."""
    import socket
    import urllib.request

    env = {**smoke.stack.env(), "SMOKE_PW": "a long enough password"}
    smoke.sh("console", "user", "add", "smoke-rev", "--role", "reviewer",
             "--password-env", "SMOKE_PW", env=env)
    smoke.sh("console", "user", "add", "smoke-rev", "--role", "reviewer",
             "--password-env", "SMOKE_PW", env=env, code=ERROR)  # exists: refused
    smoke.sh("console", "user", "add", "x", "--role", "boss", "--password-env", "SMOKE_PW",
             env=env, code=ERROR)
    assert {"user": "smoke-rev", "role": "reviewer"} in json.loads(
        smoke.sh("console", "user", "list", "--json").stdout)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _record(("console", "serve"))
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "console", "serve",
                             "--port", str(port)], env=smoke.stack.env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        def login_page() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    return r.status == 200 and b"Log in" in r.read()
            except OSError:
                return False

        wait_until(login_page, 90, "the console's login page")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/queue", timeout=5) as r:
            assert r.url.endswith("/login")  # redirected: no page without a login
    finally:
        proc.terminate()
        proc.wait(30)
    smoke.sh("console", "user", "remove", "smoke-rev")
    smoke.sh("console", "user", "remove", "smoke-rev", code=ERROR)


def test_services_down_leaves_remote_services_alone(smoke: Smoke) -> None:
    # Kafka and Redis are the session's (remote to this state): nothing local to stop
    assert "nothing was running" in smoke.sh("services", "down").stdout
    assert json.loads(smoke.sh("services", "status", "--json").stdout)["healthy"] is True


def test_every_command_in_the_table_was_run() -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("the table is checked in one process")
    assert set(SMOKE_RUNS) - RAN == set()
