"""Small, deterministic synthetic traffic for the feature tests and benchmark.

The project's simulator (``simulator/``) is the realistic source; this module
only crafts records shaped exactly like the decoded Avro messages, with
controllable sharing of identifiers (repeat applicants, shared carrier IPs,
fraud rings), so tests can state exact expectations.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

BEHAVIOUR_TYPES = ("PAGE_VIEW", "FIELD_FOCUS", "KEYSTROKE", "KEYSTROKE", "KEYSTROKE",
                   "KEYSTROKE", "PASTE", "CORRECTION")


def application(
    app_id: str,
    event_time: int,
    *,
    national_id: str = "AB123456C",
    device_id: str = "dev-1",
    phone: str = "+447700900001",
    email: str = "a@example.com",
    ip: str = "81.2.69.160",
    line1: str = "1 High Street",
    postcode: str = "E1 6AN",
    country: str = "GB",
    session_id: str | None = None,
    product: str = "PERSONAL_LOAN",
    annual_income: float = 36_000.0,
    requested_amount: float = 5_000.0,
    term: int = 24,
    bureau: bool = True,
    employer: str | None = None,
    bank_account: str | None = None,
    last_name: str = "Example",
    date_of_birth: str = "1990-01-01",
) -> dict[str, Any]:
    """A decoded loan_application record with the given identifiers."""
    return {
        "application_id": app_id, "event_time": event_time, "product": product,
        "customer_id": None, "first_name": "Ann", "last_name": last_name,
        "date_of_birth": date_of_birth, "national_id": national_id, "email": email,
        "phone": phone,
        "address": {"line1": line1, "city": "London", "postcode": postcode, "country": country},
        "employment_status": "EMPLOYED", "employment_months": 30,
        "annual_income": annual_income, "monthly_debt_payments": 400.0,
        "housing_status": "RENT", "requested_amount": requested_amount,
        "requested_term_months": term, "bureau_score": 690 if bureau else None,
        "bureau": {"inquiries_6m": 1, "delinquencies_24m": 0, "utilisation": 0.3,
                   "file_age_months": 80, "open_accounts": 4, "thin_file": False,
                   "new_accounts_6m": 0, "income_estimate": annual_income}
        if bureau else None,
        "channel": "WEB", "session_id": session_id or f"s-{app_id}", "ip": ip,
        "device_id": device_id, "employer": employer, "bank_account": bank_account,
    }


def device_event(event_id: str, session_id: str, event_time: int, *, device_id: str = "dev-1",
                 ip: str = "81.2.69.160", emulator: bool = False, rooted: bool = False,
                 ip_country: str | None = "GB", geo_country: str | None = "GB",
                 timezone: str = "Europe/London") -> dict[str, Any]:
    return {"event_id": event_id, "session_id": session_id, "event_time": event_time,
            "device_id": device_id, "idfv": None, "ip": ip, "user_agent": "Mozilla/5.0",
            "os": "Android 14", "emulator": emulator, "rooted": rooted, "geo_lat": None,
            "geo_lon": None, "geo_country": geo_country, "ip_country": ip_country,
            "timezone": timezone, "utc_offset_minutes": 0}


def behaviour_event(event_id: str, session_id: str, event_time: int, event_type: str,
                    inter_key_ms: float | None = None) -> dict[str, Any]:
    return {"event_id": event_id, "session_id": session_id, "event_time": event_time,
            "event_type": event_type, "page": None, "field": None,
            "inter_key_ms": inter_key_ms if event_type == "KEYSTROKE" else None, "chars": None}


def traffic(
    n: int, *, seed: int = 7, rate_per_s: float = 2000.0, behaviour_per_app: int = 30,
    ring_share: float = 0.02, carrier_ip_share: float = 0.05,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Time-ordered ("application" | "device" | "behaviour", record) pairs.

    Each application is preceded by its session: one device event and
    ``behaviour_per_app`` behaviour events. A share of applicants repeat, a
    share come through a few shared carrier IPs, and a share belong to fraud
    rings that reuse a few devices and phones across many identities.
    """
    rng = random.Random(seed)
    gap = 1000.0 / rate_per_s
    t = float(T0)
    rings = [([f"ring{r}-dev{j}" for j in range(3)],
              [f"+4470000{r:03d}{j}" for j in range(2)], f"185.0.{r}.1") for r in range(20)]
    for i in range(n):
        t += rng.expovariate(1.0 / gap)
        ti = int(t)
        sid = f"s{i}"
        u = rng.random()
        if u < ring_share:
            ring = rings[rng.randrange(len(rings))]
            person = f"RING{i}"
            dev, phone, ip = rng.choice(ring[0]), rng.choice(ring[1]), ring[2]
        else:
            k = rng.randrange(max(n // 2, 1)) if rng.random() < 0.1 else i  # repeat applicants
            person = f"P{k}"
            dev, phone = f"dev{k}", f"+4477{k:08d}"
            ip = (f"92.40.0.{rng.randrange(20)}" if rng.random() < carrier_ip_share
                  else f"81.{k % 250}.{(k // 250) % 250}.{k % 7}")
        yield "device", device_event(f"d{i}", sid, ti - 60_000, device_id=dev, ip=ip)
        for j in range(behaviour_per_app):
            et = BEHAVIOUR_TYPES[j % len(BEHAVIOUR_TYPES)]
            yield "behaviour", behaviour_event(f"b{i}-{j}", sid, ti - 59_000 + j * 1000, et,
                                               round(rng.uniform(60, 300), 1))
        yield "application", application(
            f"a{i}", ti, national_id=person, device_id=dev, phone=phone,
            email=f"{person.lower()}@example.com", ip=ip, line1=f"{i % 5000} High Street",
            session_id=sid)
