"""A SASL_SSL Kafka broker for the security tests: started by the project's infra code with
certificates made at test time (``infra/tls.py``), SCRAM users created through the admin API.

Listeners: SASL_SSL (SCRAM-SHA-256/512, PLAIN) and SSL with a required client certificate
(mutual TLS); there is no plaintext listener, so every client of the tests must connect
with the security settings the product reads from ``LOANRISK_KAFKA_*``.
"""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass, replace
from typing import Any

from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion
from pydantic import SecretStr

from infra.kafka import KafkaNode, SecureListeners
from infra.tls import Pki, make_pki
from streams import kafka
from streams.kafka import KafkaConnection
from streams.settings import Settings
from tests.harness import PORT_OFFSET, ROOT, wait_until

SECURE_STATE = ROOT / ".loanrisk" / "test-secure"
SECURE_KAFKA_PORT = 39692 + PORT_OFFSET
SECURE_CONTROLLER_PORT = 39693 + PORT_OFFSET
SECURE_MTLS_PORT = 39694 + PORT_OFFSET

APP_USER = "loanrisk-app"  # SCRAM-SHA-512, what the pipeline's processes use
USER_256 = "loanrisk-256"
PLAIN_USER = "loanrisk-plain"


@dataclass(frozen=True)
class SecureKafka:
    node: KafkaNode
    pki: Pki
    passwords: dict[str, str]

    @property
    def bootstrap(self) -> str:
        return self.node.bootstrap

    @property
    def mtls_bootstrap(self) -> str:
        return f"127.0.0.1:{SECURE_MTLS_PORT}"

    def settings(self, **overrides: Any) -> Settings:
        """Settings of a process that connects as APP_USER over SASL_SSL (SCRAM-SHA-512)."""
        values: dict[str, Any] = {
            "kafka_bootstrap": self.bootstrap, "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": APP_USER,
            "kafka_sasl_password": self.passwords[APP_USER],
            "kafka_ssl_ca_file": self.pki.ca_file, "hash_key": "test",
        }
        return Settings(**{**values, **overrides})

    def admin_settings(self) -> Settings:
        return self.settings(kafka_sasl_username="admin",
                             kafka_sasl_password=self.passwords["admin"])


def start_secure_kafka() -> SecureKafka:
    """A fresh secured broker (data wiped; the jars are kept) with the project's topics."""
    shutil.rmtree(SECURE_STATE / "pki", ignore_errors=True)
    pki = make_pki(SECURE_STATE / "pki")
    passwords = {name: secrets.token_urlsafe(12)
                 for name in ("admin", APP_USER, USER_256, PLAIN_USER)}
    listeners = SecureListeners(pki, SECURE_MTLS_PORT, passwords["admin"],
                                ((PLAIN_USER, passwords[PLAIN_USER]),))
    node = KafkaNode(SECURE_STATE, SECURE_KAFKA_PORT, SECURE_CONTROLLER_PORT, heap="384m",
                     secure=listeners)
    node.wipe()
    _reuse_jars(node)
    t0 = time.monotonic()
    node.start()
    print(f"secure kafka up in {time.monotonic() - t0:.1f}s")
    secure = SecureKafka(node, pki, passwords)
    admin_conn = secure.admin_settings().kafka
    kafka.ensure_topics(admin_conn)
    create_scram_users(admin_conn, {APP_USER: (ScramMechanism.SCRAM_SHA_512, passwords[APP_USER]),
                                    USER_256: (ScramMechanism.SCRAM_SHA_256, passwords[USER_256])})
    return secure


def create_scram_users(conn: kafka.KafkaConnection,
                       users: dict[str, tuple[ScramMechanism, str]]) -> None:
    """SCRAM credentials through the admin API (KIP-554), as an operator's tooling would."""
    client = kafka.admin(conn)  # kept alive until the futures resolve
    futures = client.alter_user_scram_credentials([
        UserScramCredentialUpsertion(name, ScramCredentialInfo(mechanism, 4096),
                                     password.encode())
        for name, (mechanism, password) in users.items()])
    for fut in futures.values():
        fut.result()
    for name, (mechanism, password) in users.items():  # the broker applies them shortly after
        user = KafkaConnection(conn.bootstrap, replace(
            conn.security, sasl_username=name, sasl_password=SecretStr(password),
            sasl_mechanism=mechanism.name.replace("_", "-")))
        wait_until(lambda u=user: _accepted(u), 30, f"SCRAM user {name} to be accepted",
                   every_s=0.2)


def _accepted(conn: kafka.KafkaConnection) -> bool:
    try:
        return kafka.verify(conn, timeout_s=2.0)
    except kafka.KafkaSecurityError:
        return False


def _reuse_jars(node: KafkaNode) -> None:
    """Copy the session broker's jars when they are there (Maven would copy them again)."""
    source = ROOT / ".loanrisk" / "test" / "kafka" / "libs"
    if not node.libs.exists() and any(source.glob(".complete-*")):
        shutil.copytree(source, node.libs)
