"""``loanrisk drift``: has the traffic moved away from what the model learned from?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from streams.cli.errors import CHECK_FAILED, USAGE, fail
from streams.settings import load_settings

if TYPE_CHECKING:
    from models.drift_run import DriftRun


def register(app: typer.Typer) -> None:
    app.command(name="drift")(drift)


def drift(
    window: str = typer.Option("24h", help="Current window: the last WINDOW of logged decisions "
                               "(30m, 6h, 7d), ending at --until."),
    until: str = typer.Option(None, help="End of the current window (ISO time, UTC); default: "
                              "the latest logged decision."),
    reference: str = typer.Option(
        "model", help="'model': the champion's training data (stored in its manifest); "
        "'previous': the window of the same length just before the current one."),
    model: str = typer.Option(None, help="Model version whose scores and training data to "
                              "compare (default: the champion PD model)."),
    top: int = typer.Option(15, min=1, help="Features listed, largest PSI first."),
    out: Path = typer.Option(None, help="Also write an HTML report with the plots here."),
    json_out: Path = typer.Option(None, "--json", help="Also write every figure as JSON here."),
    registry: Path = typer.Option(None, help="Registry directory (default: "
                                  "LOANRISK_STATE_DIR/models)."),
    fail_on: str = typer.Option(
        None, help="Exit with status 3 when any feature or score is at this status or worse: "
        "'watch' or 'shift' (for a scheduled check that alerts)."),
    min_rows: int = typer.Option(
        500, min=1, help="Refuse when the current window or the reference has fewer rows "
        "(a PSI on a handful of rows is noise); a score with fewer is not compared."),
) -> None:
    """Population stability (PSI) of every feature and of the model scores, from the
    feature vectors and decisions logged in ClickHouse.

    PSI < 0.10 stable, 0.10-0.25 watch, > 0.25 shift: investigate before trusting the
    scores (a new traffic source, an upstream outage, a changed SDK). Exit 1 naming the
    counts when either side has fewer than --min-rows rows."""
    from models.clickhouse_data import parse_as_of
    from models.drift_run import ALARMS, REFERENCES, parse_window, run_drift
    from models.errors import ModelError
    from models.registry import Registry
    from streams.clients import analytics_client

    if reference not in REFERENCES:
        fail("--reference is 'model' or 'previous'", USAGE)
    if fail_on is not None and fail_on not in ALARMS:
        fail("--fail-on is 'watch' or 'shift'", USAGE)
    try:
        parse_window(window)
        until_ms = parse_as_of(until, "--until") if until else None
    except ModelError as exc:
        fail(str(exc), USAGE)
    settings = load_settings()
    try:
        run = run_drift(analytics_client(settings), Registry(registry or settings.models_dir),
                        window=window, until_ms=until_ms, reference=reference, model=model,
                        min_rows=min_rows)
    except ModelError as exc:
        fail(str(exc))
    _print(run, top)
    _write(run, out, json_out)
    flagged = run.flagged(fail_on)
    if flagged:
        typer.secho(f"drift at or above '{fail_on}': {', '.join(flagged)}", fg="red", err=True)
        raise typer.Exit(CHECK_FAILED)


def _write(run: DriftRun, out: Path | None, json_out: Path | None) -> None:
    """The HTML report with the plots, and every figure as JSON, where asked."""
    if out:
        from models.drift_report import render_drift

        out.write_text(render_drift(f"Drift report: {run.context['current window']}",
                                    run.context, run.features, run.scores))
        typer.echo(f"report: {out}")
    if json_out:
        json_out.write_text(json.dumps(run.record(), indent=1))
        typer.echo(f"figures: {json_out}")


def _print(run: DriftRun, top: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console, features, scores = Console(), run.features, run.scores
    for k, v in run.context.items():
        console.print(f"{k}: {v}")
    colour = {"shift": "red", "watch": "yellow", "stable": "green"}
    for d in scores:
        console.print(f"score {d.name}: PSI {d.psi:.4f} [{colour[d.status]}]{d.status}[/]")
    counts = {s: sum(d.status == s for d in features) for s in ("shift", "watch", "stable")}
    console.print(f"features: {counts['shift']} shifted, {counts['watch']} to watch, "
                  f"{counts['stable']} stable")
    table = Table(title=f"largest shifts (top {min(top, len(features))})")
    for col in ("feature", "PSI", "status", "mean ref → now", "missing ref → now"):
        table.add_column(col, no_wrap=col == "feature")

    def num(v: float | None) -> str:
        return "–" if v is None else f"{v:.3g}"

    for d in features[:top]:
        table.add_row(d.name, f"{d.psi:.3f}", f"[{colour[d.status]}]{d.status}[/]",
                      f"{num(d.reference_mean)} → {num(d.current_mean)}",
                      f"{100 * d.reference_missing:.0f}% → {100 * d.current_missing:.0f}%")
    console.print(table)
