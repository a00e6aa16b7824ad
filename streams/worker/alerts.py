"""Look-back alerts when fraud is confirmed, whatever confirmed it.

Every confirmation that reaches the worker's confirmed-fraud path (servicing's
``loan.performance.v1`` FRAUD_CONFIRMED, a reviewer's confirmation published the
same way) is folded into Redis, then the applications linked to it in the
look-back window (``features.lookback``) get an alert on ``loan.alerts.v1``: an
approved (booked) one for a hold and review, one under review (or whose decision
the worker no longer remembers) to be re-scored, a declined one for the record.
The decision is read from the worker's redelivery memo (one HMGET per hour of
event time), the link path names the shared identifier by its keyed hash only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from features.lookback import Linked, LookBack
from schemas import codec_for
from schemas.records import FraudAlert

log = logging.getLogger("loanrisk.worker")

ACTIONS = {"APPROVE": "HOLD_AND_REVIEW", "REVIEW": "RESCORE", "DECLINE": "NO_ACTION"}


def alert_record(link: Linked, outcome: str | None) -> FraudAlert:
    return {
        "alert_id": f"{link.confirmed_id}>{link.application_id}",
        "confirmed_application_id": link.confirmed_id,
        "confirmed_at": link.confirmed_at,
        "application_id": link.application_id,
        "application_event_time": link.event_time,
        "link_kind": link.link_kind,
        "link_hash": link.link_hash,
        "link_path": f"{link.confirmed_id} (confirmed fraud) -[{link.link_kind} "
                     f"{link.link_hash[:6]}]- {link.application_id}",
        "outcome": outcome,
        "action": ACTIONS.get(outcome or "", "RESCORE"),  # type: ignore[typeddict-item]
    }


class LookBackAlerts:
    """Linked applications of a batch of confirmations, as encoded alert messages."""

    def __init__(self, lookback: LookBack, memo_prefix: str) -> None:
        self.lookback = lookback
        self.memo_prefix = memo_prefix
        self._codec = codec_for("fraud_alert")
        self._decision = codec_for("decision")

    def alerts(self, confirmations: Iterable[tuple[str, int]]) -> list[FraudAlert]:
        links = self.lookback.linked(confirmations)
        outcomes = self._outcomes(links)
        return [alert_record(x, outcomes.get(x.application_id)) for x in links]

    def messages(self, confirmations: Iterable[tuple[str, int]]) -> list[tuple[bytes, bytes]]:
        """(key, value) per alert, keyed by the linked application id."""
        return [(a["application_id"].encode(), self._codec.encode(a))
                for a in self.alerts(confirmations)]

    def _outcomes(self, links: list[Linked]) -> dict[str, str]:
        buckets: dict[str, list[str]] = {}
        for x in links:
            bucket = f"{self.memo_prefix}:decided:{x.event_time // 3_600_000}"
            buckets.setdefault(bucket, []).append(x.application_id)
        if not buckets:
            return {}
        pipe = self.lookback.engine.redis.pipeline(transaction=False)
        for bucket, ids in buckets.items():
            pipe.hmget(bucket, ids)
        out: dict[str, str] = {}
        for ids, blobs in zip(buckets.values(), pipe.execute(), strict=True):
            for app_id, blob in zip(ids, blobs, strict=True):
                if blob is not None:
                    out[app_id] = self._outcome(bytes(blob))
        return out

    def _outcome(self, blob: bytes) -> str:
        """The decision of a memo entry (4-byte length, decision bytes, features bytes)."""
        n = int.from_bytes(blob[:4], "big")
        rec: dict[str, Any] = self._decision.decode(blob[4:4 + n])
        return str(rec["decision"])
