"""``loanrisk simulate``: the traffic simulator (history data sets and live Kafka traffic)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from simulator.config import SimConfig
    from streams.ops.live_traffic import LiveStats
    from streams.settings import Settings

from schemas.errors import LoanRiskError
from streams.cli.errors import fail

app = typer.Typer(
    help="Simulate applicants, fraud and loan performance with ground truth: write a "
    "historical data set (Parquet) or publish live traffic to Kafka.",
    no_args_is_help=True,
)

ConfigOpt = typer.Option(
    None,
    "--config",
    "-c",
    exists=True,
    dir_okay=False,
    help="YAML/JSON file overriding any simulator setting (see `loanrisk simulate config`).",
)
SeedOpt = typer.Option(
    42, "--seed", help="Random seed; the same seed and config give the same data."
)


def _config(path: Path | None) -> SimConfig:
    from simulator.config import SimConfig

    return SimConfig.from_file(path) if path else SimConfig()


@app.command()
def config(
    config: Path | None = ConfigOpt,
) -> None:
    """Print the full simulator config (defaults, or a file's values) as YAML to edit."""
    try:
        typer.echo(_config(config).to_yaml())
    except LoanRiskError as exc:
        fail(str(exc))


@app.command()
def history(
    applications: int = typer.Option(
        200_000, "--applications", "-n", min=1, help="Number of applications to simulate."
    ),
    months: int = typer.Option(
        12, "--months", min=1, help="Months over which applications arrive."
    ),
    out: Path = typer.Option(
        Path(".loanrisk/history"),
        "--out",
        "-o",
        file_okay=False,
        help="Folder for applications/device_events/behaviour_events/performance .parquet files.",
    ),
    seed: int = SeedOpt,
    config: Path | None = ConfigOpt,
) -> None:
    """Write a historical data set: every application booked (approve-all test cell), with
    sessions, monthly performance, oracle probabilities and matured labels."""
    from rich.console import Console

    from simulator.history import generate_history, write_history

    console = Console()
    try:
        cfg = _config(config)
        with console.status(f"simulating {applications:,} applications over {months} months"):
            t0 = time.perf_counter()
            h = generate_history(cfg, applications, months, seed)
            gen_s = time.perf_counter() - t0
        with console.status(f"writing Parquet to {out}"):
            t1 = time.perf_counter()
            write_history(h, out)
            write_s = time.perf_counter() - t1
    except LoanRiskError as exc:
        fail(str(exc))
    a = h.applications
    from sklearn.metrics import roc_auc_score

    def auc(y: object, p: object) -> str:
        try:
            return f"{roc_auc_score(y, p):.3f}"
        except ValueError:
            return "n/a (one class)"

    console.print(
        f"[green]wrote[/] {out}: {len(a):,} applications, {len(h.device_events):,} device events, "
        f"{len(h.behaviour_events):,} behaviour events, {len(h.performance):,} performance events\n"
        f"generated in {gen_s:.2f} s ({len(a) / gen_s:,.0f} applications/s), "
        f"written in {write_s:.2f} s\n"
        f"fraud rate {a['label_fraud'].mean():.2%} (types: "
        + ", ".join(f"{k} {v:.2%}" for k, v in a["fraud_type"].value_counts(normalize=True).items())
        + f")\ndefault rate {a['label_default'].mean():.2%} "
        f"(mean oracle PD {a['oracle_pd'].mean():.2%})\n"
        f"oracle AUC: default {auc(a['label_default'], a['oracle_pd'])}, "
        f"fraud {auc(a['label_fraud'], a['oracle_fraud'])}"
    )


@app.command()
def statements(
    history: Path = typer.Option(
        Path(".loanrisk/history"), "--history", exists=True, file_okay=False,
        help="Folder written by `loanrisk simulate history`; statements.parquet is added to it.",
    ),
    months: int = typer.Option(24, "--months", min=2, max=60,
                               help="Statements simulated per account (months on book)."),
    accounts: int = typer.Option(0, "--accounts", min=0,
                                 help="Only the first N booked accounts (0 = all)."),
    seed: int = SeedOpt,
    config: Path | None = ConfigOpt,
) -> None:
    """Monthly statements of every booked account of a history, with the hidden trajectory
    (income shocks, over-indebtedness, recovery), the history's random line changes and
    collection treatments, and the oracle's probabilities under each action."""
    from simulator.history import read_history
    from simulator.statements import simulate_statements, write_statements

    try:
        cfg = _config(config)
        apps = read_history(history).applications
        apps = apps.iloc[:accounts] if accounts else apps
        t0 = time.perf_counter()
        frame = simulate_statements(cfg, apps, months, seed)
        path = write_statements(frame, history)
    except LoanRiskError as exc:
        fail(str(exc))
    entries = frame["treatment"].notna().sum()
    typer.echo(f"wrote {path}: {len(frame):,} statements of {frame['account_id'].nunique():,} "
               f"accounts over {months} months in {time.perf_counter() - t0:.1f} s; "
               f"{entries:,} delinquency entries treated, "
               f"{(frame['status'] == 'CHARGED_OFF').sum():,} charge-offs")


@app.command()
def live(
    rate: float = typer.Option(
        500.0,
        "--rate",
        "-r",
        min=0.1,
        help="Applications per second (each brings ~1-2 device events and "
        "~33 behaviour events in ~2 batches).",
    ),
    duration: float = typer.Option(60.0, "--duration", "-d", min=0.1, help="Seconds to publish."),
    seed: int = SeedOpt,
    config: Path | None = ConfigOpt,
    month_seconds: float | None = typer.Option(
        None,
        "--month-seconds",
        min=0.01,
        help="Wall seconds per simulated month of loan performance (default from config: 10).",
    ),
    drain: float = typer.Option(
        0.0,
        "--drain",
        min=0,
        help="After --duration, keep publishing due performance events for this many seconds.",
    ),
    decisions: bool = typer.Option(
        True,
        "--decisions/--no-decisions",
        help="Consume the decision topic and publish performance of approved loans.",
    ),
    truth_out: Path | None = typer.Option(
        None,
        "--truth-out",
        help="Write the ground truth of every published application (fraud type, oracle "
        "probabilities) to this Parquet file, to score the pipeline's decisions against; "
        "and the quote requests published (quote id, the application it led to or would "
        "have) next to it, <name>.quotes.parquet.",
    ),
    reviewers: int = typer.Option(
        0, "--reviewers", min=0, max=100,
        help="Simulated reviewers working the REVIEW decisions through the review console's "
        "own action path (truth-based accuracy and delay from the config's `reviewers:`); "
        "needs Redis and ClickHouse (the sink running). 0 = none.",
    ),
    reviews_out: Path | None = typer.Option(
        None, "--reviews-out",
        help="With --reviewers: write what the simulated reviewers did to this Parquet file.",
    ),
) -> None:
    """Publish applications, device and behaviour events to Kafka at --rate, and the
    performance events of loans the pipeline approves (over compressed time)."""
    from streams.settings import load_settings

    settings = load_settings()
    truth: list[dict[str, Any]] | None = [] if truth_out is not None else None
    try:
        cfg = _config(config)
        if month_seconds is not None:
            cfg = cfg.model_copy(
                update={"live": cfg.live.model_copy(update={"month_seconds": month_seconds})}
            )
        if reviewers and not decisions:
            fail("--reviewers needs the decisions: drop --no-decisions")
        team = _review_team(settings, cfg, seed, reviewers) if reviewers else None
        stats = _publish_live(settings, cfg, seed, rate, duration, drain, decisions, truth,
                              team)
        if truth_out is not None and truth is not None:
            _write_truth(truth, truth_out, stats.quote_ids)
        if team is not None:
            _print_reviews(team[1], reviews_out)
    except LoanRiskError as exc:
        fail(str(exc))
    except Exception as exc:  # confluent-kafka raises KafkaException for a bad bootstrap
        fail(f"{exc}; is Kafka up at {settings.bootstrap_servers}? "
             "Start it with `loanrisk services up`.")
    _print_live(stats)


def _review_team(settings: Settings, cfg: SimConfig, seed: int, n: int
                 ) -> tuple[Any, list[Any]]:
    """(the ReviewShift factory for run_live, a list that receives the shift): the
    console's parts over this machine's Redis and ClickHouse."""
    from simulator.reviewers import ReviewTeam
    from streams.clients import analytics_client, redis_client
    from streams.console.compose import build_console
    from streams.ops.review_shift import ReviewShift

    try:
        r = redis_client(settings)
        r.ping()
        ch = analytics_client(settings)
        ch.query("SELECT count() FROM review_actions WHERE 0")
        console = build_console(settings, r, ch)
    except Exception as exc:
        fail(f"simulated reviewers need Redis ({settings.redis_dsn}) and ClickHouse with the "
             f"review tables (start `loanrisk services up` and `loanrisk sink`): {exc}")
    team = ReviewTeam(cfg.reviewers.model_copy(update={"reviewers": n}), seed)
    made: list[Any] = []

    def factory(truth_of: Any) -> Any:
        made.append(ReviewShift(team, console, truth_of))
        return made[-1]

    return factory, made


def _print_reviews(made: list[Any], out: Path | None) -> None:
    if not made:
        return
    shift = made[0]
    s = shift.stats
    acc = "-" if s.accuracy is None else f"{s.accuracy:.1%}"
    typer.echo(f"simulated reviewers: {s.planned:,} REVIEW cases planned, {s.worked:,} worked "
               f"({s.confirmed_fraud:,} confirmed fraud, {s.cleared:,} cleared), accuracy vs "
               f"truth {acc}; {shift.pending:,} still queued, {s.left_to_people:,} left to "
               f"people, {s.refused:,} refused, {s.not_in_store:,} never reached the store")
    for e in s.errors[:3]:
        typer.echo(f"warning: a simulated review failed: {e}", err=True)
    if out is not None:
        import pandas as pd

        out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(shift.records, columns=["application_id", "reviewer", "actions",
                                             "truth_fraud", "due_ms"]).to_parquet(out,
                                                                                  index=False)
        typer.echo(f"simulated reviews written to {out}")


def _publish_live(settings: Settings, cfg: SimConfig, seed: int, rate: float, duration: float,
                  drain: float, decisions: bool, truth: list[dict[str, Any]] | None,
                  team: tuple[Any, list[Any]] | None = None) -> LiveStats:
    """run_live behind a progress bar of the applications published."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from streams.ops.live_traffic import run_live

    with Progress(TextColumn("publishing"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("applications"), TimeElapsedColumn()) as bar:
        task = bar.add_task("live", total=int(rate * duration))
        stats = run_live(settings.kafka, cfg, seed, rate, duration, drain=drain,
                         decisions=decisions, progress=lambda k: bar.advance(task, k),
                         truth=truth, reviews=team[0] if team else None)
        bar.update(task, completed=stats.applications)
    return stats


def _write_truth(truth: list[dict[str, Any]], out: Path, quote_ids: list[str]) -> None:
    import pandas as pd

    from simulator.quotes import converted_application
    from streams.ops.live_traffic import quotes_truth_path

    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(truth, columns=["application_id", "fraud_type", "oracle_pd",
                                 "oracle_fraud"]).to_parquet(out, index=False)
    published = {t["application_id"] for t in truth}
    apps = [converted_application(q) for q in quote_ids]
    pd.DataFrame({"quote_id": quote_ids, "application_id": apps,
                  "applied": [a in published for a in apps]}).to_parquet(
        quotes_truth_path(out), index=False)
    typer.echo(f"ground truth of {len(truth):,} applications and {len(quote_ids):,} quote "
               f"requests written to {out} and {quotes_truth_path(out)}")


def _print_live(stats: LiveStats) -> None:
    s = stats.seconds
    typer.echo(
        f"published {stats.applications:,} applications, {stats.quotes:,} quote requests, "
        f"{stats.messages:,} messages "
        f"({stats.events:,} events) in {s:.1f} s: {stats.applications / s:,.0f} applications/s, "
        f"{stats.messages / s:,.0f} messages/s, {stats.events / s:,.0f} events/s, "
        f"{stats.bytes / s / 1e6:.1f} MB/s; decisions seen {stats.decisions_seen:,}, "
        f"performance events sent {stats.performance_sent:,} "
        f"(pending {stats.performance_pending:,})"
    )
    if stats.publish_lag_ms:
        import numpy as np

        lag = np.asarray(stats.publish_lag_ms)
        p99 = float(np.percentile(lag, 99))
        typer.echo(f"applications left {np.percentile(lag, 50):.1f} ms (p50) / "
                   f"{p99:.1f} ms (p99) after their event time")
        if p99 > 1000:
            typer.echo(f"warning: publishing fell {p99 / 1000:.1f} s (p99) behind the plan: "
                       "this machine is busy or --rate is more than it can generate; the "
                       "applications went out late, none were dropped", err=True)
