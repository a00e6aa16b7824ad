"""A batch's session events folded per session in the worker, for ``lua/ingest.lua`` to merge.

Why in the worker: an application brings tens of behaviour events, and splitting and
folding each of them inside the Lua script was the largest per-event cost Redis paid.
Here each session's events of one batch become one partial summary -- counts, sums, sums
of squares, earliest and latest times, the latest device event's fields, each device's
earliest time -- in integer arithmetic, so merging partials gives what folding every
event would, whatever the order and the batching. The script then runs a handful of
commands per session and never looks at single events on its common path.

De-duplication stays exact, per event id (its 6-byte digest, the *event key*), per session:

* inside a batch, here: the first occurrence of a key counts (a session's behaviour
  events before its device events, each in arrival order -- as the script always did);
* against earlier batches, in the script: the keys a session has counted so far are one
  string in Redis. When none of the batch's keys is in it (the common case) the partial
  is merged as it is. When some are (a message delivered again, an event sent again in a
  later batch) the script folds the session's per-event detail sent with the partial -- an
  opaque JSON blob it decodes only then -- skipping the keys it has seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from itertools import groupby, repeat
from operator import itemgetter, mul, sub
from typing import Any

import orjson

from features.errors import FeatureError
from features.identity import hash_identifier

BEHAVIOUR_CODES = {"PAGE_VIEW": "P", "KEYSTROKE": "K", "PASTE": "A", "CORRECTION": "C",
                   "FIELD_FOCUS": "F", "SUBMIT": "S"}

#: one device event: (key, event time, h_device, h_ip, emulator 0/1, rooted 0/1,
#: ip_country, geo_country, timezone)
Device = tuple[str, int, str, str, int, int, str, str, str]


@dataclass(frozen=True, slots=True)
class Ingested:
    """What one ingest call did: its sessions, and how many of them had a key counted
    before (the script folded those event by event, or skipped them whole when the call
    repeated an earlier one)."""

    sessions: int
    seen_before: int


def event_key(event_id: str) -> str:
    """Short fixed-width digest of an event id (12 hex characters), for the per-session
    duplicate filter."""
    return blake2b(event_id.encode(), digest_size=6).hexdigest()


@dataclass(slots=True)
class SessionEvents:
    """One session's events of a batch, each key once: its behaviour events as columns
    (cheap to fold and to send), its device events as rows. ``keys``: the behaviour
    events' keys, then the device events'."""

    keys: list[str]
    times: list[int]
    codes: str  # one character per behaviour event (BEHAVIOUR_CODES)
    iks: list[int | None]  # a keystroke's interval in tenths of a millisecond, or None
    device: list[Device]


_TYPE, _TIME = itemgetter("event_type"), itemgetter("event_time")


def _first_each(keys: list[str], events: list[Any]) -> tuple[list[str], list[Any]]:
    """The keys and events without the repeats of a key (its first occurrence kept)."""
    first: dict[str, Any] = {}
    for k, e in zip(keys, events, strict=True):
        first.setdefault(k, e)
    return list(first), list(first.values())


def _grouped(events: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Events per session id, in arrival order (a batch's events come in runs per session)."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for sid, run in groupby(events, itemgetter("session_id")):
        same = out.get(sid)
        if same is None:
            out[sid] = list(run)
        else:
            same.extend(run)
    return out


def collect(hash_key: bytes, device_events: Sequence[Mapping[str, Any]],
            behaviour_events: Sequence[Mapping[str, Any]]) -> dict[str, SessionEvents]:
    """The batch's events per session, each event key once (its first occurrence; a
    session's behaviour events come before its device events)."""
    codes = BEHAVIOUR_CODES
    out: dict[str, SessionEvents] = {}
    try:
        for sid, evs in _grouped(behaviour_events).items():
            keys = [blake2b(e["event_id"].encode(), digest_size=6).hexdigest()  # event_key
                    for e in evs]
            if len(set(keys)) != len(keys):
                keys, evs = _first_each(keys, evs)
            types = list(map(_TYPE, evs))
            out[sid] = SessionEvents(
                keys, list(map(int, map(_TIME, evs))),
                "".join(map(codes.get, types, repeat("F"))),
                [None if t != "KEYSTROKE" or (ik := e.get("inter_key_ms")) is None
                 else round(ik * 10) for t, e in zip(types, evs, strict=True)], [])
        for sid, evs in _grouped(device_events).items():
            s = out.get(sid)
            if s is None:
                s = out[sid] = SessionEvents([], [], "", [], [])
            known = set(s.keys)
            for e in evs:
                k = event_key(e["event_id"])
                if k in known:
                    continue
                known.add(k)
                s.keys.append(k)
                s.device.append((k, int(e["event_time"]),
                                 hash_identifier(hash_key, "device", e["device_id"]),
                                 hash_identifier(hash_key, "ip", e["ip"]),
                                 1 if e["emulator"] else 0, 1 if e["rooted"] else 0,
                                 e.get("ip_country") or "", e.get("geo_country") or "",
                                 e.get("timezone") or ""))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise FeatureError(
            f"session event lacks {exc}; decode it with the device_event or "
            "behaviour_event schema first"
        ) from exc
    return out


def behaviour_partial(times: Sequence[int], codes: str, iks: Sequence[int | None]
                      ) -> list[int]:
    """bn, bt0, bt1, bpv, bks, bksum, bksq, bpaste, bcorr of the behaviour events given as
    columns (zeros if none); ``iks``: the keystrokes' intervals, None for other events."""
    if not times:
        return [0] * 9
    ks = [ik for ik in iks if ik is not None]
    return [len(times), min(times), max(times), codes.count("P"), len(ks), sum(ks),
            sum(map(mul, ks, ks)), codes.count("A"), codes.count("C")]


def device_partial(events: Sequence[Device]) -> list[Any]:
    """dn, dtmax, didmax, demu, droot, ddev, dip, dipc, dgeoc, dtz of ``events``, then each
    device's earliest time (flat: h_device, time, ...). The latest event -- by time, then
    key -- gives the device, ip, countries and timezone."""
    if not events:
        return [0, 0, "", 0, 0, "", "", "", "", "", []]
    if len(events) == 1:  # the usual case
        d = events[0]
        return [1, d[1], d[0], d[4], d[5], d[2], d[3], d[6], d[7], d[8], [d[2], d[1]]]
    last = max(events, key=lambda d: (d[1], d[0]))
    first: dict[str, int] = {}
    for d in events:
        if d[2] not in first or d[1] < first[d[2]]:
            first[d[2]] = d[1]
    return [len(events), last[1], last[0], max(d[4] for d in events),
            max(d[5] for d in events), last[2], last[3], last[6], last[7], last[8],
            [x for kv in first.items() for x in kv]]


def pack(hash_key: bytes, device_events: Sequence[Mapping[str, Any]],
         behaviour_events: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """``ingest.lua``'s arguments after its header: every session's partial (one JSON
    list, numbers as decimal strings), then each session's per-event detail blob, in the
    same order."""
    partials: list[list[Any]] = []
    blobs: list[bytes] = []
    try:
        for sid, s in collect(hash_key, device_events, behaviour_events).items():
            d = device_partial(s.device)
            # strings: a new session's summary is stored as sent, with no number formatting
            b = behaviour_partial(s.times, s.codes, s.iks)
            bt0 = b[1]
            partials.append([sid, "," + ",".join(s.keys) + ",", *map(str, b),
                             *map(str, d[:10]), [str(x) for x in d[10]]])
            # times after the earliest (bt0): small integers are cheaper to write and read
            blobs.append(orjson.dumps([list(map(sub, s.times, repeat(bt0))), s.codes, s.iks,
                                       s.device]))
        return [orjson.dumps(partials), *blobs]
    except orjson.JSONEncodeError as exc:  # an integer past 64 bits
        raise FeatureError(f"session event out of range: {exc}") from exc
