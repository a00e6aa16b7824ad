"""``loanrisk train``, ``loanrisk evaluate`` and ``loanrisk models list|show|promote``.

Thin wrappers over the `models` library: read settings, load data, call, print paths.
Heavy imports stay inside the commands so ``loanrisk --help`` is fast.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from streams.cli import training_data as td
from streams.cli.errors import USAGE, fail
from streams.cli.training_data import Source, spec_for
from streams.settings import load_settings

if TYPE_CHECKING:
    from models.clickhouse_data import Maturity
    from models.workflow import Registered

app = typer.Typer(
    help="Model registry: list, show and promote trained model versions.", no_args_is_help=True
)
console = Console()
REG_HELP = "Registry directory (default: LOANRISK_STATE_DIR/models)."
LIST_KEYS = ("version", "name", "kind", "target", "auc", "created_at", "role")


class Kind(StrEnum):
    auto = "auto"
    logistic = "logistic"
    lightgbm = "lightgbm"
    lightgbm_library = "lightgbm_library"
    lightgbm_tuned = "lightgbm_tuned"
    scorecard = "scorecard"
    mlp = "mlp"


def _registry_dir(registry: Path | None) -> Path:
    return registry or load_settings().models_dir


def train(
    data: Path = typer.Option(
        None, "--data", help="CSV or Parquet file with features and the target."
    ),
    target: str = typer.Option("label_default", help="Target column (0/1, or give --positive)."),
    source: Source = typer.Option(
        Source.file, help="file (--data) or clickhouse (logged vectors + matured labels)."
    ),
    time_col: str = typer.Option(
        None, "--time-col", help="Time column: enables the out-of-time split."
    ),
    id_col: str = typer.Option(None, "--id-col", help="Identifier column (never a feature)."),
    positive: str = typer.Option(None, help="Value of the target meaning bad/fraud, if not 0/1."),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="Column never to use as a feature (repeatable)."
    ),
    model: Kind = typer.Option(
        Kind.auto, help="auto = the validation winner among every candidate (logistic "
        "regression, LightGBM shallow/library defaults/tuned, scorecard, MLP, ensemble; a "
        "cheaper one ships when its paired-bootstrap validation AUC gap to the winner is "
        "within the noise); or ship one candidate (the logistic "
        "regression is still fitted as the benchmark)."),
    tune_minutes: float = typer.Option(
        1.0, min=0.0, help="Budget of the LightGBM search on the validation rows (Optuna, "
        "seeded); 0 = no tuned candidate."),
    tune_trials: int = typer.Option(
        40, min=1, help="At most this many tuning trials within the budget (the manifest "
        "records how many ran: the same seed and count reproduce them)."),
    name: str = typer.Option("pd", help="Model name in the registry: pd (credit) or fraud; "
                             "bscore or collection for the servicing scores."),
    out: Path = typer.Option(
        None, help="Artifact directory (default: a temp dir, then registered)."
    ),
    registry: Path = typer.Option(None, help=REG_HELP),
    promote: str = typer.Option(
        None, help="After training, promote to this role: champion or challenger."
    ),
    seed: int = typer.Option(0, help="Random seed (splits, bagging)."),
    pdo: float = typer.Option(20.0, help="Scorecard points to double the odds."),
    base_score: float = typer.Option(600.0, help="Scorecard points at --base-odds."),
    base_odds: float = typer.Option(50.0, help="Good:bad odds at --base-score."),
    cutoff: float = typer.Option(
        None, help="Probability cutoff for precision/recall (default: best F1 on validation)."
    ),
    loss_per_bad: float = typer.Option(
        1.0, help="Loss per bad loan (share of amount) for the band table."
    ),
    revenue_per_good: float = typer.Option(0.15, help="Revenue per good loan for the band table."),
    as_of: str = typer.Option(None, help="clickhouse source: label date (ISO), default now."),
    product: str = typer.Option(None, help="clickhouse source: only this product."),
    min_matured: int = typer.Option(
        3000, min=1, help="clickhouse source: refuse with fewer matured applications (the "
        "documented readiness threshold)."),
    min_bads: int = typer.Option(
        300, min=1, help="clickhouse source: refuse with fewer matured bads (readiness)."),
    include_fraud: bool = td.IncludeFraudOpt,
    labels: td.Labels = td.LabelsOpt,
    reject_inference: str = td.RejectInferenceOpt,
    cells: Path = td.CellsOpt,
    policy: Path = td.PolicyOpt,
) -> None:
    """Train a PD or fraud model: every candidate on the same split, side by side with
    bootstrap intervals (metrics.json, report.html); ships the validation winner (or
    --model), evaluates it, registers it.

    Never registers a model whose validation AUC or KS could not be computed."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from features.spec import FEATURE_SPEC
    from models.errors import ModelError
    from models.registry import Registry
    from models.scorecard import Scale
    from models.train import TrainConfig
    from models.workflow import train_and_register

    cfg = TrainConfig(name=name, model=model.value, seed=seed,
                      scale=Scale(pdo, base_score, base_odds), cutoff=cutoff,
                      loss_per_bad=loss_per_bad, revenue_per_good=revenue_per_good,
                      tune_minutes=tune_minutes if model in (Kind.auto, Kind.lightgbm_tuned)
                      else 0.0, tune_trials=tune_trials)
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("loading data", total=None)
            design = td.explore_design(reject_inference, source, cells, policy)
            ds, meta = td.training_data(source, data, target, time_col, id_col, positive,
                                        exclude, as_of, product, (min_matured, min_bads),
                                        include_fraud, labels.value, design)
            done = train_and_register(
                ds, meta, cfg, Registry(_registry_dir(registry)),
                served_names=spec_for(target, FEATURE_SPEC).names,
                out_dir=out, promote=promote,
                progress=lambda m: bar.update(task, description=m))
    except ModelError as e:
        fail(str(e))
    _print_registered(done)


def _print_registered(done: Registered) -> None:
    m = done.manifest
    console.print(
        f"[green]registered[/green] {done.version} ({m['kind']}, {m['validation'].split(':')[0]})"
    )
    console.print(
        f"  AUC {m['metrics']['auc']:.4f}  KS {m['metrics']['ks']:.4f}  "
        f"log loss {m['metrics']['log_loss']:.4f}"
    )
    sel = m.get("selection") or {}
    if "auc_lift" in sel:
        console.print(f"  shipped {sel['shipped']} ({sel['rule']}); AUC lift over the logistic "
                      f"regression {sel['auc_lift']:+.4f} [{sel['auc_lift_lo']:+.4f}, "
                      f"{sel['auc_lift_hi']:+.4f}]")
    for k, c in (m.get("candidates") or {}).items():
        console.print(f"  {k:<17} AUC {c['auc']:.4f} [{c['auc_lo']:.4f}, {c['auc_hi']:.4f}]  "
                      f"KS {c['ks']:.3f}  log loss {c['log_loss']:.4f}  "
                      f"fit {c['fit_seconds']:.1f} s")
    label = m.get("label") or {}
    if label.get("excluded_fraud_rows"):
        console.print(f"  label {label['target']}: {label['excluded_fraud_rows']:,} rows with "
                      "confirmed fraud left out (a fraud loss is not a credit loss)")
    src = m.get("label_source") or {}
    if src.get("rows"):
        console.print("  labels: " + ", ".join(
            f"{k} {v['rows']:,} rows ({v['bads']:,} bads)" for k, v in sorted(src["rows"].items())))
    ri = m.get("reject_inference") or {}
    if ri:
        console.print(f"  reject inference {ri['method']}: {ri['explored_loans']:,} explored "
                      f"loans weighted {ri['weight_of_an_explored_loan']:g} (cells {ri['cells']})")
    if m.get("oracle"):
        console.print(f"  oracle AUC {m['oracle']['auc']:.4f}  share {m['oracle']['share']:.3f}")
    if done.dropped:
        console.print(f"  not used as features: {', '.join(sorted(done.dropped))}")
    console.print(f"  report:  {done.path / 'report.html'}")
    console.print(f"  metrics: {done.path / 'metrics.json'}")
    if done.promoted:
        console.print(f"  promoted to {done.promoted} for {m['name']}")


def evaluate(
    model: str = typer.Option(
        ..., "--model", help="Registered version id, or an artifact directory."
    ),
    data: Path = typer.Option(
        None, "--data", help="CSV or Parquet file with the model's features and the target."
    ),
    source: Source = typer.Option(
        Source.file,
        help="file: --data. clickhouse: the feature vectors logged at decision time, joined "
        "with the labels matured by --as-of (booked loans only).",
    ),
    target: str = typer.Option(None, help="Target column (default: the model's training target)."),
    positive: str = typer.Option(None, help="Value of the target meaning bad/fraud, if not 0/1."),
    out: Path = typer.Option(
        None, help="Directory for report.html and metrics.json (default: ./reports/VERSION)."
    ),
    registry: Path = typer.Option(None, help=REG_HELP),
    cutoff: float = typer.Option(
        None, help="Probability cutoff (default: the one chosen at training)."
    ),
    as_of: str = typer.Option(None, help="clickhouse source: label date (ISO), default now."),
    product: str = typer.Option(None, help="clickhouse source: only this product."),
    min_rows: int = typer.Option(
        500, min=1, help="Refuse when fewer loans than this have a final default label "
        "(after leaving out those younger than 6 months on book that have not defaulted)."),
) -> None:
    """Evaluate a trained model on new data: a file, or the decisions logged in ClickHouse
    whose labels have matured (is the champion still as good as at training?).
    Loans whose default label is not final yet are left out and counted (a file says so
    with a default_matured or max_month_on_book column). Writes metrics JSON + HTML report."""
    from models.errors import ModelError
    from models.registry import Registry
    from models.workflow import (
        evaluate_model,
        maturity_warning,
        model_to_evaluate,
        write_evaluation,
    )

    maturity: Maturity | None
    try:
        sm = model_to_evaluate(model, Registry(_registry_dir(registry)))
        if source is Source.clickhouse:
            from models.workflow import evaluation_data_from_clickhouse
            from streams.clients import analytics_client

            ds, maturity = evaluation_data_from_clickhouse(
                sm, analytics_client(load_settings()), target, as_of=as_of, product=product)
            data_name = f"ClickHouse labels matured by {as_of or 'now'} (booked loans)"
        elif data is None:
            fail("pass --data FILE (CSV or Parquet) or --source clickhouse", USAGE)
        else:
            from models.workflow import evaluation_data_from_file

            ds, maturity = evaluation_data_from_file(sm, data, target, positive)
            data_name = data.name
        warning = maturity_warning(maturity, min_rows)
        if warning:
            typer.secho(f"warning: {warning}", fg="yellow", err=True)
        with console.status(f"scoring {len(ds.y):,} rows"):
            ev = evaluate_model(sm, ds, data_name, cutoff)
    except ModelError as e:
        fail(str(e))
    out_dir = write_evaluation(out or Path("reports") / sm.version, sm, ev, str(data or data_name))
    mt = ev.figures["metrics"]
    console.print(f"{sm.version} on {data_name}: {ev.rows:,} rows, bad rate {ev.y.mean():.2%}")
    console.print(
        f"AUC {mt['auc']:.4f}  KS {mt['ks']:.4f}  log loss {mt['log_loss']:.4f}  "
        f"PSI {ev.figures.get('psi', float('nan')):.4f}"
    )
    console.print(f"  report:  {out_dir / 'report.html'}\n  metrics: {out_dir / 'metrics.json'}")


@app.command("list")
def list_models(
    registry: Path = typer.Option(None, help=REG_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the versions as a JSON list on "
                                 "stdout (keys: " + ", ".join(LIST_KEYS) + ")."),
) -> None:
    """List registered model versions, newest first, with their roles."""
    from models.registry import Registry

    rows = Registry(_registry_dir(registry)).list()
    if as_json:
        typer.echo(json.dumps([{k: r.get(k) for k in LIST_KEYS} for r in rows], indent=1))
        return
    if not rows:
        console.print("no models registered yet; run `loanrisk train --data FILE`")
        return
    t = Table("version", "name", "kind", "target", "AUC", "created", "role")
    for r in rows:
        auc = f"{r['auc']:.4f}" if r["auc"] is not None else ""
        t.add_row(r["version"], r["name"], r["kind"], r["target"], auc, r["created_at"], r["role"])
    console.print(t)


@app.command()
def show(
    version: str = typer.Argument(..., help="Version id (see `loanrisk models list`)."),
    registry: Path = typer.Option(None, help=REG_HELP),
) -> None:
    """Print a version's manifest (metrics, window, fingerprint, code version) as JSON."""
    from models.errors import ModelError
    from models.registry import Registry

    try:
        m = Registry(_registry_dir(registry)).show(version)
    except ModelError as e:
        fail(str(e))
    m.pop("psi_reference", None)
    console.print_json(json.dumps(m, default=str))


@app.command()
def promote(
    version: str = typer.Argument(..., help="Version id to promote."),
    champion: bool = typer.Option(
        False, "--champion", help="Make it the champion (scores decisions)."
    ),
    challenger: bool = typer.Option(
        False, "--challenger", help="Make it the challenger (shadow scoring)."
    ),
    registry: Path = typer.Option(None, help=REG_HELP),
) -> None:
    """Promote a version to champion or challenger for its model name (pd, fraud, bscore,
    collection)."""
    from features.spec import FEATURE_SPEC
    from models.errors import ModelError
    from models.registry import Registry
    from models.workflow import promote_servable

    if champion == challenger:
        fail("pass exactly one of --champion or --challenger", USAGE)
    role = "champion" if champion else "challenger"
    reg = Registry(_registry_dir(registry))
    try:
        target = reg.show(version).get("target", "")
        promote_servable(reg, version, role, spec_for(target, FEATURE_SPEC).names)
    except ModelError as e:
        fail(str(e))
    console.print(f"{version} is now {role} for {reg.show(version)['name']}")
    _announce(reg, f"{version} -> {role}")


def _announce(reg: Any, what: str) -> None:
    """Tell every worker (topic risk.releases.v1); workers on this machine also poll the
    registry, so an unreachable Kafka is a warning, not a failure."""
    from streams.control.releases import publish_release, release_record

    try:
        publish_release(load_settings().kafka,
                        release_record("MODEL_ROLES", what, json.dumps(reg.roles()),
                                       "loanrisk models promote"), timeout_s=5)
        console.print("release published to the workers (risk.releases.v1)")
    except Exception as exc:
        console.print(f"[yellow]warning:[/] release not published ({exc}); workers that "
                      "share this registry still pick it up within seconds")


def register(root: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` as top-level commands and ``models`` as a group."""
    root.command()(train)
    root.command()(evaluate)
    root.add_typer(app, name="models")
