"""Quote requests (pre-qualification, soft search) and the feature state.

A quote request is answered with the features an application made now would get --
velocity, distinct counts, graph links, this request included -- computed in *peek*
mode (``lua/compute.lua`` and ``lua/graph.lua`` with mode ``p``): the state is left as
it was found, so a quote never counts as an application, never links the graph and
never marks a device first seen. Quotes have a velocity of their own instead
(``lua/quote.lua``: sorted sets apart, members keyed by quote id, so a redelivered
request counts once), the ``QUOTE_SPEC`` features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from features.identity import KINDS
from features.spec import QUOTE_WINDOWS
from features.windows import WINDOWS

#: kinds with quote velocity, in the script's order, and where their hash sits in KINDS
QUOTE_KINDS: tuple[str, ...] = tuple(QUOTE_WINDOWS)
_AT = tuple(KINDS.index(k) for k in QUOTE_KINDS)
_W = tuple(WINDOWS)
#: quote state is kept for the longest quote window plus the lateness (and a day's slack)
QUOTE_RETENTION_MS = max(WINDOWS[w] for ws in QUOTE_WINDOWS.values() for w in ws)
_US, _RS = "\x1f", "\x1e"
PEEK = "p"


def as_application(quote: Mapping[str, Any]) -> dict[str, Any]:
    """A quote request as the application it would be: the quote id stands for the
    application id; without a session, one of its own (no session events: the session
    features say so)."""
    app = dict(quote)
    app["application_id"] = app.pop("quote_id")
    app["session_id"] = quote.get("session_id") or f"quote:{app['application_id']}"
    return app


def header(prefix: str, lateness_ms: int, day_ms: int) -> str:
    parts = [prefix, QUOTE_RETENTION_MS, lateness_ms, QUOTE_RETENTION_MS + lateness_ms + day_ms,
             len(QUOTE_KINDS), len(_W), *WINDOWS.values()]
    return ",".join(map(str, parts))


def blob(quote_id: str, event_time: int, ids: tuple[str, ...]) -> str:
    """One request's packed fields; ``ids`` in ``identity.KINDS`` order."""
    return _US.join((quote_id, str(int(event_time)), *(ids[i] for i in _AT)))


def pack(blobs: list[str]) -> str:
    return _RS.join(blobs)


def features(reply: list[Any]) -> dict[str, float]:
    """``QUOTE_SPEC`` values from one request's reply (per kind, a count per window)."""
    out: dict[str, float] = {}
    for k, kind in enumerate(QUOTE_KINDS):
        for w in QUOTE_WINDOWS[kind]:
            out[f"qvel_{kind}_quotes_{w}"] = float(reply[k * len(_W) + _W.index(w)])
    return out
