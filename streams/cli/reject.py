"""``loanrisk reject-inference``: each reject-inference method measured on the simulator's
truth (`models.reject_study`), one table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from streams.cli.errors import fail


def reject_inference(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False,
                              help="Training table of a simulator history (`loanrisk features "
                              "build`): spec features, label_default, oracle_pd, event_time."),
    approval_rate: float = typer.Option(0.6, min=0.05, max=0.95,
                                        help="Share the incumbent policy approves."),
    explore_share: float = typer.Option(0.03, min=0.001, max=0.5,
                                        help="Share of the declined the exploration cell "
                                        "approves anyway."),
    factor: float = typer.Option(1.5, min=1.0, max=5.0, help="Parcelling and fuzzy "
                                 "augmentation: how much worse than the booked at the same "
                                 "score the declined are assumed."),
    rounds: int = typer.Option(400, min=10, help="Boosting rounds at most (early stopping)."),
    seed: int = typer.Option(0, help="Seed of the exploration draw and the fits."),
    as_json: bool = typer.Option(False, "--json", help="Print every figure as JSON."),
) -> None:
    """Train on the booked loans of a history lent under a real policy (declined unlabelled),
    with and without each reject-inference method, beside the approve-all model and the
    oracle; print AUC on the through-the-door population, calibration among the declined
    and the approval/bad-rate frontier each gives."""
    import json

    from features.spec import FEATURE_SPEC
    from models.data import read_table
    from models.errors import ModelError
    from models.reject_study import StudyConfig, run_study

    try:
        frame = read_table(data)
        study = run_study(frame, [n for n in FEATURE_SPEC.names if n in frame.columns],
                          StudyConfig(approval_rate, explore_share, factor=factor, seed=seed,
                                      rounds=rounds),
                          progress=None if as_json else (lambda m: typer.echo(m, err=True)))
    except ModelError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(_record(study), default=float))
        return
    _print(study)


def _record(study: Any) -> dict[str, Any]:
    return {"periods": study.periods, "booked": study.booked, "explored": study.explored,
            "winner": study.winner(),
            "methods": [{"method": r.method, "train_rows": r.train_rows, "auc": r.auc,
                         "declined_mean_pd": r.declined_mean_pd,
                         "declined_true_pd": r.declined_true_pd,
                         "calibration_ratio": r.calibration_ratio,
                         "bad_rate_at": {str(k): v for k, v in r.bad_rate_at.items()},
                         "auc_gap_closed": study.gap_closed(r.method)}
                        for r in study.results]}


def _print(study: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    points = list(study.results[0].bad_rate_at)
    table = Table(title=f"reject inference on the simulator: {study.periods['test']:,} test "
                        f"applications (through the door); policy period "
                        f"{study.periods['policy']:,}, {study.booked:,} booked, "
                        f"{study.explored:,} explored")
    for col in ("method", "rows", "AUC", "gap", "PD decl.", "true PD", "ratio",
                *[f"bad@{p:.0%}" for p in points]):
        table.add_column(col, justify="right", no_wrap=True)
    for r in study.results:
        gap = study.gap_closed(r.method)
        table.add_row(r.method, f"{r.train_rows:,}" if r.train_rows else "-", f"{r.auc:.4f}",
                      f"{gap:.0%}", f"{r.declined_mean_pd:.4f}", f"{r.declined_true_pd:.4f}",
                      f"{r.calibration_ratio:.2f}",
                      *[f"{r.bad_rate_at[p]:.2%}" for p in points])
    console = Console(width=max(Console().width, 110))
    console.print(table)
    console.print("rows: training rows; gap: share of the AUC gap between booked-only and "
                  "approve-all closed; PD decl. / true PD: mean predicted and oracle PD among "
                  "the applicants the incumbent declines (ratio 1 = calibrated); bad@x: bad "
                  "rate approving the lowest-PD x of applicants")
    w = study.by_method()[study.winner()]
    console.print(f"best method: {study.winner()} (AUC {w.auc:.4f}, closes "
                  f"{study.gap_closed(study.winner()):.0%} of the gap between booked-only and "
                  f"approve-all; declined PD {w.calibration_ratio:.2f} x the truth)")


def register(app: typer.Typer) -> None:
    app.command("reject-inference")(reject_inference)
