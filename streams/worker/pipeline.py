"""The decision step for a batch of applications, without Kafka: features -> scores -> decision.

The Faust worker feeds it decoded applications and publishes what it returns;
tests and benchmarks call it directly on the real Redis. Per batch it makes
three Redis round trips whatever the batch size: the redelivery memo lookup,
the feature script, and the memo write.

Redelivery: a decision, once made, is memoised in Redis (encoded bytes, keyed
by application id, 30 days). An application delivered again -- Kafka is
at-least-once -- gets the identical decision and feature vector republished,
without scoring or teaching the anomaly model twice.

Degraded mode: if Redis cannot be reached after retries with backoff, the
application is still decided -- from the applicant's own fields, the lists and
the models on a vector whose state features are missing -- and becomes REVIEW
with reason S-STATE-UNAVAILABLE (only a block-list DECLINE stands). Nothing is
dropped, nothing is guessed. A degraded decision is a decision too: it is
memoised like any other, and memo writes that fail are kept in this process and
written when Redis answers again, so a redelivery during or after the outage gets
the decision first published. When the memo itself cannot be read the batch goes
straight to degraded mode instead of re-deciding from features: a worker that
cannot tell whether an application was decided before never silently decides it
anew (and the decision of record in ClickHouse stays the first published).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
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
from features.identity import hash_identifier
from features.spec import FEATURE_SPEC
from models.anomaly import AnomalyModel
from models.slots import ModelSet, ModelSlots
from schemas import AvroCodec, codec_for
from schemas.records import (
    Decision,
    DecisionRecord,
    LoanApplication,
    ReasonCode,
    Scores,
    ShadowDecision,
)
from streams.retry import Backoff

log = logging.getLogger(__name__)

MEMO_TTL_S = 30 * 24 * 3600
#: decisions whose memo write failed, kept until Redis answers (beyond: logged, dropped)
MEMO_BACKLOG_MAX = 200_000
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
        self._prefix = self.features.prefix
        self._unwritten: dict[str, dict[Any, Any]] = {}  # memo bucket -> id -> blob

    # --- the step ------------------------------------------------------------
    def decide_batch(self, applications: Sequence[LoanApplication]) -> list[Decided]:
        """Decide every application of the batch, in order."""
        if not applications:
            return []
        t0 = time.perf_counter()
        memo, memo_ok = self._memo_get(applications)
        fresh, seen = [], set(memo)
        for a in applications:  # a repeat inside the batch is a redelivery of the first
            if a["application_id"] not in seen:
                seen.add(a["application_id"])
                fresh.append(a)
        vectors: list[dict[str, float | None]] | None = None
        if fresh and memo_ok:
            vectors = self._features_with_retry(fresh)
        feat_us = (time.perf_counter() - t0) * 1e6 / max(len(fresh), 1)

        out: list[Decided] = []
        new: list[tuple[LoanApplication, Decided]] = []
        done: dict[str, Decided] = {}
        it = iter(vectors or [])
        for app in applications:
            app_id = app["application_id"]
            if app_id in memo:
                dec_b, fv_b = memo[app_id]
                record = cast(DecisionRecord, self._dec_codec.decode(dec_b))
                out.append(Decided(app_id, record, dec_b, fv_b, redelivered=True))
                continue
            if app_id in done:
                first = done[app_id]
                out.append(Decided(app_id, first.decision, first.decision_bytes,
                                   first.features_bytes, redelivered=True,
                                   degraded=first.degraded))
                continue
            degraded = vectors is None
            values = next(it) if not degraded else FEATURE_SPEC.complete(applicant_features(app))
            d = self._decide_one(app, values, feat_us, degraded)
            done[app_id] = d
            out.append(d)
            new.append((app, d))
        self._memo_put(new)
        return out

    def _decide_one(self, app: LoanApplication, values: dict[str, float | None],
                    feat_us: float, degraded: bool) -> Decided:
        t1 = time.perf_counter()
        models = self.models.current
        x = FEATURE_SPEC.to_array(values)
        scores: Scores = {
            "pd": None, "fraud_probability": models.fraud.score(x) if models.fraud else None,
            "scorecard_points": None, "anomaly_score": None,
        }
        if models.pd is not None:
            scores["pd"] = pd = models.pd.score(x)
            scores["scorecard_points"] = models.pd.points_for_pd(pd)
        t2 = time.perf_counter()
        if self.anomaly is not None:
            scores["anomaly_score"] = (self.anomaly.score_one(values) if degraded
                                       else self.anomaly.score_and_learn(values))
        t3 = time.perf_counter()
        key = self.hash_key
        hashed = {"NATIONAL_ID_HASH": hash_identifier(key, "id", app["national_id"]),
                  "PHONE_HASH": hash_identifier(key, "phone", app["phone"],
                                                app["address"]["country"]),
                  "EMAIL_HASH": hash_identifier(key, "email", app["email"])}
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
                       self._fv_codec.encode(fv), degraded=degraded)

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

    # --- Redis: features with retry, redelivery memo ---------------------------
    def _features_with_retry(self, apps: list[LoanApplication]
                             ) -> list[dict[str, float | None]] | None:
        backoff = Backoff(tuple(self.retries), retry_on=(FeatureStateError,))
        try:
            return backoff.call(partial(self.features.compute_many, apps), self.sleep)
        except FeatureStateError as exc:
            log.error("feature state unavailable after %d attempts: %s; deciding %d "
                      "application(s) in degraded mode (REVIEW)", backoff.attempts, exc,
                      len(apps))
            return None

    # The memo is one Redis hash per hour of application event time: a redelivered
    # application has the same event time, so it finds its bucket; a whole batch costs one
    # HMGET and one HSET (+ EXPIRE) per hour it spans instead of a command per application.
    def _memo_bucket(self, app: LoanApplication) -> str:
        return f"{self._prefix}:decided:{int(app['event_time']) // 3_600_000}"

    def _memo_get(self, applications: Sequence[LoanApplication]
                  ) -> tuple[dict[str, tuple[bytes, bytes]], bool]:
        """(decisions already made, keyed by id; whether the memo could be read)."""
        buckets: dict[str, list[str]] = {}
        for a in applications:
            buckets.setdefault(self._memo_bucket(a), []).append(a["application_id"])
        out = self._memo_backlog(buckets)
        def lookup() -> list[Any]:
            pipe = self.features.redis.pipeline(transaction=False)
            for bucket, ids in buckets.items():
                pipe.hmget(bucket, ids)
            return list(pipe.execute())

        try:  # one retry: a blip is not an outage, and the time to degrade stays short
            replies = Backoff(tuple(self.retries[:1])).call(lookup, self.sleep)
        except Exception as exc:
            log.error("redelivery memo unavailable: %s; deciding %d application(s) in "
                      "degraded mode (REVIEW)", exc, len(applications))
            return out, False
        for ids, values in zip(buckets.values(), replies, strict=True):
            for app_id, blob in zip(ids, values, strict=True):
                if blob is not None:
                    out[app_id] = _unpack(bytes(blob))
        return out, True

    def _memo_backlog(self, buckets: dict[str, list[str]]) -> dict[str, tuple[bytes, bytes]]:
        """Decisions made here whose memo write is still pending."""
        if not self._unwritten:
            return {}
        return {app_id: _unpack(self._unwritten[b][app_id]) for b, ids in buckets.items()
                if b in self._unwritten for app_id in ids if app_id in self._unwritten[b]}

    def _memo_put(self, decided: list[tuple[LoanApplication, Decided]]) -> None:
        buckets: dict[str, dict[Any, Any]] = {}  # redis-py's Mapping type is invariant
        for app, d in decided:
            blob = len(d.decision_bytes).to_bytes(4, "big") + d.decision_bytes + d.features_bytes
            buckets.setdefault(self._memo_bucket(app), {})[d.application_id] = blob
        for bucket, mapping in self._unwritten.items():  # retry what failed before
            buckets.setdefault(bucket, {}).update(mapping)
        if not buckets:
            return
        try:
            pipe = self.features.redis.pipeline(transaction=False)
            for bucket, mapping in buckets.items():
                pipe.hset(bucket, mapping=mapping)
                pipe.expire(bucket, MEMO_TTL_S)
            pipe.execute()
        except Exception as exc:
            self._keep_unwritten(buckets, exc)
            return
        if self._unwritten:
            log.info("memoised %d decision(s) kept while Redis was away",
                     sum(len(m) for m in self._unwritten.values()))
        self._unwritten = {}

    def _keep_unwritten(self, buckets: dict[str, dict[Any, Any]], exc: Exception) -> None:
        n = sum(len(m) for m in buckets.values())
        if n > MEMO_BACKLOG_MAX:
            log.error("memo backlog full (%d decisions): a redelivery of these may be "
                      "re-decided; the decision of record stays the first published", n)
            return
        log.warning("could not memoise %d decision(s), keeping them until Redis answers: %s",
                    n, exc)
        self._unwritten = buckets


def _unpack(blob: bytes) -> tuple[bytes, bytes]:
    n = int.from_bytes(blob[:4], "big")
    return blob[4:4 + n], blob[4 + n:]


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
