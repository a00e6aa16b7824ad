"""A command added to the CLI without a smoke run fails here (the table is
``tests/cli_smoke_table.py``; ``tests/integration/test_cli_smoke.py`` runs it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main

from streams.cli import app
from tests.cli_smoke_table import SMOKE_RUNS


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every leaf command of the click tree behind ``app``, as 'group sub'."""
    subcommands = getattr(command, "commands", None)  # a group
    if subcommands is None:
        yield " ".join(path)
        return
    for name, sub in sorted(subcommands.items()):
        if not getattr(sub, "hidden", False):
            yield from command_paths(sub, (*path, name))


def test_every_command_has_a_smoke_run() -> None:
    paths = set(command_paths(typer.main.get_command(app)))
    assert len(paths) > 20  # the walk found the tree, not one root command
    missing = sorted(paths - set(SMOKE_RUNS))
    assert not missing, f"commands without a run in tests/cli_smoke_table.py: {missing}"


def test_the_table_names_no_command_that_is_gone() -> None:
    paths = set(command_paths(typer.main.get_command(app)))
    root_options = {p for p in SMOKE_RUNS if p.startswith("--")}
    assert set(SMOKE_RUNS) - root_options - paths == set()


def test_the_root_options_of_the_table_exist() -> None:
    root = typer.main.get_command(app)
    names = {opt for param in root.params for opt in getattr(param, "opts", [])}
    assert {p for p in SMOKE_RUNS if p.startswith("--")} <= names
