"""Small, valid example records for every schema, and the generated data sets tests share
(simulated traffic, a training frame), for tests to start from."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

#: decision fields that differ between two runs deciding the same inputs
VOLATILE_DECISION_FIELDS = ("decided_at", "timings_us", "worker")


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
        "employer": "Acme Widgets Ltd", "bank_account": "20-00-00 12345678",
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


def behaviour_batch(events: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """One SDK flush carrying ``events`` (the shape of the behaviour topic)."""
    rec: dict[str, Any] = {"batch_id": "batch-1", "session_id": events[0]["session_id"],
                           "sent_at": max(e["event_time"] for e in events) + 1_000,
                           "events": events}
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
        "cell": "control",
    }
    rec.update(overrides)
    return rec


def stable(decision_record: dict[str, Any]) -> dict[str, Any]:
    """A decision without the fields that legitimately differ from run to run."""
    return {k: v for k, v in decision_record.items() if k not in VOLATILE_DECISION_FIELDS}


def live_traffic(n: int, seed: int = 11, start_ms: int = T0
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(applications, device events, behaviour events) of ``n`` simulated applicants."""
    from simulator.config import SimConfig
    from simulator.live import LiveGenerator

    gen = LiveGenerator(SimConfig(), seed, start_ms, rate=50)
    apps: list[dict[str, Any]] = []
    dev: list[dict[str, Any]] = []
    beh: list[dict[str, Any]] = []
    while len(apps) < n:
        for topic, _key, rec in gen.next_application():
            if topic == "loan.applications.v1":
                apps.append(rec)
            elif topic == "device.events.v1":
                dev.append(rec)
            else:
                beh.extend(rec["events"])
    return apps, dev, beh


def training_frame(n: int, seed: int) -> pd.DataFrame:
    """Feature-spec columns with default and fraud labels driven by bureau score and
    velocity, so a model trained on it scores applications differently."""
    from features.spec import FEATURE_SPEC

    rng = np.random.default_rng(seed)
    df = pd.DataFrame({name: rng.random(n) for name in FEATURE_SPEC.names})
    df["bureau_score"] = rng.normal(680, 60, n)
    df["vel_device_apps_24h"] = rng.poisson(0.5, n).astype(float)
    z = -2.5 - (df["bureau_score"] - 680) / 40 + 0.8 * df["vel_device_apps_24h"]
    df["label_default"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    zf = -4.0 + 1.5 * df["vel_device_apps_24h"]
    df["label_fraud"] = (rng.random(n) < 1 / (1 + np.exp(-zf))).astype(int)
    df["event_time"] = np.arange(n) * 60_000 + 1_700_000_000_000
    return df
