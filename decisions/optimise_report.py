"""What `loanrisk policy optimise` writes: the policy file, the frontier and a report.

``policy.yaml`` is a valid policy (``loanrisk policy show``, ``rules backtest --policy``,
``policy compare``, ``policy release``); ``frontier.csv`` every point searched;
``report.json`` the figures and constraint checks; ``report.html`` the efficient frontier
(approval rate vs bad rate, coloured by profit) with the chosen and the base policy marked.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from decisions.book import Book, Constraints, Portfolio
from decisions.optimise import Optimised
from decisions.profit import ProfitModel


def efficient(frontier: Any) -> Any:
    """The points no other point beats on approval rate at a lower or equal bad rate and
    higher profit: for each approval rate, the most profitable at the lowest bad rate."""
    pts = frontier.dropna(subset=["bad_rate"]).sort_values(["bad_rate", "profit"],
                                                           ascending=[True, False])
    keep, best = [], float("-inf")
    for i, row in pts.iterrows():
        if row["profit"] > best:
            keep.append(i)
            best = row["profit"]
    return pts.loc[keep]


def report_record(o: Optimised, c: Constraints, book: Book, profit: ProfitModel,
                  base_version: str) -> dict[str, Any]:
    return {
        "policy_version": o.policy.version,
        "base_policy_version": base_version,
        "profit_model": profit.version,
        "applications": len(book),
        "labelled_share": book.labelled_share,
        "left_out": book.left_out,
        "skipped_rules": {k: list(v) for k, v in book.skipped_rules.items()},
        "missing_scores": list(book.missing_scores),
        "constraints": [{"constraint": n, "value": v, "limit": lim, "met": ok}
                        for n, v, lim, ok in o.checks],
        "optimised": o.verified.record(),
        "base": o.base.record(),
        "search_profit": o.search_profit,
        "chosen": {p: {"approve_below": x.approve_below, "decline_at": x.decline_at,
                       "grade_bounds": list(x.bounds), "limits": list(x.limits),
                       "min_amount": x.min_amount}
                   for p, x in o.chosen.items()},
        "points": len(o.frontier),
        "feasible_points": int(o.frontier["feasible"].sum()),
    }


def write_outputs(out: Path, o: Optimised, c: Constraints, book: Book, profit: ProfitModel,
                  base_version: str) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "policy.yaml").write_text(o.policy_yaml)
    o.frontier.to_csv(out / "frontier.csv", index=False)
    rec = report_record(o, c, book, profit, base_version)
    (out / "report.json").write_text(json.dumps(rec, indent=2, default=float))
    (out / "report.html").write_text(_html(o, rec))
    return rec


def _plot(o: Optimised) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from models.report import fig_to_img

    f = o.frontier
    eff = efficient(f[f["feasible"]]) if f["feasible"].any() else f.iloc[:0]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.5))
    sc = ax.scatter(f["approval_rate"], f["bad_rate"], c=f["profit"], s=4, cmap="viridis",
                    alpha=0.5)
    fig.colorbar(sc, ax=ax, label="profit")
    ax.plot(eff["approval_rate"], eff["bad_rate"], "k-", lw=1, label="efficient (feasible)")
    for fig_, label, marker in ((o.verified, "chosen", "r*"), (o.base, "base policy", "bX")):
        ax.plot([fig_.approval_rate], [fig_.bad_rate], marker, ms=12, label=label)
        bx.plot([fig_.approval_rate], [fig_.profit], marker, ms=12, label=label)
    ax.set(xlabel="approval rate", ylabel="bad rate", title="frontier: approval vs bad rate")
    ax.legend(loc="upper left")
    bx.scatter(f["approval_rate"], f["profit"], c=f["feasible"].map({True: "tab:green",
                                                                       False: "lightgrey"}),
               s=4)
    bx.set(xlabel="approval rate", ylabel="profit",
           title="profit (green: meets the constraints)")
    bx.legend(loc="lower right")
    return str(fig_to_img(fig))


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r.values())
                   + "</tr>" for r in rows)
    return f"<table border=1 cellpadding=3><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.0f}"
    return str(v)


def _figures(p: Portfolio) -> dict[str, Any]:
    return {"approval rate": p.approval_rate, "bad rate": p.bad_rate,
            "observed bad rate": p.observed_bad_rate, "expected loss rate": p.expected_loss_rate,
            "exposure": p.exposure, "profit": p.profit, "expected profit": p.expected_profit,
            "worst adverse impact ratio": p.min_adverse_impact}


def _html(o: Optimised, rec: dict[str, Any]) -> str:
    figs = [{"policy": name, **_figures(p)} for name, p in (("base", o.base),
                                                             ("optimised", o.verified))]
    chosen = [{"product": p, **v} for p, v in rec["chosen"].items()]
    return f"""<html><head><meta charset="utf-8"><title>Policy optimisation</title></head>
<body><h1>Policy optimisation: {html.escape(rec['policy_version'])}</h1>
<p>From {html.escape(rec['base_policy_version'])} on {rec['applications']:,} applications
({rec['labelled_share']:.0%} labelled; unlabelled ones count with their PD); profit model
{html.escape(rec['profit_model'])}. {rec['points']:,} points searched, {rec['feasible_points']:,}
meet the constraints. Figures are the real engine's decisions with the written policy.</p>
<h2>Constraints</h2>{_table(rec['constraints'])}
<h2>Base and optimised</h2>{_table(figs)}
<h2>Chosen per product</h2>{_table(chosen)}
<h2>Efficient frontier</h2>{_plot(o)}
<p>Left out: {html.escape(json.dumps(rec['left_out']))}; rules not evaluable on this history
(left out of both policies): {html.escape(json.dumps(rec['skipped_rules']))}; scores the history
lacks (their cutoffs never applied): {html.escape(json.dumps(rec['missing_scores']))}.</p>
</body></html>"""
