"""``loanrisk features``: the feature spec, and training tables built from a history."""

from __future__ import annotations

import uuid
from pathlib import Path

import typer

from schemas.errors import LoanRiskError
from streams.cli.errors import fail

app = typer.Typer(
    help="The feature specification shared by training and serving, and offline feature "
    "tables rebuilt from a simulator history with the live engine.",
    no_args_is_help=True,
)


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
) -> None:
    """Build a training table (Parquet) from a simulator history.

    Replays the history through the live feature engine on fresh Redis state and writes
    every spec feature plus the history's truth columns, one row per application.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from features.engine import FeatureEngine
    from features.offline import build_training_table
    from simulator.history import read_history
    from streams.clients import redis_client
    from streams.settings import load_settings

    settings = load_settings()
    try:
        hist = read_history(history)
        client = redis_client(settings)
        client.ping()
    except LoanRiskError as exc:
        fail(str(exc))
    except Exception as exc:  # redis connection errors
        fail(f"cannot reach Redis at {settings.redis_dsn}: {exc}. Start it with "
             "`loanrisk services up` or set LOANRISK_REDIS_URL.")
    # a private namespace = empty state, without touching the live engine's keys
    prefix = f"offline-{uuid.uuid4().hex[:8]}"
    engine = FeatureEngine(client, settings.hash_key.encode(), prefix=prefix)
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
