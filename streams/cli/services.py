"""``loanrisk services``: start, stop and check Kafka, Redis and ClickHouse."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from schemas.errors import LoanRiskError
from streams.cli.errors import ERROR, fail
from streams.settings import load_settings

if TYPE_CHECKING:
    from streams.ops.services import ServiceStatus

app = typer.Typer(
    help="Start, stop and check the local services (Kafka in KRaft mode, Redis, embedded "
    "ClickHouse). Idempotent; logs and data live under LOANRISK_STATE_DIR (default .loanrisk/).",
    no_args_is_help=True,
)
console = Console()
JSON_HELP = "Print the statuses as JSON on stdout (for scripts) instead of a table."


def _print(statuses: Sequence[ServiceStatus], as_json: bool = False) -> bool:
    """Show the statuses; True when every service is healthy."""
    healthy = all(s.healthy for s in statuses)
    if as_json:
        import dataclasses

        import orjson

        doc = {"healthy": healthy, "services": [dataclasses.asdict(s) for s in statuses]}
        typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return healthy
    table = Table("service", "healthy", "detail", "log")
    for s in statuses:
        table.add_row(s.name, "[green]yes[/]" if s.healthy else "[red]no[/]", s.detail, s.log)
    console.print(table)
    return healthy


@app.command()
def up(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Start Kafka and Redis if not running, create the topics, apply the ClickHouse schema.
    Exit 1 when a service does not come up healthy."""
    from streams.ops import services

    settings = load_settings()
    try:
        with console.status("starting services (first run downloads the Kafka jars)..."):
            statuses = services.up(settings)
    except LoanRiskError as exc:
        fail(str(exc))
    if not _print(statuses, as_json):
        raise typer.Exit(ERROR)


@app.command()
def down() -> None:
    """Stop the local Kafka and Redis started by `services up` (data is kept)."""
    from streams.ops import services

    stopped = services.down(load_settings())
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Show whether each service is healthy; exit code 1 if any is not."""
    from streams.ops import services

    if not _print(services.status(load_settings()), as_json):
        raise typer.Exit(ERROR)
