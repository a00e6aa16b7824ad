"""``loanrisk features``: the feature spec, and training tables built from a history."""

from __future__ import annotations

import uuid
from enum import StrEnum
from pathlib import Path

import typer

from schemas.errors import LoanRiskError
from streams.cli.errors import fail

#: Redis socket timeout of an offline build: its batches are large and nothing degrades
OFFLINE_TIMEOUT_MS = 30_000

app = typer.Typer(
    help="The feature specification shared by training and serving, and offline feature "
    "tables rebuilt from a simulator history with the live engine.",
    no_args_is_help=True,
)


class Kind(StrEnum):
    applications = "applications"
    observation_points = "observation-points"
    delinquency_entries = "delinquency-entries"


@app.command()
def build(
    history: Path = typer.Option(
        ..., "--history", exists=True, file_okay=False,
        help="Directory written by `loanrisk simulate history --out DIR`.",
    ),
    out: Path = typer.Option(..., "--out", help="Parquet file to write the training table to."),
    batch_size: int = typer.Option(
        500, "--batch-size", min=1, help="Applications per Redis script call (speed only)."
    ),
    kind: Kind = typer.Option(
        Kind.applications, "--kind",
        help="applications: origination features (Redis replay). observation-points: one "
        "row per account and month from statements.parquet, behaviour features from the past "
        "and label_bscore (60+ DPD within --horizon months) from the future, for the B-score. "
        "delinquency-entries: one row per account entering 30 DPD with its treatment and "
        "label_cured / label_rolled / label_chargeoff, for the collection score."),
    horizon: int = typer.Option(6, "--horizon", min=1, max=24,
                                help="observation-points: label window in months."),
) -> None:
    """Build a training table (Parquet) from a simulator history.

    applications: replays the history through the live feature engine on fresh Redis
    state and writes every spec feature plus the history's truth columns, one row per
    application. The servicing kinds read the history's statements (no Redis).
    """
    if kind is not Kind.applications:
        _build_servicing(history, out, kind, horizon)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from features.engine import FeatureEngine
    from features.offline import build_training_table
    from simulator.history import read_history
    from streams.clients import redis_client
    from streams.settings import load_settings

    settings = load_settings()
    try:
        hist = read_history(history)
        client = redis_client(settings, timeout_ms=OFFLINE_TIMEOUT_MS)
        client.ping()
    except LoanRiskError as exc:
        fail(str(exc))
    except Exception as exc:  # redis connection errors
        fail(f"cannot reach Redis at {settings.redis_dsn}: {exc}. Start it with "
             "`loanrisk services up` or set LOANRISK_REDIS_URL.")
    # a private namespace = empty state, without touching the live engine's keys
    prefix = f"offline-{uuid.uuid4().hex[:8]}"
    if settings.redis_cluster:  # one hash slot, as the live keys (docs/topology.md)
        prefix = f"{{{prefix}}}"
    engine = FeatureEngine(client, settings.identifier_hash_key, prefix=prefix)
    try:
        with Progress(*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn()) as bar:
            task = bar.add_task("features", total=len(hist.applications))
            table = build_training_table(hist, engine, batch_size=batch_size,
                                         progress=lambda n: bar.advance(task, n))
    except LoanRiskError as exc:
        fail(str(exc))
    finally:
        engine.clear()
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    typer.echo(f"wrote {len(table)} rows x {len(engine.spec)} features "
               f"({engine.spec.version}) to {out}")


def _build_servicing(history: Path, out: Path, kind: Kind, horizon: int) -> None:
    """The observation-point tables of ``features.observation``, from statements.parquet."""
    from features.observation import delinquency_entries, observation_points
    from simulator.statements import read_statements

    try:
        st = read_statements(history)
    except LoanRiskError as exc:
        fail(str(exc))
    if kind is Kind.observation_points:
        table, label = observation_points(st, horizon=horizon), "label_bscore"
    else:
        table, label = delinquency_entries(st), "label_rolled"
    if table.rows.empty:
        fail(f"no {kind.value} with a complete label window in {history} ({table.dropped:,} "
             "left out as not final); simulate more months with `loanrisk simulate statements "
             "--months N`")
    out.parent.mkdir(parents=True, exist_ok=True)
    table.rows.to_parquet(out, index=False)
    rows = table.rows
    typer.echo(f"wrote {len(rows):,} {kind.value} of {rows['account_id'].nunique():,} accounts "
               f"to {out} ({label} rate {rows[label].mean():.2%}; {table.dropped:,} left out: "
               "label window not complete yet)")


@app.command()
def spec(
    family: str = typer.Option("", "--family", help="Only this family (velocity, session, ...)."),
) -> None:
    """List every feature: name, family, default, monotone direction, reason code and text."""
    from rich.console import Console
    from rich.table import Table

    from features.spec import FEATURE_SPEC

    table = Table(title=f"feature spec {FEATURE_SPEC.version} ({len(FEATURE_SPEC)} features)")
    for col in ("#", "name", "family", "default", "mono", "reason code", "reason text"):
        table.add_column(col)
    for i, d in enumerate(FEATURE_SPEC.defs):
        if family and d.family != family:
            continue
        table.add_row(str(i), d.name, d.family, "missing" if d.default is None else str(d.default),
                      f"{d.monotone:+d}" if d.monotone else "0", d.reason_code, d.reason_text)
    Console().print(table)
