"""``loanrisk train``, ``loanrisk evaluate`` and ``loanrisk models list|show|promote``.

Thin wrappers over the `models` library: read settings, load data, call, print paths.
Heavy imports stay inside the commands so ``loanrisk --help`` is fast.
"""

from __future__ import annotations

import json
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from streams.cli.errors import fail
from streams.settings import load_settings

app = typer.Typer(
    help="Model registry: list, show and promote trained model versions.", no_args_is_help=True
)
console = Console()
REG_HELP = "Registry directory (default: LOANRISK_STATE_DIR/models)."


class Source(StrEnum):
    file = "file"
    clickhouse = "clickhouse"


class Kind(StrEnum):
    auto = "auto"
    lightgbm = "lightgbm"
    scorecard = "scorecard"


def _registry_dir(registry: Path | None) -> Path:
    return registry or load_settings().models_dir


def _git_version() -> dict[str, str]:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        return {"git": sha + ("-dirty" if dirty else "")}
    except (OSError, subprocess.SubprocessError):
        return {"git": "unknown"}


def _spec_metadata(columns: list[str]) -> dict[str, Any]:
    """Feature names, monotone directions, reason codes and version from the feature spec."""
    try:
        from features.spec import FEATURE_SPEC
    except Exception:  # the spec is optional for analysts' own data
        return {}
    present = [n for n in FEATURE_SPEC.names if n in columns]
    if not present:
        return {}
    return {
        "features": FEATURE_SPEC.names if len(present) == len(FEATURE_SPEC.names) else None,
        "monotone": {d.name: d.monotone for d in FEATURE_SPEC.defs if d.monotone},
        "reasons": {d.name: (d.reason_code, d.reason_text) for d in FEATURE_SPEC.defs},
        "version": FEATURE_SPEC.version if len(present) == len(FEATURE_SPEC.names) else "",
    }


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
        Kind.auto, help="auto = the better of LightGBM and scorecard by validation AUC."
    ),
    name: str = typer.Option("pd", help="Model name in the registry: pd (credit) or fraud."),
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
) -> None:
    """Train a PD or fraud model (LightGBM and/or scorecard), evaluate it, register it."""
    import tempfile

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from models.artifact import write_artifact
    from models.errors import ModelError
    from models.registry import Registry
    from models.scorecard import Scale
    from models.train import TrainConfig
    from models.train import train as run_train

    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("loading data", total=None)
            if source is Source.clickhouse:
                from models.clickhouse_data import load_from_clickhouse, parse_as_of
                from streams.clients import analytics_client

                client = analytics_client(load_settings())
                ds = load_from_clickhouse(client, target, parse_as_of(as_of), product=product)
                meta = _spec_metadata(ds.feature_names)
            else:
                if data is None:
                    fail("pass --data FILE (CSV or Parquet) or --source clickhouse")
                from models.data import frame_to_dataset, read_table

                frame = read_table(data)
                meta = _spec_metadata(list(frame.columns))
                ds = frame_to_dataset(
                    frame,
                    target,
                    time_col,
                    id_col,
                    positive=positive,
                    features=meta.get("features"),
                    exclude=exclude,
                )
            cfg = TrainConfig(
                name=name,
                model=model.value,
                seed=seed,
                monotone=meta.get("monotone", {}),
                reasons=meta.get("reasons", {}),
                feature_spec_version=meta.get("version", ""),
                scale=Scale(pdo, base_score, base_odds),
                cutoff=cutoff,
                loss_per_bad=loss_per_bad,
                revenue_per_good=revenue_per_good,
            )
            bar.update(task, description=f"training on {len(ds.y):,} rows")
            result = run_train(ds, cfg, progress=lambda m: bar.update(task, description=m))
            bar.update(task, description="writing report")
            out_dir = out or Path(tempfile.mkdtemp(prefix="loanrisk-model-"))
            art = write_artifact(out_dir, result, ds, cfg, code_version=_git_version())
            reg = Registry(_registry_dir(registry))
            version = reg.register(art)
            if promote:
                _promote_servable(reg, version, promote)
    except ModelError as e:
        fail(str(e))
    final = reg.path(version)
    m = reg.show(version)
    console.print(
        f"[green]registered[/green] {version} ({m['kind']}, {m['validation'].split(':')[0]})"
    )
    console.print(
        f"  AUC {m['metrics']['auc']:.4f}  KS {m['metrics']['ks']:.4f}  "
        f"log loss {m['metrics']['log_loss']:.4f}"
    )
    if m.get("oracle"):
        console.print(f"  oracle AUC {m['oracle']['auc']:.4f}  share {m['oracle']['share']:.3f}")
    if ds.dropped:
        console.print(f"  not used as features: {', '.join(sorted(ds.dropped))}")
    console.print(f"  report:  {final / 'report.html'}")
    console.print(f"  metrics: {final / 'metrics.json'}")
    if promote:
        console.print(f"  promoted to {promote} for {m['name']}")


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
) -> None:
    """Evaluate a trained model on new data: a file, or the decisions logged in ClickHouse
    whose labels have matured (is the champion still as good as at training?).
    Writes metrics JSON + HTML report."""
    from models.artifact import dump_json
    from models.data import load_table
    from models.errors import ModelError
    from models.evaluate import evaluate_predictions
    from models.registry import Registry
    from models.report import render
    from models.serving import load_model

    try:
        path = Path(model)
        sm = (
            load_model(path)
            if path.is_dir()
            else Registry(_registry_dir(registry)).load_version(model)
        )
        tgt = target or sm.target
        if source is Source.clickhouse:
            from models.clickhouse_data import load_from_clickhouse, parse_as_of
            from streams.clients import analytics_client

            ds = load_from_clickhouse(
                analytics_client(load_settings()), tgt, parse_as_of(as_of), product=product,
                feature_spec_version=sm.feature_spec_version or None, features=sm.feature_names,
            )
            data_name = f"ClickHouse labels matured by {as_of or 'now'} (booked loans)"
        elif data is None:
            fail("pass --data FILE (CSV or Parquet) or --source clickhouse")
        else:
            ds = load_table(
                data, tgt, positive=positive, features=sm.feature_names, categories=sm.categories
            )
            data_name = data.name
        if len(set(ds.y.tolist())) < 2:
            fail(f"{data_name}: only one class among {len(ds.y):,} rows; evaluate on more "
                  "or later data (--as-of)")
        with console.status(f"scoring {len(ds.y):,} rows"):
            p = sm.score_batch(ds.X.to_numpy(dtype="float64"))
            oracle_col = {"label_default": "oracle_pd", "label_fraud": "oracle_fraud"}.get(tgt)
            oracle = None
            if ds.extra is not None and oracle_col in ds.extra.columns:
                oracle = ds.extra[oracle_col].to_numpy(dtype="float64")
            ev = evaluate_predictions(
                ds.y,
                p,
                cutoff=cutoff if cutoff is not None else sm.manifest.get("cutoff", 0.5),
                psi_ref=sm.manifest.get("psi_reference"),
                oracle=oracle,
                time_ms=ds.time,
            )
    except ModelError as e:
        fail(str(e))
    out_dir = out or Path("reports") / sm.version
    out_dir.mkdir(parents=True, exist_ok=True)
    dump_json({"version": sm.version, "data": str(data or data_name), "rows": len(ds.y), **ev},
              out_dir / "metrics.json")
    (out_dir / "report.html").write_text(
        render(f"Evaluation of {sm.version} on {data_name}", sm.manifest, ev, ds.y, p)
    )
    mt = ev["metrics"]
    console.print(f"{sm.version} on {data_name}: {len(ds.y):,} rows, bad rate {ds.y.mean():.2%}")
    console.print(
        f"AUC {mt['auc']:.4f}  KS {mt['ks']:.4f}  log loss {mt['log_loss']:.4f}  "
        f"PSI {ev.get('psi', float('nan')):.4f}"
    )
    console.print(f"  report:  {out_dir / 'report.html'}\n  metrics: {out_dir / 'metrics.json'}")


@app.command("list")
def list_models(
    registry: Path = typer.Option(None, help=REG_HELP),
) -> None:
    """List registered model versions, newest first, with their roles."""
    from models.registry import Registry

    rows = Registry(_registry_dir(registry)).list()
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
    """Promote a version to champion or challenger for its model name (pd or fraud)."""
    from models.errors import ModelError
    from models.registry import Registry

    if champion == challenger:
        fail("pass exactly one of --champion or --challenger")
    role = "champion" if champion else "challenger"
    reg = Registry(_registry_dir(registry))
    try:
        _promote_servable(reg, version, role)
    except ModelError as e:
        fail(str(e))
    console.print(f"{version} is now {role} for {reg.show(version)['name']}")
    _announce(reg, f"{version} -> {role}")


def _promote_servable(reg: Any, version: str, role: str) -> None:
    """Promote, refusing what the stream cannot serve: a broken artifact, or a model
    trained on features this pipeline does not compute (raises ModelError)."""
    from features.spec import FEATURE_SPEC
    from models.serving import for_feature_order

    for_feature_order(reg.load_version(version), FEATURE_SPEC.names)
    reg.promote(version, role)


def _announce(reg: Any, what: str) -> None:
    """Tell every worker (topic risk.releases.v1); workers on this machine also poll the
    registry, so an unreachable Kafka is a warning, not a failure."""
    import json

    from streams.control.releases import publish_release, release_record
    from streams.settings import load_settings

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
