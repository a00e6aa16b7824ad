"""The feature engine: velocity, distinct, graph and session state on Redis.

One object, shared by the live stream and the offline builder, so both compute
features with the same code. Every method costs ONE Redis round trip (a Lua
script, EVALSHA) for its whole batch.

Semantics (see also the README):

* **Event time.** Features are computed as of the application's ``event_time``.
  An application counts in window W at time t iff ``t - W < its event_time <= t``
  (this application included). Applications processed earlier with a LATER
  event time are therefore never counted; ones with an earlier event time are.
* **Late and out-of-order events.** An event that arrives late is recorded at
  its own event time: it counts for every application computed after it
  arrives whose window contains it, and never changes a vector already
  computed (vectors are stored and returned unchanged). State older than
  ``retention (30 d) + lateness`` behind the application being processed is
  trimmed, so an application more than ``lateness`` behind the newest one
  processed may see truncated 30-day windows (exact within ``lateness``).
* **Session events** count when they were ingested before the application is
  computed; ones arriving later are not reflected (the indicators
  ``sess_*_missing`` say so). Session summaries use integer arithmetic only,
  so they do not depend on arrival order.
* **Idempotent.** Applications are sorted-set members keyed by application id
  and computed vectors are stored: computing the same application again returns
  the same vector and counts nothing twice. Session events are de-duplicated by
  event id, fraud confirmations keep the earliest confirmation time.
* **Bounded memory.** Sorted sets are trimmed by event time on every write and
  expire (wall clock) after retention + lateness + slack when an identifier
  goes quiet; sessions, application records and fraud flags have their own TTLs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

import orjson
import redis

from features import graph
from features.applicant import applicant_features
from features.errors import FeatureError, FeatureStateError
from features.identity import KINDS, application_identifiers, hash_identifier
from features.session import session_features
from features.spec import DISTINCT, FEATURE_SPEC, LAST_SEEN_KINDS, VELOCITY_WINDOWS, FeatureSpec
from features.windows import (
    DAY_MS,
    DEFAULT_LATENESS_MS,
    DISTINCT_WINDOWS,
    HOUR_MS,
    RETENTION_MS,
    WINDOWS,
)
from schemas.records import LoanApplication

Value = float | None

_W_NAMES = tuple(WINDOWS)
_NW, _ND = len(WINDOWS), len(DISTINCT_WINDOWS)
_PARTS = {"id": ("device", "phone", "email")}  # other kinds store the identity only
_BEHAVIOUR_CODES = {"PAGE_VIEW": "P", "KEYSTROKE": "K", "PASTE": "A", "CORRECTION": "C",
                    "FIELD_FOCUS": "F", "SUBMIT": "S"}
_US, _RS = "\x1f", "\x1e"  # field and record separators of the scripts' packed arguments


def _event_key(event_id: str) -> str:
    """Short fixed-width digest of an event id, for the per-session duplicate filter."""
    return hashlib.blake2b(event_id.encode(), digest_size=6).hexdigest()


def _layout() -> tuple[dict[str, int], int]:
    """Offset of each kind's block in the script's raw vector, and the graph block offset."""
    offsets, pos = {}, 0
    for kind in KINDS:
        offsets[kind] = pos
        pos += _NW + 1 + len(_PARTS.get(kind, ("id",))) * _ND
    return offsets, pos


_OFFSETS, _GRAPH_AT = _layout()


def _load(name: str) -> str:
    return (resources.files("features") / "lua" / name).read_text()


class FeatureEngine:
    """Computes the spec's features for applications against shared Redis state.

    ``redis_client`` may use ``decode_responses`` or not. ``prefix`` namespaces
    every key so several engines (live, offline build, tests) can share a server.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        hash_key: bytes,
        prefix: str = "lr",
        *,
        lateness_ms: int = DEFAULT_LATENESS_MS,
        session_ttl_ms: int = 6 * HOUR_MS,
        vector_ttl_ms: int = 2 * DAY_MS,
        ids_ttl_ms: int = 200 * DAY_MS,
        first_seen_ttl_ms: int = 200 * DAY_MS,
        fraud_ttl_ms: int = 400 * DAY_MS,
        max_members: int = 200,
        spec: FeatureSpec = FEATURE_SPEC,
    ) -> None:
        if not hash_key:
            raise FeatureError("hash_key is empty; set LOANRISK_HASH_KEY to a secret value")
        if "," in prefix or not prefix:
            raise FeatureError(f"key prefix {prefix!r} must be non-empty and without commas")
        self.redis = redis_client
        self.hash_key = hash_key
        self.prefix = prefix
        self.spec = spec
        self.fraud_ttl_ms = fraud_ttl_ms
        key_ttl = RETENTION_MS + lateness_ms + DAY_MS
        header = [prefix, RETENTION_MS, lateness_ms, key_ttl, vector_ttl_ms, ids_ttl_ms,
                  first_seen_ttl_ms, max_members, _NW, *WINDOWS.values(),
                  _ND, *(WINDOWS[w] for w in DISTINCT_WINDOWS)]
        self._compute_header = ",".join(map(str, header))
        self._ingest_header = f"{prefix},{session_ttl_ms},{first_seen_ttl_ms}"
        self._graph_header = graph.header(prefix, lateness_ms, key_ttl, vector_ttl_ms,
                                          ids_ttl_ms)
        self._compute = redis_client.register_script(_load("compute.lua"))
        self._ingest = redis_client.register_script(_load("ingest.lua"))
        self._fraud = redis_client.register_script(_load("fraud.lua"))
        self._graph = redis_client.register_script(_load("graph.lua"))

    # --- applications ------------------------------------------------------

    def compute(self, application: LoanApplication) -> dict[str, Value]:
        """Record one application and return its features as of its event time."""
        return self.compute_many([application])[0]

    def compute_many(self, applications: Sequence[LoanApplication]) -> list[dict[str, Value]]:
        """Same as ``compute`` on each application in order, in one round trip."""
        if not applications:
            return []
        blobs, gblobs = [], []
        for app in applications:
            try:
                head = (app["application_id"], str(int(app["event_time"])), app["session_id"])
            except (KeyError, TypeError, ValueError) as exc:
                raise FeatureError(
                    f"application lacks {exc}; decode it with the loan_application schema first"
                ) from exc
            ids = application_identifiers(self.hash_key, app)
            blobs.append(_US.join((*head, *ids)))
            gblobs.append(graph.blob(self.hash_key, app, ids))
        raw, graw = self._pipelined([
            (self._compute, [self._compute_header, _RS.join(blobs)]),
            (self._graph, [self._graph_header, graph.pack(gblobs)])])
        out = []
        for app, r, g in zip(applications, raw, graw, strict=True):
            values = self._features(app, orjson.loads(r))
            values.update(graph.features(g))
            out.append(values)
        return out

    def _features(self, app: LoanApplication, rec: dict[str, Any]) -> dict[str, Value]:
        v: list[float] = rec["v"]
        ids: list[str] = rec["ids"]
        out: dict[str, Value] = {}
        for kind, windows in VELOCITY_WINDOWS.items():
            base = _OFFSETS[kind]
            for w in windows:
                out[f"vel_{kind}_apps_{w}"] = float(v[base + _W_NAMES.index(w)])
        for kind in LAST_SEEN_KINDS:
            delta = v[_OFFSETS[kind] + _NW]
            out[f"vel_{kind}_hours_since_prev"] = None if delta < 0 else delta / HOUR_MS
        for name, kind, part, w in DISTINCT:
            p = _PARTS.get(kind, ("id",)).index(part)
            out[name] = float(v[_OFFSETS[kind] + _NW + 1 + p * _ND + DISTINCT_WINDOWS.index(w)])
        g = _GRAPH_AT
        out["graph_linked_ids_30d"] = float(v[g])
        out["graph_linked_apps_30d"] = float(v[g + 1])
        out["graph_fraud_linked_identifiers"] = float(v[g + 2])
        out["graph_fraud_linked"] = 1.0 if v[g + 2] > 0 else 0.0
        out["device_first_seen_days"] = v[g + 3] / DAY_MS
        s = rec["s"]
        summary = dict(zip(s[::2], s[1::2], strict=True)) if isinstance(s, list) else {}
        country = str(app.get("address", {}).get("country", ""))
        out.update(session_features(summary, country, ids[1], ids[4]))
        out.update(applicant_features(app))
        return self.spec.complete(out)

    # --- session events ------------------------------------------------------

    def ingest_session_events(
        self,
        device_events: Sequence[Mapping[str, Any]],
        behaviour_events: Sequence[Mapping[str, Any]],
    ) -> None:
        """Fold device and behaviour events into their sessions' summaries.

        One round trip per batch; duplicates (same event_id) are ignored.
        """
        if not device_events and not behaviour_events:
            return
        key = self.hash_key
        try:
            b = _RS.join([
                f"{_event_key(e['event_id'])}\x1f{e['session_id']}\x1f{int(e['event_time'])}"
                f"\x1f{_BEHAVIOUR_CODES.get(e['event_type'], 'F')}\x1f"
                f"{'' if e.get('inter_key_ms') is None else round(e['inter_key_ms'] * 10)}"
                for e in behaviour_events
            ])
            d = _RS.join([
                _US.join((
                    _event_key(e["event_id"]), e["session_id"], str(int(e["event_time"])),
                    hash_identifier(key, "device", e["device_id"]),
                    hash_identifier(key, "ip", e["ip"]),
                    "1" if e["emulator"] else "0", "1" if e["rooted"] else "0",
                    e.get("ip_country") or "", e.get("geo_country") or "",
                    e.get("timezone") or ""))
                for e in device_events
            ])
        except (KeyError, TypeError, ValueError) as exc:
            raise FeatureError(
                f"session event lacks {exc}; decode it with the device_event or "
                "behaviour_event schema first"
            ) from exc
        self._call(self._ingest, [self._ingest_header, b, d])

    # --- fraud confirmations ------------------------------------------------

    def record_fraud_confirmation(self, application_id: str, event_time: int) -> bool:
        """Flag every identifier of a confirmed-fraud application from ``event_time`` on.

        Returns False if the application is unknown (never computed, or expired).
        """
        return self.record_fraud_confirmations([(application_id, event_time)]) == 1

    def record_fraud_confirmations(self, confirmations: Iterable[tuple[str, int]]) -> int:
        """Batch form of ``record_fraud_confirmation``; returns how many were known."""
        args: list[Any] = [self.prefix, self.fraud_ttl_ms]
        for app_id, t in confirmations:
            args += [app_id, int(t)]
        if len(args) == 2:
            return 0
        return int(self._call(self._fraud, args))

    # --- plumbing --------------------------------------------------------------

    def _call(self, script: Any, args: list[Any]) -> Any:
        try:
            # The one declared key is the prefix: on a Redis Cluster it routes the call to
            # the node that holds the prefix's slot, where (hash tag ``{prefix}``) every key
            # the script builds lives. On one server it is unused.
            return script(keys=[self.prefix], args=args)
        except redis.RedisError as exc:
            raise FeatureStateError(
                f"feature state call failed on Redis: {exc}. Check that redis-server is "
                "running and reachable (`loanrisk services up`) and is version 7 or later."
            ) from exc

    def _pipelined(self, calls: list[tuple[Any, list[Any]]]) -> list[Any]:
        """Several scripts in ONE round trip (EVALSHA in a pipeline; loaded once if missing)."""
        for attempt in (0, 1):
            client = self._slot_client()
            pipe = client.pipeline(transaction=False)
            for script, args in calls:
                pipe.evalsha(script.sha, 1, self.prefix, *args)  # the prefix: as in _call
            try:
                return list(pipe.execute())
            except redis.exceptions.NoScriptError:
                if attempt:
                    raise
                for script, _ in calls:
                    script.sha = client.script_load(script.script)
            except redis.RedisError as exc:
                if client is not self.redis:  # a lost master or a moved slot: ask again
                    self.redis.nodes_manager.initialize()  # type: ignore[attr-defined]
                raise FeatureStateError(
                    f"feature state call failed on Redis: {exc}. Check that redis-server is "
                    "running and reachable (`loanrisk services up`) and is version 7 or later."
                ) from exc
        raise AssertionError("unreachable")

    def _slot_client(self) -> Any:
        """Where a pipeline of scripts goes: this client, or on a Redis Cluster (whose
        pipelines refuse EVALSHA) the master of the prefix's slot, which holds every key
        of this engine (hash tag ``{prefix}``, docs/topology.md)."""
        from redis.cluster import RedisCluster

        if not isinstance(self.redis, RedisCluster):
            return self.redis
        return self.redis.get_redis_connection(self.redis.get_node_from_key(self.prefix))

    def clear(self) -> int:
        """Delete this engine's keys (its prefix only); for tests and offline builds."""
        n = 0
        batch: list[Any] = []
        for k in self.redis.scan_iter(match=f"{self.prefix}:*", count=5000):
            batch.append(k)
            if len(batch) >= 5000:
                n += int(self.redis.delete(*batch))
                batch.clear()
        if batch:
            n += int(self.redis.delete(*batch))
        return n


def feature_record(
    application: Mapping[str, Any], values: Mapping[str, Value], spec: FeatureSpec = FEATURE_SPEC
) -> dict[str, Any]:
    """The ``feature_vector`` Avro record (topic loan.features.v1) for one application."""
    return {
        "application_id": application["application_id"],
        "event_time": int(application["event_time"]),
        "product": str(application["product"]),
        "feature_spec_version": spec.version,
        "names": spec.names,
        "values": spec.to_list(values),
    }
