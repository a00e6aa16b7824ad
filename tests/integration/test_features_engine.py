"""The feature engine on the real Redis: exact values for crafted event sequences,
and a brute-force oracle over random out-of-order sequences with duplicates."""

from __future__ import annotations

import random
from typing import Any

import pytest

from features.engine import FeatureEngine
from features.identity import address_string
from features.spec import DISTINCT, LAST_SEEN_KINDS, VELOCITY_WINDOWS
from features.synthetic import T0, application, behaviour_event, device_event
from features.windows import DAY_MS, DEFAULT_LATENESS_MS, HOUR_MS, MINUTE_MS, RETENTION_MS, WINDOWS

pytestmark = pytest.mark.integration
KEY = b"test-key"


@pytest.fixture()
def engine(redis_client: Any) -> FeatureEngine:
    return FeatureEngine(redis_client, KEY, prefix="t")


def test_window_boundaries_are_exclusive_at_the_start_inclusive_at_the_end(
    engine: FeatureEngine,
) -> None:
    t = T0
    engine.compute(application("a0", t))
    f1 = engine.compute(application("a1", t + 10 * MINUTE_MS - 1))
    assert f1["vel_device_apps_10m"] == 2.0  # a0 is 1 ms inside the window
    f2 = engine.compute(application("a2", t + 10 * MINUTE_MS))
    assert f2["vel_device_apps_10m"] == 2.0  # a0 is exactly 10 min old: out; a1 in
    assert f2["vel_device_apps_1h"] == 3.0
    f3 = engine.compute(application("a3", t + 7 * DAY_MS))
    assert f3["vel_device_apps_7d"] == 3.0  # a0 dropped at exactly 7 days
    assert f3["vel_device_apps_24h"] == 1.0
    gap_h = (7 * DAY_MS - 10 * MINUTE_MS) / HOUR_MS
    assert f3["vel_device_hours_since_prev"] == pytest.approx(gap_h)


def test_duplicate_application_returns_the_same_vector_and_counts_once(
    engine: FeatureEngine,
) -> None:
    first = engine.compute(application("a0", T0))
    again = engine.compute(application("a0", T0))
    assert again == first
    nxt = engine.compute(application("a1", T0 + 1000))
    assert nxt["vel_device_apps_10m"] == 2.0
    batch = engine.compute_many([application("a2", T0 + 2000), application("a2", T0 + 2000)])
    assert batch[0] == batch[1] and batch[0]["vel_device_apps_10m"] == 3.0


def test_out_of_order_application_counts_only_earlier_event_times(engine: FeatureEngine) -> None:
    later = engine.compute(application("late", T0 + 5 * MINUTE_MS))
    early = engine.compute(application("early", T0))  # arrives after, happened before
    assert later["vel_device_apps_10m"] == 1.0
    assert early["vel_device_apps_10m"] == 1.0  # the later application is not counted
    assert early["vel_device_hours_since_prev"] is None
    after = engine.compute(application("after", T0 + 6 * MINUTE_MS))
    assert after["vel_device_apps_10m"] == 3.0  # the late one counts for later applications
    assert after["vel_device_hours_since_prev"] == pytest.approx(1 / 60)


def test_state_expires_past_the_longest_window(engine: FeatureEngine, redis_client: Any) -> None:
    engine.compute(application("a0", T0))
    keys = list(redis_client.scan_iter(match="t:z:*"))
    assert len(keys) == 6
    limit = RETENTION_MS + DEFAULT_LATENESS_MS + DAY_MS
    assert all(0 < redis_client.pttl(k) <= limit for k in keys)
    assert 0 < redis_client.pttl(b"t:v:a0") <= 2 * DAY_MS
    # a much later application trims members older than retention + lateness by event time
    far = T0 + RETENTION_MS + DEFAULT_LATENESS_MS + 1
    f = engine.compute(application("a1", far))
    assert f["vel_device_hours_since_prev"] is None and f["graph_linked_apps_30d"] == 0.0
    dev_keys = [k for k in redis_client.scan_iter(match="t:z:dev:*")]
    assert [redis_client.zcard(k) for k in dev_keys] == [1]


def test_distinct_counts_and_graph_links(engine: FeatureEngine) -> None:
    t = T0
    engine.compute(application("a0", t, national_id="N0", phone="+440", email="n0@x"))
    engine.compute(application("a1", t + 1, national_id="N1", phone="+441", email="n1@x"))
    engine.compute(application("a2", t + 2, national_id="N1", phone="+442", email="n1b@x",
                               device_id="dev-2"))
    f = engine.compute(application("a3", t + 3, national_id="N2", phone="+441", email="n2@x",
                                   ip="10.0.0.9"))
    # device dev-1 saw N0, N1, N2; phone +441 saw N1 and N2
    assert f["dist_ids_per_device_24h"] == 3.0
    assert f["dist_ids_per_phone_7d"] == 2.0
    assert f["dist_ids_per_ip_24h"] == 1.0  # new ip
    # linked through device (a0 N0, a1 N1) and phone (a1): identities N0, N1; apps a0, a1
    assert f["graph_linked_ids_30d"] == 2.0 and f["graph_linked_apps_30d"] == 2.0
    g = engine.compute(application("a4", t + 4, national_id="N1", phone="+443", email="n1c@x",
                                   device_id="dev-3"))
    assert g["dist_devices_per_id_7d"] == 3.0  # dev-1, dev-2, dev-3
    assert g["dist_phones_per_id_7d"] == 3.0 and g["dist_emails_per_id_7d"] == 3.0
    assert g["vel_id_apps_10m"] == 3.0


def test_missing_session_then_ingested_session_with_duplicates(engine: FeatureEngine) -> None:
    f = engine.compute(application("a0", T0, session_id="s0"))
    assert f["sess_behaviour_missing"] == 1.0 and f["sess_device_missing"] == 1.0
    assert f["sess_paste_count"] is None and f["sess_emulator"] is None
    dev = [device_event("d1", "s1", T0 - 5000, emulator=True, ip_country="RO",
                        timezone="Europe/Bucharest")]
    beh = [behaviour_event("b1", "s1", T0 - 4000, "PAGE_VIEW"),
           behaviour_event("b2", "s1", T0 - 3000, "KEYSTROKE", 100.0),
           behaviour_event("b3", "s1", T0 - 2000, "KEYSTROKE", 300.0),
           behaviour_event("b4", "s1", T0 - 1000, "PASTE")]
    engine.ingest_session_events(dev, beh[:3])
    engine.ingest_session_events(dev, beh)  # redelivery: b1..b3 and d1 again, plus b4
    g = engine.compute(application("a1", T0, session_id="s1"))
    assert g["sess_behaviour_missing"] == 0.0 and g["sess_device_missing"] == 0.0
    assert g["sess_pages"] == 1.0 and g["sess_keystrokes"] == 2.0
    assert g["sess_paste_count"] == 1.0 and g["sess_corrections"] == 0.0
    assert g["sess_form_fill_seconds"] == 3.0
    assert g["sess_keystroke_interval_mean_ms"] == 200.0
    assert g["sess_keystroke_interval_std_ms"] == 100.0
    assert g["sess_emulator"] == 1.0 and g["sess_rooted"] == 0.0
    assert g["sess_ip_country_mismatch"] == 1.0 and g["sess_timezone_mismatch"] == 1.0
    assert g["sess_ip_mismatch"] == 0.0 and g["sess_device_mismatch"] == 0.0
    assert g["device_first_seen_days"] == pytest.approx(5000 / DAY_MS)


def test_fraud_confirmation_flags_linked_identifiers_from_its_event_time(
    engine: FeatureEngine,
) -> None:
    engine.compute(application("bad", T0, national_id="F1", phone="+449"))
    assert engine.record_fraud_confirmation("bad", T0 + DAY_MS)
    assert not engine.record_fraud_confirmation("unknown-app", T0 + DAY_MS)
    before = engine.compute(application("x", T0 + HOUR_MS, national_id="X", phone="+449",
                                        device_id="other", email="x@x", ip="1.1.1.1",
                                        line1="elsewhere"))
    assert before["graph_fraud_linked"] == 0.0  # confirmed later in event time
    after = engine.compute(application("y", T0 + 2 * DAY_MS, national_id="Y", phone="+449",
                                       device_id="other2", email="y@y", ip="2.2.2.2",
                                       line1="elsewhere 2"))
    assert after["graph_fraud_linked"] == 1.0 and after["graph_fraud_linked_identifiers"] == 1.0


def test_compute_many_equals_compute_in_order(redis_client: Any) -> None:
    apps = [application(f"a{i}", T0 + i * 7 * MINUTE_MS, national_id=f"N{i % 3}",
                        device_id=f"d{i % 2}") for i in range(12)]
    apps.insert(5, apps[2])  # a duplicate inside the batch
    one = FeatureEngine(redis_client, KEY, prefix="one")
    many = FeatureEngine(redis_client, KEY, prefix="many")
    assert [one.compute(a) for a in apps] == many.compute_many(apps)


# --- brute-force oracle -------------------------------------------------------

_FIELD = {"id": "national_id", "device": "device_id", "phone": "phone", "email": "email",
          "ip": "ip"}


def _ident(app: dict[str, Any], kind: str) -> str:
    return address_string(app["address"]) if kind == "address" else app[_FIELD[kind]]


def _oracle(seen: list[dict[str, Any]], x: dict[str, Any]) -> dict[str, float | None]:
    """Velocity, distinct and graph values recomputed from scratch."""
    t = x["event_time"]
    state = {a["application_id"]: a for a in [*seen, x]}.values()
    out: dict[str, float | None] = {}
    for kind in ("id", "device", "phone", "email", "ip", "address"):
        same = [a for a in state if _ident(a, kind) == _ident(x, kind)
                and t - RETENTION_MS < a["event_time"] <= t]
        for w in VELOCITY_WINDOWS[kind]:
            out[f"vel_{kind}_apps_{w}"] = float(
                sum(1 for a in same if a["event_time"] > t - WINDOWS[w]))
        if kind in LAST_SEEN_KINDS:
            prev = [a["event_time"] for a in same if a["application_id"] != x["application_id"]]
            out[f"vel_{kind}_hours_since_prev"] = (t - max(prev)) / HOUR_MS if prev else None
    for name, kind, part, w in DISTINCT:
        vals = {_ident(a, part) for a in state if _ident(a, kind) == _ident(x, kind)
                and t - WINDOWS[w] < a["event_time"] <= t}
        out[name] = float(len(vals))
    linked = [a for a in state if a["application_id"] != x["application_id"]
              and t - RETENTION_MS < a["event_time"] <= t
              and any(_ident(a, k) == _ident(x, k) for k in ("device", "phone", "ip"))]
    out["graph_linked_apps_30d"] = float(len(linked))
    out["graph_linked_ids_30d"] = float(len({a["national_id"] for a in linked
                                             if a["national_id"] != x["national_id"]}))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_out_of_order_sequences_match_the_brute_force_oracle(
    redis_client: Any, seed: int
) -> None:
    rng = random.Random(seed)
    engine = FeatureEngine(redis_client, KEY, prefix=f"o{seed}")
    times = sorted(T0 + rng.randrange(0, 10 * DAY_MS) for _ in range(120))
    # small gaps on purpose, so the 10-minute and 1-hour windows see several events
    times += [times[-1] + rng.randrange(0, 2 * HOUR_MS) for _ in range(60)]
    apps = [application(
        f"a{i}", t, national_id=f"N{rng.randrange(8)}", device_id=f"d{rng.randrange(5)}",
        phone=f"+44{rng.randrange(4)}", email=f"e{rng.randrange(6)}@x",
        ip=f"10.0.0.{rng.randrange(3)}", line1=f"{rng.randrange(4)} Road")
        for i, t in enumerate(times)]
    order = list(apps)
    for i in range(len(order) - 1):  # out of order by up to a few positions (< lateness)
        if rng.random() < 0.3:
            order[i], order[i + 1] = order[i + 1], order[i]
    for i in range(0, len(order), 17):  # redeliveries
        order.insert(i + rng.randrange(1, 10), order[i])
    seen: list[dict[str, Any]] = []
    first: dict[str, dict[str, float | None]] = {}
    for app in order:
        got = engine.compute(app)
        aid = app["application_id"]
        if aid in first:
            assert got == first[aid]
            continue
        first[aid] = got
        want = _oracle(seen, app)
        assert {k: got[k] for k in want} == pytest.approx(want), aid
        seen.append(app)
