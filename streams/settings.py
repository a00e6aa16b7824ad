"""All configuration, read once from ``LOANRISK_*`` environment variables.

This is the only module that reads the environment; everything below
``streams/`` receives plain values as arguments. Every setting has a local
default so a fresh clone runs with nothing set.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from streams.kafka import KafkaConnection


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOANRISK_", frozen=True, extra="ignore")

    # --- where things live -------------------------------------------------
    state_dir: Path = Field(
        default=Path(".loanrisk"),
        description="Logs, pid files, Kafka/ClickHouse data, model registry (git-ignored).",
    )

    # --- Kafka ---------------------------------------------------------------
    kafka_bootstrap: str = Field(
        default="", description="bootstrap servers; empty = the local broker on kafka_port"
    )
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "512m"

    # --- Redis ---------------------------------------------------------------
    redis_url: str = Field(default="", description="empty = the local redis-server on redis_port")
    redis_port: int = 16379
    redis_timeout_ms: int = Field(
        default=250, gt=0, description="a Redis call that takes longer fails (a frozen server "
        "then degrades decisions within about a second instead of stalling them)")

    # --- ClickHouse ----------------------------------------------------------
    clickhouse_dsn: str = Field(
        default="",
        description="clickhouse-connect DSN; empty = embedded chDB under state_dir/clickhouse; "
        "e.g. http://user:pass@host:8123/db for a server",
    )

    # --- privacy -------------------------------------------------------------
    hash_key: str = Field(
        default="local-dev-only-change-me",
        description="secret key for the keyed hash (HMAC-SHA256) of personal identifiers",
    )

    # --- models, rules, policy ------------------------------------------------
    # (areas add their settings below, one block each)

    # --- workers ---------------------------------------------------------------
    worker_group: str = Field(default="loanrisk-worker",
                              description="Kafka consumer group (Faust app id) of the workers")
    worker_id: str = Field(default="", description="name of this worker; empty = host:pid")
    worker_engine: str = Field(
        default="kafka", description="kafka (confluent-kafka loop, default) or faust")
    worker_offset_reset: str = Field(
        default="earliest", description="where a new worker group starts: earliest or latest")
    worker_session_timeout_ms: int = Field(
        default=6_000, ge=6_000, description="how long a silent worker keeps its partitions "
        "before the group moves them (the broker's minimum is 6 s)")
    worker_static_membership: bool = Field(
        default=False, description="with a stable worker_id: a restarted worker takes its "
        "partitions back without a rebalance (but a stopped one holds them for the session "
        "timeout)")
    worker_batch_max: int = Field(default=64, description="applications decided per batch, at most")
    worker_batch_window_ms: float = Field(
        default=2.0, description="how long a worker waits to fill a batch (adds to latency)")
    session_batch_max: int = 500
    session_batch_window_ms: float = 5.0
    rules_file: Path | None = Field(
        default=None, description="rules YAML; empty = the packaged decisions/rules/default.yaml")
    policy_file: Path | None = Field(
        default=None, description="policy YAML; empty = the packaged decisions/policy/default.yaml")
    cells_file: Path | None = Field(
        default=None, description="test cells YAML; empty = the packaged "
        "decisions/cells/default.yaml (exploration off, no strategy cells)")
    reload_interval_s: float = Field(
        default=2.0, description="how often workers look for new rules and promoted models")
    metrics_interval_s: float = Field(default=5.0,
                                      description="how often each worker emits metrics")
    anomaly_checkpoint_interval_s: float = 60.0
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        default="at_least_once",
        description="at_least_once (default) or exactly_once (Kafka transactions)")
    redis_prefix: str = Field(default="lr", description="namespace of every Redis key")

    # --- wire format ---------------------------------------------------------------
    accept_legacy_fingerprint: bool = Field(
        default=True, description="also read the pre-2026-12 byte-reversed schema fingerprint "
        "(transition window until 2027-03-31; false refuses such messages as dead letters)")

    # --- sink and queries --------------------------------------------------------
    dead_letter_payload_days: int = Field(
        default=30, ge=0, description="days the sink keeps a dead letter's original bytes in "
        "ClickHouse (they may hold personal data in clear); 0 = keep them")
    sql_port: int = Field(default=0, description="loopback port where the sink serves "
                          "`loanrisk sql` for the embedded store; 0 = any free port")

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def kafka(self) -> KafkaConnection:
        """How every Kafka client of this process connects (``streams.kafka``)."""
        from streams.kafka import KafkaConnection

        return KafkaConnection(self.bootstrap_servers)

    @property
    def redis_dsn(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def clickhouse(self) -> str:
        return self.clickhouse_dsn or f"chdb:///{self.state_dir.resolve() / 'clickhouse'}"

    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"


def load_settings() -> Settings:
    """The settings of this process; also applies the process-wide wire-format choice."""
    from schemas.codec import accept_legacy_fingerprints

    settings = Settings()
    accept_legacy_fingerprints(settings.accept_legacy_fingerprint)
    return settings
