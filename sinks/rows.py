"""Decoded Avro records -> ClickHouse rows, one converter per table.

Column lists match ``sinks/ddl.py``; times stay epoch milliseconds, which
clickhouse-connect writes straight into ``DateTime64(3)``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from sinks.quote_rows import QUOTE_COLUMNS, quote_row
from sinks.servicing_rows import (
    ACCOUNT_DECISION_COLUMNS,
    STATEMENT_COLUMNS,
    account_decision_row,
    statement_row,
)

DECISION_COLUMNS = (
    "application_id", "event_time", "decided_at", "product", "decision", "pd",
    "fraud_probability", "anomaly_score", "scorecard_points", "risk_grade", "offer_amount",
    "offer_term_months", "offer_apr", "offer_price_tier", "reason_codes", "reason_texts",
    "list_hits", "rule_hits", "versions", "timings_us", "shadow_decision", "shadow_pd",
    "shadow_fraud_probability", "shadow_versions", "worker", "age_band", "cell",
)
FEATURE_COLUMNS = ("application_id", "event_time", "product", "feature_spec_version", "names",
                   "values")
PERFORMANCE_COLUMNS = ("event_id", "loan_id", "application_id", "event_time", "month_on_book",
                       "days_past_due", "balance", "status")
DEAD_LETTER_COLUMNS = ("source_topic", "source_partition", "source_offset", "key_base64",
                       "payload_base64", "error_type", "error", "component", "failed_at")
METRICS_COLUMNS = ("worker", "window_start", "window_end", "decisions", "applications",
                   "approval_rate", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                   "throughput_per_s", "dead_letters", "mean_pd", "mean_fraud_probability",
                   "anomaly_rate")

ALERT_COLUMNS = ("alert_id", "confirmed_application_id", "confirmed_at", "application_id",
                 "application_event_time", "link_kind", "link_hash", "link_path", "outcome",
                 "action")


def alert_row(r: Mapping[str, Any]) -> list[Any]:
    return [r[c] for c in ALERT_COLUMNS]


def decision_row(r: Mapping[str, Any]) -> list[Any]:
    offer = r.get("offer") or {}
    shadow = r.get("shadow") or {}
    reasons = r.get("reason_codes") or []
    return [
        r["application_id"], r["event_time"], r["decided_at"], r["product"], r["decision"],
        r.get("pd"), r.get("fraud_probability"), r.get("anomaly_score"),
        r.get("scorecard_points"), r.get("risk_grade"), offer.get("amount"),
        offer.get("term_months"), offer.get("apr"), offer.get("price_tier"),
        [c["code"] for c in reasons], [c["text"] for c in reasons], list(r.get("list_hits", [])),
        list(r.get("rule_hits", [])), dict(r.get("versions", {})), dict(r.get("timings_us", {})),
        shadow.get("decision"), shadow.get("pd"), shadow.get("fraud_probability"),
        dict(shadow.get("versions") or {}), r.get("worker", ""), r.get("age_band"),
        r.get("cell", ""),
    ]


def feature_row(r: Mapping[str, Any]) -> list[Any]:
    return [r["application_id"], r["event_time"], r["product"], r["feature_spec_version"],
            list(r["names"]), list(r["values"])]


def performance_row(r: Mapping[str, Any]) -> list[Any]:
    return [r[c] for c in PERFORMANCE_COLUMNS]


def _b64(b: bytes | None) -> str | None:
    return None if b is None else base64.b64encode(b).decode()


def dead_letter_row(r: Mapping[str, Any]) -> list[Any]:
    return [r["source_topic"], r["source_partition"], r["source_offset"], _b64(r.get("key")),
            _b64(r.get("payload")), r["error_type"], r["error"], r["component"], r["failed_at"]]


def metrics_row(r: Mapping[str, Any]) -> list[Any]:
    return [r[c] for c in METRICS_COLUMNS]


APPLICATION_COLUMNS = (
    "application_id", "event_time", "product", "id_hash", "device_hash", "phone_hash",
    "email_hash", "ip_hash", "address_hash", "employment_status", "employment_months",
    "annual_income", "monthly_debt_payments", "housing_status", "requested_amount",
    "requested_term_months", "bureau_score", "channel", "session_id", "sealed")
REVIEW_COLUMNS = (
    "event_id", "application_id", "product", "action", "reviewer", "role", "acted_at",
    "application_event_time", "original_decision", "original_decided_at", "rule_hits",
    "original_reasons", "reason_codes", "offer_amount", "offer_term_months", "offer_apr",
    "identifiers", "note", "needs_second_reviewer", "countersigns", "final")
FINAL_COLUMNS = (
    "application_id", "product", "decision", "decided_at", "application_event_time",
    "original_decision", "original_decided_at", "reviewer", "second_reviewer", "review_action",
    "review_event_id", "reason_codes", "reason_texts", "offer_amount", "offer_term_months",
    "offer_apr", "offer_price_tier")
AUDIT_COLUMNS = ("event_id", "at", "user", "role", "kind", "application_id", "detail",
                 "client_ip")

Converter = Callable[[Mapping[str, Any]], list[Any]]


def application_converter(hash_key: bytes, seal: Callable[[dict[str, Any]], str]) -> Converter:
    """Applications -> rows: identifiers hashed under ``hash_key`` (the features' hashes,
    so linked applications are found by equality), personal fields sealed by ``seal``."""
    from features.identity import application_identifiers
    from reviews.privacy import personal_fields

    def row(r: Mapping[str, Any]) -> list[Any]:
        app = dict(r)
        return [app["application_id"], app["event_time"], app["product"],
                *application_identifiers(hash_key, app), app["employment_status"],
                app["employment_months"], app["annual_income"], app["monthly_debt_payments"],
                app["housing_status"], app["requested_amount"], app["requested_term_months"],
                app.get("bureau_score"), app["channel"], app["session_id"],
                seal(personal_fields(app))]

    return row


def review_row(r: Mapping[str, Any]) -> list[Any]:
    offer = r.get("offer") or {}
    return [*(r[c] for c in REVIEW_COLUMNS[:13]), offer.get("amount"), offer.get("term_months"),
            offer.get("apr"), list(r["identifiers"]), r["note"], r["needs_second_reviewer"],
            r.get("countersigns"), r["final"]]


def final_row(r: Mapping[str, Any]) -> list[Any]:
    offer = r.get("offer") or {}
    reasons = r.get("reason_codes") or []
    return [*(r[c] for c in FINAL_COLUMNS[:11]), [c["code"] for c in reasons],
            [c["text"] for c in reasons], offer.get("amount"), offer.get("term_months"),
            offer.get("apr"), offer.get("price_tier")]


def audit_row(r: Mapping[str, Any]) -> list[Any]:
    return [r[c] if c != "application_id" else r.get(c) for c in AUDIT_COLUMNS]


#: table -> (schema of the topic feeding it, columns, converter); ``applications`` needs
#: keys, so its converter is built by ``application_converter``

TABLE_FEEDS: dict[str, tuple[str, tuple[str, ...], Callable[[Mapping[str, Any]], list[Any]]]] = {
    "decisions": ("decision", DECISION_COLUMNS, decision_row),
    "feature_vectors": ("feature_vector", FEATURE_COLUMNS, feature_row),
    "loan_performance": ("loan_performance", PERFORMANCE_COLUMNS, performance_row),
    "dead_letters": ("dead_letter", DEAD_LETTER_COLUMNS, dead_letter_row),
    "metrics": ("metrics", METRICS_COLUMNS, metrics_row),
    "review_actions": ("review_event", REVIEW_COLUMNS, review_row),
    "final_decisions": ("final_decision", FINAL_COLUMNS, final_row),
    "console_audit": ("audit_event", AUDIT_COLUMNS, audit_row),
    "fraud_alerts": ("fraud_alert", ALERT_COLUMNS, alert_row),
    # servicing (sinks/servicing_rows.py)
    "account_statements": ("account_statement", STATEMENT_COLUMNS, statement_row),
    "account_decisions": ("account_action", ACCOUNT_DECISION_COLUMNS, account_decision_row),
    # quotes (sinks/quote_rows.py; quote_requests needs keys, like applications)
    "quotes": ("quote", QUOTE_COLUMNS, quote_row),
}
