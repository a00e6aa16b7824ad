"""Simulator speed, each figure next to a baseline measured in the same run.

- history generation (applications/s, target 50,000/s) vs a numpy floor: drawing one
  random int64 per output cell of the same four tables (memory-bound, no logic);
- history write (Parquet, pyarrow, zstd level 1, dictionary strings) vs pandas
  ``to_parquet(compression="zstd")`` of the same frames (the old writer);
- live generator + encoder alone (applications/s, target 3,000/s unpaced, no Kafka);
- live publish to Kafka unpaced (applications/s and messages/s, wall and per CPU
  second of this process) vs confluent-kafka producing the same pre-encoded bytes.

``python -m bench simulator`` or ``python -m bench.bench_simulator [--bootstrap H:P]
[--applications N]``. The live part needs Kafka (``loanrisk services up``); without a
reachable broker it is skipped with a message. The machine is shared: compare the
ratios (both sides measured under the same load) rather than absolute figures.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time

HISTORY_TARGET = 50_000
LIVE_TARGET = 3_000


def bench_history(n: int = 200_000, months: int = 12) -> None:
    import numpy as np

    from simulator.config import SimConfig
    from simulator.history import FILES, generate_history, write_history
    from simulator.risk import reference_intercept

    cfg = SimConfig()
    reference_intercept(cfg)  # solved once per config, cached
    times = []
    for seed in (1, 2):
        t0 = time.perf_counter()
        h = generate_history(cfg, n, months, seed)
        times.append(time.perf_counter() - t0)
    gen = min(times)
    frames = [getattr(h, f) for f in FILES]
    cells = sum(f.shape[0] * f.shape[1] for f in frames)
    rows = sum(len(f) for f in frames)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for f in frames:
        for _ in range(f.shape[1]):
            rng.integers(0, 1 << 40, len(f))
    floor = time.perf_counter() - t0
    print(
        f"history generate: {n:,} applications ({rows:,} rows in 4 tables) in {gen:.2f} s = "
        f"{n / gen:,.0f} applications/s (target {HISTORY_TARGET:,}: "
        f"{n / gen / HISTORY_TARGET:.2f}x); {len(h.behaviour_events) / gen:,.0f} behaviour rows/s"
    )
    print(
        f"  baseline numpy floor (one random int64 per output cell, {cells:,} cells): "
        f"{floor:.2f} s; generate/floor = {gen / floor:.1f}x"
    )
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        paths = write_history(h, d)
        write = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in paths.values())
        t0 = time.perf_counter()
        for name in FILES:
            getattr(h, name).to_parquet(f"{d}/old_{name}.parquet", index=False, compression="zstd")
        old = time.perf_counter() - t0
        old_size = sum(os.path.getsize(f"{d}/old_{x}.parquet") for x in FILES)
    print(
        f"history write: {write:.2f} s ({size / 1e6:,.0f} MB); baseline pandas to_parquet zstd: "
        f"{old:.2f} s ({old_size / 1e6:,.0f} MB); write speed-up {old / write:.1f}x"
    )
    print(
        f"  generate + write: {n / (gen + write):,.0f} applications/s end to end "
        f"(`loanrisk simulate history` reports the two separately)"
    )


def kafka_reachable(bootstrap: str, timeout: float = 1.0) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def bench_generator(seconds: float = 3.0) -> None:
    from simulator.config import SimConfig
    from simulator.live import LiveGenerator

    gen = LiveGenerator(SimConfig(), 8, 0)
    gen.next_wire_chunk()  # warm up (codecs, caches)
    apps, msgs = 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        for app in gen.next_wire_chunk():
            apps += 1
            msgs += len(app.messages)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # baseline: the record dicts alone (next_chunk), what the old publisher then encoded
    dicts = LiveGenerator(SimConfig(), 8, 0)
    dicts.next_chunk()
    d_apps, t1 = 0, time.perf_counter()
    while time.perf_counter() - t1 < seconds:
        d_apps += len(dicts.next_chunk())
    d_wall = time.perf_counter() - t1
    print(
        f"live generator+encoder (no Kafka): {apps / wall:,.0f} applications/s, "
        f"{msgs / wall:,.0f} messages/s ({apps / cpu:,.0f} applications per CPU-s; target "
        f"{LIVE_TARGET:,}: {apps / wall / LIVE_TARGET:.2f}x)"
    )
    print(
        f"  baseline record dicts only (next_chunk, not encoded): {d_apps / d_wall:,.0f} "
        f"applications/s; encoded/dicts-only = {apps / wall / (d_apps / d_wall):.2f}"
    )


def bench_live(bootstrap: str, seconds: float = 5.0) -> None:
    from simulator.config import SimConfig
    from simulator.live import LiveGenerator
    from streams import kafka
    from streams.ops.live_traffic import producer_options, run_live

    cfg = SimConfig()
    c0 = time.process_time()
    stats = run_live(bootstrap, cfg, 7, rate=1e9, duration=seconds, paced=False, decisions=False)
    cpu = time.process_time() - c0
    app_s = stats.applications / stats.seconds
    msg_s, ev_s = stats.messages / stats.seconds, stats.events / stats.seconds
    # baseline: same message sizes, pre-encoded, same producer settings
    gen = LiveGenerator(cfg, 8, 0)
    payloads = [(t, k, v) for app in gen.next_wire_chunk() for t, k, v, _ in app.messages]
    p = kafka.producer(bootstrap, producer_options(paced=False))
    sent, t0 = 0, time.perf_counter()
    while sent < stats.messages:
        for topic, key, data in payloads:
            kafka.produce(p, topic, data, key)
        sent += len(payloads)
        p.poll(0)
    p.flush(30)
    base = sent / (time.perf_counter() - t0)
    print(
        f"live publish (unpaced): {app_s:,.0f} applications/s, {msg_s:,.0f} messages/s, "
        f"{ev_s:,.0f} events/s (behaviour events counted inside their batches); "
        f"{stats.applications / cpu:,.0f} applications per CPU-s of this process; target "
        f"{LIVE_TARGET:,}: {app_s / LIVE_TARGET:.2f}x"
    )
    print(
        f"  baseline pre-encoded produce: {base:,.0f} messages/s; simulator/baseline = "
        f"{msg_s / base:.2f}"
    )


def main() -> None:
    from streams.settings import load_settings

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bootstrap", default="", help="Kafka bootstrap (default: the settings')")
    ap.add_argument("--applications", type=int, default=200_000)
    args, _ = ap.parse_known_args()  # `python -m bench simulator` leaves its own argument
    bench_history(args.applications)
    bench_generator()
    bootstrap = args.bootstrap or load_settings().bootstrap_servers
    if kafka_reachable(bootstrap):
        bench_live(bootstrap)
    else:
        print(
            f"live publish: skipped, no Kafka reachable at {bootstrap} "
            "(start one with `loanrisk services up`, or pass --bootstrap HOST:PORT)"
        )


if __name__ == "__main__":
    main()
