"""``loanrisk``: the one command line of the project.

Each area has its own module of subcommands (``streams/cli/*.py``); this file
only assembles them, so ``loanrisk --help`` lists everything.
"""

from __future__ import annotations

import typer

from streams.cli import (
    drift,
    explain,
    features,
    lists,
    models,
    pipeline,
    policy,
    rules,
    services,
    shadow,
    simulate,
)

app = typer.Typer(
    name="loanrisk",
    help=(
        "Real-time loan-risk decisions on Kafka: simulate traffic, run workers and the "
        "ClickHouse sink, train and evaluate models, manage rules and lists, query results."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(services.app, name="services")
app.add_typer(features.app, name="features")
app.add_typer(simulate.app, name="simulate")
app.add_typer(rules.app, name="rules")
app.add_typer(policy.app, name="policy")
app.add_typer(lists.app, name="lists")
app.add_typer(shadow.app, name="shadow")
models.register(app)
pipeline.register(app)
drift.register(app)
explain.register(app)


def main() -> None:
    app()

