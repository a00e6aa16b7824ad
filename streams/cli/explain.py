"""``loanrisk explain APPLICATION_ID``: one decision, its reasons, and proof it reproduces."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from streams.cli.errors import CHECK_FAILED, fail
from streams.settings import load_settings

DECISION_SQL = """
SELECT decision, product, pd, fraud_probability, anomaly_score, risk_grade, offer_amount,
       offer_term_months, offer_apr, reason_codes, reason_texts, list_hits, rule_hits,
       versions, toUnixTimestamp64Milli(event_time), toUnixTimestamp64Milli(decided_at),
       worker, shadow_decision, cell
FROM decisions_of_record WHERE application_id = '{app}'
"""
REDECISIONS_SQL = """
SELECT times_decided, later_decisions, toUnixTimestamp64Milli(last_decided_at), outcome_differs
FROM redecisions WHERE application_id = '{app}'
"""
VECTOR_SQL = """
SELECT feature_spec_version, names, values FROM feature_vectors_latest
WHERE application_id = '{app}'
"""
FIELDS = ("decision", "product", "pd", "fraud_probability", "anomaly_score", "risk_grade",
          "offer_amount", "offer_term_months", "offer_apr", "reason_codes", "reason_texts",
          "list_hits", "rule_hits", "versions", "event_time_ms", "decided_at_ms", "worker",
          "shadow_decision", "cell")


def register(app: typer.Typer) -> None:
    app.command(name="explain")(explain)


def explain(
    application_id: str = typer.Argument(..., help="The application's id."),
    registry: Path = typer.Option(None, help="Registry directory (default: "
                                  "LOANRISK_STATE_DIR/models)."),
    json_out: bool = typer.Option(False, "--json", help="Print everything as JSON instead."),
    letter: bool = typer.Option(False, "--letter", help="Print only the adverse-action "
                                "letter of a decline (reasons and what would have been "
                                "approved)."),
    policy: list[Path] = typer.Option([], "--policy", help="A policy file the decision may "
                                      "have been made with (repeatable; found by the version "
                                      "it recorded, beside LOANRISK_POLICY_FILE's)."),
    rules: Path = typer.Option(None, "--rules", help="The rules file the decision was made "
                               "with (default: LOANRISK_RULES_FILE's; must match the "
                               "recorded version)."),
) -> None:
    """What was decided for one application and why: outcome, reason codes, list and rule
    hits, offer, every version involved -- and a check that re-scoring the logged feature
    vector with the recorded model versions gives the recorded scores, with the features
    that drove them. For a decline, the counterfactuals: the smallest change in the amount,
    term or product that the same decision (recorded models, rules and policy, re-run)
    would have approved, and the adverse-action letter stating it. For complaints,
    adverse-action reviews and audits."""
    from rich.console import Console

    from models.audit import reproduce
    from models.errors import ModelError
    from models.registry import Registry
    from streams.clients import analytics_client

    if not re.fullmatch(r"[A-Za-z0-9._:-]+", application_id):
        fail(f"{application_id!r} is not an application id")
    settings = load_settings()
    client = analytics_client(settings)
    rows = client.query(DECISION_SQL.format(app=application_id)).result_rows
    if not rows:
        fail(f"no decision for {application_id} in ClickHouse (is the sink running, and "
              "has it caught up?)")
    record: dict[str, Any] = dict(zip(FIELDS, rows[0], strict=True))
    record["redecided"] = _redecided(client, application_id)
    vec = client.query(VECTOR_SQL.format(app=application_id)).result_rows
    reg = Registry(registry or settings.models_dir)
    checks: list[dict[str, Any]] = []
    if vec:
        spec, names, values = vec[0]
        record["feature_spec_logged"] = spec
        for score, key in (("pd", "model_pd"), ("fraud_probability", "model_fraud")):
            version = record["versions"].get(key)
            if not version:
                continue
            try:
                rep = reproduce(reg.load_version(version), list(names), list(values),
                                record[score])
            except (ModelError, OSError) as exc:
                checks.append({"score": score, "model": version, "error": str(exc)})
                continue
            checks.append({"score": score, "model": version, "recorded": rep.recorded,
                           "recomputed": rep.recomputed, "reproduced": rep.matches,
                           "drivers": [{"feature": f, "value": v, "log_odds": c}
                                       for f, v, c in rep.drivers]})
    record["reproduction"] = checks
    if record["decision"] == "DECLINE" and vec:
        from streams.cli.counterfactual import counterfactual_section

        record["counterfactual"], record["adverse_action_letter"] = counterfactual_section(
            client, settings, application_id, record, list(vec[0][1]), list(vec[0][2]), reg,
            policy, rules)
    if letter:
        text = record.get("adverse_action_letter")
        if not text:
            fail(f"no adverse-action letter for {application_id}: "
                 + ("it was not declined" if record["decision"] != "DECLINE" else
                    record.get("counterfactual", {}).get("why", "no logged feature vector")))
        typer.echo(text)
    elif json_out:
        typer.echo(json.dumps({"application_id": application_id, **record}, default=str,
                              indent=1))
    else:
        _print(Console(), application_id, record, bool(vec))
    if any(c.get("reproduced") is False for c in checks):
        raise typer.Exit(CHECK_FAILED)


def _redecided(client: Any, application_id: str) -> dict[str, Any] | None:
    """Later decisions of the same application (replays the memo could not answer): shown
    beside the decision of record, never in its place."""
    rows = client.query(REDECISIONS_SQL.format(app=application_id)).result_rows
    if not rows:
        return None
    times, later, last_ms, differs = rows[0]
    return {"times_decided": times, "later_decisions": list(later), "last_decided_at_ms": last_ms,
            "outcome_differs": bool(differs)}


def _print(console: Any, app_id: str, r: dict[str, Any], has_vector: bool) -> None:
    def when(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

    colour = {"APPROVE": "green", "REVIEW": "yellow", "DECLINE": "red"}.get(r["decision"], "")
    console.print(f"[bold]{app_id}[/]  {r['product']}  [{colour}]{r['decision']}[/]  "
                  f"applied {when(r['event_time_ms'])} UTC, decided "
                  f"{r['decided_at_ms'] - r['event_time_ms']} ms later by {r['worker']}")
    scores = ", ".join(f"{k} {r[k]:.4f}" for k in ("pd", "fraud_probability", "anomaly_score")
                       if r[k] is not None)
    again = r.get("redecided")
    if again:
        console.print(f"[yellow]this is the decision of record (the first published); the "
                      f"application was decided {again['times_decided'] - 1} more time(s) "
                      f"later: {', '.join(again['later_decisions'])}"
                      f"{' (a different outcome)' if again['outcome_differs'] else ''}[/]")
    console.print(f"scores: {scores or 'none (degraded or cold start)'}; grade "
                  f"{r['risk_grade'] or '-'}")
    if r["offer_amount"] is not None:
        console.print(f"offer: {r['offer_amount']:,.0f} over {r['offer_term_months']} months "
                      f"at {100 * r['offer_apr']:.1f}% APR")
    for code, text in zip(r["reason_codes"], r["reason_texts"], strict=True):
        console.print(f"  reason {code}: {text}")
    if r["list_hits"] or r["rule_hits"]:
        console.print(f"list hits: {r['list_hits'] or '-'}; rule hits: {r['rule_hits'] or '-'}")
    console.print("versions: " + ", ".join(f"{k}={v}" for k, v in sorted(r["versions"].items())))
    if not has_vector:
        console.print("[yellow]no logged feature vector: the scores cannot be re-checked[/]")
    for c in r["reproduction"]:
        if "error" in c:
            console.print(f"[yellow]{c['score']}: model {c['model']} not loadable here: "
                          f"{c['error']}[/]")
            continue
        ok = "[green]reproduced[/]" if c["reproduced"] else "[red]DIFFERS[/]"
        console.print(f"{c['score']}: recorded {c['recorded']}, recomputed "
                      f"{c['recomputed']:.12g} with {c['model']} -> {ok}")
        for d in c["drivers"]:
            value = "missing" if d["value"] is None else f"{d['value']:.4g}"
            console.print(f"    {d['feature']:<34} = {value:<10} +{d['log_odds']:.3f} log-odds")
    if "counterfactual" in r:
        from streams.cli.counterfactual import print_counterfactual

        print_counterfactual(console, r["counterfactual"])
