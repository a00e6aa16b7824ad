"""Brings the local services up and down: Kafka (KRaft), Redis, embedded ClickHouse."""

from __future__ import annotations

from dataclasses import dataclass

from infra.kafka import KAFKA_VERSION, KafkaNode
from infra.redis import RedisNode
from streams.settings import Settings


@dataclass
class ServiceStatus:
    name: str
    healthy: bool
    detail: str
    log: str = ""


def kafka_node(settings: Settings) -> KafkaNode:
    return KafkaNode(settings.state_dir, settings.kafka_port, settings.kafka_controller_port,
                     settings.kafka_heap)


def redis_node(settings: Settings) -> RedisNode:
    return RedisNode(settings.state_dir, settings.redis_port)


def up(settings: Settings) -> list[ServiceStatus]:
    """Start what is local and not running, create topics, apply the ClickHouse DDL."""
    from streams.kafka import ensure_topics

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if not settings.kafka_bootstrap:
        kafka_node(settings).start()
    if not settings.redis_url:
        redis_node(settings).start()
    ensure_topics(settings.kafka)
    return status(settings, apply_schema=True)


def down(settings: Settings, only: set[str] | None = None) -> list[str]:
    """Stop the local services (``only``: just those, e.g. the ones a demo started)."""
    stopped = []
    if (only is None or "redis" in only) and redis_node(settings).stop():
        stopped.append("redis")
    if (only is None or "kafka" in only) and kafka_node(settings).stop():
        stopped.append("kafka")
    return stopped


def running_locally(settings: Settings) -> set[str]:
    """The local services already running (by their pid files; opens no store)."""
    running = set()
    if not settings.kafka_bootstrap and kafka_node(settings).process.pid() is not None:
        running.add("kafka")
    if not settings.redis_url and redis_node(settings).process.pid() is not None:
        running.add("redis")
    return running


def status(settings: Settings, apply_schema: bool = False) -> list[ServiceStatus]:
    out: list[ServiceStatus] = []
    if settings.kafka_bootstrap:
        out.append(_remote_kafka(settings))
    else:
        node = kafka_node(settings)
        pid = node.process.pid()
        out.append(ServiceStatus(
            "kafka", pid is not None and node.healthy(),
            f"pid {pid}, {node.bootstrap} (Kafka {KAFKA_VERSION}, KRaft)"
            if pid else "not running", str(node.process.log_file)))
    if settings.redis_url:
        out.append(_remote_redis(settings))
    else:
        rnode = redis_node(settings)
        rpid = rnode.process.pid()
        out.append(ServiceStatus("redis", rpid is not None and rnode.healthy(),
                                 f"pid {rpid}, {rnode.url}" if rpid else "not running",
                                 str(rnode.process.log_file)))
    out.append(_clickhouse(settings, apply_schema))
    return out


def _remote_kafka(settings: Settings) -> ServiceStatus:
    from streams import kafka

    try:
        md = kafka.admin(settings.kafka).list_topics(timeout=5)
        return ServiceStatus("kafka", True, f"{settings.bootstrap_servers}, "
                             f"{len(md.brokers)} broker(s), {len(md.topics)} topics")
    except Exception as exc:
        return ServiceStatus("kafka", False, f"{settings.bootstrap_servers}: {exc}")


def _remote_redis(settings: Settings) -> ServiceStatus:
    from streams.clients import redis_client

    try:
        redis_client(settings).ping()
        return ServiceStatus("redis", True, settings.redis_dsn)
    except Exception as exc:
        return ServiceStatus("redis", False, f"{settings.redis_dsn}: {exc}")


def _clickhouse(settings: Settings, apply_schema: bool) -> ServiceStatus:
    from sinks.ddl import apply_ddl
    from streams.clients import clickhouse_client

    dsn = settings.clickhouse
    owned = _owned_store(settings)
    if owned is not None:
        return owned
    try:
        client = clickhouse_client(settings)
        version = client.query("SELECT version()").result_rows[0][0]
        if apply_schema:
            apply_ddl(client, settings.dead_letter_payload_days)
        return ServiceStatus("clickhouse", True, f"{_redact(dsn)} (ClickHouse {version})")
    except Exception as exc:
        msg = str(exc)
        if dsn.startswith("chdb://") and ("lock" in msg.lower() or "EmbeddedServer" in msg):
            return ServiceStatus("clickhouse", True, f"{_redact(dsn)}: in use by another "
                                 "process that opened the embedded store")
        return ServiceStatus("clickhouse", False, f"{_redact(dsn)}: {msg[:300]}")


def _owned_store(settings: Settings) -> ServiceStatus | None:
    """The embedded store while a sink owns it: healthy if its ClickHouse HTTP interface
    answers (the sink applied the schema when it started); None when nobody owns it."""
    from streams.clients import analytics_client, embedded_http_dsn

    if not settings.clickhouse.startswith("chdb://"):
        return None
    url = embedded_http_dsn(settings)
    if url is None:
        return None
    where = _redact(settings.clickhouse)
    try:
        version = analytics_client(settings).query("SELECT version()").result_rows[0][0]
    except Exception as exc:
        return ServiceStatus("clickhouse", False, f"{where}: owned by the sink at {url}, "
                             f"which does not answer ({exc}); restart `loanrisk sink`")
    return ServiceStatus("clickhouse", True, f"{where} (ClickHouse {version}), owned by the "
                         f"sink, ClickHouse HTTP at {url} (`loanrisk sql`, "
                         f"LOANRISK_CLICKHOUSE_DSN={url} for any client)")


def _redact(dsn: str) -> str:
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return dsn
