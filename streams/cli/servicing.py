"""``loanrisk servicing``: the lifecycle after booking -- the evaluation against the
simulator's truth, and the servicing worker (statements in, account actions out)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from schemas.errors import LoanRiskError
from streams.cli.errors import USAGE, fail
from streams.settings import load_settings

app = typer.Typer(
    help="Servicing and collections: behaviour score, account actions, collection "
    "treatments, and their evaluation against the simulator's truth.",
    no_args_is_help=True,
)


@app.command()
def evaluate(
    history: Path = typer.Option(
        Path(".loanrisk/history"), "--history", exists=True, file_okay=False,
        help="History folder with statements.parquet (`loanrisk simulate statements`)."),
    bscore: str = typer.Option(..., "--bscore", help="B-score version (or artifact dir)."),
    collection: str = typer.Option(
        ..., "--collection",
        help="Collection score version (trained on delinquency entries, --target "
        "label_chargeoff)."),
    policy: Path = typer.Option(None, "--policy", exists=True, dir_okay=False,
                                help="Servicing policy file (default: the shipped one)."),
    registry: Path = typer.Option(None, help="Registry directory (default: LOANRISK_STATE_DIR/"
                                  "models)."),
    config: Path = typer.Option(None, "--config", exists=True, dir_okay=False,
                                help="Simulator config the statements were made with."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """B-score AUC/KS against the oracle's, out of time; the collections strategy's cured
    accounts and net cost against no treatment, random treatment and the oracle's best
    treatment per account."""
    from decisions.collections_eval import Truth
    from decisions.servicing_eval import evaluate_lifecycle
    from decisions.servicing_policy import DEFAULT_SERVICING_POLICY_PATH, ServicingPolicy
    from features.observation import delinquency_entries, observation_points
    from models.errors import ModelError
    from models.registry import Registry
    from models.workflow import model_to_evaluate
    from simulator.config import SimConfig
    from simulator.statements import read_statements

    try:
        reg = Registry(registry or load_settings().models_dir)
        b_model, c_model = model_to_evaluate(bscore, reg), model_to_evaluate(collection, reg)
        pol = ServicingPolicy.from_yaml(policy or DEFAULT_SERVICING_POLICY_PATH)
        sc = (SimConfig.from_file(config) if config else SimConfig()).servicing
        st = read_statements(history)
        report = evaluate_lifecycle(observation_points(st).rows, delinquency_entries(st).rows,
                                    b_model, c_model, pol, Truth(sc.treatment_cost,
                                                                 sc.recovery_rate))
    except (LoanRiskError, ModelError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=float))
        return
    _print(report)


def _print(report: object) -> None:
    from decisions.servicing_eval import LifecycleReport

    assert isinstance(report, LifecycleReport)
    con = Console()
    for title, f in (("B-score (P 60+ DPD in 6 months)", report.bscore),
                     ("collection score (P charge-off in 9 months)", report.collection)):
        con.print(f"[bold]{title}[/] {f.version}: {f.rows:,} out-of-time rows, bad rate "
                  f"{f.bad_rate:.1%}; AUC {f.auc:.3f} KS {f.ks:.3f}; oracle AUC "
                  f"{f.oracle_auc:.3f} KS {f.oracle_ks:.3f}; share of the oracle's "
                  f"lift {f.share:.2f}")
    t = Table(title=f"collections strategies on {report.strategies[0].accounts:,} accounts "
              f"entering 30 DPD (expected, from the oracle; policy {report.policy_version})")
    for col in ("strategy", "cured", "charged off", "treatment cost", "credit loss",
                "net cost", "mix"):
        t.add_column(col)
    for s in report.strategies:
        mix = " ".join(f"{k[:4].lower()} {v:.0%}" for k, v in s.mix.items() if v)
        t.add_row(s.name, f"{s.cured:,.1f}", f"{s.charged_off:,.1f}",
                  f"{s.treatment_cost:,.0f}", f"{s.credit_loss:,.0f}", f"{s.net_cost:,.0f}", mix)
    con.print(t)
    u = report.uplift
    con.print(f"policy vs no treatment: {u['cured_vs_none']:+,.1f} cured, net cost "
              f"{-u['net_saving_vs_none']:+,.0f}; {u['share_of_oracle_saving']:.0%} of the "
              f"oracle's saving; {u['net_gap_to_oracle']:,.0f} above the oracle's best; cost "
              f"per cure {u['cost_per_cure']:,.2f}")


@app.command()
def worker(
    loglevel: str = typer.Option("info", "--loglevel", help="debug, info, warning or error."),
) -> None:
    """One servicing worker (own consumer group, LOANRISK_SERVICING_GROUP): statements in,
    B-score, collection score and account actions out (account.actions.v1). Needs champion
    bscore and collection models (`loanrisk train ... --promote champion`). Stop with
    SIGTERM; start more to share the partitions."""
    from models.errors import ModelError
    from streams.worker.servicing import run_servicing_worker

    if loglevel.lower() not in ("debug", "info", "warning", "error"):
        fail(f"unknown --loglevel {loglevel!r}: use debug, info, warning or error", USAGE)
    try:
        run_servicing_worker(load_settings(), loglevel)
    except (LoanRiskError, ModelError) as exc:
        fail(str(exc))


@app.command()
def publish(
    history: Path = typer.Option(
        Path(".loanrisk/history"), "--history", exists=True, file_okay=False,
        help="History folder with statements.parquet."),
    limit: int = typer.Option(0, "--limit", min=0,
                              help="Only the first N statements by time (0 = all)."),
) -> None:
    """Publish a history's statements to account.statements.v1 in event-time order (the
    servicing system's monthly feed), as fast as Kafka takes them; `servicing worker`
    decides them live."""
    from schemas import codec_for
    from schemas.topics import STATEMENTS
    from simulator.records import records_from_frame
    from simulator.statements import read_statements
    from streams import kafka

    settings = load_settings()
    try:
        st = read_statements(history).sort_values(["event_time", "statement_id"],
                                                  kind="stable")
        st = st.iloc[:limit] if limit else st
        codec = codec_for(STATEMENTS.schema)
        prod = kafka.producer(settings.kafka, {"linger.ms": 5})
        for rec in records_from_frame(st, STATEMENTS.schema):
            kafka.produce(prod, STATEMENTS.name, codec.encode(rec), rec["account_id"].encode())
        left = prod.flush(30)
    except LoanRiskError as exc:
        fail(str(exc))
    if left:
        fail(f"{left} statements not acknowledged by Kafka at {settings.kafka.bootstrap}")
    typer.echo(f"published {len(st):,} statements of {st['account_id'].nunique():,} accounts "
               f"to {STATEMENTS.name}")
