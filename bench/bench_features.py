"""Feature step cost: per-application latency and throughput on the real Redis.

Runs a private redis-server, replays synthetic traffic at 2,000 applications/s of
wall time with ~33 behaviour events per application (the simulator's volume),
and reports the engine's cost per application next to two baselines measured
in the same run: a bare Redis round trip (the floor) and the naive approach of
one Redis command per window per identifier (what the Lua script replaces).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import numpy as np

from schemas.records import LoanApplication

RATE = 2000.0
N_APPS = 20_000
BEHAVIOUR_PER_APP = 33


def _pct(us: np.ndarray) -> str:
    p50, p99, p999 = np.percentile(us, [50, 99, 99.9])
    return f"p50 {p50:7.1f} us  p99 {p99:7.1f} us  p99.9 {p999:7.1f} us"


def _naive(client: Any, apps: list[LoanApplication], key: bytes) -> np.ndarray:
    """Velocity counts only, one command per window per identifier (no script, no pipeline)."""
    from features.identity import KINDS, application_identifiers
    from features.windows import WINDOWS

    lat = []
    for a in apps:
        s = time.perf_counter()
        t = int(a["event_time"])
        for kind, h in zip(KINDS, application_identifiers(key, a), strict=True):
            k = f"naive:{kind}:{h}"
            client.zadd(k, {a["application_id"]: t})
            for w in WINDOWS.values():
                client.zcount(k, f"({t - w}", t)
        lat.append(time.perf_counter() - s)
    return np.array(lat) * 1e6


def _paced(engine: Any, events: list[tuple[str, dict[str, Any]]]) -> tuple[np.ndarray, float, int]:
    """Open-loop run at RATE apps/s: session events ingested every ~5 ms, apps one by one."""
    lat: list[float] = []
    dev: list[dict[str, Any]] = []
    beh: list[dict[str, Any]] = []
    behind = 0
    start = time.perf_counter()
    i = 0
    for kind, rec in events:
        if kind == "device":
            dev.append(rec)
        elif kind == "behaviour":
            beh.append(rec)
        else:
            due = start + i / RATE
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            elif now - due > 0.01:
                behind += 1
            if len(beh) >= BEHAVIOUR_PER_APP * 10:
                engine.ingest_session_events(dev, beh)
                dev, beh = [], []
            s = time.perf_counter()
            engine.compute(rec)
            lat.append(time.perf_counter() - s)
            i += 1
    elapsed = time.perf_counter() - start
    return np.array(lat) * 1e6, i / elapsed, behind


def _round_trips_us(client: Any) -> np.ndarray:
    rtt = []
    for _ in range(3000):
        s = time.perf_counter()
        client.ping()
        rtt.append(time.perf_counter() - s)
    return np.array(rtt[500:]) * 1e6


def _unpaced(engine: Any, batch: Any, apps: list[Any], beh: list[Any], dev: list[Any]
             ) -> tuple[float, float]:
    """Unpaced costs of each call on fresh state: (us per behaviour event ingested,
    applications/s of compute_many in batches of 100)."""
    s = time.perf_counter()
    for lo in range(0, len(beh), 330):
        engine.ingest_session_events(dev[lo // BEHAVIOUR_PER_APP:(lo + 330) // BEHAVIOUR_PER_APP],
                                     beh[lo:lo + 330])
    ingest_us = (time.perf_counter() - s) / len(beh) * 1e6
    s = time.perf_counter()
    for lo in range(0, len(apps), 100):
        batch.compute_many(apps[lo:lo + 100])
    return ingest_us, len(apps) / (time.perf_counter() - s)


def main() -> None:
    import redis

    from bench.pipeline.plan import PORT_OFFSET
    from features.engine import FeatureEngine
    from features.synthetic import traffic
    from infra.redis import RedisNode

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (noisy if > 1)")
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        node = RedisNode(Path(tmp), 36479 + PORT_OFFSET, persistent=False)
        node.start()
        try:
            client = redis.Redis.from_url(node.url)
            key = b"bench-key"
            events = list(traffic(N_APPS, seed=1, rate_per_s=RATE,
                                  behaviour_per_app=BEHAVIOUR_PER_APP))
            apps = [cast(LoanApplication, r) for k, r in events if k == "application"]
            beh = [r for k, r in events if k == "behaviour"]
            dev = [r for k, r in events if k == "device"]

            rtt_us = _round_trips_us(client)
            naive_us = _naive(client, apps[:2000], key)

            engine = FeatureEngine(client, key, prefix="bench")
            warm = FeatureEngine(client, key, prefix="warm")
            warm.compute_many(apps[:200])
            client.config_resetstat()
            lat_us, rate, behind = _paced(engine, events)
            stats = client.info("commandstats").get("cmdstat_evalsha", {})
            redis_us = stats.get("usec", 0) / max(stats.get("calls", 1), 1)

            engine.clear()
            ingest_us, batch_rate = _unpaced(engine, FeatureEngine(client, key, prefix="batch"),
                                             apps, beh, dev)
            mem = client.info("memory")["used_memory"] / len(apps)
        finally:
            node.stop()

    p50 = float(np.percentile(lat_us, 50))
    print(f"{N_APPS} applications, {len(beh)} behaviour + {len(dev)} device events")
    print(f"redis round trip (PING)            [floor] {_pct(rtt_us)}")
    print(f"naive velocity, 30 commands/app    [base]  {_pct(naive_us)}")
    print(f"engine.compute at {RATE:.0f}/s with sessions        {_pct(lat_us)}")
    print(f"  achieved {rate:,.0f} applications/s; {behind} applications started >10 ms late")
    print(f"  redis CPU per script call (compute + ingest calls averaged) {redis_us:.1f} us")
    print(f"session ingest, batches of 330 events: {ingest_us:.2f} us per behaviour event")
    print(f"compute_many, batches of 100: {batch_rate:,.0f} applications/s")
    print(f"redis memory after the run: {mem / 1024:.1f} KiB per application (all state)")
    print(f"ratio naive/engine p50: {float(np.percentile(naive_us, 50)) / p50:.1f}x faster, "
          f"with every feature family instead of velocity only; "
          f"engine p50 = {p50 / float(np.percentile(rtt_us, 50)):.1f} round trips")


if __name__ == "__main__":
    main()
