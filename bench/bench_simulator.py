"""Simulator speed: history generation (applications/s) and live publish rate (events/s)
against a baseline of confluent-kafka producing pre-encoded bytes of the same sizes.

``python -m bench.bench_simulator [--bootstrap HOST:PORT]``; without a broker only the
history figures are printed.
"""

from __future__ import annotations

import argparse
import time


def bench_history(n: int = 100_000) -> None:
    from simulator.config import SimConfig
    from simulator.history import generate_history
    from simulator.risk import reference_intercept

    cfg = SimConfig()
    reference_intercept(cfg)  # solved once per config, cached
    times = []
    for seed in (1, 2):
        t0 = time.perf_counter()
        h = generate_history(cfg, n, 12, seed)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(
        f"history: {n:,} applications in {best:.2f} s = {n / best:,.0f} applications/s "
        f"({len(h.behaviour_events) / best:,.0f} behaviour rows/s)"
    )


def bench_live(bootstrap: str, seconds: float = 5.0) -> None:
    from confluent_kafka import Producer

    from schemas import codec_for
    from schemas.topics import BY_NAME
    from simulator.config import SimConfig
    from simulator.live import LiveGenerator
    from streams.simulate_live import producer_config, run_live

    cfg = SimConfig()
    stats = run_live(bootstrap, cfg, 7, rate=1e9, duration=seconds, paced=False, decisions=False)
    msg_s, ev_s = stats.messages / stats.seconds, stats.events / stats.seconds
    # baseline: same message sizes, pre-encoded, same producer settings
    gen = LiveGenerator(cfg, 8, 0)
    payloads = [
        (t, k.encode(), codec_for(BY_NAME[t].schema).encode(r))
        for app in gen.next_chunk()
        for t, k, r in app
    ]
    p = Producer(producer_config(bootstrap))
    sent, t0 = 0, time.perf_counter()
    while sent < stats.messages:
        for topic, key, data in payloads:
            try:
                p.produce(topic, data, key)
            except BufferError:
                p.poll(0.05)
                p.produce(topic, data, key)
        sent += len(payloads)
        p.poll(0)
    p.flush(30)
    base = sent / (time.perf_counter() - t0)
    print(
        f"live: {stats.applications / stats.seconds:,.0f} applications/s, {msg_s:,.0f} messages/s, "
        f"{ev_s:,.0f} events/s (behaviour events counted inside their batches)"
    )
    print(
        f"baseline pre-encoded produce: {base:,.0f} messages/s; simulator/baseline = "
        f"{msg_s / base:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bootstrap", default="", help="Kafka bootstrap; empty = history only")
    ap.add_argument("--applications", type=int, default=100_000)
    args = ap.parse_args()
    bench_history(args.applications)
    if args.bootstrap:
        bench_live(args.bootstrap)


if __name__ == "__main__":
    main()
