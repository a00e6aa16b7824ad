"""How a Kafka client proves who it is and checks who it talks to: one object for all.

``KafkaSecurity`` carries the security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT,
SASL_SSL), the SASL mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and credentials, the
CA file that the brokers' certificates must chain to, and a client certificate and key
for mutual TLS. ``streams.kafka.KafkaConnection`` turns it into librdkafka properties for
confluent-kafka clients and into Faust credentials (an ``ssl.SSLContext``) for aiokafka,
so both client libraries connect with the same settings. Passwords are pydantic
``SecretStr``: printed or logged they show as ``**********``; only the client
configuration handed to the library holds them in clear.

``explain_failure`` turns librdkafka's errors into a message that names the
``LOANRISK_KAFKA_*`` setting to fix.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from schemas.errors import LoanRiskError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
NO_SECRET = SecretStr("")


class KafkaSecurityError(LoanRiskError):
    """Kafka refused us (or we refused it) for a reason a setting can fix."""


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: SecretStr = NO_SECRET
    ssl_ca_file: Path | None = None
    ssl_cert_file: Path | None = None
    ssl_key_file: Path | None = None
    ssl_key_password: SecretStr = NO_SECRET
    ssl_check_hostname: bool = True

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise KafkaSecurityError("Kafka security settings: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        if self.protocol not in PROTOCOLS:
            return [f"LOANRISK_KAFKA_SECURITY_PROTOCOL={self.protocol!r} is not one of "
                    + ", ".join(PROTOCOLS)]
        out = []
        if self.uses_sasl:
            if self.sasl_mechanism not in MECHANISMS:
                out.append(f"LOANRISK_KAFKA_SASL_MECHANISM={self.sasl_mechanism!r} is not one "
                           "of " + ", ".join(MECHANISMS))
            if not self.sasl_username or not self.sasl_password.get_secret_value():
                out.append(f"{self.protocol} needs LOANRISK_KAFKA_SASL_USERNAME and "
                           "LOANRISK_KAFKA_SASL_PASSWORD")
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            out.append("mutual TLS needs both LOANRISK_KAFKA_SSL_CERT_FILE and "
                       "LOANRISK_KAFKA_SSL_KEY_FILE")
        for setting, path in (("CA_FILE", self.ssl_ca_file), ("CERT_FILE", self.ssl_cert_file),
                              ("KEY_FILE", self.ssl_key_file)):
            if path is not None and not self.uses_ssl:
                out.append(f"LOANRISK_KAFKA_SSL_{setting} is set but "
                           f"LOANRISK_KAFKA_SECURITY_PROTOCOL={self.protocol} does not use TLS "
                           "(use SSL or SASL_SSL)")
            elif path is not None and not Path(path).is_file():
                out.append(f"LOANRISK_KAFKA_SSL_{setting}={path} is not a readable file")
        return out

    @property
    def uses_ssl(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def secured(self) -> bool:
        return self.protocol != "PLAINTEXT"

    def librdkafka(self) -> dict[str, Any]:
        """The librdkafka properties (secrets in clear: only for the client itself)."""
        conf: dict[str, Any] = {"security.protocol": self.protocol}
        if self.uses_sasl:
            conf.update({"sasl.mechanism": self.sasl_mechanism,
                         "sasl.username": self.sasl_username,
                         "sasl.password": self.sasl_password.get_secret_value()})
        if self.uses_ssl:
            conf["ssl.endpoint.identification.algorithm"] = (
                "https" if self.ssl_check_hostname else "none")
            if self.ssl_ca_file is not None:
                conf["ssl.ca.location"] = str(self.ssl_ca_file)
            if self.ssl_cert_file is not None and self.ssl_key_file is not None:
                conf["ssl.certificate.location"] = str(self.ssl_cert_file)
                conf["ssl.key.location"] = str(self.ssl_key_file)
                if self.ssl_key_password.get_secret_value():
                    conf["ssl.key.password"] = self.ssl_key_password.get_secret_value()
        return conf

    def ssl_context(self) -> ssl.SSLContext:
        """The same trust and client certificate for Python's TLS (aiokafka)."""
        context = ssl.create_default_context(
            cafile=str(self.ssl_ca_file) if self.ssl_ca_file is not None else None)
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_cert_file is not None and self.ssl_key_file is not None:
            context.load_cert_chain(str(self.ssl_cert_file), str(self.ssl_key_file),
                                    self.ssl_key_password.get_secret_value() or None)
        return context

    def faust_credentials(self) -> Any:
        """Faust's credentials object for these settings (None for PLAINTEXT)."""
        import faust

        if not self.secured:
            return None
        context = self.ssl_context() if self.uses_ssl else None
        if not self.uses_sasl:
            return faust.SSLCredentials(context)
        return faust.SASLCredentials(username=self.sasl_username,
                                     password=self.sasl_password.get_secret_value(),
                                     ssl_context=context, mechanism=self.sasl_mechanism)


def explain_failure(security: KafkaSecurity, errors: list[str]) -> str | None:
    """What to fix, if librdkafka's error messages show a security failure; else None."""
    text = " | ".join(errors)
    low = text.lower()
    if "authentication" in low and ("sasl" in low or "credentials" in low):
        return (f"Kafka refused SASL {security.sasl_mechanism} authentication for user "
                f"{security.sasl_username!r} ({_first(errors, 'uthentication')}); check "
                "LOANRISK_KAFKA_SASL_USERNAME, LOANRISK_KAFKA_SASL_PASSWORD and "
                "LOANRISK_KAFKA_SASL_MECHANISM")
    if "certificate verify failed" in low or "unable to get local issuer" in low:
        where = (f"LOANRISK_KAFKA_SSL_CA_FILE={security.ssl_ca_file}"
                 if security.ssl_ca_file else "the system's CA store "
                 "(LOANRISK_KAFKA_SSL_CA_FILE is not set)")
        return (f"the broker's TLS certificate is not trusted by {where} "
                f"({_first(errors, 'verify')}); set LOANRISK_KAFKA_SSL_CA_FILE to the CA that "
                "signed the brokers' certificates")
    if ("hostname" in low and "mismatch" in low) or "ip address mismatch" in low:
        return (f"the broker's TLS certificate does not name the host we connected to "
                f"({_first(errors, 'mismatch')}); use the host name in its certificate in "
                "LOANRISK_KAFKA_BOOTSTRAP, or LOANRISK_KAFKA_SSL_CHECK_HOSTNAME=false")
    if security.uses_ssl and ("handshake" in low or "alert" in low):
        return (f"the TLS handshake with Kafka failed ({_first(errors, 'SSL')}); if the "
                "listener requires mutual TLS set LOANRISK_KAFKA_SSL_CERT_FILE and "
                "LOANRISK_KAFKA_SSL_KEY_FILE (a certificate its truststore accepts); check "
                "LOANRISK_KAFKA_SECURITY_PROTOCOL matches the listener")
    if "security.protocol" in low or low.count("closed by peer") >= 3:
        return (f"Kafka accepts the connection but closes it: the listener speaks another "
                f"protocol than LOANRISK_KAFKA_SECURITY_PROTOCOL={security.protocol} "
                f"({_first(errors, 'closed')}); use the listener's (SSL, SASL_SSL, ...)")
    return None


def _first(errors: list[str], needle: str) -> str:
    return next((e for e in errors if needle.lower() in e.lower()), errors[0] if errors else "")
