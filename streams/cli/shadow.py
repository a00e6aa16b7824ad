"""``loanrisk shadow report``: champion versus challenger decisions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from streams.cli.errors import fail

if TYPE_CHECKING:
    from decisions.shadow import ShadowReport

app = typer.Typer(help="Champion/challenger (shadow) decisions.", no_args_is_help=True)


@app.command()
def report(
    on: str = typer.Option(
        "clickhouse", "--on",
        help="'clickhouse' (decisions with shadow_decision, labels view) or a Parquet/CSV file "
        "with decision, shadow_decision and optional label_default/label_fraud columns.",
    ),
    since: str = typer.Option(None, help="Start of the ClickHouse range (inclusive)."),
    until: str = typer.Option(None, help="End of the ClickHouse range (exclusive)."),
    product: str = typer.Option(None, help="Only this product (CREDIT_CARD, PERSONAL_LOAN, BNPL)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout."),
) -> None:
    """Approval-rate difference, disagreement matrix, bad rate among approvals (labels known)."""
    from decisions.errors import DecisionError
    from decisions.shadow import shadow_report
    from streams.cli.rules import load_history

    if on == "clickhouse" and not (since and until):
        since, until = since or "1970-01-01", until or "2100-01-01"
    df = load_history(on, since, until)
    if product:
        if "product" not in df.columns:
            fail("--product needs a product column in the input")
        df = df[df["product"] == product]
    try:
        rep = shadow_report(df)
    except DecisionError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report_record(rep), indent=1))
    else:
        _print(rep)


def report_record(rep: ShadowReport) -> dict[str, Any]:
    """The report as plain JSON values: stable keys, matrix as champion -> challenger -> n."""
    from decisions.shadow import OUTCOMES

    return {
        "applications": rep.n,
        "champion_approval_rate": rep.champion_approval_rate,
        "challenger_approval_rate": rep.challenger_approval_rate,
        "approval_rate_diff": rep.approval_rate_diff,
        "agreement_rate": rep.agreement_rate,
        "matrix": {o: {c: int(rep.matrix.loc[o, c]) for c in OUTCOMES} for o in OUTCOMES},
        "approvals": {side: dict(r) for side, r in rep.bad_rate.items()},
    }


def _print(rep: ShadowReport) -> None:
    from rich.console import Console
    from rich.table import Table

    from decisions.shadow import OUTCOMES

    console = Console()
    console.print(f"{rep.n} applications with a shadow decision")
    console.print(
        f"approval rate: champion {100 * rep.champion_approval_rate:.2f}%, challenger "
        f"{100 * rep.challenger_approval_rate:.2f}% (difference "
        f"{100 * rep.approval_rate_diff:+.2f} points); agreement {100 * rep.agreement_rate:.2f}%"
    )
    m = Table(title="disagreement matrix (rows champion, columns challenger)")
    m.add_column("champion \\ challenger")
    for o in OUTCOMES:
        m.add_column(o, justify="right")
    for o in OUTCOMES:
        m.add_row(o, *(str(int(rep.matrix.loc[o, c])) for c in OUTCOMES))
    console.print(m)
    b = Table(title="among approvals (labels where known)")
    for col in ("side", "approved", "bad rate (labelled)", "fraud rate (labelled)"):
        b.add_column(col)

    def pct(v: object) -> str:
        return "-" if v is None else f"{100 * float(v):.2f}%"  # type: ignore[arg-type]

    for side, r in rep.bad_rate.items():
        b.add_row(side, str(r["approved"]), f"{pct(r['bad_rate'])} ({r['bad_rate_labelled']})",
                  f"{pct(r['fraud_rate'])} ({r['fraud_rate_labelled']})")
    console.print(b)
