"""Builds the real clients from settings: the only place that knows DSNs."""

from __future__ import annotations

from typing import Any

from streams.settings import Settings


def clickhouse_client(settings: Settings) -> Any:
    """A clickhouse-connect client: embedded chDB by default, a server if the DSN says so.

    An on-disk chDB store can be opened by one process at a time; see
    ``loanrisk sql --help`` for who owns it.
    """
    import clickhouse_connect

    dsn = settings.clickhouse
    if dsn.startswith("chdb://"):
        from pathlib import Path

        Path(dsn.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(dsn=dsn)


def redis_client(settings: Settings) -> Any:
    import redis

    return redis.Redis.from_url(settings.redis_dsn, socket_timeout=2.0,
                                socket_connect_timeout=2.0)
