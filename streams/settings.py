"""All configuration, read once from ``LOANRISK_*`` environment variables.

This is the only module that reads the environment; everything below
``streams/`` receives plain values as arguments. Every setting has a local
default so a fresh clone runs with nothing set.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from streams.kafka import KafkaConnection

#: the keys a fresh checkout runs with: fine for the demo and tests, never for real data
DEV_HASH_KEY = "local-dev-only-change-me"
DEV_PII_KEY = "local-dev-only-change-me-too"


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
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="how every Kafka client connects (librdkafka's "
        "security.protocol; aiokafka inside Faust gets the same)")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism for SASL_PLAINTEXT / SASL_SSL")
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = Field(
        default=SecretStr(""), description="SASL password (never printed or logged)")
    kafka_ssl_ca_file: Path | None = Field(
        default=None, description="PEM file of the CA(s) the brokers' certificates chain to; "
        "empty = the system's CA store")
    kafka_ssl_cert_file: Path | None = Field(
        default=None, description="PEM client certificate for mutual TLS")
    kafka_ssl_key_file: Path | None = Field(
        default=None, description="PEM private key of the client certificate")
    kafka_ssl_key_password: SecretStr = Field(
        default=SecretStr(""), description="password of an encrypted client key")
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="the broker's certificate must name the host connected to")
    kafka_options: SecretStr = Field(
        default=SecretStr(""), description="further librdkafka properties for every "
        'confluent-kafka client, a JSON object, e.g. {"socket.keepalive.enable": true} '
        "(masked when printed: it may hold secrets)")

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
    hash_key: SecretStr = Field(
        default=SecretStr(DEV_HASH_KEY),
        description="secret key for the keyed hash (HMAC-SHA256) of personal identifiers "
        "(never printed or logged)",
    )

    pii_key: SecretStr = Field(
        default=SecretStr(DEV_PII_KEY),
        description="secret key that seals applicants' personal fields in the applications "
        "table (the review console unseals them on an audited reveal; never printed or logged)")

    # --- review console --------------------------------------------------------------
    console_host: str = Field(default="127.0.0.1", description="where `loanrisk console "
                              "serve` listens (loopback by default)")
    console_port: int = Field(default=18080, description="the review console's HTTP port")
    console_sla_minutes: float = Field(default=240.0, gt=0,
                                       description="review service level: cases older than "
                                       "this are shown as breaching it")
    console_claim_minutes: int = Field(default=30, gt=0, description="how long a claimed case "
                                       "stays with its reviewer without activity")
    console_session_hours: float = Field(default=8.0, gt=0,
                                         description="how long a console login lasts")
    console_secure_cookies: bool = Field(default=False, description="mark session cookies "
                                         "Secure (set it when the console is behind HTTPS)")

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
    servicing_group: str = Field(default="loanrisk-servicing",
                                 description="Kafka consumer group of the servicing workers")
    servicing_policy_file: Path | None = Field(
        default=None, description="servicing policy file (account actions, treatments); "
        "empty = decisions/servicing/default.yaml")
    quote_policy_file: Path | None = Field(
        default=None, description="quote policy file (validity, quote-velocity limits); "
        "empty = decisions/quotes/default.yaml")
    worker_batch_window_ms: float = Field(
        default=2.0, description="how long a worker waits to fill a batch (adds to latency)")
    worker_batch_linger_ms: float = Field(
        default=1.0, description="kafka engine: after a batch's first message, how long it "
        "waits for more (bounded: at most this much latency, fewer batches under light load)")
    worker_overlap: bool = Field(
        default=True, description="kafka engine, at-least-once: send the next batch's Redis "
        "round trip while this one is decided (gains where a core is free; costs worker CPU "
        "on a saturated machine: docs/performance.md)")
    session_batch_max: int = 500
    session_batch_window_ms: float = 5.0
    rules_file: Path | None = Field(
        default=None, description="rules YAML; empty = the packaged decisions/rules/default.yaml")
    policy_file: Path | None = Field(
        default=None, description="policy YAML; empty = the packaged decisions/policy/default.yaml")
    cells_file: Path | None = Field(
        default=None, description="test cells YAML; empty = the packaged "
        "decisions/cells/default.yaml (exploration off, no strategy cells)")
    alert_lookback_days: int = Field(
        default=30, ge=1, le=30, description="look-back alerts on a confirmed fraud cover "
        "linked applications made this many days before the confirmation (graph state and "
        "the decision memo keep 30)")
    reload_interval_s: float = Field(
        default=2.0, description="how often workers look for new rules and promoted models")
    metrics_interval_s: float = Field(default=5.0,
                                      description="how often each worker emits metrics")
    metrics_port: int = Field(
        default=0, ge=-1, le=65535, description="port of a worker's or the sink's /metrics, "
        "/healthz and /readyz; 0 = any free port (written to state_dir/telemetry/), -1 = off")
    metrics_host: str = Field(default="127.0.0.1", description="address the metrics endpoint "
                              "binds (0.0.0.0 in a container)")
    log_json: bool = Field(default=False, description="workers and the sink log one JSON "
                           "object per line")
    anomaly_checkpoint_interval_s: float = 60.0
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        default="at_least_once",
        description="at_least_once (default) or exactly_once (Kafka transactions)")
    redis_prefix: str = Field(default="lr", description="namespace of every Redis key")
    redis_cluster: bool = Field(
        default=False, description="LOANRISK_REDIS_URL names a node of a Redis Cluster: the "
        "client follows the cluster, and every key carries the hash tag {prefix}, so each "
        "script call's keys share one slot (docs/topology.md)")

    # --- wire format ---------------------------------------------------------------
    accept_legacy_fingerprint: bool = Field(
        default=True, description="also read the pre-2026-12 byte-reversed schema fingerprint "
        "(transition window until 2027-03-31; false refuses such messages as dead letters)")

    wire_format: Literal["single-object", "confluent"] = Field(
        default="single-object", description="how this process frames the Avro it writes: "
        "single-object (C3 01 + fingerprint, no registry) or confluent (00 + Schema "
        "Registry id; needs schema_registry_url); both are always read")
    schema_registry_url: str = Field(
        default="", description="Confluent-compatible Schema Registry, e.g. "
        "http://registry:8081 or Apicurio's http://host:8080/apis/ccompat/v7; empty = none")
    schema_registry_auth: SecretStr = Field(
        default=SecretStr(""), description="USER:PASSWORD for the registry (basic auth)")

    # --- sink and queries --------------------------------------------------------
    dead_letter_payload_days: int = Field(
        default=30, ge=0, description="days the sink keeps a dead letter's original bytes in "
        "ClickHouse (they may hold personal data in clear); 0 = keep them")
    clickhouse_http_host: str = Field(
        default="127.0.0.1", description="where the sink serves ClickHouse's HTTP interface "
        "for the embedded store (a non-loopback address needs clickhouse_http_password)")
    clickhouse_http_port: int = Field(
        default=18123, ge=0, description="port of that interface (another process holding "
        "it: a free port, named in the sink's log and `loanrisk services status`); 0 = any")
    clickhouse_http_user: str = Field(default="default", description="the user clients of "
                                      "that interface name (basic auth or X-ClickHouse-User)")
    clickhouse_http_password: SecretStr = Field(
        default=SecretStr(""), description="its password; empty = none, as ClickHouse's "
        "default user (then the interface only listens on loopback)")
    clickhouse_query_settings: str = Field(
        default="os_thread_priority=10", description="settings every query over that "
        "interface starts with, comma-separated name=value (the default lowers analysts' "
        "threads below ingestion's, so a long scan never slows the sink's inserts)")

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def kafka(self) -> KafkaConnection:
        """How every Kafka client of this process connects (``streams.kafka``)."""
        from streams.kafka import KafkaConnection, KafkaSecurity

        security = KafkaSecurity(
            self.kafka_security_protocol, self.kafka_sasl_mechanism, self.kafka_sasl_username,
            self.kafka_sasl_password, self.kafka_ssl_ca_file, self.kafka_ssl_cert_file,
            self.kafka_ssl_key_file, self.kafka_ssl_key_password, self.kafka_ssl_check_hostname)
        return KafkaConnection(self.bootstrap_servers, security,
                               kafka_options(self.kafka_options.get_secret_value()))

    @property
    def identifier_hash_key(self) -> bytes:
        """The HMAC key of personal identifiers, as the feature engine takes it."""
        return self.hash_key.get_secret_value().encode()

    @property
    def pii_seal_key(self) -> str:
        """The key sealing applicants' personal fields (``sinks.pii.Sealer``)."""
        return self.pii_key.get_secret_value()

    @property
    def dev_keys(self) -> list[str]:
        """The secret keys still at their development defaults (named in a warning)."""
        return [name for name, value, dev in (
            ("LOANRISK_HASH_KEY", self.hash_key, DEV_HASH_KEY),
            ("LOANRISK_PII_KEY", self.pii_key, DEV_PII_KEY)) if value.get_secret_value() == dev]

    @property
    def redis_key_prefix(self) -> str:
        """The prefix of every key: in a cluster, a hash tag (``{lr}``), one slot for all."""
        return f"{{{self.redis_prefix}}}" if self.redis_cluster else self.redis_prefix

    @property
    def redis_dsn(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def clickhouse(self) -> str:
        return self.clickhouse_dsn or f"chdb:///{self.state_dir.resolve() / 'clickhouse'}"

    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"


def kafka_options(text: str) -> dict[str, Any]:
    """``LOANRISK_KAFKA_OPTIONS``: a JSON object of librdkafka properties."""
    import json

    from streams.kafka_security import KafkaSecurityError

    try:
        options = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise KafkaSecurityError(f"LOANRISK_KAFKA_OPTIONS is not JSON ({exc}); give an object "
                                 'such as {"socket.keepalive.enable": true}') from None
    if not isinstance(options, dict):
        raise KafkaSecurityError("LOANRISK_KAFKA_OPTIONS must be a JSON object of librdkafka "
                                 "properties")
    return options


def load_settings() -> Settings:
    """The settings of this process; also applies the process-wide wire-format choice
    (legacy fingerprints; with a Schema Registry, its framing: ``streams.registry``)."""
    from schemas.codec import accept_legacy_fingerprints

    settings = Settings()
    accept_legacy_fingerprints(settings.accept_legacy_fingerprint)
    if settings.schema_registry_url or settings.wire_format != "single-object":
        from streams.registry import configure_wire_format

        configure_wire_format(settings)
    return settings
