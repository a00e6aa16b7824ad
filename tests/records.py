"""Small, valid example records for every schema, for tests to start from."""

from __future__ import annotations

from typing import Any

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def application(**overrides: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "application_id": "app-1", "event_time": T0, "product": "PERSONAL_LOAN",
        "customer_id": None, "first_name": "Ada", "last_name": "Lovelace",
        "date_of_birth": "1990-12-10", "national_id": "QQ123456C",
        "email": "ada@example.com", "phone": "+447700900123",
        "address": {"line1": "1 Analytical St", "city": "London", "postcode": "N1 1AA",
                    "country": "GB"},
        "employment_status": "EMPLOYED", "employment_months": 48, "annual_income": 52000.0,
        "monthly_debt_payments": 350.0, "housing_status": "RENT", "requested_amount": 8000.0,
        "requested_term_months": 36, "bureau_score": 712,
        "bureau": {"inquiries_6m": 1, "delinquencies_24m": 0, "utilisation": 0.31,
                   "file_age_months": 96, "open_accounts": 5, "thin_file": False,
                   "new_accounts_6m": 0, "income_estimate": 50500.0},
        "channel": "WEB", "session_id": "sess-1", "ip": "203.0.113.7", "device_id": "dev-1",
    }
    rec.update(overrides)
    return rec


def device_event(**overrides: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "event_id": "dev-evt-1", "session_id": "sess-1", "event_time": T0 - 60_000,
        "device_id": "dev-1", "idfv": None, "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0", "os": "iOS 18.1", "emulator": False, "rooted": False,
        "geo_lat": 51.5, "geo_lon": -0.12, "geo_country": "GB", "ip_country": "GB",
        "timezone": "Europe/London", "utc_offset_minutes": 0,
    }
    rec.update(overrides)
    return rec


def behaviour_event(**overrides: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "event_id": "beh-1", "session_id": "sess-1", "event_time": T0 - 30_000,
        "event_type": "KEYSTROKE", "page": None, "field": "income", "inter_key_ms": 180.0,
        "chars": 1,
    }
    rec.update(overrides)
    return rec


def performance(**overrides: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "event_id": "perf-1", "loan_id": "loan-1", "application_id": "app-1",
        "event_time": T0 + 30 * 86_400_000, "month_on_book": 1, "days_past_due": 0,
        "balance": 7800.0, "status": "CURRENT",
    }
    rec.update(overrides)
    return rec


def decision(**overrides: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "application_id": "app-1", "event_time": T0, "decided_at": T0 + 12,
        "product": "PERSONAL_LOAN", "decision": "APPROVE", "pd": 0.031,
        "fraud_probability": 0.002, "anomaly_score": 0.41, "scorecard_points": 655.0,
        "risk_grade": "B",
        "offer": {"amount": 8000.0, "term_months": 36, "apr": 0.129, "price_tier": "B"},
        "reason_codes": [], "list_hits": [], "rule_hits": [],
        "versions": {"model_pd": "pd-1", "rules": "r-1", "feature_spec": "fs-1"},
        "timings_us": {"features": 410.0, "score": 31.0}, "shadow": None, "worker": "w1",
        "age_band": "35-44",
    }
    rec.update(overrides)
    return rec
