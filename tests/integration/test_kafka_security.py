"""Every Kafka client works over SASL_SSL with the product's own security settings, and a
wrong password or an untrusted certificate stops a client at once, naming the setting.

The broker (``tests/secure_kafka.py``) has no plaintext listener: the worker (both
engines), the sink, the simulator, the lists and the releases below can only reach it
with the ``LOANRISK_KAFKA_*`` security settings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from decisions.lists import make_update
from decisions.rules import DEFAULT_RULES_PATH
from schemas import codec_for
from schemas.topics import DECISIONS
from simulator.config import SimConfig
from simulator.live import LiveGenerator
from streams import kafka
from streams.control.lists import publish, read_lists
from streams.control.releases import publish_release, release_record
from streams.kafka_security import KafkaSecurityError
from streams.ops.live_traffic import run_live
from streams.ops.stack import LocalStack, settings_env
from streams.sink.writer import ClickHouseSink, clickhouse_insert
from streams.worker.kafka_loop import KafkaWorker
from tests.harness import consume_until, wait_until
from tests.secure_kafka import PLAIN_USER, USER_256, SecureKafka

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _decisions_by(conn: kafka.KafkaConnection, workers: set[str], n: int) -> dict[str, set[str]]:
    """Application ids decided by each of ``workers``, once each has decided ``n``."""
    codec = codec_for(DECISIONS.schema)
    seen: dict[str, set[str]] = {w: set() for w in workers}
    read = [0]  # messages of the growing list already looked at

    def enough(msgs: list[Any]) -> bool:
        for m in msgs[read[0]:]:
            d = codec.decode(m.value())
            if d["worker"] in seen:
                seen[d["worker"]].add(d["application_id"])
        read[0] = len(msgs)
        return all(len(ids) >= n for ids in seen.values())

    consume_until(conn, [DECISIONS.name], enough, timeout_s=150)
    return seen


def test_pipeline_runs_over_sasl_ssl(secure_kafka: SecureKafka, redis_url: str,
                                     clickhouse_client: Any, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    settings = secure_kafka.settings(state_dir=tmp_path, redis_url=redis_url,
                                     worker_group=f"secure-{run}", worker_id=f"kafka-{run}",
                                     redis_prefix=f"sec{run}", metrics_interval_s=1.0)
    conn = settings.kafka
    # the Faust engine (aiokafka) as an operator runs it, in its own group and Redis space
    faust_id = f"faust-{run}"
    stack = LocalStack(settings)
    faust = stack.spawn("faust-worker", "worker", "--engine", "faust", "--loglevel", "info",
                        LOANRISK_WORKER_GROUP=f"secure-faust-{run}", LOANRISK_WORKER_ID=faust_id,
                        LOANRISK_REDIS_PREFIX=f"secf{run}")
    try:
        # the simulator's first chunk pays a one-off set-up (seconds on a busy machine) that
        # would eat the whole publishing window: pay it while the Faust worker starts
        LiveGenerator(SimConfig(), 0, 0, 40).next_wire_chunk()
        # lists and releases: published and read back over SASL_SSL
        device = f"dev-{run}"
        publish(conn, [make_update("BLOCK", "DEVICE_ID", device, reason="t", author="t",
                                   event_time=1)])
        assert {e.key for e in read_lists(conn).entries()} >= {f"BLOCK:DEVICE_ID:{device}"}
        rules = DEFAULT_RULES_PATH.read_text().replace("version:", f"version: sec-{run} #", 1)
        publish_release(conn, release_record("RULES", run, rules, "test"))

        worker = KafkaWorker(settings)
        stop = threading.Event()
        threads = [threading.Thread(target=worker.run, args=(stop,), daemon=True)]
        sink = ClickHouseSink(conn, clickhouse_insert(clickhouse_client), group=f"sink-{run}",
                              max_age_s=0.2)
        threads.append(threading.Thread(target=sink.run, args=(stop,), daemon=True))
        for t in threads:
            t.start()
        stats = run_live(conn, SimConfig(), seed=int(run, 16) % 10_000, rate=20, duration=1.5,
                         decisions=False)
        # 30 arrivals, some of them quote requests instead of applications (the simulator's mix)
        assert stats.applications >= 10 and stats.applications + stats.quotes >= 20
        assert stats.errors == []

        decided = _decisions_by(conn, {f"kafka-{run}", faust_id}, stats.applications)
        assert len(decided[faust_id]) == stats.applications  # both engines decided them all
        assert decided[f"kafka-{run}"] == decided[faust_id]
        assert worker.pipeline.decider.rules.current.version.startswith(f"sec-{run}")
        sql = f"SELECT uniqExact(application_id) FROM decisions WHERE worker = 'kafka-{run}'"
        wait_until(lambda: clickhouse_client.command(sql) >= stats.applications, 60,
                   "the sink to write the decisions made over SASL_SSL")
        stop.set()
        for t in threads:
            t.join(30)
        # the Faust worker's own /metrics (aiokafka engine): its decisions, counted
        found = json.loads((tmp_path / "telemetry" / f"worker-{faust_id}.json").read_text())
        base = f"http://127.0.0.1:{found['port']}"

        def faust_counted() -> bool:
            with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
                text = resp.read().decode()
            return sum(s.value for f in text_string_to_metric_families(text)
                       if f.name == "loanrisk_decisions" for s in f.samples
                       if s.name == "loanrisk_decisions_total") >= stats.applications

        wait_until(faust_counted, 30, "the Faust worker's /metrics to count its decisions")
        with urllib.request.urlopen(base + "/readyz", timeout=10) as resp:
            assert resp.status == 200
    finally:
        faust.stop()
    log = faust.log.read_text()
    assert secure_kafka.passwords["loanrisk-app"] not in log  # secrets never logged


def test_other_mechanisms_and_mutual_tls(secure_kafka: SecureKafka) -> None:
    pw = secure_kafka.passwords
    for user, mechanism in ((USER_256, "SCRAM-SHA-256"), (PLAIN_USER, "PLAIN")):
        conn = secure_kafka.settings(kafka_sasl_username=user, kafka_sasl_password=pw[user],
                                     kafka_sasl_mechanism=mechanism).kafka
        assert kafka.verify(conn), mechanism
    pki = secure_kafka.pki
    mtls = secure_kafka.settings(kafka_bootstrap=secure_kafka.mtls_bootstrap,
                                 kafka_security_protocol="SSL", kafka_ssl_cert_file=pki.client_cert,
                                 kafka_ssl_key_file=pki.client_key).kafka
    key = uuid.uuid4().bytes
    producer = kafka.producer(mtls)
    kafka.produce(producer, DECISIONS.name, b"not avro: a round trip only", key)
    assert producer.flush(20) == 0
    got = consume_until(mtls, [DECISIONS.name], lambda ms: any(m.key() == key for m in ms))
    assert any(m.key() == key for m in got)
    without_cert = secure_kafka.settings(kafka_bootstrap=secure_kafka.mtls_bootstrap,
                                         kafka_security_protocol="SSL").kafka
    with pytest.raises(KafkaSecurityError, match="LOANRISK_KAFKA_SSL_CERT_FILE"):
        kafka.producer(without_cert)


def test_wrong_password_fails_fast_naming_the_setting(secure_kafka: SecureKafka,
                                                      tmp_path: Path) -> None:
    wrong = secure_kafka.settings(kafka_sasl_password="not-the-password")
    with pytest.raises(KafkaSecurityError, match="LOANRISK_KAFKA_SASL_PASSWORD") as info:
        kafka.consumer(wrong.kafka, "never-joins")
    assert "not-the-password" not in str(info.value)
    # and a command says so in one line, exit 1, instead of retrying forever
    env = {**settings_env(wrong.model_copy(update={"state_dir": tmp_path})),
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "streams.cli", "lists", "show"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stderr
    assert "LOANRISK_KAFKA_SASL_PASSWORD" in result.stderr
    assert "not-the-password" not in result.stderr + result.stdout


def test_untrusted_certificate_fails_fast_naming_the_ca_setting(secure_kafka: SecureKafka,
                                                                tmp_path: Path) -> None:
    from infra.tls import make_ca

    other_ca = make_ca(tmp_path, "other")
    conn = secure_kafka.settings(kafka_ssl_ca_file=other_ca).kafka
    with pytest.raises(KafkaSecurityError, match="LOANRISK_KAFKA_SSL_CA_FILE") as info:
        kafka.producer(conn)
    assert str(other_ca) in str(info.value)
