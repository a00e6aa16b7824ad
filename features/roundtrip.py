"""Several Lua scripts run as ONE script call: one network round trip, replies in order.

The worker's cost per batch is dominated by round trips, not by what Redis does in them,
so a batch's session ingest, fraud confirmations and feature computation (with its
redelivery-memo lookup) travel as one EVALSHA of a script composed from the parts
(``features/lua/*.lua``): each part's source becomes a Lua function of its own KEYS and
ARGV, and a short dispatcher calls the parts in the order given, so a session folded
first is seen by the applications computed after it. The helpers the parts share
(``lua/lib.lua``) come once, before them.

Why one script rather than a pipeline of EVALSHAs: a script missing from the server's
cache (Redis restarted, failed over or flushed) makes EVALSHA fail, and in a pipeline
the calls after it would still run -- a feature computation without the session ingest
before it. One composed script runs whole or not at all; when it is missing it is loaded
and sent again. Each combination of parts is a script of its own (a handful).

Arguments of the composed script: KEYS is every part's keys in order; ARGV is, per part,
its name, its number of keys and of arguments, then its arguments. The reply is a list
with each part's reply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import redis

from features.errors import FeatureStateError

_DISPATCH = """
local parts = {%s}
local out, a, k = {}, 1, 1
while a <= #ARGV do
  local name, nk, na = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local keys, argv = {}, {}
  for i = 1, nk do keys[i] = KEYS[k + i - 1] end
  for i = 1, na do argv[i] = ARGV[a + 2 + i] end
  out[#out + 1] = parts[name](keys, argv)
  a, k = a + 3 + na, k + nk
end
return out
"""


@dataclass(frozen=True)
class LuaPart:
    """One script of the engine (a ``features/lua`` file): KEYS and ARGV in, a reply out."""

    name: str
    source: str


@dataclass(frozen=True)
class LuaScript:
    """A composed script's source and its SHA1 (what EVALSHA names it by)."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


@dataclass(frozen=True)
class ScriptCall:
    part: LuaPart
    keys: Sequence[Any]
    args: Sequence[Any]


@cache
def compose(parts: tuple[LuaPart, ...]) -> LuaScript:
    """One script running ``parts`` (each as ``local function(KEYS, ARGV)``) on demand."""
    funcs = "\n".join(f"local function part_{i}(KEYS, ARGV)\n{p.source}\nend"
                      for i, p in enumerate(parts))
    table = ", ".join(f"[{p.name!r}] = part_{i}" for i, p in enumerate(parts))
    return LuaScript(f"{_library()}\n{funcs}\n{_DISPATCH % table}")


@cache
def _library() -> str:
    """``features/lua/lib.lua``: the helpers every part may call (``split``), once."""
    return (resources.files("features") / "lua" / "lib.lua").read_text()


def execute(client: redis.Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    """Run ``calls`` in one script call, in order; their replies. A Redis failure (down,
    timed out, a script error) raises ``FeatureStateError`` naming the parts."""
    if not calls:
        return []
    script = compose(tuple(dict.fromkeys(c.part for c in calls)))
    keys: list[Any] = []
    args: list[Any] = []
    for c in calls:
        keys += c.keys
        args += [c.part.name, len(c.keys), len(c.args), *c.args]
    try:
        try:
            return list(client.evalsha(script.sha, len(keys), *keys, *args))
        except redis.exceptions.NoScriptError:
            client.script_load(script.source)
            return list(client.evalsha(script.sha, len(keys), *keys, *args))
    except redis.RedisError as exc:
        names = ", ".join(dict.fromkeys(c.part.name for c in calls))
        raise FeatureStateError(
            f"feature state call ({names}) failed on Redis: {exc}. Check that redis-server "
            "is running and reachable (`loanrisk services up`) and is version 7 or later."
        ) from exc
