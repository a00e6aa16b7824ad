"""Our single-object encoding against independent references, not against our own codec:

* the CRC-64-AVRO fingerprint recomputed with the specification's reference algorithm
  (transcribed from the Avro spec, "Schema Fingerprints"), written little-endian;
* Apache Avro's Java library (``BinaryMessageDecoder``/``BinaryMessageEncoder`` from Maven
  Central, ``infra/avro/pom.xml``): it must decode every message we write, reject the old
  byte-reversed header, and write messages our codec decodes to the same record.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from schemas import codec
from schemas.codec import SCHEMA_DIR, codec_for, load_schema_file
from schemas.errors import DecodeError
from tests import records

ROOT = Path(__file__).resolve().parents[2]
AVRO_LIBS = ROOT / ".loanrisk" / "test" / "avro-libs"

EMPTY = 0xC15D213AA4D7A795  # the spec's CRC-64-AVRO seed


def _reference_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return table


TABLE = _reference_table()


def reference_fingerprint(canonical: bytes) -> int:
    fp = EMPTY
    for byte in canonical:
        fp = (fp >> 8) ^ TABLE[(fp ^ byte) & 0xFF]
    return fp


SAMPLES = {
    "loan_application": records.application(),
    "device_event": records.device_event(),
    "behaviour_batch": records.behaviour_batch([records.behaviour_event()]),
    "loan_performance": records.performance(),
    "decision": records.decision(),
}


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.avsc")), ids=lambda p: p.stem)
def test_header_is_marker_then_little_endian_reference_fingerprint(path: Path) -> None:
    from fastavro.schema import to_parsing_canonical_form

    c = codec_for(path.stem)
    canonical = to_parsing_canonical_form(load_schema_file(path)).encode()
    expected = struct.pack("<Q", reference_fingerprint(canonical))
    assert c.fingerprint == reference_fingerprint(canonical)
    if path.stem in SAMPLES:
        assert c.encode(SAMPLES[path.stem])[:10] == b"\xc3\x01" + expected


def test_old_byte_reversed_header_is_read_during_the_transition_and_refused_after() -> None:
    c = codec_for("loan_application")
    message = c.encode(records.application())
    legacy = message[:2] + message[2:10][::-1] + message[10:]
    assert c.decode(legacy) == c.decode(message)
    codec.accept_legacy_fingerprints(False)
    try:
        with pytest.raises(DecodeError, match="unknown writer schema fingerprint"):
            c.decode(legacy)
        assert c.decode(message)["application_id"] == "app-1"
    finally:
        codec.accept_legacy_fingerprints(True)


def _avro_java_libs() -> Path:
    if not (shutil.which("java") and shutil.which("mvn")):
        pytest.skip("needs java and mvn (Java 17+, Maven) for Apache Avro's Java library")
    if not list(AVRO_LIBS.glob("avro-*.jar")):
        AVRO_LIBS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mvn", "-q", "-f", str(ROOT / "infra" / "avro" / "pom.xml"),
                        "dependency:copy-dependencies", f"-DoutputDirectory={AVRO_LIBS}"],
                       check=True, timeout=600)
    return AVRO_LIBS


def _java_round_trip(schema_name: str, messages: list[bytes]) -> list[tuple[str, str]]:
    libs = _avro_java_libs()
    out = subprocess.run(
        ["java", "-cp", f"{libs}/*", str(ROOT / "tests" / "interop" / "AvroSingleObject.java"),
         str(SCHEMA_DIR / f"{schema_name}.avsc")],
        input="".join(m.hex() + "\n" for m in messages), capture_output=True, text=True,
        check=True, timeout=300)
    lines = out.stdout.splitlines()
    return list(zip(lines[0::2], lines[1::2], strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("schema_name", sorted(SAMPLES))
def test_apache_avro_java_reads_what_we_write_and_we_read_what_it_writes(
        schema_name: str) -> None:
    c = codec_for(schema_name)
    ours = c.encode(SAMPLES[schema_name])
    legacy = ours[:2] + ours[2:10][::-1] + ours[10:]
    (java_json, java_hex), (legacy_json, _) = _java_round_trip(schema_name, [ours, legacy])
    assert not java_json.startswith("ERROR"), java_json
    decoded = c.decode(ours)
    as_java = json.loads(java_json)
    for field in ("event_time", "application_id", "session_id", "event_id"):
        if field in decoded:
            assert as_java[field] == decoded[field]
    assert c.decode(bytes.fromhex(java_hex)) == decoded  # Java's messages decode with ours
    assert legacy_json.startswith("ERROR MissingSchemaException")  # why we changed
