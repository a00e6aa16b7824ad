"""The redelivery memo: each decision made, kept in Redis so a redelivered application gets
the identical decision and feature vector republished (Kafka is at-least-once).

One Redis hash per hour of application event time (a redelivered application has the
same event time, so it finds its bucket), 30 days. The lookup travels inside the feature
round trip (``FeatureEngine.exchange`` is given each application's bucket: a memoised
one comes back as its blob and is not computed); the write is one pipeline per batch,
one HSET + EXPIRE per hour it spans. Writes that fail are kept in this process and
written when Redis answers again, and are looked up here first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from schemas.records import LoanApplication

log = logging.getLogger("loanrisk.worker")

MEMO_TTL_S = 30 * 24 * 3600
#: decisions whose memo write failed, kept until Redis answers (beyond: logged, dropped)
MEMO_BACKLOG_MAX = 200_000
HOUR_MS = 3_600_000

#: (decision bytes, feature-vector bytes)
Memoised = tuple[bytes, bytes]


def pack(decision: bytes, features: bytes) -> bytes:
    return len(decision).to_bytes(4, "big") + decision + features


def unpack(blob: bytes) -> Memoised:
    n = int.from_bytes(blob[:4], "big")
    return blob[4:4 + n], blob[4 + n:]


class RedeliveryMemo:
    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._unwritten: dict[str, dict[Any, Any]] = {}  # bucket -> id -> blob

    def bucket(self, app: LoanApplication) -> str:
        return f"{self.prefix}:decided:{int(app['event_time']) // HOUR_MS}"

    @property
    def backlog(self) -> int:
        return sum(len(m) for m in self._unwritten.values())

    def pending(self, app: LoanApplication) -> Memoised | None:
        """A decision made here whose memo write has not reached Redis yet."""
        if not self._unwritten:
            return None
        blob = self._unwritten.get(self.bucket(app), {}).get(app["application_id"])
        return None if blob is None else unpack(blob)

    def put(self, decided: Sequence[tuple[LoanApplication, str, bytes, bytes]]) -> None:
        """Memoise (application, id, decision bytes, feature bytes), with what failed before."""
        buckets: dict[str, dict[Any, Any]] = {}  # redis-py's Mapping type is invariant
        for app, app_id, dec_b, fv_b in decided:
            buckets.setdefault(self.bucket(app), {})[app_id] = pack(dec_b, fv_b)
        for bucket, mapping in self._unwritten.items():  # retry what failed before
            buckets.setdefault(bucket, {}).update(mapping)
        if not buckets:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for bucket, mapping in buckets.items():
                pipe.hset(bucket, mapping=mapping)
                pipe.expire(bucket, MEMO_TTL_S)
            pipe.execute()
        except Exception as exc:
            self._keep_unwritten(buckets, exc)
            return
        if self._unwritten:
            log.info("memoised %d decision(s) kept while Redis was away", self.backlog)
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
