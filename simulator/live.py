"""Live mode: an endless, deterministic stream of applications with their sessions,
and the later performance of the loans the pipeline approves.

Pure (no Kafka): the CLI in ``streams/cli/simulate.py`` publishes what this
produces. Applications are generated in vectorised chunks of
``config.live.chunk`` with Poisson arrivals at ``rate`` per second of event
time; ring bursts span ``config.live.ring_burst_seconds``. Each application's
truth is remembered (bounded) so that when its decision comes back approved,
``performance_for_decisions`` can emit monthly snapshots over compressed time
(one month = ``config.live.month_seconds``). ``next_wire_chunk`` (the publisher's path)
also gives the quote requests of customers who quote first (``simulator.quotes``).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.topics import (
    APPLICATIONS,
    BEHAVIOUR_EVENTS,
    BY_NAME,
    DEVICE_EVENTS,
    PERFORMANCE,
    QUOTE_REQUESTS,
)
from simulator.batch import Batch, generate_batch, streams
from simulator.chain import ChainParams
from simulator.config import SimConfig
from simulator.performance import perform
from simulator.quotes import quote_plan, quote_request
from simulator.records import behaviour_batches, records_from_columns
from simulator.wire import behaviour_batch_messages, encoder_for

Event = tuple[str, str, dict[str, Any]]


def _first(x: tuple[int, Any]) -> int:
    return int(x[0])


class WireApp(NamedTuple):
    """One applicant's Kafka messages, encoded: session events in time order, then the
    application. ``messages`` are (topic, key, value, events carried)."""

    event_time: int
    messages: list[tuple[str, bytes, bytes, int]]
    quote: bool = False  # a quote request (one message), sent at its own event time


def _wire_app(app: list[Event]) -> WireApp:
    msgs = [
        (t, k.encode(), encoder_for(BY_NAME[t].schema)(r), len(r.get("events") or ()) or 1)
        for t, k, r in app
    ]
    return WireApp(app[-1][2]["event_time"], msgs)


class Truth(NamedTuple):
    """What the simulator knows about one live application (for its performance)."""

    hazard: float
    roll: tuple[float, ...]
    cure: tuple[float, ...]
    prepay: float
    term: int
    amount: float
    fraud_type: str
    oracle_pd: float
    oracle_fraud: float
    genuine_sharing: str = ""  # family / office / halls: a genuine applicant sharing


class LiveGenerator:
    """Deterministic for a given (config, seed, start_ms, rate)."""

    def __init__(
        self,
        config: SimConfig,
        seed: int,
        start_ms: int,
        rate: float | None = None,
        remember: int = 500_000,
        flush_every: int = 20,
    ) -> None:
        self.config = config
        self.seed = seed
        self.rate = float(rate or config.live.rate)
        self._rngs = streams(seed)
        self._cursor = int(start_ms)
        self._queue: deque[list[Event]] = deque()
        self._prior: dict[str, Any] | None = None
        self._rings = 0
        self._remember = remember
        self.flush_every = flush_every
        self.truth: OrderedDict[str, Truth] = OrderedDict()

    # --- applications -------------------------------------------------------------
    def next_application(self) -> list[Event]:
        """Session events (device events, BehaviourBatch flushes of the behaviour events) in
        time order, then the application, for one applicant."""
        if not self._queue:
            self._queue.extend(self._chunk())
        return self._queue.popleft()

    def next_chunk(self) -> list[list[Event]]:
        """All queued applications (a whole vectorised chunk if the queue is empty)."""
        if not self._queue:
            self._queue.extend(self._chunk())
        out = list(self._queue)
        self._queue.clear()
        return out

    def next_wire_chunk(self) -> list[WireApp]:
        """What ``next_chunk`` returns, already encoded for Kafka (the project codec's bytes,
        behaviour batches built column-wise): the fast path of the live publisher."""
        if self._queue:  # applications already built as records: encode those first
            out = [_wire_app(app) for app in self._queue]
            self._queue.clear()
            return out
        b = self._generate()
        apps = records_from_columns(b.applications, "loan_application")
        batches = behaviour_batch_messages(b.behaviour_events, self.flush_every)
        if batches is None:  # schema changed since wire.py was written: dicts + codec
            return [_wire_app(app) for app in self._records(b, apps)]
        encode_dev = encoder_for("device_event")
        encode_app = encoder_for("loan_application")
        by_session: dict[str, list[tuple[int, tuple[str, bytes, bytes, int]]]] = {
            r["session_id"]: [] for r in apps
        }
        for r in records_from_columns(b.device_events, "device_event"):
            sid = r["session_id"]
            by_session[sid].append(
                (r["event_time"], (DEVICE_EVENTS.name, sid.encode(), encode_dev(r), 1))
            )
        for sid, sent_at, data, k in batches:
            by_session[sid].append((sent_at, (BEHAVIOUR_EVENTS.name, sid.encode(), data, k)))
        encode_quote = encoder_for("quote_request")
        live, out = self.config.live, []
        for r in apps:
            asks, applies, lead_ms = quote_plan(live, self.seed, r["application_id"])
            if asks:
                q = quote_request(r, lead_ms)
                out.append(WireApp(q["event_time"], [(QUOTE_REQUESTS.name, q["quote_id"].encode(),
                                                      encode_quote(q), 1)], quote=True))
            if not applies:
                continue
            timed = sorted(by_session[r["session_id"]], key=_first)
            msgs = [e for _, e in timed]
            msgs.append((APPLICATIONS.name, r["application_id"].encode(), encode_app(r), 1))
            out.append(WireApp(r["event_time"], msgs))
        return out

    def _generate(self) -> Batch:
        """The next vectorised chunk of applications (truth remembered for performance)."""
        cfg = self.config
        n = cfg.live.chunk
        gaps = self._rngs["arrivals"].exponential(1000.0 / self.rate, n)
        arrivals = self._cursor + np.cumsum(gaps).astype(np.int64)
        self._cursor = int(arrivals[-1])
        b = generate_batch(
            cfg,
            self._rngs,
            arrivals,
            int(cfg.live.ring_burst_seconds * 1000),
            prior=self._prior,
            ring_offset=self._rings,
            with_performance=False,
        )
        self._prior = b.people
        last_ring = pc.max(b.applications["ring_id"]).as_py()
        if last_ring is not None:
            self._rings = int(last_ring) + 1
        self._remember_truth(b.applications, b.params)
        return b

    def _chunk(self) -> list[list[Event]]:
        b = self._generate()
        return self._records(b, records_from_columns(b.applications, "loan_application"))

    def _records(self, b: Batch, apps: list[dict[str, Any]]) -> list[list[Event]]:
        dev = records_from_columns(b.device_events, "device_event")
        beh = records_from_columns(b.behaviour_events, "behaviour_event")
        by_session: dict[str, list[tuple[int, Event]]] = {r["session_id"]: [] for r in apps}
        for r in dev:
            by_session[r["session_id"]].append(
                (r["event_time"], (DEVICE_EVENTS.name, r["session_id"], r))
            )
        # behaviour events come grouped by session, in time order: slice at session changes
        sess = b.behaviour_events["session_id"]
        cuts = np.flatnonzero(pc.not_equal(sess[1:], sess[:-1]).to_numpy(zero_copy_only=False))
        bounds = [0, *(cuts + 1).tolist(), len(beh)]
        for lo, hi in pairwise(bounds):
            evs = beh[lo:hi]
            sid = evs[0]["session_id"]
            for bb in behaviour_batches(evs, self.flush_every):
                by_session[sid].append((bb["sent_at"], (BEHAVIOUR_EVENTS.name, sid, bb)))
        out = []
        for r in apps:
            timed = sorted(by_session[r["session_id"]], key=_first)
            timed_events = [e for _, e in timed]
            timed_events.append((APPLICATIONS.name, r["application_id"], r))
            out.append(timed_events)
        return out

    def _remember_truth(self, a: dict[str, Any], p: ChainParams) -> None:
        ids = a["application_id"].to_pylist()
        ft = a["fraud_type"].to_pylist()
        sharing = (a["genuine_sharing"].to_pylist() if "genuine_sharing" in a
                   else [""] * len(ids))
        for i, app_id in enumerate(ids):
            self.truth[app_id] = Truth(
                float(p.hazard[i]),
                tuple(p.roll[i].tolist()),
                tuple(p.cure[i].tolist()),
                float(p.prepay[i]),
                int(p.term[i]),
                float(a["requested_amount"][i]),
                ft[i],
                float(a["oracle_pd"][i]),
                float(a["oracle_fraud"][i]),
                sharing[i] or "",
            )
        while len(self.truth) > self._remember:
            self.truth.popitem(last=False)

    # --- performance ------------------------------------------------------------
    def performance_for_decisions(
        self, decisions: list[dict[str, Any]]
    ) -> list[tuple[int, str, str, dict[str, Any]]]:
        """(due_ms, topic, key, record) for every performance / fraud-confirmation event of the
        approved decisions whose application this generator produced; others are ignored."""
        rows = [
            (d, self.truth[d["application_id"]])
            for d in decisions
            if d.get("decision") == "APPROVE" and d["application_id"] in self.truth
        ]
        if not rows:
            return []
        return performance_for_decision_rows(self.config, rows, self.seed)

    def performance_for_decision(
        self, decision: dict[str, Any]
    ) -> list[tuple[int, str, str, dict[str, Any]]]:
        return self.performance_for_decisions([decision])


def performance_for_decision_rows(
    config: SimConfig, rows: list[tuple[dict[str, Any], Truth]], seed: int
) -> list[tuple[int, str, str, dict[str, Any]]]:
    """Performance of approved loans, booked at the decision time, amount/term from the offer."""
    n = len(rows)
    truths = [t for _, t in rows]
    offers = [d.get("offer") or {} for d, _ in rows]
    term = np.array([o.get("term_months", t.term) for o, t in zip(offers, truths, strict=True)])
    params = ChainParams(
        np.array([t.hazard for t in truths]),
        np.array([t.roll for t in truths]),
        np.array([t.cure for t in truths]),
        np.array([t.prepay for t in truths]),
        term.astype(np.int64),
    )
    a = {
        "fraud_type": np.array([t.fraud_type for t in truths], dtype=object),
        "requested_amount": np.array(
            [o.get("amount", t.amount) for o, t in zip(offers, truths, strict=True)]
        ),
        "requested_term_months": term,
        "application_id": pa.array([d["application_id"] for d, _ in rows], pa.string()),
    }
    booked = np.array(
        [int(d.get("decided_at") or d["event_time"]) for d, _ in rows], dtype=np.int64
    )
    # one generator per batch, seeded by the run seed and the first application (reproducible)
    key = int.from_bytes(rows[0][0]["application_id"].encode()[-8:].rjust(8, b"0"), "little")
    rng = np.random.default_rng([seed, key, n])
    perf, _ = perform(config, rng, params, a, booked, int(config.live.month_seconds * 1000))
    recs = records_from_columns(perf, "loan_performance")
    return [(r["event_time"], PERFORMANCE.name, r["application_id"], r) for r in recs]
