"""Servicing records -> ClickHouse rows (columns of ``sinks.servicing_ddl``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATEMENT_COLUMNS = ("statement_id", "account_id", "application_id", "event_time",
                     "month_on_book", "product", "credit_limit", "balance", "utilisation",
                     "minimum_due", "payment_amount", "cash_advance", "days_past_due", "status",
                     "income_on_file", "recovery_amount")
ACCOUNT_DECISION_COLUMNS = ("statement_id", "account_id", "event_time", "decided_at",
                            "month_on_book", "days_past_due", "credit_limit", "balance",
                            "bscore", "collection_score", "actions", "reason_codes",
                            "reasons", "new_limits", "treatments", "costs", "cells",
                            "versions", "latency_us", "worker")
_ACTION_FIELDS = ("action", "reason_code", "reason", "new_limit", "treatment", "cost", "cell")


def statement_row(r: Mapping[str, Any]) -> list[Any]:
    return [r.get(c) for c in STATEMENT_COLUMNS]


def account_decision_row(r: Mapping[str, Any]) -> list[Any]:
    acts = r.get("actions") or []
    arrays = [[a.get(f) for a in acts] for f in _ACTION_FIELDS]
    return [r["statement_id"], r["account_id"], r["event_time"], r["decided_at"],
            r["month_on_book"], r["days_past_due"], r["credit_limit"], r["balance"],
            r.get("bscore"), r.get("collection_score"), *arrays, dict(r.get("versions", {})),
            r["latency_us"], r.get("worker", "")]
