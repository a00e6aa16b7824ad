"""``loanrisk policy``: check a product policy file and release it to running workers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from streams.cli.errors import fail

if TYPE_CHECKING:
    from decisions.policy import Policy

app = typer.Typer(help="Check and release the product policy (cutoffs, grades, offers).",
                  no_args_is_help=True)

PRODUCTS = ("CREDIT_CARD", "PERSONAL_LOAN", "BNPL")
FILE_HELP = "Policy YAML file (default: the packaged policy)."


def _load(file: Path | None) -> Policy:
    """The validated policy, refusing one that leaves a product undecidable."""
    from decisions.errors import PolicyError
    from decisions.policy import DEFAULT_POLICY_PATH, Policy

    if file is not None:
        try:
            file.read_text()
        except UnicodeDecodeError as exc:
            fail(f"{file} is not a YAML text file (binary content at byte {exc.start}); give a "
                 f"policy YAML such as {DEFAULT_POLICY_PATH}")
    try:
        policy = Policy.from_yaml(file) if file else Policy.default()
    except PolicyError as exc:
        fail(f"{file}: {exc}")
    missing = [p for p in PRODUCTS if p not in policy.products]
    if missing:
        fail(f"{file}: no policy for {', '.join(missing)}; every product the stream "
              "decides needs one")
    return policy


@app.command()
def show(file: Path = typer.Argument(None, help=FILE_HELP, exists=True, dir_okay=False)) -> None:
    """Validate FILE and print its version and per-product cutoffs."""
    from rich.console import Console
    from rich.table import Table

    policy = _load(file)
    table = Table(title=f"policy {policy.version}")
    table.add_column("product", no_wrap=True)
    for col in ("approve PD <", "decline PD ≥", "fraud review ≥", "fraud decline ≥",
                "anomaly review ≥", "max DTI", "grade A max"):
        table.add_column(col, justify="right")
    for name in PRODUCTS:
        pp = policy.for_product(name)
        table.add_row(name, f"{pp.pd.approve_below:g}", f"{pp.pd.decline_at:g}",
                      f"{pp.fraud.review_at:g}", f"{pp.fraud.decline_at:g}",
                      f"{pp.anomaly_review_at:g}", f"{pp.offer.max_dti:g}",
                      f"{pp.offer.by_grade['A'].max_amount:,.0f}")
    Console().print(table)


@app.command()
def release(
    file: Path = typer.Argument(..., help="Policy YAML file to release.", exists=True,
                                dir_okay=False),
    author: str = typer.Option(..., help="Who releases it (recorded with the release)."),
) -> None:
    """Validate FILE, then publish it to every running worker (topic risk.releases.v1).

    Workers decide with it from their next decision, without restart, and record its
    version on every decision; an invalid file is refused here, and a worker that
    receives one anyway keeps its current policy."""
    from streams.control.releases import publish_release, release_record
    from streams.settings import load_settings

    policy = _load(file)
    try:
        publish_release(load_settings().kafka,
                        release_record("POLICY", policy.version, file.read_text(), author))
    except Exception as exc:
        fail(f"could not publish the release: {exc}")
    typer.echo(f"released policy {policy.version}")
