"""Session ingest on the real Redis (``features/session_fold.py`` + ``lua/ingest.lua``): the
summaries equal a brute-force fold of the distinct events whatever their arrival order and
batching, duplicates never count twice (inside a batch, across batches, redelivered), and
the per-event path taken when some keys of a session were counted before is exact too."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest

from features.engine import FeatureEngine
from features.identity import hash_identifier
from features.session_fold import BEHAVIOUR_CODES, Ingested, event_key
from features.synthetic import T0, behaviour_event, device_event

pytestmark = pytest.mark.integration
KEY = b"test-key"

Event = tuple[str, dict[str, Any]]  # ("b" | "d", record)


def _brute_force(events: Iterable[Event]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Summaries (field -> string, as Redis stores them) and device first-seen times, folded
    from scratch over each session's DISTINCT events (per session, by event id)."""
    per_session: dict[str, dict[str, Event]] = {}
    for kind, e in events:
        per_session.setdefault(e["session_id"], {}).setdefault(e["event_id"], (kind, e))
    out: dict[str, dict[str, str]] = {}
    first_seen: dict[str, int] = {}
    for sid, evs in per_session.items():
        beh = [e for k, e in evs.values() if k == "b"]
        dev = [e for k, e in evs.values() if k == "d"]
        s: dict[str, int | str] = {}
        if beh:
            codes = [BEHAVIOUR_CODES.get(e["event_type"], "F") for e in beh]
            iks = [round(e["inter_key_ms"] * 10) for e, c in zip(beh, codes, strict=True)
                   if c == "K" and e["inter_key_ms"] is not None]
            s.update(bn=len(beh), bt0=min(e["event_time"] for e in beh),
                     bt1=max(e["event_time"] for e in beh), bpv=codes.count("P"),
                     bks=len(iks), bksum=sum(iks), bksq=sum(i * i for i in iks),
                     bpaste=codes.count("A"), bcorr=codes.count("C"))
        if dev:
            last = max(dev, key=lambda e: (e["event_time"], event_key(e["event_id"])))
            s.update(dn=len(dev), dtmax=last["event_time"], didmax=event_key(last["event_id"]),
                     demu=int(any(e["emulator"] for e in dev)),
                     droot=int(any(e["rooted"] for e in dev)),
                     ddev=hash_identifier(KEY, "device", last["device_id"]),
                     dip=hash_identifier(KEY, "ip", last["ip"]),
                     dipc=last["ip_country"] or "", dgeoc=last["geo_country"] or "",
                     dtz=last["timezone"] or "")
            for e in dev:
                h = hash_identifier(KEY, "device", e["device_id"])
                first_seen[h] = min(first_seen.get(h, e["event_time"]), e["event_time"])
        out[sid] = {k: str(v) for k, v in s.items()}
    return out, {h: str(t) for h, t in first_seen.items()}


def _stored(client: Any, prefix: str, sessions: Iterable[str], devices: Iterable[str]
            ) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    summaries = {sid: {k.decode(): v.decode()
                       for k, v in client.hgetall(f"{prefix}:s:{sid}").items()}
                 for sid in sessions}
    first_seen = {h: v.decode() for h in devices
                  if (v := client.get(f"{prefix}:fs:{h}")) is not None}
    return {s: v for s, v in summaries.items() if v}, first_seen


def _ingest(engine: FeatureEngine, batch: list[Event]) -> Ingested:
    return engine.ingest_session_events([e for k, e in batch if k == "d"],
                                        [e for k, e in batch if k == "b"])


def _distinct_events(rng: random.Random, n: int) -> list[Event]:
    """Events with unique ids (an id reused in another session is another event there),
    times with ties (the latest device event is then chosen by key), few devices."""
    out: list[Event] = []
    for i in range(n):
        sid = f"s{rng.randrange(6)}"
        t = T0 + rng.randrange(0, 40) * 250
        eid = f"e{i}" if rng.random() < 0.9 else f"e{rng.randrange(max(i, 1))}"
        if rng.random() < 0.2:
            out.append(("d", device_event(
                eid, sid, t, device_id=f"dev{rng.randrange(3)}", ip=f"10.0.0.{rng.randrange(3)}",
                emulator=rng.random() < 0.2, rooted=rng.random() < 0.1,
                ip_country=rng.choice(["GB", "RO", None]), geo_country=rng.choice(["GB", None]),
                timezone=rng.choice(["Europe/London", "Europe/Bucharest"]))))
        else:
            kind = rng.choice(["PAGE_VIEW", "FIELD_FOCUS", "KEYSTROKE", "KEYSTROKE", "PASTE",
                               "CORRECTION", "SUBMIT"])
            ik = rng.choice([None, 12.3, 100.0, 250.55, 87.25]) if kind == "KEYSTROKE" else None
            out.append(("b", behaviour_event(eid, sid, t, kind, ik)))
    # one record per (session, id): a repeat of an id inside a session is a redelivery
    return list({(e["session_id"], e["event_id"]): (k, e) for k, e in out}.values())


def _arrivals(rng: random.Random, events: list[Event]) -> list[list[Event]]:
    """The events shuffled, a third of them delivered again (some inside the same batch,
    some in a later one), cut into batches of random sizes."""
    stream = list(events) + rng.sample(events, len(events) // 3)
    rng.shuffle(stream)
    for _ in range(len(events) // 10):  # a repeat right next to its first delivery
        i = rng.randrange(len(stream))
        stream.insert(i, stream[i])
    batches, i = [], 0
    while i < len(stream):
        n = rng.choice([1, 2, 5, 17, 60])
        batches.append(stream[i:i + n])
        i += n
    return batches


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_summaries_equal_the_brute_force_fold_whatever_the_order_and_batching(
        redis_client: Any, seed: int) -> None:
    rng = random.Random(seed)
    events = _distinct_events(rng, 300)
    want = _brute_force(events)
    sessions = {e["session_id"] for _, e in events}
    devices = {hash_identifier(KEY, "device", f"dev{i}") for i in range(3)}
    paths = Ingested(0, 0)
    for run in range(3):
        engine = FeatureEngine(redis_client, KEY, prefix=f"p{seed}-{run}")
        for batch in _arrivals(rng, events):
            got = _ingest(engine, batch)
            paths = Ingested(paths.sessions + got.sessions,
                             paths.seen_before + got.seen_before)
        assert _stored(redis_client, engine.prefix, sessions, devices) == want, run
    # both paths were exercised: partials merged as they are, and sessions met again
    assert 0 < paths.seen_before < paths.sessions


def test_duplicates_inside_a_batch_count_once_on_the_common_path(
        redis_client: Any) -> None:
    engine = FeatureEngine(redis_client, KEY, prefix="dup")
    b1 = behaviour_event("b1", "s1", T0, "KEYSTROKE", 100.0)
    b2 = behaviour_event("b2", "s1", T0 + 1000, "KEYSTROKE", 300.0)
    d1 = device_event("d1", "s1", T0 - 50, emulator=True)
    assert engine.ingest_session_events([d1, d1], [b1, b2, b1, b2]) == Ingested(1, 0)
    batch = [("b", b1), ("b", b2), ("d", d1)]
    stored = _stored(redis_client, "dup", ["s1"], [hash_identifier(KEY, "device", "dev-1")])
    assert stored == _brute_force(batch)
    assert stored[0]["s1"]["bn"] == "2" and stored[0]["s1"]["dn"] == "1"
    # new events of a session seen before: merged as a partial, no per-event work
    b3 = behaviour_event("b3", "s1", T0 + 2000, "PASTE")
    assert engine.ingest_session_events([], [b3]) == Ingested(1, 0)
    assert _stored(redis_client, "dup", ["s1"], [])[0] == _brute_force([*batch, ("b", b3)])[0]


def test_keys_counted_before_take_the_per_event_path_and_count_once(
        redis_client: Any) -> None:
    engine = FeatureEngine(redis_client, KEY, prefix="rare")
    b = [behaviour_event(f"b{i}", "s1", T0 + i * 100, t, ik)
         for i, (t, ik) in enumerate([("PAGE_VIEW", None), ("KEYSTROKE", 120.0),
                                      ("KEYSTROKE", 80.0), ("CORRECTION", None),
                                      ("PASTE", None)])]
    d = [device_event("d1", "s1", T0 + 50, device_id="devA"),
         device_event("d2", "s1", T0 + 400, device_id="devB", ip="1.2.3.4", rooted=True,
                      ip_country="RO")]
    other = behaviour_event("x1", "s2", T0, "PAGE_VIEW")
    assert engine.ingest_session_events(d[:1], b[:3]) == Ingested(1, 0)
    # a later batch repeating b1, b2 and d1 with new events; another session beside it
    assert engine.ingest_session_events(d, [*b[1:], other]) == Ingested(2, 1)
    # the whole batch again (a redelivery): nothing counts
    assert engine.ingest_session_events(d, [*b[1:], other]) == Ingested(2, 2)
    events: list[Event] = [*(("b", e) for e in b), *(("d", e) for e in d), ("b", other)]
    devices = [hash_identifier(KEY, "device", x) for x in ("devA", "devB")]
    assert _stored(redis_client, "rare", ["s1", "s2"], devices) == _brute_force(events)


def test_first_seen_keeps_the_earliest_time_across_sessions(redis_client: Any) -> None:
    engine = FeatureEngine(redis_client, KEY, prefix="fs")
    h = hash_identifier(KEY, "device", "shared")
    engine.ingest_session_events([device_event("d1", "s1", T0 + 500, device_id="shared")], [])
    engine.ingest_session_events([device_event("d2", "s2", T0 + 100, device_id="shared"),
                                  device_event("d3", "s2", T0 + 900, device_id="shared")], [])
    engine.ingest_session_events([device_event("d4", "s3", T0 + 300, device_id="shared")], [])
    assert redis_client.get(f"fs:fs:{h}") == str(T0 + 100).encode()
    assert redis_client.pttl(f"fs:fs:{h}") > 0

