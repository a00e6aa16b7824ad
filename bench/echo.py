"""The end-to-end benchmark's baseline: a bare confluent-kafka consume -> produce echo.

``python -m bench.echo --bootstrap HOST:PORT --source TOPIC --target TOPIC``

Reads ``--source`` from its current end (explicit assignment of every partition, no
consumer group, so nothing earlier is replayed) and produces each value to ``--target``
with the same key and partition. Prints ``echo ready`` once the positions are fixed, and
``echo stopped: N messages`` on SIGTERM. The producer lingers 1 ms, like the Faust
workers' (``producer_linger_ms=1``), so the two are measured on the same terms.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def run(bootstrap: str, source: str, target: str, partitions: list[int] | None = None) -> int:
    from confluent_kafka import Consumer, Producer, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "bench-echo-unused",
        "enable.auto.commit": False, "fetch.wait.max.ms": 100,
    })
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "acks": "1",
                         "enable.idempotence": False, "batch.num.messages": 10_000})
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
        for msg in consumer.consume(num_messages=1000, timeout=0.05):
            if msg.error() is not None:
                continue
            while True:
                try:
                    producer.produce(target, msg.value(), msg.key(), partition=msg.partition())
                    break
                except BufferError:
                    producer.poll(0.01)
            n += 1
        producer.poll(0)
    producer.flush(10)
    consumer.close()
    print(f"echo stopped: {n} messages", flush=True)
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--source", default="loan.applications.v1")
    ap.add_argument("--target", default="bench.echo.v1")
    ap.add_argument("--partitions", default="", help="comma-separated; empty = all")
    args = ap.parse_args(argv)
    parts = [int(p) for p in args.partitions.split(",") if p] or None
    return run(args.bootstrap, args.source, args.target, parts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
