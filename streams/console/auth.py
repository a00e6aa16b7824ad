"""Console accounts, logins and CSRF tokens, kept on Redis so every console process
shares them.

Passwords are hashed with Argon2id (argon2-cffi's defaults: memory-hard, salted). A login
is a random session token in an HttpOnly, SameSite=Strict cookie; the server keeps the
user, role and that session's CSRF token, which every form and htmx request must echo.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from reviews.roles import Role
from schemas.errors import LoanRiskError

SESSION_COOKIE = "lr_session"
LOGIN_CSRF_COOKIE = "lr_login_csrf"
_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


class AccountError(LoanRiskError):
    pass


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user: str
    role: str
    csrf: str


def check_name(name: str) -> str:
    n = name.strip().lower()
    if not n or len(n) > 64 or not set(n) <= _NAME_OK:
        raise AccountError("a user name is 1-64 characters of a-z, 0-9, '.', '_' or '-'")
    return n


class Accounts:
    def __init__(self, client: Any, prefix: str, session_ttl_s: int) -> None:
        self.r = client
        self.p = f"{prefix}:console"
        self.session_ttl_s = session_ttl_s
        self.hasher = PasswordHasher()

    # --- users ----------------------------------------------------------------------
    def add(self, name: str, password: str, role: str, *, replace: bool = False) -> str:
        name = check_name(name)
        try:
            Role(role)
        except ValueError as exc:
            raise AccountError(f"unknown role {role!r}; one of "
                               f"{', '.join(r.value for r in Role)}") from exc
        if len(password) < 10:
            raise AccountError("a password needs at least 10 characters")
        key = f"{self.p}:user:{name}"
        if not replace and self.r.exists(key):
            raise AccountError(f"user {name} exists; use --replace to set a new password or "
                               "role")
        self.r.hset(key, mapping={"hash": self.hasher.hash(password), "role": role,
                                  "created_at": int(time.time() * 1000)})
        self.r.sadd(f"{self.p}:users", name)
        return name

    def remove(self, name: str) -> bool:
        name = check_name(name)
        self.r.srem(f"{self.p}:users", name)
        return bool(self.r.delete(f"{self.p}:user:{name}"))

    def list(self) -> list[tuple[str, str]]:
        names = sorted(n.decode() for n in self.r.smembers(f"{self.p}:users"))
        roles = [self.r.hget(f"{self.p}:user:{n}", "role") for n in names]
        return [(n, r.decode()) for n, r in zip(names, roles, strict=True) if r]

    def verify(self, name: str, password: str) -> str | None:
        """The user's role when the password is right, else None (same work either way)."""
        try:
            name = check_name(name)
        except AccountError:
            name = "-"
        rec = self.r.hgetall(f"{self.p}:user:{name}")
        stored = rec.get(b"hash", b"").decode() or _DUMMY_HASH
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return rec[b"role"].decode() if rec else None

    # --- sessions -------------------------------------------------------------------------
    def open_session(self, user: str, role: str) -> Session:
        s = Session(secrets.token_urlsafe(32), user, role, secrets.token_urlsafe(32))
        self.r.set(f"{self.p}:session:{s.token}",
                   orjson.dumps({"user": user, "role": role, "csrf": s.csrf}),
                   ex=self.session_ttl_s)
        return s

    def session(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        raw = self.r.get(f"{self.p}:session:{token}")
        if raw is None:
            return None
        d = orjson.loads(raw)
        # the role is read again: a changed or removed account takes effect at once
        role = self.r.hget(f"{self.p}:user:{d['user']}", "role")
        if role is None:
            return None
        return Session(token, d["user"], role.decode(), d["csrf"])

    def close_session(self, token: str) -> None:
        self.r.delete(f"{self.p}:session:{token}")


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), str(given).encode())


_DUMMY_HASH = PasswordHasher().hash("not-a-real-password-timing-only")
