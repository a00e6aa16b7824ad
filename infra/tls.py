"""A private certificate authority for a local TLS broker, made with openssl and keytool.

``make_pki`` writes a CA, a broker certificate for 127.0.0.1/localhost signed by it (as
a PKCS#12 keystore, what the Kafka broker reads) and a client certificate and key for
mutual TLS (PEM, what librdkafka and Python's ssl read). The tests make a fresh one per
session; an operator can use it to try a secured local broker. Nothing here is for
production, where certificates come from the estate's own CA.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.process import ServiceError

DAYS = "30"
# P-256 keys: as good as RSA-2048 for a test and generated in milliseconds, not seconds
NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass(frozen=True)
class Pki:
    root: Path
    store_password: str  # of the broker's keystore and truststore (local, throwaway)

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    @property
    def broker_keystore(self) -> Path:
        return self.root / "broker.p12"

    @property
    def truststore(self) -> Path:
        return self.root / "truststore.p12"

    @property
    def client_cert(self) -> Path:
        return self.root / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.root / "client.key"


def _run(*cmd: str, cwd: Path) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceError(f"{' '.join(cmd[:3])} failed: {result.stderr[-1500:]}")


def make_ca(root: Path, name: str = "ca") -> Path:
    """A self-signed CA: ``<name>.pem`` and ``<name>.key`` under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    _run("openssl", "req", "-x509", *NEW_KEY, "-days", DAYS,
         "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN=loanrisk-test-{name}",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign",
         cwd=root)
    return root / f"{name}.pem"


def _signed(root: Path, name: str, subject: str, extensions: str) -> None:
    """``<name>.key`` and ``<name>.pem`` signed by the CA in ``root``."""
    (root / f"{name}.ext").write_text(extensions)
    _run("openssl", "req", *NEW_KEY, "-keyout", f"{name}.key",
         "-out", f"{name}.csr", "-subj", subject, cwd=root)
    _run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", DAYS, "-out", f"{name}.pem", "-extfile", f"{name}.ext",
         cwd=root)


def make_pki(root: Path) -> Pki:
    """CA, broker keystore and truststore (PKCS#12), client certificate and key (PEM)."""
    pki = Pki(root, secrets.token_hex(12))
    make_ca(root)
    _signed(root, "broker", "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _signed(root, "client", "/CN=loanrisk-client", "extendedKeyUsage=clientAuth\n")
    _run("openssl", "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key",
         "-certfile", "ca.pem", "-name", "broker", "-out", pki.broker_keystore.name,
         "-passout", f"pass:{pki.store_password}", cwd=root)
    _run("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem",
         "-storetype", "PKCS12", "-keystore", pki.truststore.name,
         "-storepass", pki.store_password, cwd=root)
    return pki
