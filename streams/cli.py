"""``loanrisk``: the one command line of the project.

Each area has its own module of subcommands (``streams/cli_*.py``); this file
only assembles them, so ``loanrisk --help`` lists everything.
"""

from __future__ import annotations

import typer

from streams import (
    cli_drift,
    cli_explain,
    cli_features,
    cli_lists,
    cli_models,
    cli_pipeline,
    cli_policy,
    cli_rules,
    cli_services,
    cli_shadow,
    cli_simulate,
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
app.add_typer(cli_services.app, name="services")
app.add_typer(cli_features.app, name="features")
app.add_typer(cli_simulate.app, name="simulate")
app.add_typer(cli_rules.app, name="rules")
app.add_typer(cli_policy.app, name="policy")
app.add_typer(cli_lists.app, name="lists")
app.add_typer(cli_shadow.app, name="shadow")
cli_models.register(app)
cli_pipeline.register(app)
cli_drift.register(app)
cli_explain.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
