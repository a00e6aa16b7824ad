"""Quote records -> ClickHouse rows (columns of ``sinks.quote_ddl``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

QUOTE_REQUEST_COLUMNS = ("quote_id", "event_time", "product", "id_hash", "device_hash",
                         "phone_hash", "email_hash", "ip_hash", "address_hash",
                         "employment_status", "annual_income", "monthly_debt_payments",
                         "requested_amount", "requested_term_months", "bureau_score", "channel")
QUOTE_COLUMNS = ("quote_id", "event_time", "decided_at", "valid_until", "product", "decision",
                 "risk_grade", "offer_apr", "offer_amount", "offer_term_months", "pd",
                 "fraud_probability", "reason_codes", "reason_texts", "quote_velocity",
                 "id_hash", "cell", "versions", "degraded", "latency_us", "worker")


def quote_request_converter(hash_key: bytes) -> Callable[[Mapping[str, Any]], list[Any]]:
    """Quote requests -> rows with the identifiers hashed under ``hash_key`` (the features'
    hashes: quotes and applications of one identity join by equality)."""
    from features.identity import application_identifiers

    def row(r: Mapping[str, Any]) -> list[Any]:
        return [r["quote_id"], r["event_time"], r["product"],
                *application_identifiers(hash_key, r), r["employment_status"],
                r["annual_income"], r["monthly_debt_payments"], r["requested_amount"],
                r["requested_term_months"], r.get("bureau_score"), r["channel"]]

    return row


def quote_row(r: Mapping[str, Any]) -> list[Any]:
    reasons = r.get("reason_codes") or []
    return [r["quote_id"], r["event_time"], r["decided_at"], r["valid_until"], r["product"],
            r["decision"], r.get("risk_grade"), r.get("apr"), r.get("limit"),
            r.get("term_months"), r.get("pd"), r.get("fraud_probability"),
            [c["code"] for c in reasons], [c["text"] for c in reasons],
            dict(r.get("quote_velocity") or {}), r["id_hash"], r.get("cell", ""),
            dict(r.get("versions") or {}), bool(r.get("degraded")), r["latency_us"],
            r.get("worker", "")]
