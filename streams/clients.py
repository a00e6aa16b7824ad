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
    """A Redis client that gives up on a frozen server after ``redis_timeout_ms``.

    redis-py's own retries are off: ``streams.retry.Backoff`` in the worker is the one
    retry policy, so the time to a degraded decision is bounded by our numbers alone
    (see the degraded mode in docs/operations.md).
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = settings.redis_timeout_ms / 1000
    return redis.Redis.from_url(settings.redis_dsn, socket_timeout=timeout,
                                socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))


def analytics_client(settings: Settings) -> Any:
    """A client for analysis: through the sink while it owns the embedded store
    (``streams.sql_server.OwnerClient``), otherwise a direct clickhouse-connect client."""
    if settings.clickhouse.startswith("chdb://"):
        from streams.sink.query_server import OwnerClient, owner_port

        port = owner_port(settings.state_dir / "clickhouse.owner")
        if port is not None:
            return OwnerClient(port)
    return clickhouse_client(settings)
