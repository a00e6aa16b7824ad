"""Pre-qualification quote requests in the live simulator: some customers quote, then
apply (``live.quote_then_apply``); some quote and never apply (``live.quote_only``).

Who quotes is drawn from a keyed hash of the run seed and the application id, so it does
not move any other draw of the simulator. A quote request carries the applicant's own
fields (the same person, asking what they could get), without a session; its id is
``q-<application id>``, which is how the truth of a conversion is known.
"""

from __future__ import annotations

import hashlib
from typing import Any

from simulator.config import LiveConfig

QUOTE_PREFIX = "q-"


def _uniforms(seed: int, app_id: str) -> tuple[float, float]:
    d = hashlib.blake2b(f"{seed}:{app_id}".encode(), digest_size=16).digest()
    return (int.from_bytes(d[:8], "little") / 2**64, int.from_bytes(d[8:], "little") / 2**64)


def quote_plan(cfg: LiveConfig, seed: int, app_id: str) -> tuple[bool, bool, int]:
    """(asks for a quote, applies, how many ms before the application the quote is asked)."""
    u, v = _uniforms(seed, app_id)
    quotes = u < cfg.quote_then_apply + cfg.quote_only
    applies = u < cfg.quote_then_apply or not quotes
    return quotes, applies, int(cfg.quote_lead_seconds * 1000 * (0.25 + 0.75 * v))


def quote_request(application: dict[str, Any], lead_ms: int) -> dict[str, Any]:
    """The quote_request record of an application's customer, ``lead_ms`` before it."""
    q = {k: v for k, v in application.items() if k != "application_id"}
    q["quote_id"] = QUOTE_PREFIX + application["application_id"]
    q["event_time"] = int(application["event_time"]) - lead_ms
    q["session_id"] = None
    return q


def converted_application(quote_id: str) -> str:
    """The application a simulated quote's customer made (or would have made)."""
    return quote_id.removeprefix(QUOTE_PREFIX)
