"""Lists on the real compacted Kafka topic: publish, rebuild, remove, hash national ids."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from decisions.lists import list_key, make_update
from streams.control.lists import publish, read_lists

pytestmark = pytest.mark.integration


def test_publish_then_rebuild_converges(kafka_bootstrap: str) -> None:
    tag = uuid.uuid4().hex[:8]
    dev, email = f"dev-{tag}", f"{tag}@example.com"
    publish(kafka_bootstrap, [
        make_update("BLOCK", "DEVICE_ID", dev, reason="ring", author="t", event_time=1),
        make_update("ALLOW", "EMAIL", email, reason="vip", author="t", event_time=1),
        make_update("BLOCK", "IP_RANGE", "198.51.100.0/24", reason="dc", author="t",
                    event_time=1),
    ])
    a = read_lists(kafka_bootstrap)
    b = read_lists(kafka_bootstrap)  # a second worker (or a restart) sees the same lists
    assert [e.key for e in a.entries()] == [e.key for e in b.entries()]
    app = {"device_id": dev, "email": email, "ip": "198.51.100.7"}
    labels = {h.label for h in a.check(app, {}, now_ms=2)}
    assert {"BLOCK:DEVICE_ID", "ALLOW:EMAIL", "BLOCK:IP_RANGE:198.51.100.0/24"} <= labels

    publish(kafka_bootstrap,
            [make_update("BLOCK", "DEVICE_ID", dev, action="REMOVE", event_time=3)],
            tombstones=[list_key("ALLOW", "EMAIL", email)])
    c = read_lists(kafka_bootstrap)
    labels = {h.label for h in c.check(app, {}, now_ms=4)}
    assert "BLOCK:DEVICE_ID" not in labels and "ALLOW:EMAIL" not in labels


def test_cli_add_hashes_national_id(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from confluent_kafka import TopicPartition

    from features.identity import hash_identifier
    from streams import kafka
    from streams.cli import app

    clear = f"QQ{uuid.uuid4().int % 10**6:06d}C"
    monkeypatch.setenv("LOANRISK_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("LOANRISK_HASH_KEY", "test-key")
    result = CliRunner().invoke(app, ["lists", "add", "BLOCK", "--national-id", clear,
                                      "--reason", "confirmed fraud", "--expires", "30d"])
    assert result.exit_code == 0, result.output
    assert clear not in result.output

    expected = hash_identifier(b"test-key", "id", clear)
    index = read_lists(kafka_bootstrap)
    hits = index.check({}, {"NATIONAL_ID_HASH": expected}, now_ms=0)
    assert [h.label for h in hits] == [f"BLOCK:NATIONAL_ID_HASH:{expected}"]

    # the clear value appears nowhere on the topic, in keys or values
    consumer = kafka.consumer(kafka_bootstrap, uuid.uuid4().hex,
                              {"auto.offset.reset": "earliest", "enable.auto.commit": False})
    _, high = consumer.get_watermark_offsets(TopicPartition("risk.lists.v1", 0), timeout=10)
    consumer.assign([TopicPartition("risk.lists.v1", 0, 0)])
    seen = 0
    while seen < high:
        msg = consumer.poll(5)
        assert msg is not None, "timed out reading the lists topic"
        seen = msg.offset() + 1
        assert clear.encode() not in (msg.key() or b"") + (msg.value() or b"")
    consumer.close()


def test_cli_show_and_bad_input(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.cli import app

    monkeypatch.setenv("LOANRISK_KAFKA_BOOTSTRAP", kafka_bootstrap)
    runner = CliRunner()
    bad = runner.invoke(app, ["lists", "add", "BLOCK", "--ip-range", "300.1.0.0/16",
                              "--reason", "x"])
    assert bad.exit_code == 1 and "invalid IP range" in bad.output
    tag = uuid.uuid4().hex[:8]
    ok = runner.invoke(app, ["lists", "add", "ALLOW", "--device-id", f"d-{tag}", "--reason", "qa"])
    assert ok.exit_code == 0, ok.output
    shown = runner.invoke(app, ["lists", "show"])
    assert shown.exit_code == 0 and f"d-{tag}" in shown.output


def test_cli_publishes_phone_block_as_a_hash_that_workers_match(kafka_bootstrap: str) -> None:
    import os
    import subprocess
    import sys
    import uuid

    from features.identity import hash_identifier
    from streams.control.follower import ListsFollower

    phone = f"+44 7700 {uuid.uuid4().int % 1_000_000:06d}"
    env = {**os.environ, "LOANRISK_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "LOANRISK_HASH_KEY": "cli-test-key"}
    out = subprocess.run([sys.executable, "-m", "streams.cli", "lists", "add", "BLOCK",
                          "--phone", phone, "--reason", "mule", "--author", "t"],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "PHONE_HASH" in out.stdout and phone not in out.stdout

    from decisions.lists import ListIndex

    index = ListIndex()
    follower = ListsFollower(kafka_bootstrap, index)
    follower.catch_up()
    follower.close()
    assert all(phone.replace(" ", "") not in e.value for e in index.entries())  # no clear phone
    app = {"phone": phone.replace(" ", ""), "email": "x@y.z", "device_id": "d", "ip": "1.1.1.1"}
    hits = index.check(app, {"PHONE_HASH": hash_identifier(b"cli-test-key", "phone",
                                                           app["phone"])}, now_ms=0)
    assert [h.list_type for h in hits] == ["BLOCK"]
