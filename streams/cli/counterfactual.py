"""The counterfactual part of ``loanrisk explain``: for a decline, what the same decision
would have approved, and the adverse-action letter that says so (composition only: the
search is `decisions.counterfactual`, the re-run inputs `streams.recorded`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streams.settings import Settings


def counterfactual_section(client: Any, settings: Settings, app_id: str,
                           record: dict[str, Any], names: list[str],
                           values: list[float | None], registry: Any,
                           policy_files: list[Path], rules_file: Path | None
                           ) -> tuple[dict[str, Any], str | None]:
    """(the ``counterfactual`` entry of the explanation, the letter or None). An entry that
    could not be computed says why (``computed`` false) and the letter then claims nothing
    about other amounts."""
    from decisions.adverse_letter import adverse_action_letter
    from decisions.counterfactual import counterfactuals
    from decisions.errors import DecisionError
    from decisions.lists import ListHit
    from models.errors import ModelError
    from streams.recorded import HELD, recorded_application, recorded_scorer

    app: dict[str, Any] | None = None
    try:
        app = recorded_application(client, app_id, dict(zip(names, values, strict=True)))
        ruleset, policy, explore = _recorded_logic(settings, record, policy_files, rules_file)
        versions = record["versions"]
        pd = registry.load_version(versions["model_pd"]) if versions.get("model_pd") else None
        fraud = (registry.load_version(versions["model_fraud"])
                 if versions.get("model_fraud") else None)
        scorer = recorded_scorer(app, names, values, pd, fraud, record["anomaly_score"])
        cf = counterfactuals(app, record, scorer, ruleset, policy,
                             [ListHit.from_label(h) for h in record["list_hits"]], explore,
                             held=HELD)
    except (DecisionError, ModelError, OSError) as exc:
        entry: dict[str, Any] = {"computed": False, "why": str(exc)}
        return entry, _letter(adverse_action_letter, record, app, None)
    return {"computed": True, **cf.to_dict()}, _letter(adverse_action_letter, record, app, cf)


def _letter(write: Any, record: dict[str, Any], app: dict[str, Any] | None, cf: Any
            ) -> str | None:
    if app is None:
        return None
    return write(record["product"], float(app["requested_amount"]),
                 int(app["requested_term_months"] or 0), list(record["reason_texts"]), cf)


def _recorded_logic(settings: Settings, record: dict[str, Any], policy_files: list[Path],
                    rules_file: Path | None) -> tuple[Any, Any, Any]:
    """The rules, policy and exploration cell the decision recorded, found by version among
    the configured files and those given."""
    from decisions.cells import DEFAULT_CELLS_PATH, EXPLORE, Cells
    from decisions.policy import Policy
    from decisions.rules import RuleStore
    from features.spec import FEATURE_SPEC
    from streams.recorded import RecordError, by_version
    from streams.worker.compose import policy_path, rules_path

    versions = record["versions"]
    for key in ("rules", "policy"):
        if not versions.get(key):
            raise RecordError(f"the decision recorded no {key} version: it cannot be re-run")
    cells = Cells.from_yaml(settings.cells_file or DEFAULT_CELLS_PATH)
    policies = [(str(p), Policy.from_yaml(p)) for p in (*policy_files, policy_path(settings))]
    policies += [(f"cells strategy {s.cell}", s.policy) for s in cells.strategies]
    policy = by_version("policy", versions["policy"], policies)
    path = rules_file or rules_path(settings)
    ruleset = by_version("rules", versions["rules"],
                         [(str(path), RuleStore.from_path(path, FEATURE_SPEC.names).current)])
    explore = None
    if record.get("cell") == EXPLORE:
        by_version("cells", versions.get("cells", ""), [(str(settings.cells_file or
                                                             DEFAULT_CELLS_PATH), cells)])
        explore = cells.exploration
    return ruleset, policy, explore


def print_counterfactual(console: Any, cf: dict[str, Any]) -> None:
    """The counterfactual entry, for a person: what would have been approved, or why not."""
    if not cf.get("computed"):
        console.print(f"[yellow]counterfactual not computed: {cf['why']}[/]")
        return
    rec = cf["recorded"]
    console.print(f"counterfactual ({cf['decisions_run']} decisions re-run with the recorded "
                  f"models, rules and policy; the application as it was: {rec['decision']}, "
                  "reproduced):")
    if not cf["options"]:
        console.print("  no change to the amount, term or product would have been approved")
    for o in cf["options"]:
        term = f" over {o['term_months']} months" if o["term_months"] else ""
        below = " (and every step below)" if o["all_below_approved"] else ""
        pd = "" if o["pd"] is None else f", PD {o['pd']:.4f}"
        console.print(f"  {o['product']} {o['amount']:,.0f}{term}{below}: APPROVE, grade "
                      f"{o['risk_grade'] or '-'}{pd}; changes {', '.join(o['changed'])}")
    for h in cf["held"]:
        console.print(f"  held at its recorded value: {h}")
