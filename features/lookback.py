"""Look-back on confirmed fraud: the applications linked to it, with the link that explains it.

When fraud is confirmed on an application (servicing, or later a reviewer), the
applications that share one of its identifiers -- or its identity -- and were made
in the N days before the confirmation may be part of the same fraud: a booked
account should be held for review, an open one re-scored. ``LookBack.linked`` reads
them from the identity graph's state (``lua/graph.lua`` keeps each application's
nodes for ``ids_ttl``; ``lua/lookback.lua`` walks them) in one round trip per batch.
Hubs (identifiers used by more than ``graph.HUB`` applications in the window) link
nothing, as in the graph features.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import redis

from features import graph
from features.engine import FeatureEngine
from features.errors import FeatureStateError
from features.windows import DAY_MS

#: kinds of the graph's nodes as the applicant would name them
LINK_NAMES = {"id": "identity", "dev": "device", "ph": "phone", "em": "email", "ip": "IP",
              "ad": "address", "emp": "employer", "bk": "bank account"}


@dataclass(frozen=True, slots=True)
class Linked:
    """One application linked to a confirmed fraud, and the identifier linking them."""

    confirmed_id: str
    confirmed_at: int
    application_id: str
    event_time: int
    link_kind: str  # a LINK_NAMES value
    link_hash: str  # the keyed hash of the shared identifier (never the clear value)


class LookBack:
    def __init__(self, engine: FeatureEngine, days: int = 30) -> None:
        if days < 1:
            raise ValueError("look-back needs at least 1 day")
        self.engine = engine
        self.back_ms = days * DAY_MS
        text = (resources.files("features") / "lua" / "lookback.lua").read_text()
        self._script = engine.redis.register_script(text)

    def linked(self, confirmations: Iterable[tuple[str, int]]) -> list[Linked]:
        """Every application linked to each confirmed one within the look-back window."""
        pairs = [(a, int(t)) for a, t in confirmations]
        if not pairs:
            return []
        args: list[str | int] = [self.engine.prefix, self.back_ms, graph.HUB]
        for a, t in pairs:
            args += [a, t]
        try:
            # the prefix routes the call on a Redis Cluster (FeatureEngine._call)
            raw = self._script(keys=[self.engine.prefix], args=args)
        except redis.RedisError as exc:
            raise FeatureStateError(f"look-back read failed on Redis: {exc}") from exc
        out: list[Linked] = []
        for (app, tc), blob in zip(pairs, raw, strict=True):
            text = blob.decode() if isinstance(blob, bytes) else str(blob)
            for rec in filter(None, text.split("\x1e")):
                other, when, kind, node = rec.split("\x1f")
                out.append(Linked(app, tc, other, int(float(when)), LINK_NAMES.get(kind, kind),
                                  node))
        return out
