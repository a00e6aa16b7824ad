"""The Avro codec: round trips, bad bytes, schema evolution."""

from __future__ import annotations

import json

import pytest

from features.applicant import applicant_features
from schemas import AvroCodec, DecodeError, EncodeError, SchemaError, codec_for
from schemas.codec import MAGIC, SCHEMA_DIR, load_schema_file, schema_fingerprint
from schemas.topics import ALL_TOPICS
from tests import records


@pytest.mark.parametrize(
    ("schema", "record"),
    [
        ("loan_application", records.application()),
        ("device_event", records.device_event()),
        ("behaviour_event", records.behaviour_event()),
        ("behaviour_batch", records.behaviour_batch([records.behaviour_event()])),
        ("loan_performance", records.performance()),
        ("decision", records.decision()),
    ],
)
def test_round_trip_is_exact(schema: str, record: dict) -> None:
    codec = codec_for(schema)
    data = codec.encode(record)
    assert data[:2] == MAGIC
    assert codec.decode(data) == record


def test_every_topic_has_a_loadable_schema() -> None:
    for topic in ALL_TOPICS:
        assert codec_for(topic.schema).name


def test_codec_is_cached() -> None:
    assert codec_for("decision") is codec_for("decision")


def test_header_carries_the_writer_fingerprint() -> None:
    codec = codec_for("loan_application")
    data = codec.encode(records.application())
    assert int.from_bytes(data[2:10], "little") == codec.fingerprint


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (None, "missing C3 01"),
        (b"", "missing C3 01"),
        (b"{\"application_id\": \"x\"}", "missing C3 01"),
        (MAGIC + b"\x00" * 8 + b"\x02x", "unknown writer schema"),
    ],
)
def test_bad_bytes_raise_decode_error(data: bytes | None, needle: str) -> None:
    with pytest.raises(DecodeError, match=needle):
        codec_for("loan_application").decode(data)


def test_truncated_and_trailing_bytes_are_rejected() -> None:
    codec = codec_for("loan_application")
    data = codec.encode(records.application())
    with pytest.raises(DecodeError, match="corrupt"):
        codec.decode(data[:-20])
    with pytest.raises(DecodeError, match="trailing"):
        codec.decode(data + b"\x00")


def test_encode_rejects_records_that_do_not_match() -> None:
    with pytest.raises(EncodeError, match="LoanApplication"):
        codec_for("loan_application").encode(records.application(product="MORTGAGE"))


def test_unknown_schema_name_lists_known_ones() -> None:
    codec_for.cache_clear()
    with pytest.raises(SchemaError, match="decision"):
        codec_for("nope")


def test_reader_on_new_schema_reads_messages_of_the_previous_one(tmp_path) -> None:
    """Evolution: v2 adds a field with a default; a v2 reader reads v1 messages."""
    current = json.loads((SCHEMA_DIR / "loan_application.avsc").read_text())
    v1 = dict(current, fields=[f for f in current["fields"] if f["name"] != "customer_id"])
    (tmp_path / "v1.avsc").write_text(json.dumps(v1))
    old_schema = load_schema_file(tmp_path / "v1.avsc")
    old_writer = AvroCodec(old_schema)
    old_record = {k: v for k, v in records.application().items() if k != "customer_id"}
    data = old_writer.encode(old_record)

    new_reader = AvroCodec(load_schema_file(SCHEMA_DIR / "loan_application.avsc"), [old_schema])
    decoded = new_reader.decode(data)
    assert decoded["customer_id"] is None  # the new field's default
    assert decoded["application_id"] == "app-1"
    # and without knowing the old schema, the reader says what to do
    with pytest.raises(DecodeError, match="history"):
        AvroCodec(load_schema_file(SCHEMA_DIR / "loan_application.avsc")).decode(data)
    assert schema_fingerprint(old_schema) != new_reader.fingerprint


def test_applications_written_before_the_income_estimate_still_decode() -> None:
    """schemas/avro/history keeps v1 (no new_accounts_6m / income_estimate): a v1 message
    already on the topic decodes with the new fields null, and features treat them as missing."""
    v1 = load_schema_file(SCHEMA_DIR / "history" / "loan_application.1.avsc")
    old = records.application()
    old["bureau"] = {k: v for k, v in old["bureau"].items()
                     if k not in ("new_accounts_6m", "income_estimate")}
    decoded = codec_for("loan_application").decode(AvroCodec(v1).encode(old))
    assert decoded["bureau"]["income_estimate"] is None
    assert decoded["bureau"]["new_accounts_6m"] is None
    assert decoded["bureau"]["open_accounts"] == old["bureau"]["open_accounts"]
    f = applicant_features(decoded)
    assert f["app_income_to_estimate"] is None and f["bureau_open_accounts"] == 5.0


def test_behaviour_batch_inlines_exactly_the_behaviour_event_record() -> None:
    batch = json.loads((SCHEMA_DIR / "behaviour_batch.avsc").read_text())
    event = json.loads((SCHEMA_DIR / "behaviour_event.avsc").read_text())
    inlined = next(f for f in batch["fields"] if f["name"] == "events")["type"]["items"]
    assert inlined == event
    rec = records.behaviour_batch([records.behaviour_event(),
                                   records.behaviour_event(event_id="beh-2")])
    assert codec_for("behaviour_batch").decode(codec_for("behaviour_batch").encode(rec)) == rec


def test_the_readme_stand_alone_decoder_reads_our_messages() -> None:
    """README's consumer: plain fastavro with the .avsc file, skipping the 10-byte header."""
    import io

    import fastavro

    schema = fastavro.parse_schema(json.loads((SCHEMA_DIR / "decision.avsc").read_text()))
    rec = records.decision(reason_codes=[{"code": "R-1", "text": "t", "source": "RULE"}])
    data = codec_for("decision").encode(rec)
    assert fastavro.schemaless_reader(io.BytesIO(data[10:]), schema, None) == rec
