"""Secret settings (Kafka security, identifier and PII keys): what each client gets, what
is refused, what is masked."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.kafka_security import KafkaSecurity, KafkaSecurityError, explain_failure
from streams.ops.stack import settings_env
from streams.settings import Settings

SECRET = "s3cr3t-never-shown"


def _secured(tmp_path: Path, **extra: object) -> Settings:
    ca = tmp_path / "ca.pem"
    ca.write_text("placeholder: only its existence is checked here")
    return Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="app",
                    kafka_sasl_password=SECRET, kafka_ssl_ca_file=ca, **extra)


def test_librdkafka_gets_the_settings_and_nothing_prints_the_secret(tmp_path: Path) -> None:
    settings = _secured(tmp_path, kafka_options='{"socket.keepalive.enable": true, '
                        f'"sasl.oauthbearer.client.secret": "{SECRET}"}}')
    conf = settings.kafka.client_config()
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (conf["sasl.username"], conf["sasl.password"]) == ("app", SECRET)
    assert conf["ssl.ca.location"] == str(tmp_path / "ca.pem")
    assert conf["ssl.endpoint.identification.algorithm"] == "https"
    assert conf["socket.keepalive.enable"] is True  # further librdkafka options pass through
    for shown in (repr(settings), str(settings), settings.model_dump_json(),
                  repr(settings.kafka), str(settings.kafka)):
        assert SECRET not in shown
    # a child process started by the stack gets the secret itself, not its mask
    env = settings_env(settings)
    assert env["LOANRISK_KAFKA_SASL_PASSWORD"] == SECRET
    assert Settings(_env_file=None, **{k.removeprefix("LOANRISK_").lower(): v
                                       for k, v in env.items()}).kafka == settings.kafka


def test_settings_come_from_the_environment(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOANRISK_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("LOANRISK_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("LOANRISK_KAFKA_SASL_USERNAME", "u")
    monkeypatch.setenv("LOANRISK_KAFKA_SASL_PASSWORD", SECRET)
    monkeypatch.setenv("LOANRISK_KAFKA_OPTIONS", '{"client.rack": "eu-1a"}')
    conf = Settings().kafka.client_config()
    assert conf["sasl.mechanism"] == "PLAIN" and conf["client.rack"] == "eu-1a"
    assert "ssl.ca.location" not in conf


@pytest.mark.parametrize(("fields", "named"), [
    ({"protocol": "SASL_SSL"}, "LOANRISK_KAFKA_SASL_PASSWORD"),
    ({"protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": SecretStr("p"),
      "sasl_mechanism": "GSSAPI"}, "LOANRISK_KAFKA_SASL_MECHANISM"),
    ({"protocol": "TLS"}, "LOANRISK_KAFKA_SECURITY_PROTOCOL"),
    ({"protocol": "SSL", "ssl_ca_file": Path("/nonexistent/ca.pem")},
     "LOANRISK_KAFKA_SSL_CA_FILE"),
    ({"protocol": "PLAINTEXT", "ssl_ca_file": Path("/etc/hostname")},
     "LOANRISK_KAFKA_SECURITY_PROTOCOL"),
    ({"protocol": "SSL", "ssl_cert_file": Path("/etc/hostname")},
     "LOANRISK_KAFKA_SSL_KEY_FILE"),
])
def test_incomplete_settings_are_refused_naming_the_setting(fields: dict, named: str) -> None:
    with pytest.raises(KafkaSecurityError, match=named):
        KafkaSecurity(**fields)


def test_options_that_are_not_a_json_object_are_refused() -> None:
    for bad in ("socket.keepalive.enable=true", "[1]"):
        with pytest.raises(KafkaSecurityError, match="LOANRISK_KAFKA_OPTIONS"):
            _ = Settings(kafka_options=bad).kafka


def test_faust_gets_the_same_trust_and_credentials(tmp_path: Path) -> None:
    import faust

    # a real CA file: Python's ssl parses it
    from infra.tls import make_ca

    ca = make_ca(tmp_path)
    security = KafkaSecurity("SASL_SSL", "SCRAM-SHA-256", "app", SecretStr(SECRET), ca)
    creds = security.faust_credentials()
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.mechanism.value == "SCRAM-SHA-256" and creds.password == SECRET
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    assert creds.ssl_context.verify_mode == ssl.CERT_REQUIRED and creds.ssl_context.check_hostname
    assert creds.protocol.value == "SASL_SSL"
    assert SECRET not in repr(creds)
    assert KafkaSecurity().faust_credentials() is None


# librdkafka's own messages, as the integration test sees them from the real broker
AUTH = ('KafkaError{code=_AUTHENTICATION,val=-169,str="sasl_ssl://127.0.0.1:45692/bootstrap: '
        "SASL authentication error: Authentication failed during authentication due to invalid "
        'credentials with SASL mechanism SCRAM-SHA-512 (after 397ms in state AUTH_REQ)"}')
UNTRUSTED = ('KafkaError{code=_TRANSPORT,val=-195,str="sasl_ssl://127.0.0.1:45692/bootstrap: '
             'error:0A000086:SSL routines::certificate verify failed (after 17ms in state '
             'SSL_HANDSHAKE)"}')
NO_CLIENT_CERT = ('KafkaError{code=_TRANSPORT,val=-195,str="ssl://127.0.0.1:45694/bootstrap: '
                  "Receive failed: error:0A000412:SSL routines::ssl/tls alert bad certificate: "
                  'SSL alert number 42 (after 1ms in state APIVERSION_QUERY)"}')
DOWN = 'KafkaError{code=_TRANSPORT,val=-195,str="Connect to ipv4#127.0.0.1:1 failed: refused"}'


def test_failures_are_explained_by_the_setting_to_fix() -> None:
    sasl = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "app", SecretStr(SECRET))
    assert "LOANRISK_KAFKA_SASL_PASSWORD" in (explain_failure(sasl, [AUTH]) or "")
    assert "LOANRISK_KAFKA_SSL_CA_FILE" in (explain_failure(sasl, [UNTRUSTED]) or "")
    ssl_only = KafkaSecurity("SSL")
    assert "LOANRISK_KAFKA_SSL_CERT_FILE" in (explain_failure(ssl_only, [NO_CLIENT_CERT]) or "")
    assert explain_failure(sasl, [DOWN, DOWN]) is None  # a broker that is down is not ours


def test_identifier_and_pii_keys_are_secrets_never_shown() -> None:
    settings = Settings(_env_file=None, hash_key="hmac-" + SECRET, pii_key="seal-" + SECRET)
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert SECRET not in shown
    assert settings.identifier_hash_key == f"hmac-{SECRET}".encode()
    assert settings.pii_seal_key == f"seal-{SECRET}"
    assert settings.dev_keys == []
    env = settings_env(settings)  # a worker started by the stack hashes with the same key
    assert (env["LOANRISK_HASH_KEY"], env["LOANRISK_PII_KEY"]) == (f"hmac-{SECRET}",
                                                                    f"seal-{SECRET}")


def test_development_keys_are_named() -> None:
    assert Settings(_env_file=None).dev_keys == ["LOANRISK_HASH_KEY", "LOANRISK_PII_KEY"]
    assert Settings(_env_file=None, hash_key="mine").dev_keys == ["LOANRISK_PII_KEY"]
