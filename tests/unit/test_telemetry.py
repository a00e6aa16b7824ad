"""Prometheus histograms folded from arrays, and the /metrics, /healthz, /readyz endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.telemetry import (
    LATENCY_BUCKETS,
    FoldedHistogram,
    Heartbeat,
    TelemetryServer,
    histogram_family,
    new_registry,
)


def _samples(registry: CollectorRegistry, name: str) -> dict[tuple, float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) if fam.name == name
            for s in fam.samples}


class _Collect:
    def __init__(self, hist: FoldedHistogram) -> None:
        self.hist = hist

    def collect(self):  # type: ignore[no-untyped-def]
        yield histogram_family("x_seconds", "x", {"": self.hist})


def test_folded_histogram_matches_prometheus_clients_own() -> None:
    rng = np.random.default_rng(3)
    # boundaries exactly, below the first, above the last, and a spread in between
    values = np.concatenate([np.asarray(LATENCY_BUCKETS), [0.0, 1e-4, 99.0],
                             rng.lognormal(-4, 2, 2000)])
    reference_registry = CollectorRegistry()
    reference = Histogram("x_seconds", "x", buckets=LATENCY_BUCKETS, registry=reference_registry)
    for v in values:
        reference.observe(float(v))
    folded = FoldedHistogram(LATENCY_BUCKETS)
    for part in np.array_split(values, 7):  # folded a window at a time
        folded.fold(part)
    ours_registry = CollectorRegistry()
    ours_registry.register(_Collect(folded))  # type: ignore[arg-type]
    ours, ref = _samples(ours_registry, "x_seconds"), _samples(reference_registry, "x_seconds")
    ref.pop(("x_seconds_created", ()), None)
    assert ours.keys() == ref.keys()
    for key, value in ref.items():
        assert np.isclose(ours[key], value), key


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_endpoint_serves_metrics_and_probes_on_a_free_port(tmp_path: Path) -> None:
    redis_up = {"ok": True}
    beat = Heartbeat(timeout_s=30)
    checks = {"redis": lambda: (redis_up["ok"], "PING"),
              "raises": lambda: (True, "fine")}
    a = TelemetryServer(new_registry(), beat.check, checks).start(tmp_path / "t" / "a.json")
    b = TelemetryServer(new_registry(), beat.check, checks).start()  # two on one host
    try:
        assert a.port != b.port and a.port > 0
        assert json.loads((tmp_path / "t" / "a.json").read_text())["port"] == a.port
        base = f"http://127.0.0.1:{a.port}"
        code, body = _get(base + "/metrics")
        assert code == 200 and b"process_cpu_seconds_total" in body
        assert _get(base + "/healthz")[0] == 200
        assert _get(base + "/readyz")[0] == 200
        redis_up["ok"] = False
        code, body = _get(base + "/readyz")
        assert code == 503 and json.loads(body)["checks"]["redis"]["ok"] is False
        beat.last -= 60  # the loop stopped ticking
        assert _get(base + "/healthz")[0] == 503
        assert _get(base + "/nothing")[0] == 404
    finally:
        a.stop()
        b.stop()


def test_a_check_that_raises_is_a_failed_check() -> None:
    def boom() -> tuple[bool, str]:
        raise ConnectionError("refused")

    server = TelemetryServer(new_registry(), Heartbeat(30).check, {"redis": boom})
    try:
        ok, checks = server.readiness()
        assert not ok and "refused" in checks["redis"]["detail"]
    finally:
        server.stop()


def test_json_logs_are_one_object_per_line(capsys) -> None:  # type: ignore[no-untyped-def]
    import logging

    from streams.telemetry import configure_logging

    configure_logging("info", as_json=True)
    try:
        logging.getLogger("loanrisk.worker").info("Worker ready: %d partitions assigned", 6)
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["message"] == "Worker ready: 6 partitions assigned"
        assert record["level"] == "INFO" and record["logger"] == "loanrisk.worker"
        assert {"time", "process"} <= set(record)
    finally:
        configure_logging("warning", as_json=False)
