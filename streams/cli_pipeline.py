"""``loanrisk worker | sink | sql | monitor``: running the pipeline and looking at it."""

from __future__ import annotations

import typer

from streams.settings import load_settings


def register(app: typer.Typer) -> None:
    app.command(name="worker")(worker)


def worker(
    loglevel: str = typer.Option("warning", help="Faust/worker log level: debug, info, warning"),
) -> None:
    """Run one decision worker (Faust). Start more processes to share the partitions.

    Consumes applications, device events and behaviour batches; publishes decisions to
    loan.decisions.v1 and feature vectors to loan.features.v1. Stop with Ctrl-C / SIGTERM.
    """
    from streams.worker import run_worker

    run_worker(load_settings(), loglevel=loglevel)
