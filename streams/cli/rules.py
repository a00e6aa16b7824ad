"""``loanrisk rules``: validate a rules file, backtest it on history before it ships."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    import pandas as pd

from streams.cli.errors import fail

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
    """A DataFrame of history from a file or from ClickHouse (one row per application)."""
    import pandas as pd

    if on == "clickhouse":
        from streams.clients import analytics_client
        from streams.settings import load_settings

        if not since or not until:
            fail("--on clickhouse needs --since and --until (e.g. 2025-01-01 2025-02-01)")
        return history_from_clickhouse(analytics_client(load_settings()), since, until)
    path = Path(on)
    if not path.exists():
        fail(f"no history file {path}; give a Parquet/CSV file or 'clickhouse'")
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    fail(f"{path}: unknown format; use .parquet or .csv")
    return None


HISTORY_SQL = (
    "SELECT d.application_id AS application_id, d.product AS product, d.pd AS pd, "
    "d.fraud_probability AS fraud_probability, d.anomaly_score AS anomaly_score, "
    "d.scorecard_points AS scorecard_points, d.decision AS decision, "
    "d.shadow_decision AS shadow_decision, f.names AS names, f.values AS values, "
    "if(l.default_matured = 1, l.label_default, NULL) AS label_default, "
    "l.label_fraud AS label_fraud "
    "FROM decisions_latest AS d "
    "LEFT JOIN feature_vectors_latest AS f ON f.application_id = d.application_id "
    "LEFT JOIN labels AS l ON l.application_id = d.application_id "
    "WHERE d.event_time >= parseDateTime64BestEffort({s:String}, 3) "
    "AND d.event_time < parseDateTime64BestEffort({u:String}, 3) "
    "ORDER BY d.event_time, d.application_id"
)


def history_from_clickhouse(client: Any, since: str, until: str) -> Any:
    """Decisions in [since, until) with their logged feature vectors and matured labels."""
    import pandas as pd

    df = client.query_df(HISTORY_SQL, parameters={"s": since, "u": until},
                         settings={"join_use_nulls": 1})
    if len(df) and "names" in df.columns:
        feats = pd.DataFrame.from_records(
            [dict(zip(n, v, strict=False)) if isinstance(n, list | tuple) or n is not None
             else {} for n, v in zip(df["names"], df["values"], strict=True)],
            index=df.index,
        )
        df = pd.concat([df.drop(columns=["names", "values"]), feats], axis=1)
    return df


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
    out: Path = typer.Option(None, help="Also write the per-rule table to this CSV file."),
) -> None:
    """Per rule: hits, hit rate, bad and fraud rate among hits, overlap; approval-rate change."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from decisions.backtest import backtest as run
    from decisions.errors import DecisionError
    from decisions.policy import Policy
    from decisions.rules import DEFAULT_RULES_PATH, RuleSet

    known = _known_names()
    try:
        cand = RuleSet.from_yaml(file, known)
        cur = RuleSet.from_yaml(current or DEFAULT_RULES_PATH, known)
        df = load_history(on, since, until)
        pol = None
        if not rules_only and "product" in df.columns and (
            policy is not None or {"annual_income", "requested_amount"} <= set(df.columns)
        ):
            pol = Policy.from_yaml(policy) if policy else Policy.default()
        with Progress(transient=True) as bar:
            task = bar.add_task("backtesting", total=len(df))
            res = run(df, cand, cur, pol, progress=lambda n: bar.update(task, completed=n))
    except DecisionError as exc:
        fail(str(exc))
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
    if out:
        res.per_rule.to_csv(out, index=False)
        console.print(f"wrote {out}")


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

    text = file.read_text()
    try:
        rs = RuleSet.from_yaml(text, _known_names())
    except RulesError as exc:
        fail(f"{file}: {exc}")
    try:
        publish_release(load_settings().kafka,
                        release_record("RULES", rs.version, text, author))
    except Exception as exc:
        fail(f"could not publish the release: {exc}")
    typer.echo(f"released rules {rs.version} ({len(rs.enabled)} enabled rules)")
