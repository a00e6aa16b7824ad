"""A running worker and the sink, started as an operator starts them, answer /metrics,
/healthz and /readyz over real HTTP (curl), at the port they wrote for discovery."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas import codec_for
from schemas.topics import QUOTE_REQUESTS
from tests import records
from tests.harness import FaultPipeline, traffic, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _url(state: Path, component: str, path: str) -> str:
    found = json.loads((state / "telemetry" / f"{component}.json").read_text())
    return f"http://{found['host']}:{found['port']}{path}"


def _get(url: str) -> tuple[int, str]:
    """curl when the machine has it (what an operator types), urllib otherwise."""
    if shutil.which("curl"):
        out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", url], capture_output=True,
                             text=True, timeout=10, check=True).stdout
        body, _, code = out.rpartition("\n")
        return int(code), body
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _decided(text: str) -> float:
    return sum(v for (name, _), v in _samples(text).items() if name == "loanrisk_decisions_total")


def test_worker_and_sink_serve_metrics_and_probes(fault_pipeline: FaultPipeline) -> None:
    p = fault_pipeline
    p.ensure(workers=(0,))
    state = p.settings.state_dir
    metrics = _url(state, "worker-worker-0", "/metrics")
    def scraped() -> str | None:
        try:
            return _get(metrics)[1]
        except subprocess.TimeoutExpired:  # a scrape slowed by a loaded machine: ask again
            return None

    before = _decided(wait_until(scraped, 60, "the worker's /metrics to answer"))
    messages, _ids = traffic("prom", 40, seed=707)
    quote = records.application(email="prom-quote@example.com")
    del quote["application_id"]
    quote.update(quote_id=f"prom-q-{uuid.uuid4().hex[:8]}", session_id=None)
    p.publish([*messages, (QUOTE_REQUESTS.name, quote["quote_id"].encode(),
                           codec_for(QUOTE_REQUESTS.schema).encode(quote), None)])
    p.wait_decided("prom", 40)
    # folded into the histograms every LOANRISK_METRICS_INTERVAL_S (5 s)
    def counted() -> str | None:
        text = scraped()
        return text if text is not None and _decided(text) >= before + 40 else None

    text = wait_until(counted, 60, "the worker's /metrics to count the 40 decisions")
    samples = _samples(text)
    inf = samples[("loanrisk_decision_latency_seconds_bucket", (("le", "+Inf"),))]
    count = samples[("loanrisk_decision_latency_seconds_count", ())]
    assert inf == count >= before + 40  # one latency per decision counted
    for step in ("features", "score", "anomaly", "decide"):
        key = ("loanrisk_decision_step_seconds_bucket", (("le", "+Inf"), ("step", step)))
        assert samples[key] >= 40, step
    buckets = [v for (name, labels), v in samples.items()
               if name == "loanrisk_decision_latency_seconds_bucket"]
    assert len(buckets) > 10 and buckets == sorted(buckets)  # cumulative, as Prometheus sums
    kinds = {dict(labels)["kind"] for (name, labels) in samples
             if name == "loanrisk_version_info"}
    assert {"rules", "policy", "worker"} <= kinds
    assert samples[("loanrisk_partitions_assigned", ())] > 0
    assert any(name == "loanrisk_consumer_lag" for name, _ in samples)
    assert ("loanrisk_degraded_decisions_total", ()) in samples
    quoted = sum(v for (name, labels), v in samples.items() if name == "loanrisk_quotes_total"
                 and dict(labels)["product"] == quote["product"])
    assert quoted >= 1 and ("loanrisk_degraded_quotes_total", ()) in samples
    assert ("loanrisk_dead_letters_total", ()) in samples

    code, body = _get(_url(state, "worker-worker-0", "/readyz"))
    checks = json.loads(body)["checks"]
    assert code == 200 and {"partitions", "models", "redis"} <= set(checks)
    assert _get(_url(state, "worker-worker-0", "/healthz"))[0] == 200

    sink = _samples(_get(_url(state, "sink", "/metrics"))[1])
    assert sink[("loanrisk_sink_rows_total", (("table", "decisions"),))] >= 40
    assert _get(_url(state, "sink", "/readyz"))[0] == 200


def test_readyz_fails_when_redis_is_down(fault_pipeline: FaultPipeline) -> None:
    from streams.ops.services import redis_node

    p = fault_pipeline
    p.ensure(workers=(0,))
    ready = _url(p.settings.state_dir, "worker-worker-0", "/readyz")
    assert _get(ready)[0] == 200
    redis_node(p.settings).stop()
    try:
        code, body = _get(ready)
        assert code == 503 and json.loads(body)["checks"]["redis"]["ok"] is False
        assert _get(_url(p.settings.state_dir, "worker-worker-0", "/healthz"))[0] == 200
    finally:
        p.ensure(workers=(0,))  # Redis back for the next test
    wait_until(lambda: _get(ready)[0] == 200, 30, "/readyz once Redis is back")
