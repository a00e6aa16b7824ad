"""Pre-qualification quotes in the decision worker: quote requests in, quotes out.

A quote is decided by the decision worker's own path -- the same feature engine, models,
lists, rules, product policy and test cells (``DecisionPipeline``), reloaded and
released with them -- on the features an application made now would get, computed in
peek mode (``features.quotes``): nothing is recorded as an application (velocity, graph,
device first seen), the anomaly model scores without learning, nothing is memoised, no
shadow decision. The quote policy (``decisions.quote_policy``) adds the validity and the
quote-velocity limits. One Redis round trip per batch of requests. A redelivered request
is answered again (its quote velocity counts it once; ClickHouse keeps the first quote).
When Redis cannot be reached after retries, the quote is REVIEW with the worker's
S-STATE-UNAVAILABLE reason and ``degraded`` set, as a degraded application decision is.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

from decisions.engine import DECLINE
from decisions.quote_policy import DEFAULT_QUOTE_POLICY_PATH, QuotePolicy, limit_reasons
from features.applicant import applicant_features
from features.errors import FeatureStateError
from features.exchanged import QuoteExchanged
from features.identity import application_identifiers
from features.quotes import as_application
from features.spec import FEATURE_SPEC, QUOTE_SPEC
from schemas import codec_for
from schemas.records import LoanApplication, Scores
from schemas.topics import QUOTES
from streams.retry import Backoff
from streams.settings import Settings
from streams.worker.pipeline import CODE_VERSION, DecisionPipeline, _force_review, _model_reasons

log = logging.getLogger("loanrisk.quotes")
MAX_REASONS = 4


def quote_policy(settings: Settings) -> QuotePolicy:
    return QuotePolicy.from_yaml(settings.quote_policy_file or DEFAULT_QUOTE_POLICY_PATH,
                                 QUOTE_SPEC.names)


class QuoteDesk:
    """Answers quote requests with the pipeline's models and policy (see the module)."""

    def __init__(self, pipeline: DecisionPipeline, policy: QuotePolicy) -> None:
        self.pipeline = pipeline
        self.policy = policy
        self.codec = codec_for(QUOTES.schema)
        self.quoted = 0
        self.degraded = 0
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (product, decision) -> quotes

    def decide(self, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One quote record (quote.avsc) per request, in order."""
        if not requests:
            return []
        t0 = time.perf_counter()
        apps = [as_application(q) for q in requests]
        got = self._exchange(apps)
        share_us = (time.perf_counter() - t0) * 1e6 / len(apps)
        out = []
        for i, app in enumerate(apps):
            t1 = time.perf_counter()
            if got is None:
                values = FEATURE_SPEC.complete(applicant_features(cast(LoanApplication, app)))
                velocity = {n: 0.0 for n in QUOTE_SPEC.names}
                ids = application_identifiers(self.pipeline.hash_key, app)
            else:
                values, velocity, ids = (got.vectors[i], got.quote_velocity[i],
                                         got.identifiers[i])
            out.append(self._quote(app, values, velocity, ids, got is None,
                                   share_us + (time.perf_counter() - t1) * 1e6))
        self.quoted += len(out)
        self.outcomes.update((q["product"], q["decision"]) for q in out)
        return out

    def encode(self, quote: dict[str, Any]) -> bytes:
        return self.codec.encode(quote)

    def _exchange(self, apps: list[dict[str, Any]]) -> QuoteExchanged | None:
        backoff = Backoff(tuple(self.pipeline.retries), retry_on=(FeatureStateError,))
        try:
            return backoff.call(partial(self.pipeline.features.quote_exchange, apps),
                                self.pipeline.sleep)
        except FeatureStateError as exc:
            log.error("feature state unavailable for %d quote(s): %s; quoting REVIEW",
                      len(apps), exc)
            return None

    def _quote(self, app: dict[str, Any], values: dict[str, float | None],
               velocity: dict[str, float], ids: tuple[str, ...], degraded: bool,
               elapsed_us: float) -> dict[str, Any]:
        p = self.pipeline
        models = p.models.current
        x = FEATURE_SPEC.to_array(values)
        scores: Scores = {"pd": None, "scorecard_points": None, "anomaly_score": None,
                          "fraud_probability": models.fraud.score(x) if models.fraud else None}
        if models.pd is not None:
            scores["pd"] = pd = models.pd.score(x)
            scores["scorecard_points"] = models.pd.points_for_pd(pd)
        if p.anomaly is not None:
            scores["anomaly_score"] = p.anomaly.score_one(values)  # scores, never learns
        versions = {**models.versions(), "feature_spec": FEATURE_SPEC.version,
                    "quote_spec": QUOTE_SPEC.version, "quote_policy": self.policy.version,
                    "code": CODE_VERSION}
        hashed = {"NATIONAL_ID_HASH": ids[0], "PHONE_HASH": ids[2], "EMAIL_HASH": ids[3]}
        application: LoanApplication = app  # type: ignore[assignment]
        d = p.decider.decide(application, values, scores, versions, hashed=hashed,
                             model_reasons=partial(_model_reasons, models, x))
        if degraded:
            d = _force_review(d)
            self.degraded += 1
        decision, offer = d["decision"], d.get("offer")
        reasons: list[dict[str, str]] = [{"code": r["code"], "text": r["text"],
                                          "source": r["source"]} for r in d["reason_codes"]]
        hits = [] if degraded else self.policy.over_limits(velocity)
        if hits:  # too many quotes: declined whatever the policy said, the quote's reason first
            kept = reasons if decision == DECLINE else []  # review or offer texts do not apply
            decision, offer = DECLINE, None
            reasons = [*limit_reasons(hits, QUOTE_SPEC.reason), *kept]
        return {
            "quote_id": app["application_id"], "event_time": int(app["event_time"]),
            "decided_at": int(time.time() * 1000),
            "valid_until": self.policy.valid_until(app["event_time"]),
            "product": str(app["product"]), "decision": decision,
            "risk_grade": d.get("risk_grade"),
            "apr": offer["apr"] if offer else None, "limit": offer["amount"] if offer else None,
            "term_months": offer["term_months"] if offer else None,
            "pd": d.get("pd"), "fraud_probability": d.get("fraud_probability"),
            "reason_codes": reasons[:MAX_REASONS], "quote_velocity": velocity,
            "id_hash": ids[0], "cell": d.get("cell", ""), "versions": d["versions"],
            "degraded": degraded, "latency_us": round(elapsed_us), "worker": p.worker_id,
        }
