"""The identity graph on the real Redis: a brute-force oracle over random out-of-order
sequences whose identifiers are written in several ways, with fraud confirmations and
declines, plus the caps and one round trip."""

from __future__ import annotations

import random
from collections import deque
from typing import Any

import pytest
import redis

from features import graph
from features.engine import FeatureEngine
from features.synthetic import T0, application
from features.windows import DAY_MS, DEFAULT_LATENESS_MS, HOUR_MS, RETENTION_MS

pytestmark = pytest.mark.integration
KEY = b"test-key"

# each entity is written several ways; the oracle only knows the entity
ADDRESSES = [("14 Elm Court", "E1 6AN"), ("Flat 2, 14 Elm Ct", "e16an"),
             ("14, ELM COURT ", "E1  6AN")], [("3 Mill Lane", "LS1 4AB"), ("Flat 9, 3 Mill Ln",
                                                                           "ls14ab")], [
    ("7 Oak Road", "M1 1AA")], [("22 Quay St", "B2 2BB"), ("Apartment 4, 22 Quay Street",
                                                            "B22BB")]
PHONES = [["+447700900001", "07700 900001", "+44 (0)7700 900001"], ["+447700900002"],
          ["07700 900003", "+447700900003"], ["+447700900004"]]
EMAILS = [["jo.smith@gmail.com", "JoSmith+x@googlemail.com"], ["jsmith84@outlook.com"],
          ["jsmith85@outlook.com", "JSmith85+a@Outlook.com"], ["ann@example.org"]]
SURNAMES = [("Smith", "1990-01-01"), ("SMITH ", "1990-01-01"), ("Jones", "1985-05-05")]


def _person(s: tuple[str, str]) -> tuple[str, str]:
    return s[0].strip().lower(), s[1]


def _draw(rng: random.Random, i: int, t: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """An application and the entities behind its identifiers (what the oracle sees)."""
    e = {"id": f"N{rng.randrange(14)}", "device": f"d{rng.randrange(6)}",
         "phone": rng.randrange(len(PHONES)), "email": rng.randrange(len(EMAILS)),
         "ip": "hub" if rng.random() < 0.45 else f"10.0.0.{rng.randrange(4)}",
         "address": rng.randrange(len(ADDRESSES)),
         "employer": rng.choice([None, "Acme Ltd", "Beta LLP"]),
         "bank": rng.choice([None, None, "20-00-00 11111111", "40-11-22 22222222"]),
         "person": rng.randrange(len(SURNAMES))}
    line1, postcode = rng.choice(ADDRESSES[e["address"]])
    surname, dob = SURNAMES[e["person"]]
    app = application(
        f"a{i}", t, national_id=e["id"], device_id=e["device"],
        phone=rng.choice(PHONES[e["phone"]]), email=rng.choice(EMAILS[e["email"]]),
        ip="203.0.113.9" if e["ip"] == "hub" else e["ip"], line1=line1, postcode=postcode,
        employer=e["employer"], bank_account=e["bank"], last_name=surname, date_of_birth=dob)
    e["person"] = _person(SURNAMES[e["person"]])
    e["email_skeleton"] = {0: "a", 1: "b", 2: "b", 3: "c"}[e["email"]]
    return app, e


NODES = ("device", "phone", "email", "ip", "address", "employer", "bank")


def _oracle(seen: list[tuple[dict[str, Any], dict[str, Any]]], x: dict[str, Any],
            ex: dict[str, Any], fraud: dict[str, int],
            declined: dict[str, list[int]]) -> dict[str, float]:
    t = x["event_time"]
    rows = {a["application_id"]: (a, e) for a, e in [*seen, (x, ex)]}.values()
    win = [(a["event_time"], e) for a, e in rows if t - graph.LINK_WINDOWS["30d"]
           < a["event_time"] <= t]
    uses: dict[tuple[str, Any], list[tuple[int, str]]] = {}
    for ta, e in win:
        for k in NODES:
            if e[k] is not None:
                uses.setdefault((k, e[k]), []).append((ta, e["id"]))
    live = {n for n, u in uses.items() if len(u) <= graph.HUB}
    out: dict[str, float] = {}
    mine = [(k, ex[k]) for k in NODES if ex[k] is not None and (k, ex[k]) in live]
    for w, length in graph.LINK_WINDOWS.items():
        out[f"graph_ids_linked_{w}"] = float(len({i for n in mine for ta, i in uses[n]
                                                  if ta > t - length and i != ex["id"]}))
    for k in graph.COSTLY:
        out[f"graph_ids_linked_{k}_30d"] = float(len({i for n in mine if n[0] == k
                                                      for _, i in uses[n] if i != ex["id"]}))
    adj: dict[str, set[str]] = {}
    for n in live:
        ids = {i for _, i in uses[n]}
        for i in ids:
            adj.setdefault(i, set()).update(ids - {i})
    dist = {ex["id"]: 0}
    q = deque([ex["id"]])
    while q:
        cur = q.popleft()
        for nb in adj.get(cur, ()):
            if nb not in dist:
                dist[nb] = dist[cur] + 1
                q.append(nb)
    comp = len(dist)
    out["graph_two_hop_ids_30d"] = float(sum(1 for d in dist.values() if d == 2))
    out["graph_component_ids_30d"] = float(comp)
    out["graph_component_fraud_share_30d"] = sum(
        1 for i in dist if fraud.get(i, t + 1) <= t) / comp
    out["graph_component_declined_share_30d"] = sum(
        1 for i in dist if any(t - graph.LINK_WINDOWS["30d"] < d < t
                               for d in declined.get(i, ()))) / comp
    addr = ("address", ex["address"])
    out["graph_same_person_at_address_30d"] = float(len(
        {e["id"] for _, e in win if addr in live and e["address"] == ex["address"]
         and e["person"] == ex["person"] and e["id"] != ex["id"]}))
    out["graph_email_digit_variants_30d"] = float(len(
        {e["email"] for _, e in win if e["email_skeleton"] == ex["email_skeleton"]
         and e["email"] != ex["email"]}))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_graph_features_match_the_brute_force_oracle(redis_client: Any, seed: int) -> None:
    rng = random.Random(seed)
    engine = FeatureEngine(redis_client, KEY, prefix=f"g{seed}")
    times = sorted(T0 + rng.randrange(0, 40 * DAY_MS) for _ in range(140))
    times += [times[-1] + rng.randrange(0, 2 * HOUR_MS) for _ in range(40)]
    drawn = [_draw(rng, i, t) for i, t in enumerate(times)]
    order = list(drawn)
    for i in range(len(order) - 1):  # out of order by a few positions
        if rng.random() < 0.3:
            order[i], order[i + 1] = order[i + 1], order[i]
    for i in range(0, len(order), 19):  # redeliveries
        order.insert(i + rng.randrange(1, 8), order[i])
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []
    first: dict[str, dict[str, Any]] = {}
    fraud: dict[str, int] = {}
    declined: dict[str, list[int]] = {}
    pending: list[tuple[str, int]] = []  # declines sent with the next batch, as the worker does
    batch: list[tuple[dict[str, Any], dict[str, Any]]] = []
    pos = 0
    while pos < len(order):
        batch = order[pos:pos + rng.randrange(1, 6)]  # batches: one pipeline each
        pos += len(batch)
        got = engine.exchange([a for a, _ in batch], declines=pending).vectors
        pending = []
        for (app, e), values in zip(batch, got, strict=True):
            aid = app["application_id"]
            if aid in first:
                assert {k: values[k] for k in graph.FEATURES} == first[aid]
                continue
            first[aid] = {k: values[k] for k in graph.FEATURES}
            want = _oracle(seen, app, e, fraud, declined)
            assert first[aid] == pytest.approx(want), aid
            seen.append((app, e))
        if rng.random() < 0.08 and seen:  # a fraud confirmation
            app, e = rng.choice(seen)
            tc = app["event_time"] + rng.randrange(0, 5 * DAY_MS)
            assert engine.record_fraud_confirmation(app["application_id"], tc)
            fraud[e["id"]] = min(fraud.get(e["id"], tc), tc)
        for app, e in rng.sample(seen, min(len(seen), 2)):  # DECLINEs (some twice)
            if rng.random() < 0.12:
                pending.append((app["application_id"], app["event_time"]))
                declined.setdefault(e["id"], []).append(app["event_time"])
        if pending and rng.random() < 0.3:  # or recorded on their own
            assert engine.record_declines(pending) == len(pending)
            pending = []
    assert any(v["graph_two_hop_ids_30d"] > 0 for v in first.values())
    assert any(v["graph_component_fraud_share_30d"] > 0 for v in first.values())
    assert any(v["graph_component_declined_share_30d"] > 0 for v in first.values())
    assert any(v["graph_same_person_at_address_30d"] > 0 for v in first.values())
    assert any(v["graph_email_digit_variants_30d"] > 0 for v in first.values())


def test_component_stops_at_its_cap_and_hubs_link_nothing(redis_client: Any) -> None:
    engine = FeatureEngine(redis_client, KEY, prefix="gcap")
    n = graph.COMPONENT_CAP + 10
    # a chain: identity i shares a device with i-1 and a phone with i+1
    apps = [application(f"c{i}", T0 + i, national_id=f"C{i}", device_id=f"cd{i // 2}",
                        phone=f"+44770090{(i + 1) // 2:04d}", email=f"c{i}@x.org",
                        ip=f"10.1.{i}.1", line1=f"{i} Chain Rd", employer=None)
            for i in range(n)]
    last = engine.compute_many(apps)[-1]
    assert last["graph_component_ids_30d"] == float(graph.COMPONENT_CAP)
    assert last["graph_ids_linked_30d"] == 1.0 and last["graph_two_hop_ids_30d"] == 1.0
    # one IP used by more than HUB applications links nobody
    hub = [application(f"h{i}", T0 + i, national_id=f"H{i}", device_id=f"hd{i}",
                       phone=f"+44770091{i:04d}", email=f"h{i}@x.org", ip="198.51.100.1",
                       line1=f"{i} Hub St", employer=None) for i in range(graph.HUB + 2)]
    values = engine.compute_many(hub)
    assert values[graph.HUB - 1]["graph_ids_linked_30d"] == float(graph.HUB - 1)
    assert values[-1]["graph_ids_linked_30d"] == 0.0
    assert values[-1]["graph_component_ids_30d"] == 1.0


def test_address_and_phone_variants_link_and_count_as_one(redis_client: Any) -> None:
    engine = FeatureEngine(redis_client, KEY, prefix="gvar")
    a = engine.compute(application("v0", T0, national_id="V0", device_id="vd0",
                                   phone="+447700900777", email="v0@x.org", ip="10.9.0.1",
                                   line1="14 Elm Court", postcode="E1 6AN"))
    b = engine.compute(application("v1", T0 + HOUR_MS, national_id="V1", device_id="vd1",
                                   phone="07700 900777", email="v1@x.org", ip="10.9.0.2",
                                   line1="Flat 1, 14 Elm Ct ", postcode="e16an"))
    assert a["graph_ids_linked_30d"] == 0.0
    assert b["graph_ids_linked_address_30d"] == 1.0 and b["graph_ids_linked_24h"] == 1.0
    assert b["vel_address_apps_24h"] == 2.0 and b["vel_phone_apps_24h"] == 2.0
    assert b["dist_ids_per_address_7d"] == 2.0


def _zsets(r: Any, prefix: str, kind: str, member_start: str = "") -> list[bytes]:
    return [k for k in r.scan_iter(match=f"{prefix}:g:{kind}:*") if r.type(k) == b"zset"
            and any(m.startswith(member_start.encode()) for m in r.zrange(k, 0, -1))]


def test_graph_keys_expire_when_quiet_and_are_trimmed_behind_retention(
        redis_client: Any) -> None:
    """Memory stays bounded though the graph renews a key's expiry only on the first write
    of each quarter day of event time (graph.lua: a quarter of the expiry's one-day slack)
    and trims only when needed: a small key when its read shows a member past retention +
    lateness, a key with more members than a read shows on that first write."""
    r, quarter = redis_client, DAY_MS // 4
    engine = FeatureEngine(r, KEY, prefix="gmem")
    n = graph.HUB + 5  # the IP: more members than one read shows
    engine.compute_many([application(
        f"m{i}", T0 + i, national_id=f"M{i}", device_id=f"md{i}", phone=f"+44770092{i:04d}",
        email=f"m{i}@x.org", ip="198.51.100.7", line1=f"{i} Mem St") for i in range(n)])
    limit = RETENTION_MS + DEFAULT_LATENESS_MS + DAY_MS
    zsets = [k for k in r.scan_iter(match="gmem:g:*") if r.type(k) == b"zset"]
    assert len(zsets) == 5 * n + 2  # the emails share one skeleton
    assert all(0 < r.pttl(k) <= limit for k in zsets)
    [ip] = _zsets(r, "gmem", "ip")

    def one(app_id: str, t: int) -> None:
        engine.compute(application(app_id, t, national_id="M0", device_id="md0",
                                   phone="+447700920000", email="m0@x.org", ip="198.51.100.7",
                                   line1="0 Mem St"))

    r.pexpire(ip, 60_000)
    one("m-same", T0 + HOUR_MS)  # the same quarter day: the expiry is not renewed
    assert 0 < r.pttl(ip) <= 60_000
    one("m-next", T0 + quarter)  # the next one: renewed
    assert r.pttl(ip) > limit - 60_000
    far = T0 + RETENTION_MS + DEFAULT_LATENESS_MS + quarter + HOUR_MS
    one("m-far", far)  # everything before far - retention - lateness goes
    assert r.zcard(ip) == 1
    for kind in ("dev", "ph", "em", "ad", "id", "sk"):
        [key] = _zsets(r, "gmem", kind, "m-far|")
        assert len(r.zrange(key, 0, -1)) == 1, kind


class _Counting(redis.Redis):
    """The real client, counting what it sends: direct commands and pipelines executed."""

    direct = 0
    pipelines = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        _Counting.direct += 1
        return super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        run = pipe.execute

        def execute(raise_on_error: bool = True) -> Any:
            _Counting.pipelines += 1
            return run(raise_on_error)

        pipe.execute = execute  # type: ignore[method-assign]
        return pipe


def test_one_round_trip_per_batch(redis_client: Any, redis_url: str) -> None:
    client = _Counting.from_url(redis_url)
    engine = FeatureEngine(client, KEY, prefix="grt")
    engine.compute(application("w0", T0))  # scripts loaded
    _Counting.direct = _Counting.pipelines = 0
    values = engine.compute_many([application(f"w{i}", T0 + i, national_id=f"W{i}")
                                  for i in range(1, graph.HUB)])
    # one composed script call (features/roundtrip.py): velocity and graph, one round trip
    assert _Counting.direct + _Counting.pipelines == 1
    assert values[-1]["graph_ids_linked_24h"] == float(graph.HUB - 1)  # same device, phone...
