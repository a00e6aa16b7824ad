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


def redis_client(settings: Settings, timeout_ms: int | None = None) -> Any:
    """A Redis client that gives up on a frozen server after ``redis_timeout_ms`` (or
    ``timeout_ms``: an offline build's large batches on a busy machine need longer than a
    worker that must degrade quickly).

    redis-py's own retries are off: ``streams.retry.Backoff`` in the worker is the one
    retry policy, so the time to a degraded decision is bounded by our numbers alone
    (see the degraded mode in docs/operations.md).
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = (settings.redis_timeout_ms if timeout_ms is None else timeout_ms) / 1000
    if settings.redis_cluster:
        # Follows MOVED/ASK and refreshes the slot map after a failover; its own retries
        # stay short so a lost master degrades decisions instead of stalling them.
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(settings.redis_dsn, socket_timeout=timeout,
                                     socket_connect_timeout=timeout,
                                     retry=Retry(NoBackoff(), 0))
    return redis.Redis.from_url(settings.redis_dsn, socket_timeout=timeout,
                                socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))


def analytics_client(settings: Settings) -> Any:
    """A clickhouse-connect client for analysis: over HTTP to the server the DSN names, or
    to the sink while it owns the embedded store (``embedded_http_dsn``); with neither, the
    embedded store opened directly (nobody else holds it then)."""
    import clickhouse_connect

    if settings.clickhouse.startswith("chdb://"):
        dsn = embedded_http_dsn(settings)
        if dsn is None:
            return clickhouse_client(settings)
        return clickhouse_connect.get_client(
            dsn=dsn, username=settings.clickhouse_http_user,
            password=settings.clickhouse_http_password.get_secret_value())
    return clickhouse_client(settings)


def embedded_http_dsn(settings: Settings) -> str | None:
    """``http://host:port`` of the sink's ClickHouse HTTP interface while it owns the
    embedded store (``<state_dir>/clickhouse.owner``), else None."""
    from streams.sink.http_server import owner_address

    where = owner_address(settings.state_dir / "clickhouse.owner")
    return None if where is None else f"http://{where[0]}:{where[1]}"


def query_settings(settings: Settings) -> dict[str, str]:
    """``clickhouse_query_settings`` as a dict (``name=value,name=value``)."""
    out: dict[str, str] = {}
    for pair in filter(str.strip, settings.clickhouse_query_settings.split(",")):
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"LOANRISK_CLICKHOUSE_QUERY_SETTINGS: {pair!r} is not name=value")
        out[name.strip()] = value.strip()
    return out
