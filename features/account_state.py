"""Per-account statement windows on Redis, for the servicing worker's behaviour features.

One hash per account (``{prefix}:acct:{account_id}``): field = month on book, value =
the statement's facts (orjson). A redelivered statement overwrites its own month, so
replays change nothing; months older than ``WINDOW`` are dropped. One pipelined round
trip reads every account of a batch, one more writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from typing import Any

import orjson

from features.behaviour import WINDOW, StatementFacts

TTL_S = 400 * 86_400  # an account silent for 400 days is forgotten


class AccountState:
    def __init__(self, client: Any, prefix: str = "loanrisk") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, account_id: str) -> str:
        return f"{self.prefix}:acct:{account_id}"

    def windows(self, account_ids: Sequence[str]) -> dict[str, list[StatementFacts]]:
        """Each account's stored statements, oldest first."""
        pipe = self.client.pipeline(transaction=False)
        for a in account_ids:
            pipe.hgetall(self._key(a))
        out: dict[str, list[StatementFacts]] = {}
        for a, stored in zip(account_ids, pipe.execute(), strict=True):
            facts = [StatementFacts(*orjson.loads(v)) for _, v in
                     sorted(stored.items(), key=lambda kv: int(kv[0]))]
            out[a] = facts
        return out

    def remember(self, items: Sequence[tuple[str, StatementFacts]]) -> None:
        """Store each (account, statement) and forget months beyond the window."""
        pipe = self.client.pipeline(transaction=False)
        for a, f in items:
            key = self._key(a)
            pipe.hset(key, str(f.month_on_book), orjson.dumps(astuple(f)))
            old = [str(m) for m in range(max(f.month_on_book - WINDOW - 12, 1),
                                         f.month_on_book - WINDOW + 1)]
            if old:
                pipe.hdel(key, *old)
            pipe.expire(key, TTL_S)
        pipe.execute()

    def clear(self) -> None:
        for key in self.client.scan_iter(f"{self.prefix}:acct:*", count=1000):
            self.client.delete(key)
