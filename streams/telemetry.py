"""What operators scrape and probe: Prometheus metrics, ``/healthz``, ``/readyz``, JSON logs.

Every worker and the sink serve one small HTTP endpoint (``LOANRISK_METRICS_PORT``):

* ``/metrics``: the process's Prometheus registry (``prometheus_client`` text format);
* ``/healthz``: 200 while the process's main loop is alive (it ticked recently), else 503;
* ``/readyz``: 200 when every readiness check passes (for a worker: partitions assigned,
  models loaded, Redis reachable), else 503; the body names each check.

Port 0 (the default) binds any free port, so several workers on one host never collide;
the port is logged and written to ``<state_dir>/telemetry/<component>.json`` for
discovery (a Kubernetes pod sets a fixed port and ``LOANRISK_METRICS_HOST=0.0.0.0``).
Histograms are folded from arrays (``FoldedHistogram``), not observed one value at a
time, so a decision costs the hot path nothing beyond what it already records.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.process_collector import ProcessCollector

log = logging.getLogger("loanrisk.telemetry")

#: end-to-end decision latency (application event time -> decided), seconds
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: one step of a decision (features, score, anomaly, decide), seconds
STEP_BUCKETS = (5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025,
                0.1)

Check = Callable[[], tuple[bool, str]]


class FoldedHistogram:
    """A Prometheus histogram fed whole arrays at a time (one ``np.searchsorted``), with
    the same buckets semantics as ``prometheus_client.Histogram`` (``le``: value <= bound)
    so it sums across workers like any Prometheus histogram."""

    def __init__(self, buckets: Iterable[float]) -> None:
        self.bounds = np.asarray(sorted(buckets), dtype=float)
        self.counts = np.zeros(len(self.bounds) + 1, dtype=np.int64)  # last: above all
        self.sum = 0.0
        self._lock = threading.Lock()

    def fold(self, values: Any) -> None:
        arr = np.asarray(values, dtype=float)
        if arr.size == 0:
            return
        counts = np.bincount(np.searchsorted(self.bounds, arr, side="left"),
                             minlength=len(self.counts))
        with self._lock:
            self.counts += counts
            self.sum += float(arr.sum())

    def buckets(self) -> tuple[list[tuple[str, float]], float]:
        """Cumulative ``(le, count)`` pairs ending with ``+Inf``, and the sum."""
        with self._lock:
            cumulative = np.cumsum(self.counts)
            total = self.sum
        labels = [repr(float(b)) for b in self.bounds] + ["+Inf"]
        return list(zip(labels, (float(c) for c in cumulative), strict=True)), total


def histogram_family(name: str, doc: str, by_label: Mapping[str, FoldedHistogram],
                     label: str | None = None) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=[label] if label else [])
    for value, hist in by_label.items():
        buckets, total = hist.buckets()
        family.add_metric([value] if label else [], buckets, total)
    return family


@dataclass
class Heartbeat:
    """Alive while ``beat()`` was called within ``timeout_s``."""

    timeout_s: float
    last: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.last = time.monotonic()

    def check(self) -> tuple[bool, str]:
        age = time.monotonic() - self.last
        return age < self.timeout_s, f"main loop last ticked {age:.1f}s ago"


class TelemetryServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on a daemon thread."""

    def __init__(self, registry: CollectorRegistry, alive: Check,
                 ready: Mapping[str, Check], host: str = "127.0.0.1", port: int = 0) -> None:
        self.registry, self.alive, self.ready = registry, alive, dict(ready)
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self.host, self.port = host, self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="telemetry")

    def start(self, discovery: Path | None = None) -> TelemetryServer:
        self._thread.start()
        if discovery is not None:
            discovery.parent.mkdir(parents=True, exist_ok=True)
            discovery.write_text(json.dumps({"host": self.host, "port": self.port,
                                             "pid": os.getpid()}))
        log.info("metrics and probes on http://%s:%d/metrics (/healthz, /readyz)", self.host,
                 self.port)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a loop that never started
            self._server.shutdown()
        self._server.server_close()

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        results = {}
        for name, check in self.ready.items():
            try:
                ok, detail = check()
            except Exception as exc:  # a probe that raises is a failed check, not a 500
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            results[name] = {"ok": ok, "detail": detail}
        return all(r["ok"] for r in results.values()), results


def _handler(server: TelemetryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok, detail = server.alive()
                self._json(200 if ok else 503, {"alive": ok, "detail": detail})
            elif path == "/readyz":
                ok, checks = server.readiness()
                self._json(200 if ok else 503, {"ready": ok, "checks": checks})
            else:
                self._json(404, {"error": f"no {path}; try /metrics, /healthz or /readyz"})

        def _json(self, code: int, body: dict[str, Any]) -> None:
            self._send(code, json.dumps(body).encode(), "application/json")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
            return

    return Handler


def new_registry() -> CollectorRegistry:
    """A registry of this process's own (not the global one), with CPU and memory."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    return registry


def discovery_file(state_dir: Path, component: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in component)
    return state_dir / "telemetry" / f"{safe}.json"


def configure_logging(level: str, as_json: bool,
                      fmt: str = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
                      ) -> None:
    """The process's log format: plain lines, or one JSON object per line
    (``LOANRISK_LOG_JSON``) with time, level, logger, process and message."""
    handler = logging.StreamHandler()
    if as_json:
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
