"""``loanrisk``: the one command line of the project.

Each area has its own module of subcommands (``streams/cli/*.py``); this file
only assembles them, so ``loanrisk --help`` lists everything. Exit codes are
the same for every command (``streams/cli/errors.py``, ``docs/cli.md``).
"""

from __future__ import annotations

import typer

from streams.cli import (
    console,
    drift,
    errors,
    explain,
    features,
    lists,
    models,
    pipeline,
    policy,
    policy_levers,
    reject,
    rules,
    services,
    servicing,
    shadow,
    simulate,
)

PROG = "loanrisk"

app = typer.Typer(
    name=PROG,
    help=(
        "Real-time loan-risk decisions on Kafka: simulate traffic, run workers and the "
        "ClickHouse sink, train and evaluate models, manage rules and lists, query results."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion [bash|zsh|fish|powershell]
)
app.add_typer(services.app, name="services")
app.add_typer(features.app, name="features")
app.add_typer(simulate.app, name="simulate")
app.add_typer(rules.app, name="rules")
policy_levers.register(policy.app)
app.add_typer(policy.app, name="policy")
app.add_typer(lists.app, name="lists")
app.add_typer(shadow.app, name="shadow")
app.add_typer(servicing.app, name="servicing")
app.add_typer(console.app, name="console")
models.register(app)
pipeline.register(app)
drift.register(app)
explain.register(app)
reject.register(app)


def package_version() -> str:
    """The installed distribution's version; "dev" when run from a tree that is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PROG)
    except PackageNotFoundError:
        return "dev"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(False, "--version", is_eager=True,
                                      callback=_print_version,
                                      help="Print the installed version and exit."),
) -> None:
    # the root's own options; the help text is the app's
    return None


def main() -> None:
    # a fixed program name: completion scripts and usage lines say `loanrisk` even when
    # started as `python -m streams.cli`
    from streams.kafka_security import KafkaSecurityError

    try:
        app(prog_name=PROG)
    except KafkaSecurityError as exc:  # any command, any client: the setting to fix
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise SystemExit(errors.ERROR) from None
