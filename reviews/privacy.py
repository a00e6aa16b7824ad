"""Personal data in the console: masked by default, sealed at rest, revealed on purpose.

The ``applications`` table keeps identifiers as keyed hashes (for linking) and the clear
personal fields only sealed (Fernet: AES-128-CBC with an HMAC-SHA256 tag) under a key the
store never sees; the console unseals them when a reviewer reveals them, which is audited.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from schemas.errors import LoanRiskError

#: the application fields that identify a person; sealed at rest, masked on screen
PERSONAL_FIELDS = ("first_name", "last_name", "date_of_birth", "national_id", "email", "phone",
                   "address", "ip", "device_id")


class SealError(LoanRiskError):
    pass


@dataclass(frozen=True)
class Sealer:
    """Seals and unseals personal fields with a key derived from a secret setting."""

    secret: str

    def _fernet(self) -> Fernet:
        if not self.secret:
            raise SealError("the personal-data key is empty; set LOANRISK_PII_KEY")
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(self.secret.encode()).digest()))

    def seal(self, fields: dict[str, Any]) -> str:
        return self._fernet().encrypt(orjson.dumps(fields)).decode()

    def unseal(self, token: str) -> dict[str, Any]:
        try:
            out: dict[str, Any] = orjson.loads(self._fernet().decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise SealError("personal data cannot be unsealed with this key (was "
                            "LOANRISK_PII_KEY changed?)") from exc
        return out


def personal_fields(application: dict[str, Any]) -> dict[str, Any]:
    return {k: application.get(k) for k in PERSONAL_FIELDS}


def mask(kind: str, value: Any) -> str:
    """What the screen shows before a reveal: enough to tell cases apart, not who it is."""
    if value is None or value == "":
        return "—"
    if kind == "address" and isinstance(value, dict):
        return f"••• {value.get('city', '')}, {str(value.get('postcode', ''))[:2]}•••"
    text = str(value)
    if kind == "email":
        user, _, domain = text.partition("@")
        return f"{user[:1]}•••@{domain}" if domain else "•••"
    if kind in ("first_name", "last_name"):
        return text[:1] + "•••"
    if kind == "date_of_birth":
        return text[:4] + "-••-••"
    if kind == "ip":
        parts = text.split(".")
        return ".".join(parts[:2] + ["•"] * (len(parts) - 2)) if len(parts) == 4 else "•••"
    return "•••" + text[-3:] if len(text) > 4 else "•••"


def masked(fields: dict[str, Any]) -> dict[str, str]:
    return {k: mask(k, v) for k, v in fields.items()}


def shown(fields: dict[str, Any]) -> dict[str, str]:
    """Revealed fields as text (an address on one line)."""
    out = {}
    for k, v in fields.items():
        if isinstance(v, dict):
            v = ", ".join(str(v.get(f, "")) for f in ("line1", "city", "postcode", "country"))
        out[k] = "—" if v is None else str(v)
    return out
