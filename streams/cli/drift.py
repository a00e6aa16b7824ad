"""``loanrisk drift``: has the traffic moved away from what the model learned from?"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer

from streams.cli.errors import fail
from streams.settings import load_settings

UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def register(app: typer.Typer) -> None:
    app.command(name="drift")(drift)


def parse_window(text: str) -> int:
    """'30m', '6h', '7d' -> milliseconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([mhd])", text.strip())
    if not m:
        fail(f"--window {text!r}: use a number and m, h or d (30m, 6h, 7d)")
    return int(float(m.group(1)) * UNITS_MS[m.group(2)])


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
        None, help="Exit with status 2 when any feature or score is at this status or worse: "
        "'watch' or 'shift' (for a scheduled check that alerts)."),
) -> None:
    """Population stability (PSI) of every feature and of the model scores, from the
    feature vectors and decisions logged in ClickHouse.

    PSI < 0.10 stable, 0.10-0.25 watch, > 0.25 shift: investigate before trusting the
    scores (a new traffic source, an upstream outage, a changed SDK)."""
    from rich.console import Console
    from rich.table import Table

    from models.clickhouse_data import feature_window, logged_span, parse_as_of, scores_window
    from models.drift import drift_of, feature_drift, feature_reference, reference_of
    from models.errors import ModelError
    from models.registry import Registry
    from streams.clients import analytics_client

    if reference not in ("model", "previous"):
        fail("--reference is 'model' or 'previous'")
    if fail_on not in (None, "watch", "shift"):
        fail("--fail-on is 'watch' or 'shift'")
    settings = load_settings()
    reg = Registry(registry or settings.models_dir)
    version = model or reg.version_for("champion", "pd")
    if version is None:
        fail(f"no champion PD model in {reg.root}; pass --model VERSION")
    try:
        manifest = reg.show(str(version))
    except (OSError, ModelError) as exc:
        fail(f"model {version}: {exc}")
    client = analytics_client(settings)
    span = logged_span(client)
    if span is None:
        fail("no logged feature vectors in ClickHouse yet; run the pipeline and the sink")
    try:
        end = parse_as_of(until) if until else span[1] + 1
    except ModelError as exc:
        fail(str(exc))
    length = parse_window(window)
    start = end - length
    current = feature_window(client, start, end)
    if current.empty:
        fail(f"no logged decisions in the {window} before {_iso(end)}; widen --window")
    fraud_version = reg.version_for("champion", "fraud")
    score_models = [("pd", str(version), manifest)]
    if fraud_version and not model:
        score_models.append(("fraud_probability", fraud_version, reg.show(fraud_version)))
    if reference == "model":
        ref = manifest.get("feature_reference")
        if not ref:
            fail(f"model {version} predates stored training distributions; use "
                  "--reference previous, or retrain it")
        ref_label = f"training data of {version}"
        score_refs = {col: _score_ref(m) for col, _, m in score_models}
    else:
        previous = feature_window(client, start - length, start)
        if previous.empty:
            fail(f"no logged decisions in the {window} before {_iso(start)} to compare with")
        ref = feature_reference(previous)
        ref_label = f"{_iso(start - length)} to {_iso(start)} ({len(previous):,} rows)"
        score_refs = {col: reference_of(scores_window(client, start - length, start, col, v))
                      for col, v, _ in score_models}
    features = feature_drift(ref, current)
    scores, notes = [], []
    for col, v, _ in score_models:
        cur, sref = scores_window(client, start, end, col, v), score_refs.get(col)
        if not len(cur) or not sref or sref.get("rows") == 0:
            notes.append(f"{col}: no decisions by {v} in the "
                         f"{'current' if not len(cur) else 'reference'} window to compare")
            continue
        scores.append(drift_of(f"{col} ({v})", sref, cur))
    context = {"current window": f"{_iso(start)} to {_iso(end)} ({len(current):,} rows)",
               "reference": ref_label, "model": version,
               "feature spec": current.attrs.get("feature_spec_version", "")}
    if notes:
        context["scores not compared"] = "; ".join(notes)
    _print(Console(), Table, context, features, scores, top)
    if out:
        from models.drift_report import render_drift

        out.write_text(render_drift(f"Drift report: {context['current window']}", context,
                                    features, scores))
        typer.echo(f"report: {out}")
    if json_out:
        json_out.write_text(json.dumps({"context": context,
                                        "scores": [d.record() for d in scores],
                                        "features": [d.record() for d in features]}, indent=1))
        typer.echo(f"figures: {json_out}")
    alarming = {"watch": ("watch", "shift"), "shift": ("shift",)}.get(fail_on or "", ())
    flagged = [d.name for d in [*scores, *features] if d.status in alarming]
    if flagged:
        typer.secho(f"drift at or above '{fail_on}': {', '.join(flagged)}", fg="red", err=True)
        raise typer.Exit(2)


def _score_ref(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest's score deciles in the binned-reference form (no missing scores)."""
    ref = manifest.get("psi_reference")
    if not ref:
        return None
    return {"edges": ref["edges"], "shares": [*ref["shares"], 0.0], "mean": None, "missing": 0.0,
            "rows": None}


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print(console: Any, table_cls: Any, context: dict[str, Any], features: list[Any],
           scores: list[Any], top: int) -> None:
    for k, v in context.items():
        console.print(f"{k}: {v}")
    colour = {"shift": "red", "watch": "yellow", "stable": "green"}
    for d in scores:
        console.print(f"score {d.name}: PSI {d.psi:.4f} [{colour[d.status]}]{d.status}[/]")
    counts = {s: sum(d.status == s for d in features) for s in ("shift", "watch", "stable")}
    console.print(f"features: {counts['shift']} shifted, {counts['watch']} to watch, "
                  f"{counts['stable']} stable")
    table = table_cls(title=f"largest shifts (top {min(top, len(features))})")
    for col in ("feature", "PSI", "status", "mean ref → now", "missing ref → now"):
        table.add_column(col, no_wrap=col == "feature")

    def num(v: float | None) -> str:
        return "–" if v is None else f"{v:.3g}"

    for d in features[:top]:
        table.add_row(d.name, f"{d.psi:.3f}", f"[{colour[d.status]}]{d.status}[/]",
                      f"{num(d.reference_mean)} → {num(d.current_mean)}",
                      f"{100 * d.reference_missing:.0f}% → {100 * d.current_missing:.0f}%")
    console.print(table)
