"""``loanrisk policy fair-levers``: the best age screen each lawful lever reaches at
today's bad rate on a simulator history (`decisions.fair_levers`), one table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from streams.cli.errors import fail
from streams.cli.policy import (
    APPS_HELP,
    HISTORY_HELP,
    load_book,
    load_policy,
    pd_model_for,
)

#: the simulator's truth the study reads from the history (``--applications``)
TRUTH_COLUMNS = ("oracle_pd", "fraud_type", "latent_age", "latent_true_income",
                 "monthly_debt_payments", "requested_amount", "requested_term_months",
                 "product")

#: a refit without proxies counts as "at similar AUC" within this of the refit dropping none
SIMILAR_AUC = 0.01


def register(app: typer.Typer) -> None:
    app.command("fair-levers")(fair_levers)


def fair_levers(
    on: Path = typer.Option(..., "--on", help=HISTORY_HELP, exists=True, dir_okay=False),
    applications: Path = typer.Option(..., help=APPS_HELP + " Its truth columns (oracle_pd, "
                                      "fraud_type, latent_*) are what the levers are measured "
                                      "with.", exists=True, dir_okay=False),
    base: Path = typer.Option(None, help="Today's policy (default: the packaged one).",
                              exists=True, dir_okay=False),
    profit_file: Path = typer.Option(None, "--profit", help="Profit model YAML.", exists=True,
                                     dir_okay=False),
    model: str = typer.Option(None, help="PD model (default: the champion): the cutoff's "
                              "score, re-scored for counter-offers."),
    rules: Path = typer.Option(None, help="Rules in force (default: the packaged rules).",
                               exists=True, dir_okay=False),
    skip_unevaluable: bool = typer.Option(False, "--skip-unevaluable",
                                          help="Leave out rules the history cannot feed."),
    drop_proxies: str = typer.Option("0,5,10,15,20", help="Refit the PD model without the N "
                                     "strongest age proxies, for each N (comma-separated, 0 "
                                     "first: the reference refit; empty: none). The one "
                                     "dropping the most within 0.01 AUC of the reference is "
                                     "also tried with counter-offers and fraud review."),
    time_col: str = typer.Option("event_time", help="Time column of the out-of-time split "
                                 "of the refits."),
    min_adverse_impact: float = typer.Option(0.8, min=0, max=1, help="The screen's floor."),
    grid: int = typer.Option(30, min=5, max=80, help="Cutoffs tried per product."),
    config: Path = typer.Option(None, help="Simulator config the history was made with "
                                "(default: the packaged one).", exists=True, dir_okay=False),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """For each lever -- PD cutoff and smallest offer, counter-offers re-scored at a smaller
    amount, fraud flags reviewed with the truth, PD models without the strongest age
    proxies, the oracle's PD, and all together -- the best adverse impact ratio of the worst
    age band reachable at or below today's bad rate, per product and for the portfolio,
    and whether any point meets the screen everywhere at that bad rate with more profit.
    Bad rates and profit are the simulator's true PD at the amount booked. Age is never an
    input: it only scores the screen."""
    import json

    import yaml

    from decisions import fair_levers as fl
    from decisions.errors import BacktestError, PolicyError
    from decisions.policy import DEFAULT_POLICY_PATH
    from decisions.profit import ProfitModel

    load_policy(base)
    base_raw = yaml.safe_load((base or DEFAULT_POLICY_PATH).read_text())
    try:
        pm = ProfitModel.from_yaml(profit_file) if profit_file else ProfitModel.default()
    except PolicyError as exc:
        fail(str(exc))
    book = load_book(str(on), None, None, applications, model, rules, skip_unevaluable)
    frame = _truth_frame(book)
    _, pd_model = pd_model_for(model, "no PD model to re-score counter-offers with")
    ids = [r["application_id"] for r in book.rows]
    oracle = _oracle(frame, config)
    levers = _levers(book, frame, pd_model, oracle, on, applications,
                     [int(x) for x in drop_proxies.split(",") if x.strip()], time_col, ids,
                     as_json)
    study = fl.Study(book, base_raw, pm, truth=oracle.pd,
                     genuine=(frame["fraud_type"].fillna("none") == "none").to_numpy(),
                     grid=grid)
    try:
        rows, port = fl.run(study, levers, min_adverse_impact)
    except BacktestError as exc:
        fail(str(exc))
    rec = _record(rows, port)
    if as_json:
        typer.echo(json.dumps(rec, default=float))
        return
    _print(rec)


def _truth_frame(book: Any) -> Any:
    import pandas as pd

    frame = pd.DataFrame(book.rows)
    missing = [c for c in TRUTH_COLUMNS if c not in frame.columns]
    if missing:
        fail(f"the history lacks the simulator's truth ({', '.join(missing)}): give the "
             "history's applications file (--applications DIR/applications.parquet of "
             "`loanrisk simulate history`)")
    return frame


def _oracle(frame: Any, config: Path | None) -> Any:
    from simulator.config import SimConfig
    from simulator.risk import AmountOracle

    cfg = SimConfig.from_file(config) if config else SimConfig()
    return AmountOracle(cfg, frame[list(TRUTH_COLUMNS)])


def _levers(book: Any, frame: Any, pd_model: Any, oracle: Any, on: Path, apps: Path,
            drops: list[int], time_col: str, ids: list[str], quiet: bool) -> list[Any]:
    """The levers measured, today's first, the ceiling of them all last."""
    import numpy as np

    from decisions.fair_levers import Lever
    from features.applicant import AMOUNT_FEATURES

    names = list(pd_model.feature_names)
    asked = frame["requested_amount"].to_numpy(dtype=np.float64)

    def at_amount(cols: list[str], score: Any) -> Any:
        """A model's PD with the amount features moved to a smaller amount."""
        X = frame[cols].to_numpy(dtype=np.float64)
        moved = [cols.index(n) for n in AMOUNT_FEATURES if n in cols]

        def rescore(rows: np.ndarray, amounts: np.ndarray) -> np.ndarray:
            x = X[rows].copy()
            x[:, moved] *= (amounts / np.maximum(asked[rows], 1e-9))[:, None]
            return np.asarray(score(x))
        return rescore

    champion = at_amount(names, pd_model.score_batch)
    true_pd = frame["oracle_pd"].to_numpy(dtype=np.float64)
    out = [Lever("cutoff and smallest offer (today's levers)", book.pd),
           Lever("counter-offer (re-scored at 75/50/25% of the amount)", book.pd, champion),
           Lever("fraud flags reviewed with the truth", book.pd, fraud_review=True)]
    alts = _alternatives(frame, names, on, apps, drops, time_col, ids, quiet)
    out += [Lever(f"{a.name} (AUC {a.auc:.3f})", a.scores) for a in alts]
    similar = [a for a in alts if a.dropped and a.auc >= alts[0].auc - SIMILAR_AUC]
    if similar:  # the one dropping the most at a similar AUC, with the other levers
        a = max(similar, key=lambda a: len(a.dropped))
        rescore = at_amount(list(a.features), a.booster.predict)
        out += [Lever(f"{a.name} + counter-offer", a.scores, rescore),
                Lever(f"{a.name} + counter-offer + fraud review", a.scores, rescore,
                      fraud_review=True)]
    return [*out, Lever("the oracle's PD (no model ranks better)", true_pd),
            Lever("oracle + counter-offer + fraud review", true_pd, oracle.pd,
                  fraud_review=True)]


def _alternatives(frame: Any, names: list[str], on: Path, apps: Path, drops: list[int],
                  time_col: str, ids: list[str], quiet: bool) -> list[Any]:
    """The refitted PD models on the history file, scored on the book's rows."""
    from dataclasses import replace

    import numpy as np

    from decisions.history import read_history
    from models.errors import ModelError
    from models.lda import alternatives
    from streams.cli.policy import join_applications

    if not drops:
        return []
    hist = join_applications(read_history(on), apps)
    try:
        ranked, alts = alternatives(hist, names, hist["latent_age"].to_numpy(dtype=np.float64),
                                    drops, time_col)
    except ModelError as exc:
        fail(str(exc))
    if not quiet:
        typer.echo("age proxies (|Spearman| with age): " + ", ".join(
            f"{n} {r:.2f}" for n, r in ranked[:max(drops)]), err=True)
    pos = {str(a): i for i, a in enumerate(hist["application_id"])}
    at = np.array([pos[str(i)] for i in ids])
    return [replace(a, scores=a.scores[at]) for a in alts]


def _record(rows: list[Any], port: list[Any]) -> dict[str, Any]:
    def opt(o: Any) -> dict[str, Any] | None:
        if o is None:
            return None
        return {"approve_below": o.approve_below, "min_amount": o.min_amount,
                "approval_rate": o.approvals / o.applications,
                "bad_rate": o.bads / o.approvals if o.approvals else None,
                "profit": o.profit, "min_adverse_impact": o.min_air, "worst_band": o.worst_band}

    return {"products": [{"product": r.product, "lever": r.lever, "today": opt(r.base),
                          "best": opt(r.best)} for r in rows],
            "portfolio": [{"lever": p.lever, "best_min_adverse_impact": p.best_air,
                           "feasible": p.feasible, "profit": p.profit,
                           "today_profit": p.base_profit, "today_bad_rate": p.base_bad_rate,
                           "screen_bad_rate": p.fair_bad_rate,
                           "screen_approval_rate": p.fair_approval_rate}
                          for p in port]}


def _print(rec: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title="best worst-band adverse impact ratio at or below today's bad rate, per "
                    "product (true PD at the amount booked)")
    for col in ("product", "lever", "today AIR", "today bad rate", "best AIR", "worst band",
                "PD cutoff", "min amount", "approval", "bad rate", "profit vs today"):
        t.add_column(col, justify="right")
    for r in rec["products"]:
        a, b = r["today"], r["best"]
        t.add_row(r["product"], r["lever"], _n(a["min_adverse_impact"]), _p(a["bad_rate"]),
                  *(["-"] * 7 if b is None else [
                      _n(b["min_adverse_impact"]), str(b["worst_band"]),
                      f"{b['approve_below']:.4f}", f"{b['min_amount']:,.0f}",
                      _p(b["approval_rate"]), _p(b["bad_rate"]),
                      f"{b['profit'] - a['profit']:+,.0f}"]))
    console.print(t)
    p = Table(title="portfolio: best worst ratio over products at or below today's bad rate; "
                    "feasible = the screen met everywhere, that bad rate, more profit")
    for col in ("lever", "best worst AIR", "feasible", "profit", "today's profit",
                "today's bad rate", "lowest bad rate meeting the screen", "its approval"):
        p.add_column(col, justify="right")
    for r in rec["portfolio"]:
        p.add_row(r["lever"], _n(r["best_min_adverse_impact"]), "yes" if r["feasible"] else "no",
                  "-" if r["profit"] is None else f"{r['profit']:,.0f}",
                  f"{r['today_profit']:,.0f}", _p(r["today_bad_rate"]),
                  _p(r["screen_bad_rate"]), _p(r["screen_approval_rate"]))
    console.print(p)


def _p(v: float | None) -> str:
    return "-" if v is None else f"{v:.2%}"


def _n(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"
