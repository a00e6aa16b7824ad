"""End to end: latency from an application's publish to its decision's consume, and the
maximum sustainable rate, with 1 and 2 real ``loanrisk worker`` processes, against a bare
confluent-kafka consume -> produce echo (``bench/echo.py``) on the same broker and topics.

What runs: an isolated stack (Kafka KRaft on 49092/49093, Redis on 46379, state in
``.loanrisk/bench``; champion models trained once and cached there), then

1. echo:      offered rates (250, 500, 1,000 applications/s with their device and
              behaviour events) and a backlog published unpaced (its completion rate);
2. 1 worker:  the same, then a phase whose event times span more than a simulated hour
              (worker RSS sampled throughout, to show memory stays bounded);
3. 2 workers: the same rates and backlog;
4. only if a target is missed (or ``LOANRISK_BENCH_PROFILE=1``): one worker under cProfile
              at 500/s and a backlog; the top functions are printed and saved.

Traffic comes from ``simulator.live`` and is generated and Avro-encoded before any timing.
Each application's session events are published ``lead`` (100 ms) before it; latency =
the wall time the bench consumed the decision - the wall time it produced the application.
Each worker set gets its own consumer group (committed at the topics' end before it starts)
and its own Redis prefix (fresh velocity state and redelivery memo), so phases do not
pollute each other. Decisions carry ``decided_at`` and per-step ``timings_us``: the split
of the latency into "publish -> decided" and "decided -> consumed" comes from those.

Targets (issue 7): p99 < 25 ms at 500 applications/s; >= 1,000 applications/s sustained.

Run: ``python -m bench pipeline`` (part of ``make bench``); ``LOANRISK_BENCH_QUICK=1`` for
shorter phases; ``LOANRISK_BENCH_PROFILE=0|1`` never/always profiles (default: on a miss);
``LOANRISK_WORKER_BATCH_MAX`` / ``LOANRISK_WORKER_BATCH_WINDOW_MS`` pass to the workers.
Figures are printed and written to ``.loanrisk/bench/pipeline.json``.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".loanrisk" / "bench"
ECHO_TOPIC = "bench.echo.v1"
TARGET_P99_MS = 25.0
TARGET_P99_AT = 500
TARGET_RATE = 1000.0
HOUR_MS = 3_600_000
PROFILE_SIGNAL = signal.SIGRTMIN + 2


@dataclass(frozen=True)
class Plan:
    rates: tuple[int, ...] = (250, 500, 1000)
    seconds: float = 10.0  # per paced phase
    backlog: int = 15_000  # applications published unpaced for the max-rate phase
    echo_backlog: int = 20_000
    hour_apps: int = 12_000  # applications whose event times span > 1 simulated hour
    hour_rate: float = 700.0  # offered rate of that phase
    warmup: int = 300
    lead_s: float = 0.1  # session events go this long before their application
    idle_s: float = 10.0  # a phase ends when nothing new arrived for this long

    @property
    def paced_apps(self) -> int:
        return int(sum(r * self.seconds for r in self.rates))


def plan_from_env() -> Plan:
    if os.environ.get("LOANRISK_BENCH_QUICK", "") not in ("", "0"):
        return Plan(seconds=4.0, backlog=5_000, echo_backlog=8_000, hour_apps=6_000,
                    warmup=200)
    return Plan()


# --- traffic ------------------------------------------------------------------------------
# one application: (application id, key, value, event_time ms, [(topic, key, value), ...])
App = tuple[str, bytes, bytes, int, list[tuple[str, bytes, bytes]]]


def generate(seed: int, start_ms: int, rate: float, n: int) -> list[App]:
    """``n`` applications with their session events, encoded; event times at ``rate``/s."""
    from schemas import codec_for
    from schemas.topics import APPLICATIONS, BY_NAME
    from simulator.config import SimConfig
    from simulator.live import LiveGenerator

    codecs = {name: codec_for(t.schema) for name, t in BY_NAME.items()}
    gen = LiveGenerator(SimConfig(), seed, start_ms, rate)
    out: list[App] = []
    while len(out) < n:
        for events in gen.next_chunk():
            session = [(t, k.encode(), codecs[t].encode(r)) for t, k, r in events[:-1]]
            topic, key, rec = events[-1]
            assert topic == APPLICATIONS.name
            out.append((key, key.encode(), codecs[topic].encode(rec), rec["event_time"],
                        session))
    return out[:n]


class Publisher:
    """Publishes applications (after their session events) paced in ~1 ms bursts or unpaced,
    recording the wall time each application was handed to the producer."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Producer

        self.producer = Producer({
            "bootstrap.servers": bootstrap, "linger.ms": 1, "acks": "1",
            "enable.idempotence": False, "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576,
        })

    def _produce(self, topic: str, key: bytes, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key)
                return
            except BufferError:
                self.producer.poll(0.005)

    def send(self, apps: list[App], rate: float | None, lead_s: float = 0.1) -> dict[str, float]:
        from schemas.topics import APPLICATIONS

        topic = APPLICATIONS.name
        sent: dict[str, float] = {}
        if rate is None:
            for app_id, key, value, _t, session in apps:
                for t, k, v in session:
                    self._produce(t, k, v)
                self._produce(topic, key, value)
                sent[app_id] = time.time()
                self.producer.poll(0)
            self.producer.flush(60)
            return sent
        plan: list[tuple[float, int, str, bytes, bytes, str | None]] = []
        for i, (app_id, key, value, _t, session) in enumerate(apps):
            at = lead_s + i / rate
            plan.extend((at - lead_s, i, t, k, v, None) for t, k, v in session)
            plan.append((at, i, topic, key, value, app_id))
        plan.sort(key=lambda p: (p[0], p[1], p[5] is not None))
        t0 = time.perf_counter()
        j, n = 0, len(plan)
        while j < n:
            now = time.perf_counter() - t0
            while j < n and plan[j][0] <= now:
                _at, _i, t, k, v, planned_id = plan[j]
                self._produce(t, k, v)
                if planned_id is not None:
                    sent[planned_id] = time.time()
                j += 1
            self.producer.poll(0)
            if j < n:
                wait = plan[j][0] - (time.perf_counter() - t0)
                if wait > 0:
                    time.sleep(wait)
        self.producer.flush(60)
        return sent


class Recorder(threading.Thread):
    """Consumes a topic from its current end; remembers when each key first arrived."""

    def __init__(self, bootstrap: str, topic: str, keep_values: bool) -> None:
        super().__init__(daemon=True, name=f"recorder-{topic}")
        from confluent_kafka import Consumer, TopicPartition

        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-unused",
                                  "enable.auto.commit": False, "fetch.wait.max.ms": 100})
        parts = sorted(self.consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        start = []
        for p in parts:
            _low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            start.append(TopicPartition(topic, p, high))
        self.consumer.assign(start)
        self.keep_values = keep_values
        self.recv: dict[str, float] = {}
        self.values: dict[str, bytes] = {}
        self.stopping = threading.Event()

    def reset(self) -> None:
        self.recv, self.values = {}, {}

    def run(self) -> None:
        while not self.stopping.is_set():
            # poll returns on the first message; consume(n, t) would wait the whole t for n
            first = self.consumer.poll(0.05)
            now = time.time()
            if first is None:
                continue
            msgs = [first, *self.consumer.consume(num_messages=999, timeout=0)]
            recv, values = self.recv, self.values
            for m in msgs:
                if m.error() is not None:
                    continue
                key = (m.key() or b"").decode()
                if key not in recv:
                    recv[key] = now
                    if self.keep_values:
                        values[key] = m.value() or b""
        self.consumer.close()

    def wait_for(self, ids: list[str], idle_s: float, deadline_s: float = 300.0) -> int:
        """Block until every id arrived, or nothing new came for ``idle_s``; how many came."""
        last, last_change, t_end = -1, time.monotonic(), time.monotonic() + deadline_s
        while True:
            recv = self.recv
            got = sum(1 for i in ids if i in recv)
            if got == len(ids):
                return got
            now = time.monotonic()
            if got != last:
                last, last_change = got, now
            elif now - last_change > idle_s or now > t_end:
                return got
            time.sleep(0.2)


# --- measuring ----------------------------------------------------------------------------
def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def cpu_ticks(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def runqueue_ns(pid: int | None) -> int:
    """Time the process's main thread spent runnable but waiting for a CPU."""
    if pid is None:
        return 0
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


class CpuMeter:
    """CPU % of named processes between start() and stop() (100 = one core), the % of the
    time their main thread waited for a CPU, and how busy the whole machine was."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.hz = os.sysconf("SC_CLK_TCK")
        self.ncpu = os.cpu_count() or 1

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.c0 = {n: cpu_ticks(p) for n, p in self.pids.items()}
        self.w0 = {n: runqueue_ns(p) for n, p in self.pids.items()}
        self.m0 = machine_busy_ticks()

    def stop(self) -> dict[str, Any]:
        dt = time.monotonic() - self.t0
        busy, total = machine_busy_ticks()
        ours = sum(cpu_ticks(p) - self.c0[n] for n, p in self.pids.items())
        machine = (busy - self.m0[0]) / max(total - self.m0[1], 1)
        return {
            "cpu_pct": {n: round(100 * (cpu_ticks(p) - self.c0[n]) / self.hz / dt, 1)
                        for n, p in self.pids.items()},
            "wait_for_cpu_pct": {n: round(100 * (runqueue_ns(p) - self.w0[n]) / 1e9 / dt, 1)
                                 for n, p in self.pids.items() if n not in ("kafka", "redis")},
            "machine_busy_pct": round(100 * machine, 1),
            "others_pct_of_machine": round(100 * machine
                                           - 100 * ours / self.hz / dt / self.ncpu, 1),
        }


def summarize(name: str, offered: float | None, sent: dict[str, float],
              recv: dict[str, float], values: dict[str, bytes] | None = None) -> dict[str, Any]:
    ids = list(sent)
    got = [i for i in ids if i in recv]
    lat = [(recv[i] - sent[i]) * 1000 for i in got]
    out: dict[str, Any] = {"phase": name, "offered_per_s": offered, "sent": len(ids),
                           "received": len(got)}
    if not got:
        return out
    t_first = min(sent.values())
    done = sorted(recv[i] for i in got)
    out.update({
        "p50_ms": round(pct(lat, .5), 2), "p99_ms": round(pct(lat, .99), 2),
        "p999_ms": round(pct(lat, .999), 2), "max_ms": round(max(lat), 2),
        "completed_per_s": round(len(got) / max(done[-1] - t_first, 1e-9), 1),
    })
    if len(done) >= 20:  # the steady part: between 10% and 90% of the completions
        a, b = int(.1 * len(done)), int(.9 * len(done))
        out["steady_per_s"] = round((b - a) / max(done[b] - done[a], 1e-9), 1)
    fifth = max(1, len(ids) // 5)  # lag bounded: late latencies no worse than early ones
    early = [(recv[i] - sent[i]) * 1000 for i in ids[:fifth] if i in recv]
    late = [(recv[i] - sent[i]) * 1000 for i in ids[-fifth:] if i in recv]
    out["p50_first_fifth_ms"] = round(pct(early, .5), 2)
    out["p50_last_fifth_ms"] = round(pct(late, .5), 2)
    # bounded: everything arrived, as fast as offered, late latencies no worse than early ones
    out["lag_bounded"] = bool(len(got) == len(ids)
                              and (offered is None or out["completed_per_s"] >= 0.9 * offered)
                              and pct(late, .5) <= 3 * pct(early, .5) + 50)
    if values:
        out.update(_decision_breakdown(sent, recv, values))
    return out


def _decision_breakdown(sent: dict[str, float], recv: dict[str, float],
                        values: dict[str, bytes]) -> dict[str, Any]:
    """Where the time went, from each decision's decided_at and timings_us."""
    from schemas import codec_for

    codec = codec_for("decision")
    to_decided, to_consumed = [], []
    steps: dict[str, list[float]] = {}
    workers: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for app_id, raw in values.items():
        if app_id not in sent:
            continue
        d = codec.decode(raw)
        to_decided.append(d["decided_at"] - sent[app_id] * 1000)
        to_consumed.append(recv[app_id] * 1000 - d["decided_at"])
        for k, v in (d.get("timings_us") or {}).items():
            steps.setdefault(k, []).append(v)
        workers[d.get("worker", "")] += 1
        outcomes[d["decision"]] += 1
    return {
        "publish_to_decided_ms": {"p50": round(pct(to_decided, .5), 1),
                                  "p99": round(pct(to_decided, .99), 1)},
        "decided_to_consumed_ms": {"p50": round(pct(to_consumed, .5), 1),
                                   "p99": round(pct(to_consumed, .99), 1)},
        "step_us": {k: {"p50": round(pct(v, .5), 1), "p99": round(pct(v, .99), 1)}
                    for k, v in sorted(steps.items())},
        "by_worker": dict(workers), "decisions": dict(outcomes),
    }


# --- the bench ----------------------------------------------------------------------------
def bench_settings(**overrides: Any) -> Any:
    from streams.settings import Settings

    return Settings(state_dir=BENCH_DIR, kafka_port=49092, kafka_controller_port=49093,
                    redis_port=46379, kafka_bootstrap="", redis_url="", clickhouse_dsn="",
                    **overrides)


class Bench:
    def __init__(self, plan: Plan) -> None:
        from streams.ops.stack import LocalStack

        self.plan = plan
        self.settings = bench_settings()
        # the children must not pick up a developer's remote services from the environment
        blank = {f"LOANRISK_{k}": "" for k in ("KAFKA_BOOTSTRAP", "REDIS_URL", "CLICKHOUSE_DSN")}
        self.stack = LocalStack(self.settings, extra_env=blank)
        self.bootstrap = self.settings.bootstrap_servers
        self.run_id = time.strftime("%H%M%S")
        self.results: dict[str, Any] = {
            "plan": asdict(plan), "phases": [], "memory": {}, "commands": {},
            "worker_batch_max": self.settings.worker_batch_max,
            "worker_batch_window_ms": self.settings.worker_batch_window_ms,
            "cpus": os.cpu_count()}
        self.commands: list[str] = []

    # -- setup --
    def up(self) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        from streams.ops import services
        from streams.ops.bootstrap import ensure_champions

        t0 = time.monotonic()
        self.stack.up()
        ensure_champions(self.settings, applications=30_000, say=lambda s: print("  " + s))
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        if ECHO_TOPIC not in admin.list_topics(timeout=10).topics:
            for fut in admin.create_topics([NewTopic(ECHO_TOPIC, 6, 1)]).values():
                fut.result()
        self.kafka_pid = services.kafka_node(self.settings).process.pid()
        self.redis_pid = services.redis_node(self.settings).process.pid()
        print(f"stack up in {time.monotonic() - t0:.1f}s: Kafka {self.bootstrap} "
              f"(pid {self.kafka_pid}), Redis {self.settings.redis_dsn} (pid {self.redis_pid})",
              flush=True)
        self.decisions = Recorder(self.bootstrap, "loan.decisions.v1", keep_values=True)
        self.echoes = Recorder(self.bootstrap, ECHO_TOPIC, keep_values=False)
        self.decisions.start()
        self.echoes.start()
        self.publisher = Publisher(self.bootstrap)

    def traffic(self) -> None:
        t0 = time.monotonic()
        p = self.plan
        start = int(time.time() * 1000)
        self.pool = generate(101, start, 1000.0, p.paced_apps + p.backlog)
        after = self.pool[-1][3] + 60_000
        self.warm = generate(202, after, 100.0, 3 * p.warmup)
        after = self.warm[-1][3] + 60_000
        # Poisson arrivals at hour_apps per 65 minutes of event time: > 1 simulated hour
        self.hour = generate(303, after, p.hour_apps / 3900.0, p.hour_apps)
        span_h = (self.hour[-1][3] - self.hour[0][3]) / HOUR_MS
        msgs = sum(1 + len(a[4]) for a in (*self.pool, *self.warm, *self.hour))
        print(f"traffic: {len(self.pool) + len(self.warm) + len(self.hour):,} applications, "
              f"{msgs:,} messages generated and encoded in {time.monotonic() - t0:.1f}s "
              f"(hour phase spans {span_h:.2f} h of event time)", flush=True)
        self.results["hour_phase_event_span_h"] = round(span_h, 3)
        self.results["messages_per_application"] = round(msgs / (len(self.pool) + len(self.warm)
                                                                 + len(self.hour)), 2)
        gc.collect()
        gc.freeze()

    # -- one phase --
    def phase(self, label: str, name: str, apps: list[App], rate: float | None,
              recorder: Recorder, cpu: CpuMeter) -> dict[str, Any]:
        recorder.reset()
        gc.disable()
        cpu.start()
        try:
            sent = self.publisher.send(apps, rate, self.plan.lead_s)
            recorder.wait_for(list(sent), self.plan.idle_s)
        finally:
            gc.enable()
        load = cpu.stop()
        res = summarize(name, rate, sent, recorder.recv,
                        recorder.values if recorder.keep_values else None)
        res["config"] = label
        res.update(load)
        self.results["phases"].append(res)
        self._print_phase(res)
        return res

    def _print_phase(self, r: dict[str, Any]) -> None:
        offered = f"{r['offered_per_s']:>6.0f}/s" if r["offered_per_s"] else "backlog "
        if "p50_ms" not in r:
            print(f"  {r['config']:<10} {offered} nothing received ({r['sent']} sent)", flush=True)
            return
        line = (f"  {r['config']:<10} {offered} n={r['received']:>6}/{r['sent']:<6} "
                f"p50 {r['p50_ms']:7.1f}  p99 {r['p99_ms']:7.1f}  p99.9 {r['p999_ms']:7.1f}  "
                f"max {r['max_ms']:7.1f} ms  done {r['completed_per_s']:7.0f}/s")
        if r["offered_per_s"] is None:
            line += f"  steady {r.get('steady_per_s', 0):7.0f}/s"
        elif not r["lag_bounded"]:
            line += "  LAG GROWS"
        print(line, flush=True)
        cpu = ", ".join(f"{k} {v:.0f}%" for k, v in r["cpu_pct"].items())
        wait = ", ".join(f"{k} {v:.0f}%" for k, v in r["wait_for_cpu_pct"].items())
        print(f"{'':14}cpu: {cpu}; waiting for a cpu: {wait}; machine busy "
              f"{r['machine_busy_pct']:.0f}% ({r['others_pct_of_machine']:.0f}% not ours)",
              flush=True)
        if "publish_to_decided_ms" in r:
            steps = ", ".join(f"{k} {v['p50']:.0f}/{v['p99']:.0f}"
                              for k, v in r["step_us"].items())
            print(f"{'':14}publish->decided p50/p99 {r['publish_to_decided_ms']['p50']:.1f}/"
                  f"{r['publish_to_decided_ms']['p99']:.1f} ms, decided->consumed "
                  f"{r['decided_to_consumed_ms']['p50']:.1f}/"
                  f"{r['decided_to_consumed_ms']['p99']:.1f} ms; steps µs p50/p99: {steps}",
                  flush=True)

    # -- the echo --
    def run_echo(self, faust: bool = False) -> None:
        """The confluent-kafka echo, or (``faust``) the same echo as a Faust app."""
        from schemas.topics import APPLICATIONS, BEHAVIOUR_EVENTS, DEVICE_EVENTS, PERFORMANCE
        from streams.ops.stack import Proc

        label = "faustecho" if faust else "echo"
        log = self.stack.logs / f"{label}.log"
        log.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "bench.echo", "--bootstrap", self.bootstrap,
               "--source", APPLICATIONS.name, "--target", ECHO_TOPIC]
        if faust:
            group = f"bench-{self.run_id}-faustecho"
            commit_at_end(self.bootstrap, group,
                          [APPLICATIONS, DEVICE_EVENTS, BEHAVIOUR_EVENTS, PERFORMANCE])
            cmd += ["--faust", group, "--batch-max", str(self.settings.worker_batch_max),
                    "--window-ms", str(self.settings.worker_batch_window_ms)]
        self.results["commands"][label] = " ".join(cmd[1:])
        fh = open(log, "ab")  # noqa: SIM115 - the child owns it
        popen = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        echo = Proc(label, popen, log)
        self.stack.procs.append(echo)
        try:
            self.stack.wait_for_log(echo, "Ready" if faust else "echo ready", 60)
            cpu = CpuMeter({label: echo.pid, "kafka": self.kafka_pid, "bench": os.getpid()})
            print("faust echo (Faust app like the worker's, no work, 1 process):" if faust else
                  "echo (bare confluent-kafka consume -> produce, 1 process):", flush=True)
            if not faust:  # a freshly started broker is slow until its JIT has warmed up
                self.phase(label, "warmup", self.pool[:2000], 500.0, self.echoes, cpu)
                self.results["phases"].pop()
            for round_ in range(3):  # until the group is settled and messages flow
                res = self.phase(label, "warmup", self.warm[round_ * 200:(round_ + 1) * 200],
                                 100.0, self.echoes, cpu)
                self.results["phases"].pop()
                if res.get("received") == res["sent"]:
                    break
            self._paced_and_backlog(label, self.echoes, cpu, self.plan.echo_backlog)
            self.results["memory"][label] = {"rss_mb_end": echo.rss_mb()}
        finally:
            echo.stop()
            self.stack.procs.remove(echo)

    def _paced_and_backlog(self, label: str, recorder: Recorder, cpu: CpuMeter,
                           backlog: int) -> dict[str, Any]:
        """The offered rates (a rate above the target's is skipped once a lower one could not
        be sustained: its latency would only measure the queue), then the backlog."""
        pos, lagged = 0, False
        for rate in self.plan.rates:
            n = int(rate * self.plan.seconds)
            if lagged and rate > TARGET_P99_AT:
                print(f"  {label:<10} {rate:>6}/s skipped: a lower rate was not sustained",
                      flush=True)
                self.results["phases"].append({"phase": f"{rate}/s", "config": label,
                                               "offered_per_s": rate, "skipped": True})
            else:
                res = self.phase(label, f"{rate}/s", self.pool[pos:pos + n], float(rate),
                                 recorder, cpu)
                lagged = lagged or not res.get("lag_bounded", False)
            pos += n
        if pos + backlog > len(self.pool):  # the echo keeps no state: reusing ids is fine
            pos = 0
        return self.phase(label, "backlog", self.pool[pos:pos + backlog], None, recorder, cpu)

    # -- a set of workers --
    def run_workers(self, label: str, n_workers: int, first_index: int, hour: bool = False,
                    profile: bool = False, extra_env: dict[str, str] | None = None) -> None:
        from schemas.topics import APPLICATIONS, BEHAVIOUR_EVENTS, DEVICE_EVENTS, PERFORMANCE

        group = f"bench-{self.run_id}-{label}"
        prefix = f"bench{self.run_id}{label}"
        commit_at_end(self.bootstrap, group,
                      [APPLICATIONS, DEVICE_EVENTS, BEHAVIOUR_EVENTS, PERFORMANCE])
        env = {"LOANRISK_WORKER_GROUP": group, "LOANRISK_REDIS_PREFIX": prefix,
               **(extra_env or {})}
        procs = []
        for i in range(first_index, first_index + n_workers):
            (self.stack.logs / f"worker-{i}.log").unlink(missing_ok=True)
            if profile:
                procs.append(self._profiled_worker(i, env))
            else:
                procs.append(self.stack.worker(i, **env))
        self.results["commands"].setdefault(
            "worker", "python -m streams.cli worker --loglevel info  (env LOANRISK_* of "
            "bench_settings, LOANRISK_WORKER_GROUP/REDIS_PREFIX per worker set)")
        memory: dict[str, Any] = {}
        self.results["memory"][label] = memory
        try:
            t0 = time.monotonic()
            for p in procs:
                self.stack.wait_for_log(p, "Worker ready", 180)
            print(f"{label}: {n_workers} worker(s) ready in {time.monotonic() - t0:.1f}s "
                  f"(group {group})", flush=True)
            cpu = CpuMeter({**{p.name: p.pid for p in procs}, "kafka": self.kafka_pid,
                            "redis": self.redis_pid, "bench": os.getpid()})
            self._warm_up(label, procs, cpu)
            memory["rss_mb_start"] = {p.name: p.rss_mb() for p in procs}
            if profile:
                for p in procs:
                    os.kill(p.pid, PROFILE_SIGNAL)  # start profiling
                self.phase(label, f"{TARGET_P99_AT}/s",
                           self.pool[:int(TARGET_P99_AT * self.plan.seconds)],
                           float(TARGET_P99_AT), self.decisions, cpu)
                self.phase(label, "backlog", self.pool[-self.plan.backlog // 2:], None,
                           self.decisions, cpu)
                for p in procs:
                    os.kill(p.pid, PROFILE_SIGNAL)  # stop and dump
                time.sleep(2)
                return
            mx = self._paced_and_backlog(label, self.decisions, cpu, self.plan.backlog)
            memory["rss_mb_after_backlog"] = {p.name: p.rss_mb() for p in procs}
            if hour:  # offered below what the worker sustains, so the phase ends in time
                rate = min(self.plan.hour_rate, 0.7 * (mx.get("steady_per_s") or 300.0))
                memory.update(self._hour_phase(label, procs, cpu, round(rate)))
        finally:
            for p in procs:
                p.stop()
                self.stack.procs.remove(p)
            time.sleep(1.0)  # late decisions of this set must not land in the next one's phases

    def _warm_up(self, label: str, procs: list[Any], cpu: CpuMeter) -> None:
        """Until every worker has decided (the group settled, models and caches warm)."""
        w = self.plan.warmup
        for round_ in range(3):
            res = self.phase(label, "warmup", self.warm[round_ * w:(round_ + 1) * w], 100.0,
                             self.decisions, cpu)
            self.results["phases"].pop()
            seen = set(res.get("by_worker", {}))
            if len(seen) >= len(procs) and res.get("received") == res["sent"]:
                return
            print(f"  (warm-up round {round_ + 1}: {res.get('received')}/{res['sent']} decided "
                  f"by {sorted(seen)}; again)", flush=True)

    def _hour_phase(self, label: str, procs: list[Any], cpu: CpuMeter,
                    rate: float) -> dict[str, Any]:
        samples: list[tuple[float, list[float | None]]] = []
        stop = threading.Event()
        t0 = time.monotonic()

        def sample() -> None:
            while not stop.wait(1.0):
                samples.append((round(time.monotonic() - t0, 1), [p.rss_mb() for p in procs]))

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        before = {p.name: p.rss_mb() for p in procs}
        try:
            self.phase(label, "hour", self.hour, rate, self.decisions, cpu)
        finally:
            stop.set()
            th.join()
        after = {p.name: p.rss_mb() for p in procs}
        half = samples[len(samples) // 2:] or samples
        growth = {p.name: round((half[-1][1][i] or 0) - (half[0][1][i] or 0), 1)
                  for i, p in enumerate(procs)} if half else {}
        redis_mb = redis_used_mb(self.settings.redis_dsn)
        print(f"  memory over {self.results['hour_phase_event_span_h']:.2f} simulated hours "
              f"({len(self.hour):,} applications): RSS {before} -> {after} MB; growth over "
              f"the second half {growth} MB; Redis used {redis_mb} MB", flush=True)
        return {"rss_mb_before_hour": before, "rss_mb_after_hour": after,
                "rss_growth_second_half_mb": growth, "rss_samples": samples,
                "redis_used_mb": redis_mb}

    def _profiled_worker(self, index: int, env: dict[str, str]) -> Any:
        from streams.ops.stack import Proc

        name = f"worker-{index}"
        log = self.stack.logs / f"{name}.log"
        out = BENCH_DIR / "worker.prof"
        out.unlink(missing_ok=True)
        fh = open(log, "ab")  # noqa: SIM115 - the child owns it
        popen = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_pipeline", "profiled-worker", str(out)],
            stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
            env=self.stack.env(LOANRISK_WORKER_ID=name, **env), start_new_session=True)
        proc = Proc(name, popen, log)
        self.stack.procs.append(proc)
        self.profile_out = out
        return proc

    # -- report --
    def verdict(self) -> dict[str, Any]:
        ph = self.results["phases"]

        def find(config: str, phase: str) -> dict[str, Any]:
            return next((p for p in ph if p["config"] == config and p["phase"] == phase), {})

        echo500, echo_max = find("echo", f"{TARGET_P99_AT}/s"), find("echo", "backlog")
        fe500, fe_max = find("faustecho", f"{TARGET_P99_AT}/s"), find("faustecho", "backlog")
        out: dict[str, Any] = {}
        for label in ("1worker", "2workers", "1worker-eo"):
            at = find(label, f"{TARGET_P99_AT}/s")
            mx = find(label, "backlog")
            if not at:
                continue
            out[label] = {
                "p99_ms_at_500": at.get("p99_ms"),
                "p99_ratio_to_echo": _ratio(at.get("p99_ms"), echo500.get("p99_ms")),
                "max_per_s": mx.get("steady_per_s"),
                "max_fraction_of_echo": _ratio(mx.get("steady_per_s"),
                                               echo_max.get("steady_per_s")),
                "p99_ratio_to_faust_echo": _ratio(at.get("p99_ms"), fe500.get("p99_ms")),
                "max_fraction_of_faust_echo": _ratio(mx.get("steady_per_s"),
                                                     fe_max.get("steady_per_s")),
                "p99_target_met": (at.get("p99_ms") or 1e9) < TARGET_P99_MS,
                "rate_target_met": (mx.get("steady_per_s") or 0) >= TARGET_RATE,
            }
        if "1worker-eo" in out and "1worker" in out:  # the price of exactly-once
            eo, alo = out["1worker-eo"], out["1worker"]
            eo["p99_ratio_to_at_least_once"] = _ratio(eo["p99_ms_at_500"], alo["p99_ms_at_500"])
            eo["max_fraction_of_at_least_once"] = _ratio(eo["max_per_s"], alo["max_per_s"])
        out["echo"] = {"p99_ms_at_500": echo500.get("p99_ms"),
                       "max_per_s": echo_max.get("steady_per_s")}
        out["faustecho"] = {"p99_ms_at_500": fe500.get("p99_ms"),
                            "max_per_s": fe_max.get("steady_per_s")}
        return out

    def report(self) -> None:
        v = self.results["verdict"] = self.verdict()
        print("\n=== end-to-end summary (latency publish -> decision consumed) ===")
        print(f"{'config':<10} {'phase':<9} {'n':>7} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'p99.9 ms':>9} {'max ms':>8} {'done/s':>8} {'steady/s':>9} "
              f"{'p99/echo':>9} lag")
        echo_p99 = {p["phase"]: p.get("p99_ms") for p in self.results["phases"]
                    if p["config"] == "echo"}
        for p in self.results["phases"]:
            if "p50_ms" not in p:
                what = "skipped" if p.get("skipped") else "nothing received"
                print(f"{p['config']:<10} {p['phase']:<9} {what}")
                continue
            ratio = (_ratio(p["p99_ms"], echo_p99.get(p["phase"]))
                     if p["config"] != "echo" else None)
            print(f"{p['config']:<10} {p['phase']:<9} {p['received']:>7} {p['p50_ms']:>8.1f} "
                  f"{p['p99_ms']:>8.1f} {p['p999_ms']:>9.1f} {p['max_ms']:>8.1f} "
                  f"{p['completed_per_s']:>8.0f} {p.get('steady_per_s', 0):>9.0f} "
                  f"{'' if ratio is None else f'{ratio:.1f}x':>9} "
                  f"{'ok' if p['lag_bounded'] else 'GROWS'}")
        print("\ntargets: p99 < 25 ms at 500/s; >= 1,000 applications/s sustained")
        for label, r in v.items():
            if label in ("echo", "faustecho"):
                print(f"  {label + ':':<10} p99 at 500/s {r['p99_ms_at_500']} ms, max "
                      f"{r['max_per_s']}/s")
                continue
            met = "MET" if r["p99_target_met"] else "MISSED"
            print(f"  {label}: p99 at 500/s {r['p99_ms_at_500']} ms "
                  f"({r['p99_ratio_to_echo']}x echo, {r['p99_ratio_to_faust_echo']}x the Faust "
                  f"echo) -> {met}; max {r['max_per_s']}/s ({r['max_fraction_of_echo']} of echo, "
                  f"{r['max_fraction_of_faust_echo']} of the Faust echo) -> "
                  f"{'MET' if r['rate_target_met'] else 'MISSED'}")
            if "p99_ratio_to_at_least_once" in r:
                print(f"    exactly-once vs at-least-once: p99 {r['p99_ratio_to_at_least_once']}x"
                      f", max {r['max_fraction_of_at_least_once']} of it")
        for label, m in self.results["memory"].items():
            short = {k: v for k, v in m.items() if k != "rss_samples"}
            print(f"  memory {label}: {short}")

    def write(self) -> Path:
        out = BENCH_DIR / "pipeline.json"
        out.write_text(json.dumps(self.results, indent=1, default=str))
        return out

    def down(self) -> None:
        from streams.ops import services

        for r in (getattr(self, "decisions", None), getattr(self, "echoes", None)):
            if r is not None:
                r.stopping.set()
        self.stack.stop_all()
        if os.environ.get("LOANRISK_BENCH_KEEP", "") in ("", "0"):
            print(f"stopped: {services.down(self.settings)}", flush=True)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def commit_at_end(bootstrap: str, group: str, topics: list[Any]) -> None:
    """Give a new consumer group committed offsets at the topics' current end."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    offsets = []
    for t in topics:
        for p in range(t.partitions):
            _low, high = c.get_watermark_offsets(TopicPartition(t.name, p), timeout=10)
            offsets.append(TopicPartition(t.name, p, high))
    c.commit(offsets=offsets, asynchronous=False)
    c.close()


def redis_used_mb(dsn: str) -> float | None:
    try:
        import redis

        return round(redis.Redis.from_url(dsn).info("memory")["used_memory"] / 2**20, 1)
    except Exception:
        return None


def print_profile(path: Path, top: int = 30) -> list[str]:
    import io
    import pstats

    buf = io.StringIO()
    st = pstats.Stats(str(path), stream=buf)
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    text = buf.getvalue()
    print(text)
    return text.splitlines()


def profiled_worker(out: str) -> None:
    """``loanrisk worker`` under cProfile; PROFILE_SIGNAL starts the profile, a second one
    dumps it (mode's Worker takes SIGUSR1/SIGUSR2 for itself)."""
    import cProfile

    prof = cProfile.Profile()
    on = [False]

    def toggle(*_: Any) -> None:
        if not on[0]:
            prof.enable()
        else:
            prof.disable()
            prof.dump_stats(out)
        on[0] = not on[0]

    signal.signal(PROFILE_SIGNAL, toggle)
    from streams.settings import load_settings
    from streams.worker.faust_app import run_worker

    run_worker(load_settings(), loglevel="info")


def main() -> None:
    plan = plan_from_env()
    print(f"plan: {plan}", flush=True)
    sys.setswitchinterval(0.001)  # the recorder thread should not wait 5 ms for the GIL
    bench = Bench(plan)
    t0 = time.monotonic()
    try:
        bench.up()
        bench.traffic()
        bench.run_echo()
        bench.run_echo(faust=True)
        bench.run_workers("1worker", 1, first_index=0, hour=True)
        bench.run_workers("2workers", 2, first_index=1)
        # exactly-once: each batch's outputs and offsets in one Kafka transaction; the
        # bench reads decisions read_committed, so latency includes the commit
        bench.run_workers("1worker-eo", 1, first_index=4,
                          extra_env={"LOANRISK_PROCESSING_GUARANTEE": "exactly_once"})
        verdict = bench.verdict()
        missed = any(not (r.get("p99_target_met", True) and r.get("rate_target_met", True))
                     for r in verdict.values())
        want = os.environ.get("LOANRISK_BENCH_PROFILE", "")
        if want == "1" or (missed and want != "0"):
            print("profiling one worker (cProfile, 500/s then a backlog):", flush=True)
            bench.run_workers("profiled", 1, first_index=9, profile=True)
            if bench.profile_out.exists():
                bench.results["profile"] = print_profile(bench.profile_out)
                bench.results["profile_file"] = str(bench.profile_out)
        bench.report()
    finally:
        bench.results["seconds"] = round(time.monotonic() - t0, 1)
        print(f"\nfigures: {bench.write()}", flush=True)
        bench.down()


if __name__ == "__main__":
    if sys.argv[1:2] == ["profiled-worker"]:
        profiled_worker(sys.argv[2])
    else:
        main()
