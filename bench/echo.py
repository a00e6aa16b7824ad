"""The end-to-end benchmark's baseline: a bare consume -> produce echo (clients from
``streams.kafka``, nothing else of the project in its loop).

``python -m bench.echo --bootstrap HOST:PORT --source TOPIC --target TOPIC [--faust GROUP]``

Reads ``--source`` from its current end (explicit assignment of every partition, no
consumer group, so nothing earlier is replayed) and produces each value to ``--target``
with the same key and partition. Prints ``echo ready`` once the positions are fixed, and
``echo stopped: N messages`` on SIGTERM. The producer lingers 1 ms, like the Faust
workers' (``producer_linger_ms=1``), so the two are measured on the same terms.

``--faust GROUP`` runs the same echo as a Faust app built like
``streams.worker.faust_app.build_app`` (same App options, same topics subscribed, same
``take_events`` batching, no work): the
difference between the two echoes is Faust's share, the rest of a worker's latency ours.
The group must already have committed offsets (the bench commits it at the topics' end).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any


def run(bootstrap: str, source: str, target: str, partitions: list[int] | None = None) -> int:
    from confluent_kafka import TopicPartition

    from streams import kafka

    # clients from streams.kafka like every other; the options are the echo's own
    consumer = kafka.consumer(bootstrap, "bench-echo-unused",
                              {"enable.auto.commit": False, "fetch.wait.max.ms": 100})
    producer = kafka.producer(bootstrap, {"linger.ms": 1, "acks": "1",
                                          "enable.idempotence": False,
                                          "batch.num.messages": 10_000})
    if partitions is None:
        meta = consumer.list_topics(source, timeout=10)
        partitions = sorted(meta.topics[source].partitions)
    start = []
    for p in partitions:
        _low, high = consumer.get_watermark_offsets(TopicPartition(source, p), timeout=10)
        start.append(TopicPartition(source, p, high))
    consumer.assign(start)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"echo ready: {source} {partitions} -> {target}", flush=True)
    n = 0
    while not stop.is_set():
        first = consumer.poll(0.05)  # returns on the first message; consume(n, t) waits for t
        if first is None:
            producer.poll(0)
            continue
        for msg in [first, *consumer.consume(num_messages=999, timeout=0)]:
            if msg.error() is not None:
                continue
            kafka.produce(producer, target, msg.value(), msg.key(), msg.partition())
            n += 1
        producer.poll(0)
    producer.flush(10)
    consumer.close()
    print(f"echo stopped: {n} messages", flush=True)
    return 0


def run_faust(bootstrap: str, source: str, target: str, group: str, batch_max: int = 64,
              window_ms: float = 2.0) -> None:
    import faust
    from faust.worker import Worker

    from schemas.topics import BEHAVIOUR_EVENTS, DEVICE_EVENTS, PERFORMANCE
    from streams import kafka

    app = faust.App(
        group, **kafka.connection(bootstrap).faust_options(), store="memory://",
        value_serializer="raw", key_serializer="raw", web_enabled=False, topic_allow_declare=False,
        topic_disable_leader=True, consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0, producer_linger_ms=1, stream_wait_empty=False,
    )

    def raw(*names: str) -> faust.TopicT:
        return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw")

    out = raw(target)

    @app.agent(raw(source), name="echo")
    async def echo(stream: Any) -> None:
        async for events in stream.take_events(batch_max, within=window_ms / 1000):
            for ev in events:
                m = ev.message
                await out.send(key=m.key, value=m.value, partition=m.partition)

    @app.agent(raw(DEVICE_EVENTS.name, BEHAVIOUR_EVENTS.name), name="sessions")
    async def sessions(stream: Any) -> None:
        async for _events in stream.take_events(500, within=0.005):
            pass

    @app.agent(raw(PERFORMANCE.name), name="performance")
    async def performance(stream: Any) -> None:
        async for _events in stream.take_events(500, within=0.05):
            pass

    Worker(app, loglevel="info", quiet=True).execute_from_commandline()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--source", default="loan.applications.v1")
    ap.add_argument("--target", default="bench.echo.v1")
    ap.add_argument("--partitions", default="", help="comma-separated; empty = all")
    ap.add_argument("--faust", default="", metavar="GROUP", help="echo with Faust instead")
    ap.add_argument("--batch-max", type=int, default=64)
    ap.add_argument("--window-ms", type=float, default=2.0)
    args = ap.parse_args(argv)
    if args.faust:
        run_faust(args.bootstrap, args.source, args.target, args.faust, args.batch_max,
                  args.window_ms)
        return 0
    parts = [int(p) for p in args.partitions.split(",") if p] or None
    return run(args.bootstrap, args.source, args.target, parts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
