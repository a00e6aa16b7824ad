"""How every ``loanrisk`` command stops on a problem: one red line on stderr, exit 1."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(msg: str) -> NoReturn:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(1)
