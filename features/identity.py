"""Keyed hashing of personal identifiers.

Identifiers (national id, phone, email, device, ip, address) never reach Redis
or a feature vector in clear: every key and member is an HMAC-SHA256 of the
canonical value under a secret key, so the state links applications without
revealing who applied. Canonical forms (``features.canonical``: E.164 phones,
provider email rules, premise + postcode addresses) make variants hash alike,
which is what velocity, distinct counts, lists and graph links need.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from features import canonical
from features.errors import FeatureError

#: identifier kinds, in the order the engine and the Lua scripts use them
KINDS: tuple[str, ...] = ("id", "device", "phone", "email", "ip", "address")

HASH_HEX = 24  # 96 bits: collisions are negligible at any realistic volume

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise(kind: str, value: str, region: str = "GB") -> str:
    """Canonical form of an identifier so that its variants hash alike.

    ``region`` is where a phone number in national format is read (the address
    country); an address is ``address_string``'s "line1|postcode|country".
    """
    if kind == "email":
        return canonical.email(value)
    if kind == "phone":
        return canonical.phone(value, region)
    if kind == "address":
        line1, _, rest = value.partition("|")
        pc, _, country = rest.partition("|")
        return canonical.address(line1, pc, country)
    v = value.strip().lower()
    if kind in ("id", "national_id", "bank"):
        return _NON_ALNUM.sub("", v)
    if kind == "employer":
        return canonical.name(v)
    return v


@lru_cache(maxsize=16)
def _keyed(key: bytes) -> Any:
    """HMAC state after absorbing the key: copying it skips re-keying on every call."""
    return hmac.new(key, digestmod=hashlib.sha256)


#: identifiers recently hashed: a device, IP, phone or employer recurs across an
#: application, its device events and later applications, and canonical forms (a phone
#: parsed by ``phonenumbers``) cost far more than the lookup; bounded, so memory stays flat
HASH_CACHE_SIZE = 1 << 15


@lru_cache(maxsize=HASH_CACHE_SIZE)
def hash_identifier(key: bytes, kind: str, value: str, region: str = "GB") -> str:
    """Keyed hash (HMAC-SHA256, hex, 96 bits) of one identifier's canonical form.

    ``kind`` is part of the message, so the same string as a phone and as an
    email never collide; ``region`` reads national-format phone numbers.
    """
    return hash_canonical(key, kind, normalise(kind, value, region))


def hash_canonical(key: bytes, kind: str, canonical_value: str) -> str:
    """Keyed hash of a value already in canonical form (near-match keys, for instance)."""
    if not key:
        raise FeatureError("hash key is empty; set LOANRISK_HASH_KEY to a secret value")
    h = _keyed(key).copy()
    h.update(kind.encode() + b"\x00" + canonical_value.encode())
    return h.hexdigest()[:HASH_HEX]


def address_string(address: Mapping[str, Any]) -> str:
    """The part of an address that identifies a dwelling: line 1, postcode, country."""
    return "|".join(
        str(address.get(f, "") or "") for f in ("line1", "postcode", "country")
    )


def application_identifiers(key: bytes, application: Mapping[str, Any]) -> tuple[str, ...]:
    """Hashes of an application's identifiers, in ``KINDS`` order."""
    try:
        return (
            hash_identifier(key, "id", application["national_id"]),
            hash_identifier(key, "device", application["device_id"]),
            hash_identifier(key, "phone", application["phone"],
                            str(application["address"]["country"])),
            hash_identifier(key, "email", application["email"]),
            hash_identifier(key, "ip", application["ip"]),
            hash_identifier(key, "address", address_string(application["address"])),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise FeatureError(
            f"application {application.get('application_id')!r} lacks identifier field {exc}; "
            "decode it with the loan_application schema first"
        ) from exc
