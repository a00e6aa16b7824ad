"""``loanrisk rules``: validate a rules file, backtest it on history before it ships."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import pandas as pd

    from decisions.backtest import BacktestResult
    from decisions.history import Reconstruction

from streams.cli.errors import USAGE, fail

app = typer.Typer(help="Validate and backtest decision rules (CEL conditions in YAML).",
                  no_args_is_help=True)

HISTORY_HELP = (
    "History to run on: a Parquet or CSV file (feature columns, pd/fraud_probability, "
    "label_default/label_fraud), or 'clickhouse' to read decisions, logged feature vectors and "
    "matured labels from ClickHouse between --since and --until."
)


def _known_names() -> list[str]:
    from features.spec import FEATURE_SPEC

    return list(FEATURE_SPEC.names)


def load_history(on: str, since: str | None, until: str | None) -> pd.DataFrame:
    """History from a file, or from ClickHouse between --since and --until (one row per
    application); a bad date is a usage error naming the accepted formats."""
    from decisions.errors import BacktestError
    from decisions.history import history_from_clickhouse, parse_time, read_history

    if on != "clickhouse":
        try:
            return read_history(Path(on))
        except BacktestError as exc:
            fail(str(exc))
    if not since or not until:
        fail("--on clickhouse needs --since and --until (e.g. 2025-01-01 2025-02-01)", USAGE)
    try:
        since_ms, until_ms = parse_time(since, "--since"), parse_time(until, "--until")
    except BacktestError as exc:
        fail(str(exc), USAGE)
    from streams.clients import analytics_client
    from streams.settings import load_settings

    return history_from_clickhouse(analytics_client(load_settings()), since_ms, until_ms)


@app.command()
def validate(
    file: Path = typer.Argument(..., help="Rules YAML file to check.", exists=True, dir_okay=False),
    check_names: bool = typer.Option(
        True, "--check-names/--no-check-names",
        help="Reject names that are not features of features/spec.py, scores or application "
        "fields (catches typos).",
    ),
) -> None:
    """Parse, compile and trial-run every rule; exit 1 naming the rule and problem if invalid."""
    from rich.console import Console
    from rich.table import Table

    from decisions.errors import RulesError
    from decisions.rules import RuleSet

    try:
        rs = RuleSet.from_yaml(file, _known_names() if check_names else None)
    except RulesError as exc:
        fail(f"{file}: {exc}")
    table = Table(title=f"{file} -- version {rs.version}: {len(rs.enabled)}/{len(rs)} enabled")
    for col in ("id", "category", "action", "enabled", "products", "condition"):
        table.add_column(col)
    for r in rs.rules:
        s = r.spec
        table.add_row(s.id, s.category, s.action, "yes" if s.enabled else "no",
                      ",".join(s.products) if s.products else "all", s.condition)
    Console().print(table)
    typer.secho("valid", fg="green")


@app.command()
def backtest(
    file: Path = typer.Argument(
        ..., help="Candidate rules YAML file.", exists=True, dir_okay=False
    ),
    on: str = typer.Option(..., "--on", help=HISTORY_HELP),
    since: str = typer.Option(None, help="Start of the ClickHouse range (inclusive), a date/time."),
    until: str = typer.Option(None, help="End of the ClickHouse range (exclusive), a date/time."),
    current: Path = typer.Option(
        None, help="Rules now live, to compare approval rates (default: the packaged default).",
        exists=True, dir_okay=False,
    ),
    policy: Path = typer.Option(
        None, help="Policy file for full decisions (needs product and application columns); "
        "default: the packaged policy when the history has a product column, else rules-only.",
        exists=True, dir_okay=False,
    ),
    rules_only: bool = typer.Option(False, help="Ignore the policy: approval = no decline/review "
                                    "rule hit."),
    skip_unevaluable: bool = typer.Option(
        False, "--skip-unevaluable", help="Backtest the rules (and policy) the history can feed "
        "and list the others; without it a history lacking what a rule or the policy reads is "
        "refused (exit 1), never shown as zero hits."),
    out: Path = typer.Option(None, help="Also write the per-rule table to this CSV file."),
    as_json: bool = typer.Option(False, "--json", help="Print every figure as JSON on stdout "
                                 "(no table, no progress bar)."),
) -> None:
    """Per rule: hits, hit rate, bad and fraud rate among hits, overlap; approval-rate change.

    Application fields the history lacks are rebuilt from its feature columns (the vectors
    logged at decision time); a rule or policy whose inputs are still missing is refused,
    or with --skip-unevaluable left out and listed."""
    from decisions.backtest import backtest as run
    from decisions.backtest import policy_missing
    from decisions.errors import DecisionError
    from decisions.history import with_application_fields
    from decisions.policy import Policy
    from decisions.rules import DEFAULT_RULES_PATH, RuleSet

    known = _known_names()
    try:
        cand = RuleSet.from_yaml(file, known)
        cur = RuleSet.from_yaml(current or DEFAULT_RULES_PATH, known)
        df, rebuilt = with_application_fields(load_history(on, since, until))
        _say_rebuilt(rebuilt)
        pol = None
        if not rules_only and (policy is not None or not policy_missing(df.columns)):
            pol = Policy.from_yaml(policy) if policy else Policy.default()
        if as_json:
            res = run(df, cand, cur, pol, skip_unevaluable=skip_unevaluable,
                      partial=rebuilt.partial)
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("backtesting", total=len(df))
                res = run(df, cand, cur, pol, progress=lambda n: bar.update(task, completed=n),
                          skip_unevaluable=skip_unevaluable, partial=rebuilt.partial)
    except DecisionError as exc:
        fail(str(exc))
    _warn_skipped(res)
    if as_json:
        typer.echo(json.dumps(res.record(), indent=1))
    else:
        _print_backtest(file, res)
    if out:
        res.per_rule.to_csv(out, index=False)
        typer.echo(f"wrote {out}", err=as_json)


def _say_rebuilt(rebuilt: Reconstruction) -> None:
    """What came from the logged feature vectors, and the decisions that had none
    (on stderr, so --json stays parseable)."""
    if rebuilt.without_vector:
        typer.secho(f"warning: {rebuilt.without_vector:,} decisions have no logged feature "
                    "vector and are left out", fg="yellow", err=True)
    if rebuilt.fields:
        typer.echo(f"rebuilt from the logged feature vectors: {', '.join(rebuilt.fields)}",
                   err=True)


def _warn_skipped(res: BacktestResult) -> None:
    """Name every rule and policy left out by --skip-unevaluable (on stderr)."""
    if res.skipped:
        typer.secho(f"skipped, the history has no column for what they read: "
                    f"{res.skipped.describe()}", fg="yellow", err=True)


def _print_backtest(file: Path, res: BacktestResult) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{file.name} ({res.candidate_version}) on {res.rows} applications")
    for col in ("rule", "action", "on", "hits", "hit rate", "bad rate (n)", "fraud rate (n)",
                "overlap"):
        table.add_column(col, justify="right" if col not in ("rule", "action") else "left")

    def pct(v: float | None) -> str:
        return "-" if v is None or v != v else f"{100 * v:.2f}%"

    for row in res.per_rule.itertuples():
        table.add_row(row.rule_id, row.action, "yes" if row.enabled else "no", str(row.hits),
                      pct(row.hit_rate), f"{pct(row.bad_rate)} ({row.bad_labelled})",
                      f"{pct(row.fraud_rate)} ({row.fraud_labelled})", pct(row.overlap))
    console = Console()
    console.print(table)
    console.print(
        f"approval rate ({res.mode}): candidate {pct(res.candidate_approval_rate)}, "
        f"current {pct(res.current_approval_rate)} ({res.current_version}), change "
        f"{100 * (res.approval_rate_change or 0):+.2f} points"
    )


@app.command()
def release(
    file: Path = typer.Argument(..., help="Rules YAML file to release.", exists=True,
                                dir_okay=False),
    author: str = typer.Option(..., help="Who releases it (recorded with the release)."),
) -> None:
    """Validate FILE, then publish it to every running worker (topic risk.releases.v1).

    Workers switch to it without restart and record its version on every decision they
    make with it; an invalid file is refused here, and workers would keep the old rules."""

    from decisions.errors import RulesError
    from decisions.rules import RuleSet
    from streams.control.releases import publish_release, release_record
    from streams.settings import load_settings

    try:
        rs = RuleSet.from_yaml(file, _known_names())
    except RulesError as exc:
        fail(f"{file}: {exc}")
    text = file.read_text()
    try:
        publish_release(load_settings().kafka,
                        release_record("RULES", rs.version, text, author))
    except Exception as exc:
        fail(f"could not publish the release: {exc}")
    typer.echo(f"released rules {rs.version} ({len(rs.enabled)} enabled rules)")
