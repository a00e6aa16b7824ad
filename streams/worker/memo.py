"""The redelivery memo: each decision made, kept in Redis so a redelivered application gets
the identical decision and feature vector republished (Kafka is at-least-once).

One Redis hash per hour of application event time (a redelivered application has the
same event time, so it finds its bucket), 30 days. The lookup travels inside the feature
round trip (``FeatureEngine.exchange`` is given each application's bucket: a memoised
one comes back as its blob and is not computed); the write is one pipeline per batch,
one HSET + EXPIRE per hour it spans.

Until a write has reached Redis its decisions are kept in this process and looked up here
first (``pending``): those being written (``stage`` then ``write``, which the pipelined
worker runs on its Redis thread while it decides the next batch) and those whose write
failed (written again with the next batch, once Redis answers).
"""

from __future__ import annotations

import logging
import threading
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
#: bucket -> application id -> packed blob (redis-py's Mapping type is invariant)
Buckets = dict[str, dict[Any, Any]]


def pack(decision: bytes, features: bytes) -> bytes:
    return len(decision).to_bytes(4, "big") + decision + features


def unpack(blob: bytes) -> Memoised:
    n = int.from_bytes(blob[:4], "big")
    return blob[4:4 + n], blob[4 + n:]


def _count(buckets: Buckets) -> int:
    return sum(len(m) for m in buckets.values())


def _merge(into: Buckets, other: Buckets) -> None:
    for bucket, mapping in other.items():
        into.setdefault(bucket, {}).update(mapping)


def _remove(from_: Buckets, other: Buckets) -> None:
    for bucket, mapping in other.items():
        held = from_.get(bucket)
        if held is None:
            continue
        for app_id in mapping:
            held.pop(app_id, None)
        if not held:
            del from_[bucket]


class RedeliveryMemo:
    """``stage`` (the deciding thread) and ``write`` (any thread) share the in-process
    entries under a lock; ``put`` is both at once."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._lock = threading.Lock()
        self._writing: Buckets = {}  # staged, their write not finished
        self._failed: Buckets = {}  # their write failed: sent again with the next one
        self._was_failing = False

    def bucket(self, app: LoanApplication) -> str:
        return f"{self.prefix}:decided:{int(app['event_time']) // HOUR_MS}"

    @property
    def backlog(self) -> int:
        """Decisions not known to be in Redis yet (being written, or failed)."""
        with self._lock:
            return _count(self._writing) + _count(self._failed)

    def pending(self, app: LoanApplication) -> Memoised | None:
        """A decision made here whose memo write has not reached Redis yet."""
        if not self._writing and not self._failed:
            return None
        bucket, app_id = self.bucket(app), app["application_id"]
        with self._lock:
            blob = (self._writing.get(bucket, {}).get(app_id)
                    or self._failed.get(bucket, {}).get(app_id))
        return None if blob is None else unpack(blob)

    def put(self, decided: Sequence[tuple[LoanApplication, str, bytes, bytes]]) -> None:
        """Memoise (application, id, decision bytes, feature bytes), with what failed before."""
        self.write(self.stage(decided))

    def stage(self, decided: Sequence[tuple[LoanApplication, str, bytes, bytes]]) -> Buckets:
        """Keep these decisions in the process (``pending`` finds them) and return what the
        next ``write`` must send: them and every write that failed before."""
        staged: Buckets = {}
        for app, app_id, dec_b, fv_b in decided:
            staged.setdefault(self.bucket(app), {})[app_id] = pack(dec_b, fv_b)
        with self._lock:
            _merge(staged, self._failed)
            self._failed = {}
            _merge(self._writing, staged)
        return staged

    def write(self, staged: Buckets) -> None:
        """Send ``staged`` to Redis; on failure keep it for the next write."""
        if not staged:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for bucket, mapping in staged.items():
                pipe.hset(bucket, mapping=mapping)
                pipe.expire(bucket, MEMO_TTL_S)
            pipe.execute()
        except Exception as exc:
            self._keep_failed(staged, exc)
            return
        with self._lock:
            _remove(self._writing, staged)
        if self._was_failing:
            log.info("memoised %d decision(s) kept while Redis was away", _count(staged))
            self._was_failing = False

    def _keep_failed(self, staged: Buckets, exc: Exception) -> None:
        n = _count(staged)
        with self._lock:
            _remove(self._writing, staged)
            if n + _count(self._failed) > MEMO_BACKLOG_MAX:
                log.error("memo backlog full (%d decisions): a redelivery of these may be "
                          "re-decided; the decision of record stays the first published", n)
                return
            _merge(self._failed, staged)
        self._was_failing = True
        log.warning("could not memoise %d decision(s), keeping them until Redis answers: %s",
                    n, exc)
