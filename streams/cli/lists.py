"""``loanrisk lists``: block/allow list entries on the compacted lists topic.

The topic is the source of truth: ``add``/``remove``/``import`` publish
``ListUpdate`` records keyed ``LIST_TYPE:IDENTIFIER_TYPE:value``; ``show``
rebuilds the lists by reading it from the start, as every worker does
(``streams/control/lists.py``). National ids, phones and emails are published only
as keyed hashes (``hash_key``).
"""

from __future__ import annotations

import csv
import getpass
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from schemas.topics import LISTS
from streams.cli.errors import fail
from streams.control.lists import publish, read_lists

app = typer.Typer(help="Block and allow lists (compacted Kafka topic risk.lists.v1).",
                  no_args_is_help=True)


class ListType(StrEnum):
    BLOCK = "BLOCK"
    ALLOW = "ALLOW"


def _settings() -> Any:
    from streams.settings import load_settings

    return load_settings()


def _identifier(national_id: str | None, phone: str | None, email: str | None,
                device_id: str | None, ip: str | None, ip_range: str | None) -> tuple[str, str]:
    given = {k: v for k, v in {"NATIONAL_ID": national_id, "PHONE": phone, "EMAIL": email,
                                "DEVICE_ID": device_id, "IP": ip, "IP_RANGE": ip_range}.items()
             if v}
    if len(given) != 1:
        fail("give exactly one of --national-id, --phone, --email, --device-id, --ip, --ip-range")
    ((kind, value),) = given.items()
    return kind, value


_HASH_AS = {"NATIONAL_ID": ("NATIONAL_ID_HASH", "id"),
            "NATIONAL_ID_CLEAR": ("NATIONAL_ID_HASH", "id"),
            "PHONE": ("PHONE_HASH", "phone"), "EMAIL": ("EMAIL_HASH", "email")}


def _hashed(kind: str, value: str, hash_key: str) -> tuple[str, str]:
    """National ids, phones and emails leave this process only as keyed hashes (the same
    hash the workers compute from an application)."""
    if kind in _HASH_AS:
        from features.identity import hash_identifier

        hashed_kind, hash_kind = _HASH_AS[kind]
        return hashed_kind, hash_identifier(hash_key.encode(), hash_kind, value)
    return kind, value


def _expiry(expires: str | None) -> int | None:
    """'30d', '12h' or an ISO date/time (UTC) -> ms since the epoch; None = never."""
    if not expires:
        return None
    e = expires.strip()
    try:
        if e[-1] in "dh" and e[:-1].isdigit():
            delta = timedelta(days=int(e[:-1])) if e[-1] == "d" else timedelta(hours=int(e[:-1]))
            return int((datetime.now(UTC) + delta).timestamp() * 1000)
        dt = datetime.fromisoformat(e)
    except ValueError:
        fail(f"bad expiry {expires!r}; use e.g. 30d, 12h or 2025-12-31")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


ID_OPTS = {
    "national_id": typer.Option(None, help="National id in clear; published only as its keyed "
                                "hash (LOANRISK_HASH_KEY)."),
    "phone": typer.Option(None, help="Phone number (E.164); published only as its keyed hash."),
    "email": typer.Option(None, help="Email address; published only as its keyed hash."),
    "device_id": typer.Option(None, help="Device fingerprint id."),
    "ip": typer.Option(None, help="One IP address."),
    "ip_range": typer.Option(None, help="An IP range in CIDR notation, e.g. 203.0.113.0/24."),
}


@app.command()
def add(
    list_type: ListType = typer.Argument(..., help="BLOCK (declines) or ALLOW (skips fraud "
                                         "rules and the fraud cutoff, never credit policy)."),
    reason: str = typer.Option(..., help="Why the entry exists (kept with the entry)."),
    national_id: str = ID_OPTS["national_id"],
    phone: str = ID_OPTS["phone"],
    email: str = ID_OPTS["email"],
    device_id: str = ID_OPTS["device_id"],
    ip: str = ID_OPTS["ip"],
    ip_range: str = ID_OPTS["ip_range"],
    author: str = typer.Option(None, help="Who added it (default: the current user)."),
    expires: str = typer.Option(None, help="Expiry: 30d, 12h or an ISO date (UTC); default never."),
) -> None:
    """Add (or replace) one list entry on the lists topic."""
    from decisions.errors import ListsError
    from decisions.lists import make_update

    s = _settings()
    kind, value = _hashed(*_identifier(national_id, phone, email, device_id, ip, ip_range),
                          s.hash_key)
    try:
        u = make_update(list_type.value, kind, value, reason=reason,
                        author=author or getpass.getuser(), expires_at=_expiry(expires),
                        event_time=int(time.time() * 1000))
        publish(s.kafka, [u])
    except (ListsError, RuntimeError) as exc:
        fail(str(exc))
    typer.echo(f"added {u['list_type']}:{u['identifier_type']}"
               f"{'' if kind.endswith('_HASH') else ':' + u['value']}")


@app.command()
def remove(
    list_type: ListType = typer.Argument(..., help="BLOCK or ALLOW."),
    national_id: str = ID_OPTS["national_id"],
    phone: str = ID_OPTS["phone"],
    email: str = ID_OPTS["email"],
    device_id: str = ID_OPTS["device_id"],
    ip: str = ID_OPTS["ip"],
    ip_range: str = ID_OPTS["ip_range"],
    reason: str = typer.Option("removed", help="Why it is removed (kept on the REMOVE record)."),
    author: str = typer.Option(None, help="Who removed it (default: the current user)."),
    purge: bool = typer.Option(False, help="Also send a tombstone so compaction deletes the "
                               "entry's history from the topic."),
) -> None:
    """Remove one list entry (a REMOVE record; with --purge also a tombstone)."""
    from decisions.errors import ListsError
    from decisions.lists import list_key, make_update

    s = _settings()
    kind, value = _hashed(*_identifier(national_id, phone, email, device_id, ip, ip_range),
                          s.hash_key)
    try:
        u = make_update(list_type.value, kind, value, action="REMOVE", reason=reason,
                        author=author or getpass.getuser(), event_time=int(time.time() * 1000))
        tomb = [list_key(u["list_type"], u["identifier_type"], u["value"])] if purge else []
        publish(s.kafka, [u], tombstones=tomb)
    except (ListsError, RuntimeError) as exc:
        fail(str(exc))
    typer.echo(f"removed {u['list_type']}:{u['identifier_type']}")


@app.command()
def show(
    include_expired: bool = typer.Option(False, "--all", help="Also list expired entries."),
    timeout: float = typer.Option(20.0, help="Seconds to wait for the topic to be read."),
) -> None:
    """Read the lists topic from the start and print the current entries."""
    from rich.console import Console
    from rich.table import Table

    s = _settings()
    try:
        index = read_lists(s.kafka, timeout_s=timeout)
    except RuntimeError as exc:
        fail(str(exc))
    now = int(time.time() * 1000)
    table = Table(title=f"lists on {LISTS.name}")
    for col in ("list", "type", "value", "reason", "author", "expires (UTC)"):
        table.add_column(col)
    shown = 0
    for e in index.entries():
        if not include_expired and not e.active(now):
            continue
        exp = "never" if e.expires_at is None else datetime.fromtimestamp(
            e.expires_at / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(e.list_type, e.identifier_type, e.value, e.reason, e.author, exp)
        shown += 1
    Console().print(table)
    typer.echo(f"{shown} entries")


@app.command("import")
def import_(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False,
        help="CSV with columns list_type, identifier_type, value, reason [, author, expires, "
        "action]. identifier_type NATIONAL_ID, PHONE and EMAIL are hashed before publishing; "
        "expires: 30d, 12h, ISO date or empty.",
    ),
    author: str = typer.Option(None, help="Author for rows without one (default: current user)."),
) -> None:
    """Publish many entries from a CSV file; every row is validated before any is sent."""
    from rich.progress import track

    from decisions.errors import ListsError
    from decisions.lists import make_update

    s = _settings()
    now = int(time.time() * 1000)
    updates = []
    with file.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for n, row in enumerate(track(rows, description="validating"), start=2):
        try:
            kind, value = _hashed(row["identifier_type"].strip().upper(), row["value"], s.hash_key)
            updates.append(make_update(
                row["list_type"], kind, value, action=(row.get("action") or "ADD").upper(),
                reason=row.get("reason") or "", author=row.get("author") or author or
                getpass.getuser(), expires_at=_expiry(row.get("expires")), event_time=now))
        except (KeyError, ListsError) as exc:
            fail(f"{file} line {n}: {exc}; nothing was published")
    try:
        sent = publish(s.kafka, updates)
    except RuntimeError as exc:
        fail(str(exc))
    typer.echo(f"published {sent} list updates from {file}")
