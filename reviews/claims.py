"""Case state shared by every console process, on Redis: who holds a case, whether it is
settled, what waits for a countersignature.

A claim is ``SET NX`` with an expiry, so two reviewers racing for one case get one
winner and a claim left by a closed browser frees itself. Settling is ``SET NX`` too: the
first final action wins and a second (a double click, another console) is refused, which
is what makes the final decision idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
SETTLED_TTL_S = 400 * 24 * 3600


class CaseState:
    def __init__(self, client: Any, prefix: str, claim_ttl_s: int = 1800) -> None:
        self.r = client
        self.p = f"{prefix}:console"
        self.claim_ttl_s = claim_ttl_s
        self._release = client.register_script(_RELEASE)

    def _k(self, kind: str, application_id: str) -> str:
        return f"{self.p}:{kind}:{application_id}"

    # --- claims -------------------------------------------------------------------
    def claim(self, application_id: str, user: str) -> tuple[bool, str | None]:
        """(won, holder): the caller holds the case now, or who does."""
        key = self._k("claim", application_id)
        if self.r.set(key, user, nx=True, ex=self.claim_ttl_s):
            return True, user
        holder = self.r.get(key)
        name = holder.decode() if holder else None
        if name == user:
            self.r.expire(key, self.claim_ttl_s)
            return True, user
        if name is None:  # expired between the two calls: try once more
            return self.claim(application_id, user)
        return False, name

    def release(self, application_id: str, user: str) -> bool:
        return bool(self._release(keys=[self._k("claim", application_id)], args=[user]))

    def holder(self, application_id: str) -> str | None:
        v = self.r.get(self._k("claim", application_id))
        return v.decode() if v else None

    def holders(self, application_ids: Sequence[str]) -> list[str | None]:
        if not application_ids:
            return []
        vals = self.r.mget([self._k("claim", a) for a in application_ids])
        return [v.decode() if v else None for v in vals]

    # --- settled cases ------------------------------------------------------------------
    def settle(self, application_id: str, event_id: str) -> bool:
        """True for the first final action on the case; False if it was settled before."""
        return bool(self.r.set(self._k("settled", application_id), event_id, nx=True,
                               ex=SETTLED_TTL_S))

    def unsettle(self, application_id: str, event_id: str) -> None:
        """Undo ``settle`` when its events could not be published."""
        self._release(keys=[self._k("settled", application_id)], args=[event_id])

    def settled(self, application_ids: Sequence[str]) -> list[bool]:
        if not application_ids:
            return []
        return [v is not None for v in
                self.r.mget([self._k("settled", a) for a in application_ids])]

    # --- four eyes ----------------------------------------------------------------------
    def set_pending(self, application_id: str, event: dict[str, Any]) -> bool:
        return bool(self.r.set(self._k("pending", application_id), orjson.dumps(event),
                               nx=True, ex=SETTLED_TTL_S))

    def pending(self, application_id: str) -> dict[str, Any] | None:
        v = self.r.get(self._k("pending", application_id))
        return orjson.loads(v) if v else None

    def clear_pending(self, application_id: str) -> None:
        self.r.delete(self._k("pending", application_id))
