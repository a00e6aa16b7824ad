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
import re
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from decisions.errors import ListsError
from schemas.times import utc_datetime
from schemas.topics import LISTS
from streams.cli.errors import USAGE, fail
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
        fail("give exactly one of --national-id, --phone, --email, --device-id, --ip, --ip-range",
             USAGE)
    ((kind, value),) = given.items()
    return kind, value


# what people type between the digits of a phone number
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_PHONE = re.compile(r"\+\d{8,15}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _check_format(kind: str, value: str) -> None:
    """Refuse phones and emails no application can carry: their hash would block nobody."""
    if kind == "PHONE" and not _PHONE.fullmatch(_PHONE_SEPARATORS.sub("", value)):
        raise ListsError(f"phone {value!r} is not in E.164 form: '+', country code and number, "
                         "8 to 15 digits, e.g. +447700900123")
    if kind == "EMAIL" and not _EMAIL.fullmatch(value.strip()):
        raise ListsError(f"email {value!r} is not an address: one '@' and a dotted domain, "
                         "e.g. name@example.com")


_HASH_AS = {"NATIONAL_ID": ("NATIONAL_ID_HASH", "id"),
            "NATIONAL_ID_CLEAR": ("NATIONAL_ID_HASH", "id"),
            "PHONE": ("PHONE_HASH", "phone"), "EMAIL": ("EMAIL_HASH", "email")}


def _hashed(kind: str, value: str, hash_key: bytes) -> tuple[str, str]:
    """National ids, phones and emails leave this process only as keyed hashes (the same
    hash the workers compute from an application)."""
    if kind in _HASH_AS:
        from features.identity import hash_identifier

        hashed_kind, hash_kind = _HASH_AS[kind]
        return hashed_kind, hash_identifier(hash_key, hash_kind, value)
    return kind, value


def _expiry(expires: str | None) -> int | None:
    """'30d', '12h' or an ISO date/time (UTC) -> ms since the epoch; None = never.
    An expiry that has already passed is refused: the entry would never apply."""
    if not expires or not expires.strip():
        return None
    e = expires.strip()
    now = datetime.now(UTC)
    try:
        if e[-1] in "dh" and e[:-1].isdigit():
            delta = timedelta(days=int(e[:-1])) if e[-1] == "d" else timedelta(hours=int(e[:-1]))
            dt = now + delta
        else:
            dt = utc_datetime(e)
    except ValueError as exc:
        raise ListsError(f"bad expiry {expires!r}; use e.g. 30d, 12h or 2030-12-31") from exc
    if dt <= now:
        raise ListsError(f"expiry {expires!r} is not in the future (now "
                         f"{now:%Y-%m-%d %H:%M} UTC); the entry would never apply")
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


def _kafka_down(exc: Exception, s: Any) -> str:
    return (f"cannot read or write the lists topic on Kafka at {s.bootstrap_servers} ({exc}); "
            "start Kafka with `loanrisk services up` or set LOANRISK_KAFKA_BOOTSTRAP")


def _read(s: Any, timeout: float) -> Any:
    """The current lists, or a clear error when Kafka cannot be reached."""
    from confluent_kafka import KafkaException

    try:
        return read_lists(s.kafka, timeout_s=timeout)
    except (RuntimeError, KafkaException) as exc:
        fail(_kafka_down(exc, s))


def _publish(s: Any, updates: list[dict[str, Any]], tombstones: list[str] | None = None) -> int:
    from confluent_kafka import KafkaException

    try:
        return publish(s.kafka, updates, tombstones=tombstones or [])
    except (RuntimeError, KafkaException) as exc:
        fail(_kafka_down(exc, s))


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
    expires: str = typer.Option(None, help="Expiry in the future: 30d, 12h or an ISO date "
                                "(UTC); default never."),
) -> None:
    """Add (or replace) one list entry on the lists topic."""
    from decisions.lists import make_update

    s = _settings()
    kind, clear = _identifier(national_id, phone, email, device_id, ip, ip_range)
    try:
        _check_format(kind, clear)
        kind, value = _hashed(kind, clear, s.identifier_hash_key)
        u = make_update(list_type.value, kind, value, reason=reason,
                        author=author or getpass.getuser(), expires_at=_expiry(expires),
                        event_time=int(time.time() * 1000))
    except ListsError as exc:
        fail(str(exc))
    _publish(s, [u])
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
    force: bool = typer.Option(False, help="Publish the REMOVE even when the lists hold no "
                               "such entry (e.g. to be sure across a topic being rebuilt)."),
    timeout: float = typer.Option(20.0, help="Seconds to wait for the topic to be read."),
) -> None:
    """Remove one list entry (a REMOVE record; with --purge also a tombstone).

    The lists are read first: removing an entry that does not exist is an error (exit 1)
    unless --force."""
    from decisions.lists import list_key, make_update

    s = _settings()
    try:
        kind, value = _hashed(*_identifier(national_id, phone, email, device_id, ip, ip_range),
                              s.identifier_hash_key)
        u = make_update(list_type.value, kind, value, action="REMOVE", reason=reason,
                        author=author or getpass.getuser(), event_time=int(time.time() * 1000))
    except ListsError as exc:
        fail(str(exc))
    key = list_key(u["list_type"], u["identifier_type"], u["value"])
    shown = f"{u['list_type']}:{u['identifier_type']}"
    exists = key in {e.key for e in _read(s, timeout).entries()}
    if not exists and not force:
        fail(f"no such entry on the {u['list_type']} list ({shown}); nothing was published. "
             "See `loanrisk lists show --all`, or pass --force to publish the REMOVE anyway")
    _publish(s, [u], [key] if purge else [])
    typer.echo(f"removed {shown}" if exists else
               f"published a REMOVE for {shown} (there was no such entry)")


@app.command()
def show(
    include_expired: bool = typer.Option(False, "--all", help="Also list expired entries."),
    timeout: float = typer.Option(20.0, help="Seconds to wait for the topic to be read."),
    as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON on stdout "
                                 "(for scripts): a list of objects, expires_at in ms or null."),
) -> None:
    """Read the lists topic from the start and print the current entries."""
    from rich.console import Console
    from rich.table import Table

    s = _settings()
    index = _read(s, timeout)
    now = int(time.time() * 1000)
    entries = [e for e in index.entries() if include_expired or e.active(now)]
    if as_json:
        import orjson

        typer.echo(orjson.dumps([
            {"list_type": e.list_type, "identifier_type": e.identifier_type, "value": e.value,
             "reason": e.reason, "author": e.author, "expires_at": e.expires_at,
             "event_time": e.event_time, "active": e.active(now)} for e in entries],
            option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(title=f"lists on {LISTS.name}")
    for col in ("list", "type", "value", "reason", "author", "expires (UTC)"):
        table.add_column(col)
    for e in entries:
        exp = "never" if e.expires_at is None else datetime.fromtimestamp(
            e.expires_at / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(e.list_type, e.identifier_type, e.value, e.reason, e.author, exp)
    Console().print(table)
    typer.echo(f"{len(entries)} entries")


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

    from decisions.lists import make_update

    s = _settings()
    now = int(time.time() * 1000)
    updates = []
    try:
        with file.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"{file} is not a CSV text file ({exc})")
    for n, row in enumerate(track(rows, description="validating"), start=2):
        try:
            kind = row["identifier_type"].strip().upper()
            _check_format(kind, row["value"])
            kind, value = _hashed(kind, row["value"], s.identifier_hash_key)
            updates.append(make_update(
                row["list_type"], kind, value, action=(row.get("action") or "ADD").upper(),
                reason=row.get("reason") or "", author=row.get("author") or author or
                getpass.getuser(), expires_at=_expiry(row.get("expires")), event_time=now))
        except (KeyError, ListsError) as exc:
            fail(f"{file} line {n}: {exc}; nothing was published")
    sent = _publish(s, updates)
    typer.echo(f"published {sent} list updates from {file}")
