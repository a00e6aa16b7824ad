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


def analytics_client(settings: Settings) -> Any:
    """A client for analysis: through the sink while it owns the embedded store
    (``streams.sql_server.OwnerClient``), otherwise a direct clickhouse-connect client."""
    if settings.clickhouse.startswith("chdb://"):
        from streams.sink.query_server import OwnerClient, owner_port

        port = owner_port(settings.state_dir / "clickhouse.owner")
        if port is not None:
            return OwnerClient(port)
    return clickhouse_client(settings)
