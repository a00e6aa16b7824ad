"""The feature engine: velocity, distinct, graph and session state on Redis.

One object, shared by the live stream and the offline builder, so both compute
features with the same code. Every method costs ONE Redis round trip for its
whole batch; ``exchange`` sends a worker's whole batch -- session events, fraud
confirmations, and the applications with their redelivery-memo lookup -- as one
script composed of those parts (``features.roundtrip``), which is one round trip too.

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
* **Bounded memory.** Sorted sets are trimmed by event time when the read after a
  write shows a member to trim (``upkeep`` in ``lua/lib.lua``) and expire (wall clock)
  after retention + lateness + slack when an identifier goes quiet; sessions,
  application records and fraud flags have their own TTLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any, cast

import orjson
import redis

from features import graph, quotes, session_fold
from features.applicant import applicant_features
from features.errors import FeatureError
from features.exchanged import ExchangeCall, Exchanged, QuoteExchanged, Value
from features.identity import KINDS, application_identifiers
from features.roundtrip import LuaPart, ScriptCall, execute
from features.session import session_features
from features.session_fold import Ingested
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

_W_NAMES = tuple(WINDOWS)
_NW, _ND = len(WINDOWS), len(DISTINCT_WINDOWS)
_PARTS = {"id": ("device", "phone", "email")}  # other kinds store the identity only
_US, _RS = "\x1f", "\x1e"  # field and record separators of the scripts' packed arguments


def _layout() -> tuple[dict[str, int], int]:
    """Offset of each kind's block in the script's raw vector, and the graph block offset."""
    offsets, pos = {}, 0
    for kind in KINDS:
        offsets[kind] = pos
        pos += _NW + 1 + len(_PARTS.get(kind, ("id",))) * _ND
    return offsets, pos


_OFFSETS, _GRAPH_AT = _layout()


def _positions() -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """(feature, index in the raw vector) of the counts (velocity and distinct), and of the
    times since the previous application: worked out once, not per application."""
    counts = [(f"vel_{kind}_apps_{w}", _OFFSETS[kind] + _W_NAMES.index(w))
              for kind, windows in VELOCITY_WINDOWS.items() for w in windows]
    counts += [(name, _OFFSETS[kind] + _NW + 1 + _PARTS.get(kind, ("id",)).index(part) * _ND
                + DISTINCT_WINDOWS.index(w)) for name, kind, part, w in DISTINCT]
    since = [(f"vel_{kind}_hours_since_prev", _OFFSETS[kind] + _NW) for kind in LAST_SEEN_KINDS]
    return tuple(counts), tuple(since)


_COUNTS, _SINCE_PREV = _positions()


def _load(name: str) -> LuaPart:
    return LuaPart(name.removesuffix(".lua"),
                   (resources.files("features") / "lua" / name).read_text())


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
        self._quote_header = quotes.header(prefix, lateness_ms, DAY_MS)
        self._quote = _load("quote.lua")
        self._lateness_ms, self._key_ttl_ms = lateness_ms, key_ttl
        self._compute = _load("compute.lua")
        self._ingest = _load("ingest.lua")
        self._fraud = _load("fraud.lua")
        self._graph = _load("graph.lua")
        self._decline = _load("decline.lua")
        # The one declared key of every call is the prefix: on a Redis Cluster it routes the
        # call to the node that holds the prefix's slot, where (hash tag ``{prefix}``) every
        # key the scripts build lives. On one server it is unused.
        self._keys = (prefix,)

    # --- applications ------------------------------------------------------

    def compute(self, application: LoanApplication) -> dict[str, Value]:
        """Record one application and return its features as of its event time."""
        return self.compute_many([application])[0]

    def compute_many(self, applications: Sequence[LoanApplication]) -> list[dict[str, Value]]:
        """Same as ``compute`` on each application in order, in one round trip."""
        return [v for v in self.exchange(applications).vectors if v is not None]

    def exchange(
        self,
        applications: Sequence[LoanApplication] = (),
        memo_keys: Sequence[str] | None = None,
        *,
        device_events: Sequence[Mapping[str, Any]] = (),
        behaviour_events: Sequence[Mapping[str, Any]] = (),
        confirmations: Iterable[tuple[str, int]] = (),
        declines: Sequence[tuple[str, int]] = (),
    ) -> Exchanged:
        """A worker's batch in ONE round trip: fold the session events, record the fraud
        confirmations and the declines (``record_declines``: the DECLINEs the worker
        published since its last round trip), then compute the applications (seeing that
        state), in this order.

        ``memo_keys[i]``: a Redis hash whose field ``application_id`` may hold a result made
        earlier for application ``i`` (the worker's redelivery memo); when it does, that
        blob is returned and nothing is computed or counted for it. Raises
        ``FeatureStateError`` when Redis fails; nothing is then known to be written.
        """
        call = self.exchange_call(applications, memo_keys, device_events=device_events,
                                  behaviour_events=behaviour_events,
                                  confirmations=confirmations, declines=declines)
        return self.exchange_result(call, execute(self.redis, call.calls))

    def exchange_call(
        self,
        applications: Sequence[LoanApplication] = (),
        memo_keys: Sequence[str] | None = None,
        *,
        device_events: Sequence[Mapping[str, Any]] = (),
        behaviour_events: Sequence[Mapping[str, Any]] = (),
        confirmations: Iterable[tuple[str, int]] = (),
        declines: Sequence[tuple[str, int]] = (),
    ) -> ExchangeCall:
        """``exchange`` up to the round trip: its script calls, built (identifier hashes,
        packed arguments) without touching Redis. Send ``calls`` with
        ``features.roundtrip.execute`` from any thread, then ``exchange_result``."""
        ids = [self._identifiers(app) for app in applications]
        parts = self.script_parts(applications, ids, memo_keys, device_events=device_events,
                                  behaviour_events=behaviour_events,
                                  confirmations=confirmations, declines=declines)
        return ExchangeCall(list(applications), ids, tuple(parts), list(parts.values()))

    def exchange_result(self, call: ExchangeCall, replies: Sequence[Any]) -> Exchanged:
        """What ``exchange`` returns, from the replies of ``call.calls``."""
        got = dict(zip(call.names, replies, strict=True))
        known = int(got["fraud"]) if "fraud" in got else 0
        if not call.applications:
            return Exchanged([], [], [], known)
        vectors: list[dict[str, Value] | None] = []
        memoised: list[bytes | None] = []
        for app, raw, g in zip(call.applications, got["compute"], got["graph"], strict=True):
            if isinstance(raw, list):  # [memo blob]
                vectors.append(None)
                memoised.append(bytes(raw[0]))
            else:
                values = self._features(app, orjson.loads(raw))
                values.update(graph.features(g))
                vectors.append(values)
                memoised.append(None)
        return Exchanged(vectors, memoised, call.ids, known)

    def script_parts(
        self,
        applications: Sequence[LoanApplication],
        ids: Sequence[tuple[str, ...]],
        memo_keys: Sequence[str] | None = None,
        *,
        device_events: Sequence[Mapping[str, Any]] = (),
        behaviour_events: Sequence[Mapping[str, Any]] = (),
        confirmations: Iterable[tuple[str, int]] = (),
        declines: Sequence[tuple[str, int]] = (),
    ) -> dict[str, ScriptCall]:
        """``exchange``'s script calls by name, in the order they run (``ingest``,
        ``fraud``, ``decline``, ``compute``, ``graph``; those with nothing to do left out):
        one round trip in the worker, one call each when ``python -m bench hotpath`` weighs
        them."""
        parts: dict[str, ScriptCall] = {}
        ingest = self._ingest_call(device_events, behaviour_events)
        if ingest is not None:
            parts["ingest"] = ingest
        fraud = self._fraud_call(confirmations)
        if fraud is not None:
            parts["fraud"] = fraud
        decline = self._decline_call(declines)
        if decline is not None:
            parts["decline"] = decline
        if applications:  # the graph script records memoised ones again: idempotent
            parts["compute"] = self._compute_call(applications, list(ids), memo_keys)
            gblobs = [graph.blob(self.hash_key, app, i) for app, i in zip(applications, ids,
                                                                            strict=True)]
            parts["graph"] = ScriptCall(self._graph, self._keys,
                                        (self._graph_header, graph.pack(gblobs)))
        return parts

    def quote_exchange(self, requests: Sequence[Mapping[str, Any]]) -> QuoteExchanged:
        """Quote requests (as applications: ``quotes.as_application``) in ONE round trip:
        the application features in peek mode (the state left as found: a quote is not an
        application) and the requests recorded in the quote velocity. Raises
        ``FeatureStateError`` when Redis fails."""
        if not requests:
            return QuoteExchanged([], [], [])
        apps = cast(Sequence[LoanApplication], requests)
        ids = [self._identifiers(app) for app in apps]
        compute = self._compute_call(apps, ids, None, peek=True)
        gblobs = [f"{graph.blob(self.hash_key, app, i)}{_US}{quotes.PEEK}"
                  for app, i in zip(apps, ids, strict=True)]
        qblobs = [quotes.blob(app["application_id"], app["event_time"], i)
                  for app, i in zip(apps, ids, strict=True)]
        replies = execute(self.redis, [
            compute, ScriptCall(self._graph, self._keys, (self._graph_header,
                                                          graph.pack(gblobs))),
            ScriptCall(self._quote, self._keys, (self._quote_header, quotes.pack(qblobs)))])
        vectors = []
        for app, raw, g in zip(apps, replies[0], replies[1], strict=True):
            values = self._features(app, orjson.loads(raw))
            values.update(graph.features(g))
            vectors.append(values)
        return QuoteExchanged(vectors, [quotes.features(q) for q in replies[2]], ids)

    def _identifiers(self, app: LoanApplication) -> tuple[str, ...]:
        return application_identifiers(self.hash_key, app)

    def _compute_call(self, applications: Sequence[LoanApplication],
                      ids: list[tuple[str, ...]], memo_keys: Sequence[str] | None,
                      peek: bool = False) -> ScriptCall:
        if memo_keys is not None and len(memo_keys) != len(applications):
            raise FeatureError(f"{len(memo_keys)} memo keys for {len(applications)} "
                               "applications; give one per application")
        blobs = []
        for i, app in enumerate(applications):
            try:
                head = (app["application_id"], str(int(app["event_time"])), app["session_id"])
            except (KeyError, TypeError, ValueError) as exc:
                raise FeatureError(
                    f"application lacks {exc}; decode it with the loan_application schema first"
                ) from exc
            memo = memo_keys[i] if memo_keys is not None else ""
            blobs.append(_US.join((*head, *ids[i], memo, *((quotes.PEEK,) if peek else ()))))
        return ScriptCall(self._compute, self._keys, (self._compute_header, _RS.join(blobs)))

    def _features(self, app: LoanApplication, rec: dict[str, Any]) -> dict[str, Value]:
        v: list[float] = rec["v"]
        ids: list[str] = rec["ids"]
        out: dict[str, Value] = {name: float(v[i]) for name, i in _COUNTS}
        for name, i in _SINCE_PREV:
            delta = v[i]
            out[name] = None if delta < 0 else delta / HOUR_MS
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
    ) -> Ingested:
        """Fold device and behaviour events into their sessions' summaries.

        One round trip per batch; duplicates (same event_id, per session) are ignored,
        inside the batch and across batches (``features.session_fold``).
        """
        call = self._ingest_call(device_events, behaviour_events)
        if call is None:
            return Ingested(0, 0)
        sessions, seen_before = execute(self.redis, [call])[0]
        return Ingested(int(sessions), int(seen_before))

    def _ingest_call(self, device_events: Sequence[Mapping[str, Any]],
                     behaviour_events: Sequence[Mapping[str, Any]]) -> ScriptCall | None:
        if not device_events and not behaviour_events:
            return None
        return ScriptCall(self._ingest, self._keys,
                          (self._ingest_header,
                           *session_fold.pack(self.hash_key, device_events, behaviour_events)))

    # --- fraud confirmations ------------------------------------------------

    def record_fraud_confirmation(self, application_id: str, event_time: int) -> bool:
        """Flag every identifier of a confirmed-fraud application from ``event_time`` on.

        Returns False if the application is unknown (never computed, or expired).
        """
        return self.record_fraud_confirmations([(application_id, event_time)]) == 1

    def record_fraud_confirmations(self, confirmations: Iterable[tuple[str, int]]) -> int:
        """Batch form of ``record_fraud_confirmation``; returns how many were known."""
        call = self._fraud_call(confirmations)
        return 0 if call is None else int(execute(self.redis, [call])[0])

    def _fraud_call(self, confirmations: Iterable[tuple[str, int]]) -> ScriptCall | None:
        args: list[Any] = [self.prefix, self.fraud_ttl_ms]
        for app_id, t in confirmations:
            args += [app_id, int(t)]
        return None if len(args) == 2 else ScriptCall(self._fraud, self._keys, args)

    # --- declines ------------------------------------------------------------

    def record_declines(self, declines: Sequence[tuple[str, int]]) -> int:
        """Record DECLINE decisions, as (application id, that application's event time):
        ``graph_component_declined_share_30d`` of an application computed afterwards
        counts them when their event time is in the 30 days strictly before its own. One
        round trip; returns how many applications were known (a degraded decision, never
        computed, is not). The worker sends them within ``exchange`` instead."""
        call = self._decline_call(declines)
        return 0 if call is None else int(execute(self.redis, [call])[0])

    def _decline_call(self, declines: Sequence[tuple[str, int]]) -> ScriptCall | None:
        if not declines:
            return None
        return ScriptCall(self._decline, self._keys,
                          graph.decline_args(self.prefix, self._lateness_ms, self._key_ttl_ms,
                                             list(declines)))

    # --- plumbing --------------------------------------------------------------

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
