"""``loanrisk console``: the review console (web) and its user accounts."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from streams.cli.errors import fail
from streams.cli.pipeline import LogLevelOpt
from streams.settings import Settings, load_settings

app = typer.Typer(help="The review console: a web application where reviewers work REVIEW "
                  "decisions, and its user accounts.", no_args_is_help=True)
users = typer.Typer(help="Console accounts (kept on Redis; passwords hashed with Argon2id).",
                    no_args_is_help=True)
app.add_typer(users, name="user")

ROLES = "reviewer, senior_reviewer, analyst or admin"


def _redis() -> tuple[Settings, Any]:
    from streams.clients import redis_client

    settings = load_settings()
    client = redis_client(settings)
    try:
        client.ping()
    except Exception as exc:
        fail(f"Redis at {settings.redis_dsn} does not answer ({exc}); start it with "
             "`loanrisk services up` or set LOANRISK_REDIS_URL")
    return settings, client


@app.command()
def serve(
    host: str = typer.Option("", help="address to listen on; default LOANRISK_CONSOLE_HOST "
                             "(127.0.0.1)"),
    port: int = typer.Option(0, help="port; default LOANRISK_CONSOLE_PORT (18080)"),
    loglevel: str = LogLevelOpt,
) -> None:
    """Serve the review console until Ctrl-C / SIGTERM.

    Reads ClickHouse through the sink when it owns the embedded store (start `loanrisk
    sink` first), keeps accounts and case claims on Redis and publishes review actions,
    final decisions and the audit trail to Kafka. Create accounts with `loanrisk console
    user add`.
    """
    import uvicorn

    from streams.clients import analytics_client
    from streams.console.app import create_app
    from streams.console.compose import build_console

    settings, client = _redis()
    try:
        console = build_console(settings, client, analytics_client(settings))
    except Exception as exc:
        fail(f"cannot start the console: {exc}")
    host = host or settings.console_host
    port = port or settings.console_port
    typer.echo(f"review console on http://{host}:{port}/ (accounts: loanrisk console user add)")
    uvicorn.run(create_app(console), host=host, port=port, log_level=loglevel,
                access_log=loglevel == "debug")


@users.command("add")
def user_add(
    name: str = typer.Argument(..., help="user name: a-z, 0-9, '.', '_', '-'"),
    role: str = typer.Option(..., help=f"one of {ROLES}"),
    password_env: str = typer.Option(
        "", help="read the password from this environment variable (for scripts); "
        "default: ask for it twice"),
    replace: bool = typer.Option(False, help="set a new password or role for an existing user"),
) -> None:
    """Create a console account (or replace its password and role with --replace)."""
    from streams.console.auth import AccountError
    from streams.console.compose import accounts

    if password_env:
        password = os.environ.get(password_env, "")
        if not password:
            fail(f"environment variable {password_env} is empty or not set")
    elif sys.stdin.isatty():
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    else:
        fail("no terminal to ask for the password: give --password-env VAR")
    settings, client = _redis()
    try:
        made = accounts(settings, client).add(name, password, role, replace=replace)
    except AccountError as exc:
        fail(str(exc))
    typer.echo(f"user {made} ({role}) {'updated' if replace else 'created'}")


@users.command("list")
def user_list(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List the console accounts and their roles."""
    import orjson

    from streams.console.compose import accounts
    settings, client = _redis()
    rows = accounts(settings, client).list()
    if as_json:
        typer.echo(orjson.dumps([{"user": u, "role": r} for u, r in rows]).decode())
        return
    for u, r in rows:
        typer.echo(f"{u}\t{r}")
    if not rows:
        typer.echo("no accounts yet: loanrisk console user add NAME --role reviewer", err=True)


@users.command("remove")
def user_remove(name: str = typer.Argument(..., help="the user to remove")) -> None:
    """Remove a console account (its open logins end at once)."""
    from streams.console.auth import AccountError
    from streams.console.compose import accounts
    settings, client = _redis()
    try:
        gone = accounts(settings, client).remove(name)
    except AccountError as exc:
        fail(str(exc))
    if not gone:
        fail(f"no user {name}; see `loanrisk console user list`")
    typer.echo(f"user {name} removed")
