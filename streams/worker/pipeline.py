"""The decision step for a batch of applications, without Kafka: features -> scores -> decision.

The workers feed it decoded applications (with the session events and fraud
confirmations read in the same batch) and publish what it returns; tests and
benchmarks call it directly on the real Redis. Per batch it makes two Redis round
trips whatever the batch size: ``FeatureEngine.exchange`` (session ingest, fraud
confirmations, then the feature script, which also looks up the redelivery memo), and
the memo write.

Redelivery: a decision, once made, is memoised in Redis (``streams/worker/memo.py``:
encoded bytes, keyed by application id, 30 days). An application delivered again --
Kafka is at-least-once -- gets the identical decision and feature vector republished,
without scoring or teaching the anomaly model twice.

Declines feed the identity graph (``graph_component_declined_share_30d``): every DECLINE
published, first or redelivered, is recorded with the next round trip sent after it was
decided, before that round trip's applications are computed, so no round trip is added; a
batch's applications do not see the declines of their own batch (nor, when the worker
overlaps batches, those of the batch before: ``streams/worker/overlap.py``). Until that
round trip they are held here: a clean shutdown records them (``flush_declines``), a
crash loses those whose batches' offsets were already committed (an uncommitted batch is
redelivered and its memoised DECLINEs are recorded again).

Degraded mode: if Redis cannot be reached after retries with backoff, the
application is still decided -- from the applicant's own fields, the lists and
the models on a vector whose state features are missing -- and becomes REVIEW
with reason S-STATE-UNAVAILABLE (only a block-list DECLINE stands). Nothing is
dropped, nothing is guessed. A degraded decision is a decision too: it is
memoised like any other, and memo writes that fail are kept in this process and
written when Redis answers again, so a redelivery during or after the outage gets
the decision first published. The memo is read in the same call as the features, so
when it cannot be read the batch is decided in degraded mode: a worker that cannot
tell whether an application was decided before never silently decides it anew from
features (and the decision of record in ClickHouse stays the first published).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

import numpy as np

from decisions.engine import DecisionEngine
from decisions.shadow import shadow_decide
from features.applicant import applicant_features
from features.engine import FeatureEngine, feature_record
from features.errors import FeatureStateError
from features.exchanged import ExchangeCall, Exchanged
from features.identity import application_identifiers
from features.roundtrip import execute
from features.spec import FEATURE_SPEC
from models.anomaly import AnomalyModel
from models.slots import ModelSet, ModelSlots, model_scores
from schemas import AvroCodec, codec_for
from schemas.records import (
    Decision,
    DecisionRecord,
    LoanApplication,
    ReasonCode,
    Scores,
    ShadowDecision,
)
from schemas.vector_writer import VectorWriter
from streams.retry import Backoff
from streams.worker.memo import Memoised, RedeliveryMemo, unpack

log = logging.getLogger(__name__)

#: DECLINEs held for the next round trip while Redis is away (beyond: the oldest dropped)
DECLINES_HELD_MAX = 100_000

STATE_UNAVAILABLE = ("S-STATE-UNAVAILABLE",
                     "Application requires manual review: risk checks temporarily unavailable")

try:
    CODE_VERSION = version("loanrisk")
except PackageNotFoundError:  # running from a source tree without install
    CODE_VERSION = "dev"


@dataclass
class Decided:
    application_id: str
    decision: DecisionRecord
    decision_bytes: bytes
    features_bytes: bytes
    redelivered: bool = False
    degraded: bool = False


@dataclass
class StateWrites:
    """Session events and fraud confirmations to write before a batch is decided."""

    device: list[dict[str, Any]] = field(default_factory=list)
    behaviour: list[dict[str, Any]] = field(default_factory=list)
    confirmed: list[tuple[str, int]] = field(default_factory=list)  # (application id, time)

    @property
    def any(self) -> bool:
        return bool(self.device or self.behaviour or self.confirmed)

    def add(self, other: StateWrites) -> None:
        self.device += other.device
        self.behaviour += other.behaviour
        self.confirmed += other.confirmed


#: a new decision for the memo: (application, its id, decision bytes, feature bytes)
Memo = tuple[LoanApplication, str, bytes, bytes]


@dataclass
class Prepared:
    """A batch made ready for its round trip (``DecisionPipeline.prepare``): the
    applications, what goes with them, and where each one's decision will come from."""

    applications: Sequence[LoanApplication]
    state: StateWrites | None
    memo: dict[str, Memoised]  # decided here before, the memo write not in Redis yet
    fresh: list[LoanApplication]  # sent: computed, or found in the Redis memo
    later: list[str]  # decided by the batch before, not decided when this one was sent
    declines: list[tuple[str, int]]  # recorded by this round trip
    pauses: tuple[float, ...]
    call: ExchangeCall | None  # the round trip (None: nothing to send)
    round_trip_us: float = 0.0


@dataclass
class DecisionPipeline:
    features: FeatureEngine
    decider: DecisionEngine
    models: ModelSlots
    anomaly: AnomalyModel | None
    hash_key: bytes
    worker_id: str
    retries: Sequence[float] = (0.05, 0.15, 0.3)
    sleep: Callable[[float], None] = time.sleep
    degraded_count: int = 0
    _dec_codec: AvroCodec = field(init=False, repr=False)
    _fv_codec: AvroCodec = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._dec_codec = codec_for("decision")
        self._fv_codec = codec_for("feature_vector")
        self._fv_writer = VectorWriter(self._fv_codec)  # the same bytes, ~4x less CPU
        self.memo = RedeliveryMemo(self.features.redis, self.features.prefix)
        self._outage = False  # the last exchange failed after its retries
        self.declines: list[tuple[str, int]] = []  # published, not yet recorded in Redis

    # --- the step ------------------------------------------------------------
    def decide_batch(self, applications: Sequence[LoanApplication]) -> list[Decided]:
        """Decide every application of the batch, in order."""
        return self.decide_with_state(applications)[0]

    def decide_with_state(self, applications: Sequence[LoanApplication],
                          state: StateWrites | None = None) -> tuple[list[Decided], bool]:
        """Decide every application of the batch, in order, after writing ``state`` (the
        session events and fraud confirmations read with them) in the same round trip;
        and whether that state was written (False: Redis failed, the caller keeps it).
        The four steps one after the other: ``streams/worker/overlap.py`` runs them with
        the next batch's round trip in flight while this one is decided."""
        if not applications and state is None:
            return [], True
        prepared = self.prepare(applications, state)
        got = self.landed(prepared, self.send(prepared))
        decided, new = self.decide_prepared(prepared, got)
        self.memo.put(new)
        return decided, got is not None

    def prepare(self, applications: Sequence[LoanApplication], state: StateWrites | None,
                earlier: Container[str] = ()) -> Prepared:
        """What the batch's round trip sends. ``earlier``: the applications of the batch
        before, not decided yet (its round trip is what this one follows): one of them
        here is a redelivery that gets that batch's decision (``decide_prepared``)."""
        memo: dict[str, Memoised] = {}
        fresh: list[LoanApplication] = []
        later: list[str] = []
        seen: set[str] = set()
        for a in applications:  # a repeat inside the batch is a redelivery of the first
            app_id = a["application_id"]
            if app_id in seen:
                continue
            seen.add(app_id)
            if app_id in earlier:
                later.append(app_id)
                continue
            held = self.memo.pending(a)
            if held is not None:
                memo[app_id] = held
            else:
                fresh.append(a)
        sends = bool(fresh) or (state is not None and state.any)
        declines, self.declines = (self.declines, []) if sends else ([], self.declines)
        # once Redis has failed a whole backoff, one try per batch until it answers: the
        # decisions of an outage go out degraded at the pace of one timeout each
        pauses = () if self._outage else tuple(self.retries)
        call = None
        if sends:  # built here, in the deciding thread: the Redis thread only sends it
            st = state or StateWrites()
            call = self.features.exchange_call(
                fresh, [self.memo.bucket(a) for a in fresh], device_events=st.device,
                behaviour_events=st.behaviour, confirmations=st.confirmed, declines=declines)
        return Prepared(applications, state, memo, fresh, later, declines, pauses, call)

    def send(self, p: Prepared) -> list[Any] | None:
        """The batch's round trip with retry: its replies, None when Redis stays away
        (degraded). Changes nothing of the pipeline's own (any thread may run it)."""
        if p.call is None:
            return []
        call = partial(execute, self.features.redis, p.call.calls)
        backoff = Backoff(p.pauses, retry_on=(FeatureStateError,))
        t0 = time.perf_counter()
        try:
            return backoff.call(call, self.sleep)
        except FeatureStateError as exc:
            log.error("feature state unavailable after %d attempt(s): %s; deciding %d "
                      "application(s) in degraded mode (REVIEW)", backoff.attempts, exc,
                      len(p.fresh))
            return None
        finally:
            p.round_trip_us = (time.perf_counter() - t0) * 1e6

    def landed(self, p: Prepared, replies: list[Any] | None) -> Exchanged | None:
        """After ``send``, in the deciding thread: the replies read, the outage state, and
        the declines sent kept for the next round trip when this one failed (None: then
        the batch is degraded and its state not written)."""
        if replies is None:
            self._outage = True
            self.declines[:0] = p.declines
            self._cap_declines()
            return None
        if p.call is None:
            return Exchanged([], [], [])
        if self._outage:
            log.info("feature state available again")
            self._outage = False
        return self.features.exchange_result(p.call, replies)

    def decide_prepared(self, p: Prepared, got: Exchanged | None,
                        earlier: Mapping[str, Decided] | None = None
                        ) -> tuple[list[Decided], list[Memo]]:
        """Decide the batch from what its round trip returned (None: degraded), with
        ``earlier`` the decisions of the batch before (``prepare``'s ``earlier``); the
        decisions, and the new ones for the memo (the caller writes them)."""
        memo = dict(p.memo)
        for app_id in p.later:
            d = (earlier or {})[app_id]
            memo[app_id] = (d.decision_bytes, d.features_bytes)
        vectors: dict[str, dict[str, float | None]] | None = None
        hashes: dict[str, tuple[str, ...]] = {}
        if got is not None:
            vectors = {}
            for a, v, m, ids in zip(p.fresh, got.vectors, got.memoised, got.identifiers,
                                    strict=True):
                if m is not None:
                    memo[a["application_id"]] = unpack(m)
                elif v is not None:
                    vectors[a["application_id"]] = v
                    hashes[a["application_id"]] = ids
        feat_us = p.round_trip_us / max(len(p.fresh), 1)
        return self._decide_all(p.applications, memo, vectors, hashes, feat_us)

    def flush_declines(self) -> None:
        """Record the declines held for the next round trip now (a clean shutdown: there
        is none); when Redis fails they are lost, as in a crash."""
        if not self.declines:
            return
        try:
            self.features.record_declines(self.declines)
            self.declines = []
        except FeatureStateError as exc:
            log.warning("%d declines not recorded in the identity graph: %s",
                        len(self.declines), exc)

    def _cap_declines(self) -> None:
        if len(self.declines) > DECLINES_HELD_MAX:
            log.error("%d declines held while Redis is away: the oldest are not recorded in "
                      "the identity graph", len(self.declines) - DECLINES_HELD_MAX)
            del self.declines[:len(self.declines) - DECLINES_HELD_MAX]

    def _decide_all(self, applications: Sequence[LoanApplication], memo: dict[str, Memoised],
                    vectors: dict[str, dict[str, float | None]] | None,
                    hashes: dict[str, tuple[str, ...]], feat_us: float
                    ) -> tuple[list[Decided], list[Memo]]:
        out: list[Decided] = []
        new: list[Memo] = []
        done: dict[str, Decided] = {}
        for app in applications:
            app_id = app["application_id"]
            first = done.get(app_id)
            if first is not None:
                out.append(Decided(app_id, first.decision, first.decision_bytes,
                                   first.features_bytes, redelivered=True,
                                   degraded=first.degraded))
                continue
            if app_id in memo:
                dec_b, fv_b = memo[app_id]
                record = cast(DecisionRecord, self._dec_codec.decode(dec_b))
                d = Decided(app_id, record, dec_b, fv_b, redelivered=True)
            else:
                degraded = vectors is None
                values = (FEATURE_SPEC.complete(applicant_features(app)) if vectors is None
                          else vectors[app_id])
                d = self._decide_one(app, values, feat_us, degraded, hashes.get(app_id))
                new.append((app, app_id, d.decision_bytes, d.features_bytes))
            done[app_id] = d
            out.append(d)
            if d.decision["decision"] == "DECLINE":
                self.declines.append((app_id, int(app["event_time"])))
        self._cap_declines()
        return out, new

    def _decide_one(self, app: LoanApplication, values: dict[str, float | None],
                    feat_us: float, degraded: bool,
                    identifiers: tuple[str, ...] | None = None) -> Decided:
        t1 = time.perf_counter()
        models = self.models.current
        x = FEATURE_SPEC.to_array(values)
        scores = model_scores(models, x)
        t2 = time.perf_counter()
        if self.anomaly is not None:
            scores["anomaly_score"] = (self.anomaly.score_one(values) if degraded
                                       else self.anomaly.score_and_learn(values))
        t3 = time.perf_counter()
        ids = identifiers or application_identifiers(self.hash_key, app)  # KINDS order
        hashed = {"NATIONAL_ID_HASH": ids[0], "PHONE_HASH": ids[2], "EMAIL_HASH": ids[3]}
        versions = {**models.versions(), "feature_spec": FEATURE_SPEC.version,
                    "code": CODE_VERSION}
        if self.anomaly is not None:
            versions["anomaly"] = self.anomaly.version
        # reason codes are only needed for adverse action: the engine pays for TreeSHAP
        # only on declines and reviews, with the model that drove the outcome
        decision = self.decider.decide(app, values, scores, versions, hashed=hashed,
                                       model_reasons=partial(_model_reasons, models, x))
        if degraded:
            decision = _force_review(decision)
            self.degraded_count += 1
        if models.has_challenger:
            decision["shadow"] = self._shadow(app, values, x, scores, hashed)
        t4 = time.perf_counter()
        record: DecisionRecord = {
            **decision,
            "decided_at": int(time.time() * 1000),
            "worker": self.worker_id,
            "timings_us": {
                "features": round(feat_us, 1), "score": round((t2 - t1) * 1e6, 1),
                "anomaly": round((t3 - t2) * 1e6, 1), "decide": round((t4 - t3) * 1e6, 1),
            },
        }
        fv = feature_record(app, values)
        return Decided(app["application_id"], record, self._dec_codec.encode(record),
                       self._fv_writer.encode(fv), degraded=degraded)

    def _shadow(self, app: LoanApplication, values: dict[str, float | None], x: np.ndarray,
                scores: Scores, hashed: dict[str, str]) -> ShadowDecision:
        """The challenger's decision on the champion's features, anomaly score and lists."""
        models = self.models.current
        ch_pd = models.challenger_pd or models.pd
        ch_fraud = models.challenger_fraud or models.fraud
        ch_scores: Scores = {
            "pd": ch_pd.score(x) if ch_pd else None,
            "fraud_probability": ch_fraud.score(x) if ch_fraud else None,
            "scorecard_points": scores["scorecard_points"],
            "anomaly_score": scores["anomaly_score"],
        }
        ch_versions = {**models.versions(), **models.challenger_versions(),
                       "feature_spec": FEATURE_SPEC.version}
        return shadow_decide(self.decider, app, values, ch_scores, ch_versions, hashed=hashed)


def _model_reasons(models: ModelSet, x: np.ndarray, fraud_driven: bool
                   ) -> list[tuple[str, str]]:
    """TreeSHAP reasons of the one model behind the outcome: fraud when a fraud rule or
    cutoff drove it, otherwise PD (one explanation per adverse action)."""
    model = (models.fraud if fraud_driven else models.pd) or models.pd or models.fraud
    if model is None:
        return []
    return [(r.code, r.text) for r in model.reasons(x, k=4)]


def _force_review(decision: Decision) -> Decision:
    """Without feature state nothing but a block-list hit is certain: everything else is
    REVIEW, whatever the partial vector suggested."""
    code, text = STATE_UNAVAILABLE
    unavailable: ReasonCode = {"code": code, "text": text, "source": "POLICY"}
    out = decision.copy()
    if decision["decision"] == "DECLINE" and decision["list_hits"]:
        return out  # the block list decided; a review text never goes on a DECLINE
    out["decision"] = "REVIEW"
    out["offer"] = None
    out["reason_codes"] = [unavailable, *decision["reason_codes"]][:4]
    return out
