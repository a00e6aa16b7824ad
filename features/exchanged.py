"""What a ``FeatureEngine`` round trip is built from and returns: the records the worker
passes between building a request, sending it (possibly from another thread) and reading
its replies."""

from __future__ import annotations

from dataclasses import dataclass

from features.roundtrip import ScriptCall
from schemas.records import LoanApplication

Value = float | None


@dataclass(frozen=True, slots=True)
class Exchanged:
    """What one ``exchange`` round trip returned, per application in order: its features,
    or (``memoised``) the blob a memo hash held for it (then nothing was computed), and
    its identifier hashes in ``KINDS`` order (for lists and the decision record)."""

    vectors: list[dict[str, Value] | None]
    memoised: list[bytes | None]
    identifiers: list[tuple[str, ...]]
    fraud_known: int = 0


@dataclass(frozen=True, slots=True)
class ExchangeCall:
    """One ``exchange`` built but not sent (``FeatureEngine.exchange_call``): its script
    calls in order, their names, and what reading the replies needs."""

    applications: list[LoanApplication]
    ids: list[tuple[str, ...]]
    names: tuple[str, ...]
    calls: list[ScriptCall]


@dataclass(frozen=True, slots=True)
class QuoteExchanged:
    """What one ``quote_exchange`` round trip returned, per request in order: the features
    an application made now would get (nothing recorded), the quote velocity (``QUOTE_SPEC``)
    and the identifier hashes in ``KINDS`` order."""

    vectors: list[dict[str, Value]]
    quote_velocity: list[dict[str, float]]
    identifiers: list[tuple[str, ...]]
