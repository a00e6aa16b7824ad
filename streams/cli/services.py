"""``loanrisk services``: start, stop and check Kafka, Redis and ClickHouse."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from schemas.errors import LoanRiskError
from streams.settings import load_settings

app = typer.Typer(
    help="Start, stop and check the local services (Kafka in KRaft mode, Redis, embedded "
    "ClickHouse). Idempotent; logs and data live under LOANRISK_STATE_DIR (default .loanrisk/).",
    no_args_is_help=True,
)
console = Console()


def _print(statuses: list) -> bool:
    table = Table("service", "healthy", "detail", "log")
    for s in statuses:
        table.add_row(s.name, "[green]yes[/]" if s.healthy else "[red]no[/]", s.detail, s.log)
    console.print(table)
    return all(s.healthy for s in statuses)


@app.command()
def up() -> None:
    """Start Kafka and Redis if not running, create the topics, apply the ClickHouse schema."""
    from streams.ops import services

    settings = load_settings()
    try:
        with console.status("starting services (first run downloads the Kafka jars)..."):
            statuses = services.up(settings)
    except LoanRiskError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    if not _print(statuses):
        raise typer.Exit(1)


@app.command()
def down() -> None:
    """Stop the local Kafka and Redis started by `services up` (data is kept)."""
    from streams.ops import services

    stopped = services.down(load_settings())
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@app.command()
def status() -> None:
    """Show whether each service is healthy; exit code 1 if any is not."""
    from streams.ops import services

    if not _print(services.status(load_settings())):
        raise typer.Exit(1)
