"""Block and allow lists, rebuilt from the compacted lists topic.

Every worker applies the same stream of ``ListUpdate`` records (keyed
``LIST_TYPE:IDENTIFIER_TYPE:value``), so all converge on the same lists and a
restarted worker rebuilds them by reading the topic from the start.

Matching: exact identifiers are dictionary lookups; IP ranges are grouped by
prefix length, so checking an address costs one masked lookup per distinct
prefix length in use (at most 33 for IPv4), whatever the number of ranges.
National ids are never seen in clear here: list values are keyed hashes and
the caller passes the application's hash in ``hashed``.

Precedence is decided by the engine (``decisions.engine``): a BLOCK hit
declines; an ALLOW hit skips fraud rules and the fraud cutoff but never the
credit policy. An identifier on both lists counts as blocked.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from decisions.errors import ListsError

LIST_TYPES = ("BLOCK", "ALLOW")
IDENTIFIER_TYPES = ("NATIONAL_ID_HASH", "PHONE", "EMAIL", "DEVICE_ID", "IP", "IP_RANGE",
                    "PHONE_HASH", "EMAIL_HASH")
# Types matched by the keyed hash the caller computed (no personal data on the topic).
HASHED_TYPES = ("NATIONAL_ID_HASH", "PHONE_HASH", "EMAIL_HASH")
# Application field holding the clear identifier for each exact type.
_APP_FIELD = {"PHONE": "phone", "EMAIL": "email", "DEVICE_ID": "device_id", "IP": "ip"}


@dataclass(frozen=True, slots=True)
class ListEntry:
    list_type: str
    identifier_type: str
    value: str
    reason: str
    author: str
    expires_at: int | None
    event_time: int

    @property
    def key(self) -> str:
        return list_key(self.list_type, self.identifier_type, self.value)

    def active(self, now_ms: int) -> bool:
        return self.expires_at is None or now_ms < self.expires_at


@dataclass(frozen=True, slots=True)
class ListHit:
    """One list entry that matched an application."""

    list_type: str
    identifier_type: str
    reason: str
    ref: str  # non-personal reference: the CIDR, the national id hash, or ""

    @property
    def label(self) -> str:
        """What goes in the decision's ``list_hits`` (no clear personal data)."""
        base = f"{self.list_type}:{self.identifier_type}"
        return f"{base}:{self.ref}" if self.ref else base

    @classmethod
    def from_label(cls, label: str) -> ListHit:
        """The hit a decision recorded as ``label`` (its reason text is not recorded)."""
        kind, _, rest = label.partition(":")
        identifier, _, ref = rest.partition(":")
        return cls(kind, identifier, "", ref)


def normalize(identifier_type: str, value: str) -> str:
    """Canonical form so list entries and applications compare equal.

    Emails are lower-cased, phones become ``+`` and digits, IPs and CIDRs
    use the ipaddress module's canonical text; hashes and device ids are kept.
    """
    v = value.strip()
    if identifier_type == "EMAIL":
        return v.lower()
    if identifier_type == "PHONE":
        return "+" + "".join(c for c in v if c.isdigit())  # as features.identity does
    if identifier_type == "IP":
        try:
            return str(ipaddress.ip_address(v))
        except ValueError as exc:
            raise ListsError(f"invalid IP address {value!r}: {exc}") from exc
    if identifier_type == "IP_RANGE":
        try:
            return str(ipaddress.ip_network(v, strict=False))
        except ValueError as exc:
            raise ListsError(
                f"invalid IP range {value!r} (use CIDR, e.g. 10.0.0.0/8): {exc}"
            ) from exc
    return v


def list_key(list_type: str, identifier_type: str, value: str) -> str:
    """The compacted topic's key for an entry."""
    return f"{list_type}:{identifier_type}:{value}"


def parse_key(key: str) -> tuple[str, str, str]:
    parts = key.split(":", 2)
    if len(parts) != 3 or parts[0] not in LIST_TYPES or parts[1] not in IDENTIFIER_TYPES:
        raise ListsError(f"bad lists-topic key {key!r}; expected LIST_TYPE:IDENTIFIER_TYPE:value")
    return parts[0], parts[1], parts[2]


def make_update(
    list_type: str,
    identifier_type: str,
    value: str,
    *,
    action: str = "ADD",
    reason: str = "",
    author: str = "",
    expires_at: int | None = None,
    event_time: int,
) -> dict[str, Any]:
    """A validated, normalized ``ListUpdate`` record ready to encode.

    The caller hashes national ids first (``NATIONAL_ID_HASH`` values must be
    keyed hashes, never clear ids).
    """
    lt, it = list_type.upper(), identifier_type.upper()
    if lt not in LIST_TYPES:
        raise ListsError(f"unknown list type {list_type!r}; use one of {', '.join(LIST_TYPES)}")
    if it not in IDENTIFIER_TYPES:
        raise ListsError(
            f"unknown identifier type {identifier_type!r}; use one of {', '.join(IDENTIFIER_TYPES)}"
        )
    if action not in ("ADD", "REMOVE"):
        raise ListsError(f"unknown list action {action!r}; use ADD or REMOVE")
    if not value.strip():
        raise ListsError(f"empty value for {lt}:{it}")
    return {
        "list_type": lt,
        "identifier_type": it,
        "value": normalize(it, value),
        "action": action,
        "reason": reason,
        "author": author,
        "expires_at": expires_at,
        "event_time": event_time,
    }


class ListIndex:
    """The current block/allow entries, indexed for fast matching."""

    def __init__(self) -> None:
        self._entries: dict[str, ListEntry] = {}
        # (identifier_type, value) -> entries on either list
        self._exact: dict[tuple[str, str], list[ListEntry]] = {}
        # (version, prefixlen) -> {network int -> entries}
        self._ranges: dict[tuple[int, int], dict[int, list[ListEntry]]] = {}
        self._prefixes: list[tuple[int, int]] = []  # keys of _ranges, longest first

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[ListEntry]:
        return sorted(self._entries.values(), key=lambda e: e.key)

    def apply(self, update: Mapping[str, Any]) -> None:
        """Apply a decoded ``ListUpdate`` (ADD replaces, REMOVE deletes)."""
        lt, it = str(update["list_type"]), str(update["identifier_type"])
        value = normalize(it, str(update["value"]))
        key = list_key(lt, it, value)
        self.apply_tombstone(key)
        if update["action"] == "REMOVE":
            return
        entry = ListEntry(
            lt, it, value, str(update.get("reason", "")), str(update.get("author", "")),
            update.get("expires_at"), int(update.get("event_time", 0)),
        )
        self._entries[key] = entry
        if it == "IP_RANGE":
            net = ipaddress.ip_network(value, strict=False)
            slot = (net.version, net.prefixlen)
            if slot not in self._ranges:
                self._ranges[slot] = {}
                self._prefixes = sorted(self._ranges, key=lambda s: -s[1])
            self._ranges[slot].setdefault(int(net.network_address), []).append(entry)
        else:
            self._exact.setdefault((it, value), []).append(entry)

    def apply_tombstone(self, key: str) -> None:
        """Forget the entry under a topic key (a null-valued, compacted record)."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        if entry.identifier_type == "IP_RANGE":
            net = ipaddress.ip_network(entry.value, strict=False)
            slot = (net.version, net.prefixlen)
            bucket = self._ranges[slot]
            _discard(bucket, int(net.network_address), entry)
            if not bucket:
                del self._ranges[slot]
                self._prefixes = sorted(self._ranges, key=lambda s: -s[1])
        else:
            _discard(self._exact, (entry.identifier_type, entry.value), entry)

    def apply_all(self, updates: Iterable[Mapping[str, Any]]) -> None:
        for u in updates:
            self.apply(u)

    def check(
        self, application: Mapping[str, Any], hashed: Mapping[str, str], now_ms: int
    ) -> list[ListHit]:
        """Every active entry matching the application, BLOCK hits first."""
        if not self._entries:
            return []
        found: list[ListEntry] = []
        for it in HASHED_TYPES:
            h = hashed.get(it)
            if h:
                found.extend(self._exact.get((it, h), ()))
        for it, fld in _APP_FIELD.items():
            raw = application.get(fld)
            if raw:
                try:
                    found.extend(self._exact.get((it, normalize(it, str(raw))), ()))
                except ListsError:
                    continue  # a malformed IP cannot be on a list
        if self._prefixes and application.get("ip"):
            found.extend(self._range_hits(str(application["ip"])))
        hits = [
            ListHit(e.list_type, e.identifier_type, e.reason, _ref(e))
            for e in found
            if e.active(now_ms)
        ]
        hits.sort(key=lambda h: (h.list_type != "BLOCK", h.identifier_type, h.ref))
        return hits

    def _range_hits(self, ip_text: str) -> list[ListEntry]:
        try:
            ip = ipaddress.ip_address(ip_text)
        except ValueError:
            return []
        addr, bits = int(ip), ip.max_prefixlen
        out: list[ListEntry] = []
        for version, plen in self._prefixes:
            if version != ip.version:
                continue
            mask = ((1 << plen) - 1) << (bits - plen) if plen else 0
            out.extend(self._ranges[(version, plen)].get(addr & mask, ()))
        return out


def _discard(index: dict[Any, list[ListEntry]], slot: Any, entry: ListEntry) -> None:
    bucket = index.get(slot)
    if bucket is None:
        return
    bucket[:] = [e for e in bucket if e.key != entry.key]
    if not bucket:
        del index[slot]


def _ref(e: ListEntry) -> str:
    return e.value if e.identifier_type == "IP_RANGE" or e.identifier_type in HASHED_TYPES else ""
