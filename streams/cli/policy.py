"""``loanrisk policy``: check a product policy file and release it to running workers."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from streams.cli.errors import USAGE, fail

if TYPE_CHECKING:
    from decisions.policy import Policy

app = typer.Typer(help="Check and release the product policy (cutoffs, grades, offers).",
                  no_args_is_help=True)

PRODUCTS = ("CREDIT_CARD", "PERSONAL_LOAN", "BNPL")
FILE_HELP = "Policy YAML file (default: the packaged policy)."


def load_policy(file: Path | None) -> Policy:
    """The validated policy, refusing one that leaves a product undecidable."""
    from decisions.errors import PolicyError
    from decisions.policy import DEFAULT_POLICY_PATH, Policy

    if file is not None:
        try:
            file.read_text()
        except UnicodeDecodeError as exc:
            fail(f"{file} is not a YAML text file (binary content at byte {exc.start}); give a "
                 f"policy YAML such as {DEFAULT_POLICY_PATH}")
    try:
        policy = Policy.from_yaml(file) if file else Policy.default()
    except PolicyError as exc:
        fail(f"{file}: {exc}")
    missing = [p for p in PRODUCTS if p not in policy.products]
    if missing:
        fail(f"{file}: no policy for {', '.join(missing)}; every product the stream "
              "decides needs one")
    return policy


@app.command()
def show(file: Path = typer.Argument(None, help=FILE_HELP, exists=True, dir_okay=False)) -> None:
    """Validate FILE and print its version and per-product cutoffs."""
    from rich.console import Console
    from rich.table import Table

    policy = load_policy(file)
    table = Table(title=f"policy {policy.version}")
    table.add_column("product", no_wrap=True)
    for col in ("approve PD <", "decline PD ≥", "fraud review ≥", "fraud decline ≥",
                "anomaly review ≥", "max DTI", "grade A max"):
        table.add_column(col, justify="right")
    for name in PRODUCTS:
        pp = policy.for_product(name)
        table.add_row(name, f"{pp.pd.approve_below:g}", f"{pp.pd.decline_at:g}",
                      f"{pp.fraud.review_at:g}", f"{pp.fraud.decline_at:g}",
                      f"{pp.anomaly_review_at:g}", f"{pp.offer.max_dti:g}",
                      f"{pp.offer.by_grade['A'].max_amount:,.0f}")
    Console().print(table)


@app.command()
def release(
    file: Path = typer.Argument(..., help="Policy YAML file to release.", exists=True,
                                dir_okay=False),
    author: str = typer.Option(..., help="Who releases it (recorded with the release)."),
) -> None:
    """Validate FILE, then publish it to every running worker (topic risk.releases.v1).

    Workers decide with it from their next decision, without restart, and record its
    version on every decision; an invalid file is refused here, and a worker that
    receives one anyway keeps its current policy."""
    from streams.control.releases import publish_release, release_record
    from streams.settings import load_settings

    policy = load_policy(file)
    try:
        publish_release(load_settings().kafka,
                        release_record("POLICY", policy.version, file.read_text(), author))
    except Exception as exc:
        fail(f"could not publish the release: {exc}")
    typer.echo(f"released policy {policy.version}")


HISTORY_HELP = ("History: a Parquet/CSV file (feature columns, pd or a --model to score it, "
                "labels where known; `loanrisk features build` writes one from a simulator "
                "history) or 'clickhouse' (decisions, logged vectors and matured labels "
                "between --since and --until).")
APPS_HELP = ("Applications file to join by application_id for the age band (date_of_birth) "
             "and any field the history lacks, e.g. DIR/applications.parquet of "
             "`loanrisk simulate history`.")


def load_book(on: str, since: str | None, until: str | None, applications: Path | None,
              model: str | None, rules: Path | None, skip_unevaluable: bool) -> Any:
    """The history scored and prepared (decisions.book.prepare_book)."""
    from decisions.backtest import UnevaluableError
    from decisions.book import prepare_book
    from decisions.errors import BacktestError, RulesError
    from decisions.rules import DEFAULT_RULES_PATH, RuleSet
    from streams.cli.rules import load_history

    df = load_history(on, since, until)
    if applications is not None:
        df = join_applications(df, applications)
    if "pd" not in df.columns or model is not None:
        df = _score(df, model)
    try:
        ruleset = RuleSet.from_yaml(rules or DEFAULT_RULES_PATH)
        return prepare_book(df, ruleset, skip_unevaluable=skip_unevaluable)
    except UnevaluableError as exc:
        fail(str(exc))
    except (BacktestError, RulesError) as exc:
        fail(str(exc))


def join_applications(df: Any, path: Path) -> Any:
    from decisions.errors import BacktestError
    from decisions.history import read_history

    try:
        apps = read_history(path)
    except BacktestError as exc:
        fail(str(exc))
    if "application_id" not in apps.columns or "application_id" not in df.columns:
        fail(f"{path} and the history both need an application_id column to be joined")
    extra = [c for c in apps.columns if c not in df.columns or c == "application_id"]
    return df.merge(apps[extra], on="application_id", how="left")


def _score(df: Any, model: str | None) -> Any:
    """``pd`` (and ``fraud_probability`` from the fraud champion when missing) scored on
    the history's features."""
    from models.errors import ModelError

    registry, pd_model = pd_model_for(model, "the history has no pd column and no PD model "
                                             "to score it with")
    scored = {"pd": pd_model}
    if "fraud_probability" not in df.columns:
        # without a fraud champion it is reported as a missing score by prepare_book
        with contextlib.suppress(ModelError, OSError, KeyError):
            scored["fraud_probability"] = registry.load("champion", "fraud")
    missing = [n for sm in scored.values() for n in sm.feature_names if n not in df.columns]
    if missing:
        fail(f"the history lacks features the model reads: {', '.join(sorted(set(missing))[:8])}")
    out = df.copy()
    for col, sm in scored.items():
        out[col] = sm.score_batch(out[sm.feature_names].to_numpy(dtype="float64"))
    return out


def pd_model_for(model: str | None, lacking: str) -> tuple[Any, Any]:
    """The registry and the PD model ``model`` names (default: the champion); a failure
    says ``lacking`` and what to do."""
    from models.errors import ModelError
    from models.registry import Registry
    from models.workflow import model_to_evaluate
    from streams.settings import load_settings

    registry = Registry(load_settings().models_dir)
    try:
        return registry, (model_to_evaluate(model, registry) if model
                          else registry.load("champion", "pd"))
    except (ModelError, OSError, KeyError) as exc:
        fail(f"{lacking} ({exc}): give --model VERSION or promote a champion PD model")


@app.command()
def optimise(
    on: str = typer.Option(..., "--on", help=HISTORY_HELP),
    out: Path = typer.Option(..., "--out", help="Folder for policy.yaml, report.html, "
                             "report.json and frontier.csv.", file_okay=False),
    base: Path = typer.Option(None, help="Policy to start from (default: the packaged one); "
                              "what is not optimised is kept from it.", exists=True,
                              dir_okay=False),
    profit_file: Path = typer.Option(None, "--profit", help="Profit model YAML (default: "
                                     "decisions/profit/default.yaml).", exists=True,
                                     dir_okay=False),
    max_bad_rate: float = typer.Option(None, min=0, max=1, help="Highest bad rate (labels "
                                       "where known, PD elsewhere); default: the base "
                                       "policy's on this history."),
    min_approval: float = typer.Option(None, min=0, max=1, help="Lowest approval rate."),
    max_expected_loss: float = typer.Option(None, min=0, max=1, help="Highest expected loss "
                                            "(PD x LGD x EAD) as a share of exposure."),
    min_adverse_impact: float = typer.Option(0.8, min=0, max=1, help="Fair-lending screen: "
                                             "every age band's approval rate over the best "
                                             "band's, per product."),
    fairness: str = typer.Option("strict", help="strict: every product meets "
                                 "--min-adverse-impact; no-worse: a product today's policy "
                                 "fails may not get worse (the screen holds elsewhere)."),
    version: str = typer.Option(None, help="Version of the written policy (default: the "
                                "base's + '-optimised')."),
    grid: int = typer.Option(30, min=5, max=80, help="Cutoffs tried per product."),
    applications: Path = typer.Option(None, help=APPS_HELP, exists=True, dir_okay=False),
    model: str = typer.Option(None, help="PD model (registry version or artifact folder) to "
                              "score a history without pd (default: the champion)."),
    rules: Path = typer.Option(None, help="Rules in force (default: the packaged rules).",
                               exists=True, dir_okay=False),
    skip_unevaluable: bool = typer.Option(False, "--skip-unevaluable", help="Leave out rules "
                                          "the history cannot feed (listed in the report)."),
    since: str = typer.Option(None, help="Start of the ClickHouse range (inclusive)."),
    until: str = typer.Option(None, help="End of the ClickHouse range (exclusive)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report record as JSON."),
) -> None:
    """Choose per product the PD cutoff, review band, grade boundaries and per-grade limits
    that maximise profit on a history within the constraints; write the policy and a report
    with the efficient frontier. Exit 1 naming the constraint when none can be met."""
    import json

    import yaml

    from decisions.book import Constraints, decide_book, portfolio
    from decisions.errors import BacktestError, PolicyError
    from decisions.feasibility import Infeasible
    from decisions.optimise import optimise as run
    from decisions.optimise_report import write_outputs
    from decisions.policy import DEFAULT_POLICY_PATH
    from decisions.profit import ProfitModel

    if fairness not in ("strict", "no-worse"):
        fail(f"--fairness must be strict or no-worse, not {fairness!r}", USAGE)
    base_policy = load_policy(base)
    base_raw = yaml.safe_load((base or DEFAULT_POLICY_PATH).read_text())
    try:
        pm = ProfitModel.from_yaml(profit_file) if profit_file else ProfitModel.default()
    except PolicyError as exc:
        fail(str(exc))
    book = load_book(on, since, until, applications, model, rules, skip_unevaluable)
    base_figures = portfolio(book, decide_book(book, base_policy), pm)
    c = Constraints(base_figures.bad_rate if max_bad_rate is None else max_bad_rate,
                    min_approval, max_expected_loss, min_adverse_impact)
    if fairness == "no-worse":
        c = c.no_worse_than(base_figures)
    try:
        result = run(book, base_raw, pm, c, grid=grid, version=version)
    except Infeasible as exc:
        _print_infeasible(exc, out, base_figures, as_json)
        fail(f"{exc} (no policy was written)")
    except (BacktestError, PolicyError) as exc:
        fail(str(exc))
    rec = write_outputs(out, result, c, book, pm, base_policy.version)
    if as_json:
        typer.echo(json.dumps(rec, default=float))
        return
    _print_result(rec, out)


def _print_infeasible(exc: Any, out: Path, base: Any, as_json: bool) -> None:
    """The verdict per constraint when none of the searched policies meets them all;
    ``out/report.json`` records it (``feasible: false``), and no policy file is written."""
    import json

    from rich.console import Console
    from rich.table import Table

    rec = {"feasible": False, "verdicts": [v.record() for v in exc.verdicts],
           "base": base.record(), "message": str(exc)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(rec, indent=2, default=float))
    if as_json:
        typer.echo(json.dumps(rec, default=float))
        return
    table = Table(title="verdict per constraint: the best figure any searched policy "
                        "reaches with every other constraint met")
    for col in ("constraint", "limit", "best reachable", "verdict"):
        table.add_column(col)
    for v in exc.verdicts:
        table.add_row(v.constraint, _num(v.limit), _num(v.best),
                      "met" if v.met else "NOT MET (binding)")
    console = Console(stderr=True)
    console.print(table)
    if any(not v.met and "adverse impact" in v.constraint for v in exc.verdicts):
        console.print("what each lawful lever (counter-offers, fraud review, PD models without "
                      "age proxies, the oracle's PD) reaches on the screen at this bad rate: "
                      "`loanrisk policy fair-levers` on a simulator history")


def _print_result(rec: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"policy {rec['policy_version']} vs {rec['base_policy_version']}")
    for col in ("", "approval rate", "bad rate", "expected loss rate", "profit",
                "worst adverse impact"):
        table.add_column(col, justify="right")
    for name in ("base", "optimised"):
        f = rec[name]
        table.add_row(name, _pct(f["approval_rate"]), _pct(f["bad_rate"]),
                      _pct(f["expected_loss_rate"]), f"{f['profit']:,.0f}",
                      _num(f["min_adverse_impact"]))
    checks = Table(title="constraints (the written policy, decided by the engine)")
    for col in ("constraint", "value", "limit", "met"):
        checks.add_column(col)
    for ch in rec["constraints"]:
        checks.add_row(ch["constraint"], _num(ch["value"]), _num(ch["limit"]),
                       "met" if ch["met"] else "NOT MET")
    console = Console()
    console.print(table)
    console.print(checks)
    unmet = [ch["constraint"] for ch in rec["constraints"] if not ch["met"]]
    console.print("verdict: every constraint met by the written policy" if not unmet else
                  f"verdict: NOT MET by the written policy: {', '.join(unmet)}")
    if rec["missing_scores"]:
        console.print(f"note: the history has no {', '.join(rec['missing_scores'])}: those "
                      "cutoffs never applied")
    console.print(f"wrote {out / 'policy.yaml'}, {out / 'report.html'}, "
                  f"{out / 'report.json'}, {out / 'frontier.csv'}")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.2%}"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


@app.command()
def compare(
    a: Path = typer.Argument(..., help="Policy A (e.g. the one live).", exists=True,
                             dir_okay=False),
    b: Path = typer.Argument(..., help="Policy B (the candidate).", exists=True,
                             dir_okay=False),
    on: str = typer.Option(..., "--on", help=HISTORY_HELP),
    profit_file: Path = typer.Option(None, "--profit", help="Profit model YAML.", exists=True,
                                     dir_okay=False),
    applications: Path = typer.Option(None, help=APPS_HELP, exists=True, dir_okay=False),
    model: str = typer.Option(None, help="PD model to score a history without pd."),
    rules: Path = typer.Option(None, help="Rules in force (default: the packaged rules).",
                               exists=True, dir_okay=False),
    skip_unevaluable: bool = typer.Option(False, "--skip-unevaluable",
                                          help="Leave out rules the history cannot feed."),
    since: str = typer.Option(None, help="Start of the ClickHouse range (inclusive)."),
    until: str = typer.Option(None, help="End of the ClickHouse range (exclusive)."),
    as_json: bool = typer.Option(False, "--json", help="Print the swap set as JSON."),
) -> None:
    """The swap set of B against A on a history: both-approve, swap-ins (only B approves),
    swap-outs (only A approves), both-decline, with counts, expected (mean PD) and observed
    bad rates, and profit under each policy."""
    import json

    from decisions.book import decide_book
    from decisions.errors import PolicyError
    from decisions.profit import ProfitModel
    from decisions.swapset import records, swap_set

    pa, pb = load_policy(a), load_policy(b)
    try:
        pm = ProfitModel.from_yaml(profit_file) if profit_file else ProfitModel.default()
    except PolicyError as exc:
        fail(str(exc))
    book = load_book(on, since, until, applications, model, rules, skip_unevaluable)
    rows = swap_set(book, decide_book(book, pa), decide_book(book, pb), pm)
    if as_json:
        typer.echo(json.dumps({"a": pa.version, "b": pb.version, "applications": len(book),
                               "groups": records(rows)}, default=float))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"swap set: A {pa.version} -> B {pb.version} ({len(book):,} "
                        "applications)")
    for col in ("group", "count", "share", "expected bad rate", "observed bad rate",
                "labelled", "profit A", "profit B"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r.group, f"{r.count:,}", _pct(r.share), _pct(r.expected_bad_rate),
                      _pct(r.observed_bad_rate), f"{r.labelled:,}", f"{r.profit_a:,.0f}",
                      f"{r.profit_b:,.0f}")
    Console().print(table)
