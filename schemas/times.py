"""Times as every topic carries them: epoch milliseconds, UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_datetime(text: str) -> datetime:
    """An ISO date or date/time; one without a zone is UTC. ValueError if it is neither."""
    dt = datetime.fromisoformat(text.strip())
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def iso_to_ms(text: str) -> int:
    """Epoch milliseconds of ``utc_datetime(text)``."""
    return int(utc_datetime(text).timestamp() * 1000)
