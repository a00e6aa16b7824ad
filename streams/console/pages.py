"""What the case and rules pages show, assembled from the store, the case state and the
policy (kept out of ``app`` so the routes stay short)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from features.spec import FEATURE_SPEC
from reviews import graph
from reviews.actions import BLOCKABLE, grade_offer
from reviews.privacy import PERSONAL_FIELDS, masked, shown
from streams import kafka
from streams.console.auth import Session
from streams.console.store import CaseData

if TYPE_CHECKING:
    from streams.console.app import Console

#: what the session summary shows, from the logged feature vector
SESSION_FEATURES = ("sess_form_fill_seconds", "sess_keystrokes", "sess_paste_count",
                    "sess_corrections", "sess_pages", "sess_emulator", "sess_rooted",
                    "sess_ip_country_mismatch", "sess_geo_country_mismatch",
                    "sess_timezone_mismatch", "sess_ip_mismatch", "sess_device_mismatch",
                    "device_first_seen_days", "sess_device_missing", "sess_behaviour_missing")
GRAPH_FEATURES = ("graph_linked_ids_30d", "graph_linked_apps_30d", "graph_fraud_linked",
                  "graph_fraud_linked_identifiers")
APPLICATION_FIELDS = ("employment_status", "employment_months", "annual_income",
                      "monthly_debt_payments", "housing_status", "requested_amount",
                      "requested_term_months", "bureau_score", "channel", "session_id")


def _by_reason() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in FEATURE_SPEC.defs:
        out.setdefault(d.reason_code, []).append(d.name)
    return out


FEATURES_BY_REASON = _by_reason()


def case_view(console: Console, data: CaseData, s: Session, revealed: dict[str, Any] | None,
              message: str | None = None) -> dict[str, Any]:
    d = data.decision
    aid = d["application_id"]
    cw = console.casework
    facts = cw.facts(data)
    drivers = [(code, text, [(n, data.features.get(n)) for n in FEATURES_BY_REASON.get(code, [])])
               for code, text in zip(d["reason_codes"], d["reason_texts"], strict=True)]
    links = console.store.links(aid)
    pp = cw.policy.for_product(d["product"])
    grade, terms = grade_offer(pp, d.get("risk_grade"))
    app = data.application or {}
    personal: dict[str, str] = {}
    if data.application is not None:
        clear = revealed or cw.sealer.unseal(data.application["sealed"])
        personal = shown(clear) if revealed else masked(
            {k: clear.get(k) for k in PERSONAL_FIELDS})
    return {
        "d": d, "aid": aid, "app": {k: app.get(k) for k in APPLICATION_FIELDS} if app else {},
        "personal": personal, "revealed": revealed is not None,
        "drivers": drivers,
        "session_summary": [(n, data.features.get(n)) for n in SESSION_FEATURES],
        "graph_features": [(n, data.features.get(n)) for n in GRAPH_FEATURES],
        "features": sorted(data.features.items()),
        "links": links, "links_svg": graph.svg(aid, links),
        "history": data.history, "final": data.final, "facts": facts,
        "holder": cw.state.holder(aid), "pending": cw.state.pending(aid),
        "catalogue": sorted(cw.catalogue.values(), key=lambda r: r.code),
        "terms": pp.offer.terms, "min_amount": pp.offer.min_amount, "grade": grade,
        "grade_limit": terms.max_amount,
        "ceiling": max(g.max_amount for g in pp.offer.by_grade.values()),
        "blockable": BLOCKABLE, "message": message,
    }


def rules_release(conn: kafka.Connection, text: str, author: str) -> tuple[str, bool]:
    """Validate a rules YAML and release it to every worker (the releases topic)."""
    from decisions.errors import RulesError
    from decisions.rules import RuleSet
    from streams.control.releases import publish_release, release_record

    if not text.strip():
        return "paste a rules YAML to release", False
    try:
        rs = RuleSet.from_yaml(text, list(FEATURE_SPEC.names))
    except RulesError as exc:
        return f"refused: {exc}", False
    try:
        publish_release(conn, release_record("RULES", rs.version, text, author))
    except Exception as exc:
        return f"could not publish the release: {exc}", False
    return f"released rules {rs.version} ({len(rs.enabled)} enabled rules)", True
