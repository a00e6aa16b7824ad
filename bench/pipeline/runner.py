"""The bench's phases on its own isolated stack: bring the services up, then for each
configuration start its processes (an echo or a set of workers), warm them up, offer the
rates and a backlog, meter them, stop them. Figures go to ``results`` (the JSON written
at the end) and are printed as each phase ends."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Any

from bench.pipeline import profiler
from bench.pipeline.figures import summarize
from bench.pipeline.meters import (
    CpuMeter,
    RssSampler,
    cpu_us_per_app,
    redis_used_mb,
    rss_by_name,
)
from bench.pipeline.plan import (
    BENCH_DIR,
    ECHO_TOPIC,
    ROOT,
    TARGET_P99_AT,
    Config,
    Plan,
    bench_settings,
    keep_services,
)
from bench.pipeline.recorder import Recorder, commit_at_end
from bench.pipeline.report import print_phase
from bench.pipeline.traffic import App, Publisher, Traffic, make_traffic
from schemas.topics import APPLICATIONS, BEHAVIOUR_EVENTS, DEVICE_EVENTS, PERFORMANCE, TopicSpec
from streams import kafka
from streams.ops.stack import LocalStack, Proc

WORKER_TOPICS = [APPLICATIONS, DEVICE_EVENTS, BEHAVIOUR_EVENTS, PERFORMANCE]
ECHO_SPEC = TopicSpec(ECHO_TOPIC, APPLICATIONS.schema, 6, "the echo baseline's output")


class Bench:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.settings = bench_settings()
        # the children must not pick up a developer's remote services from the environment
        blank = {f"LOANRISK_{k}": "" for k in ("KAFKA_BOOTSTRAP", "REDIS_URL", "CLICKHOUSE_DSN")}
        self.stack = LocalStack(self.settings, extra_env=blank)
        self.conn = self.settings.kafka
        self.run_id = time.strftime("%H%M%S")
        self.profile_out = BENCH_DIR / "worker.prof"
        self.recorders: list[Recorder] = []
        self.results: dict[str, Any] = {
            "plan": asdict(plan), "phases": [], "memory": {}, "commands": {},
            "worker_batch_max": self.settings.worker_batch_max,
            "worker_batch_window_ms": self.settings.worker_batch_window_ms,
            "cpus": os.cpu_count()}

    # -- setup --
    def up(self) -> None:
        from streams.ops import services
        from streams.ops.bootstrap import ensure_champions

        t0 = time.monotonic()
        self.stack.up()
        ensure_champions(self.settings, applications=30_000, say=lambda s: print("  " + s))
        self.empty_redis()
        kafka.ensure_topics(self.conn, [ECHO_SPEC])
        self.kafka_pid = services.kafka_node(self.settings).process.pid()
        self.redis_pid = services.redis_node(self.settings).process.pid()
        print(f"stack up in {time.monotonic() - t0:.1f}s: Kafka {self.conn.bootstrap} "
              f"(pid {self.kafka_pid}), Redis {self.settings.redis_dsn} (pid {self.redis_pid})",
              flush=True)
        self.decisions = Recorder(self.conn, "loan.decisions.v1", keep_values=True)
        self.echoes = Recorder(self.conn, ECHO_TOPIC, keep_values=False)
        self.recorders = [self.decisions, self.echoes]
        for r in self.recorders:
            r.start()
        self.publisher = Publisher(self.conn)

    def empty_redis(self) -> None:
        """Every run starts from an empty Redis. The bench's state dir keeps Redis's AOF, so
        without this each run added its keys to all the earlier runs' (1.5 GB after three),
        and every AOF rewrite forked and copied that much: Redis's CPU per application then
        depended on how often the bench had run before."""
        from streams.clients import redis_client

        client = redis_client(self.settings, timeout_ms=120_000)  # a large flush takes seconds
        keys = client.dbsize()
        client.flushall()
        client.bgrewriteaof()  # the AOF file shrinks to the empty dataset too
        print(f"  bench Redis emptied ({keys:,} keys left by earlier runs)", flush=True)

    def traffic(self) -> None:
        self.load: Traffic = make_traffic(self.plan)
        self.results["hour_phase_event_span_h"] = round(self.load.hour_span_h, 3)
        self.results["messages_per_application"] = round(self.load.messages_per_application, 2)

    def down(self) -> None:
        from streams.ops import services

        for r in self.recorders:
            r.stopping.set()
        self.stack.stop_all()
        if not keep_services():
            print(f"stopped: {services.down(self.settings)}", flush=True)

    def run(self, config: Config) -> None:
        if config.workers == 0:
            self.run_echo(config)
        else:
            self.run_workers(config)

    # -- one phase --
    def phase(self, label: str, name: str, apps: list[App], rate: float | None,
              recorder: Recorder, cpu: CpuMeter) -> dict[str, Any]:
        """Publish ``apps`` (at ``rate``/s, or unpaced), wait for their answers, meter it."""
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
        res["cpu_us_per_app"] = cpu_us_per_app(load["cpu_s"], res.get("received", 0))
        self.results["phases"].append(res)
        print_phase(res)
        return res

    def warmup_phase(self, label: str, apps: list[App], rate: float, recorder: Recorder,
                     cpu: CpuMeter) -> dict[str, Any]:
        """A phase whose figures are printed but not kept."""
        res = self.phase(label, "warmup", apps, rate, recorder, cpu)
        self.results["phases"].pop()
        return res

    def paced_and_backlog(self, label: str, recorder: Recorder, cpu: CpuMeter,
                          backlog: int) -> dict[str, Any]:
        """The offered rates (a rate above the target's is skipped once a lower one could not
        be sustained: its latency would only measure the queue), then the backlog."""
        pool = self.load.pool
        pos, lagged = 0, False
        for rate in self.plan.rates:
            n = int(rate * self.plan.seconds)
            if lagged and rate > TARGET_P99_AT:
                print(f"  {label:<10} {rate:>6}/s skipped: a lower rate was not sustained",
                      flush=True)
                self.results["phases"].append({"phase": f"{rate}/s", "config": label,
                                               "offered_per_s": rate, "skipped": True})
            else:
                res = self.phase(label, f"{rate}/s", pool[pos:pos + n], float(rate),
                                 recorder, cpu)
                lagged = lagged or not res.get("lag_bounded", False)
            pos += n
        if pos + backlog > len(pool):  # the echo keeps no state: reusing ids is fine
            pos = 0
        return self.phase(label, "backlog", pool[pos:pos + backlog], None, recorder, cpu)

    # -- the echo --
    def run_echo(self, config: Config) -> None:
        """The confluent-kafka echo, or (``faust``) the same echo as a Faust app."""
        label = config.label
        echo = self._start_echo(label, config.faust)
        try:
            self.stack.wait_for_log(echo, "Ready" if config.faust else "echo ready", 60)
            cpu = CpuMeter({label: echo.pid, "kafka": self.kafka_pid, "bench": os.getpid()})
            print("faust echo (Faust app like the worker's, no work, 1 process):"
                  if config.faust else
                  "echo (bare confluent-kafka consume -> produce, 1 process):", flush=True)
            if not config.faust:  # a freshly started broker is slow until its JIT has warmed up
                self.warmup_phase(label, self.load.pool[:2000], 500.0, self.echoes, cpu)
            warm = self.load.warm
            for round_ in range(3):  # until the group is settled and messages flow
                res = self.warmup_phase(label, warm[round_ * 200:(round_ + 1) * 200], 100.0,
                                        self.echoes, cpu)
                if res.get("received") == res["sent"]:
                    break
            self.paced_and_backlog(label, self.echoes, cpu, self.plan.echo_backlog)
            self.results["memory"][label] = {"rss_mb_end": echo.rss_mb()}
        finally:
            echo.stop()
            self.stack.procs.remove(echo)

    def _start_echo(self, label: str, faust: bool) -> Proc:
        log = self.stack.logs / f"{label}.log"
        log.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "bench.echo", "--bootstrap", self.conn.bootstrap,
               "--source", APPLICATIONS.name, "--target", ECHO_TOPIC]
        if faust:
            group = f"bench-{self.run_id}-{label}"
            commit_at_end(self.conn, group, WORKER_TOPICS)
            cmd += ["--faust", group, "--batch-max", str(self.settings.worker_batch_max),
                    "--window-ms", str(self.settings.worker_batch_window_ms)]
        self.results["commands"][label] = " ".join(cmd[1:])
        fh = open(log, "ab")  # noqa: SIM115 - the child owns it
        popen = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        echo = Proc(label, popen, log)
        self.stack.procs.append(echo)
        return echo

    # -- a set of workers --
    def run_workers(self, config: Config) -> None:
        label = config.label
        procs = self._start_workers(config)
        memory: dict[str, Any] = {}
        self.results["memory"][label] = memory
        try:
            t0 = time.monotonic()
            for p in procs:
                self.stack.wait_for_log(p, "Worker ready", 180)
            print(f"{label}: {config.workers} worker(s) ready in {time.monotonic() - t0:.1f}s "
                  f"(group {self._group(label)})", flush=True)
            cpu = CpuMeter({**{p.name: p.pid for p in procs}, "kafka": self.kafka_pid,
                            "redis": self.redis_pid, "bench": os.getpid()})
            self._warm_up(label, procs, cpu)
            memory["rss_mb_start"] = rss_by_name(procs)
            if config.profile:
                self._profiled_phases(label, procs, cpu)
                return
            mx = self.paced_and_backlog(label, self.decisions, cpu, self.plan.backlog)
            memory["rss_mb_after_backlog"] = rss_by_name(procs)
            if config.hour:  # offered below what the worker sustains, so the phase ends in time
                rate = min(self.plan.hour_rate, 0.7 * (mx.get("steady_per_s") or 300.0))
                memory.update(self._hour_phase(label, procs, cpu, round(rate)))
        finally:
            for p in procs:
                p.stop()
                self.stack.procs.remove(p)
            time.sleep(1.0)  # late decisions of this set must not land in the next one's phases

    def _group(self, label: str) -> str:
        return f"bench-{self.run_id}-{label}"

    def _start_workers(self, config: Config) -> list[Proc]:
        """Each set has its own group (committed at the topics' end) and Redis prefix."""
        group = self._group(config.label)
        commit_at_end(self.conn, group, WORKER_TOPICS)
        env = {"LOANRISK_WORKER_GROUP": group,
               "LOANRISK_REDIS_PREFIX": f"bench{self.run_id}{config.label}", **dict(config.env)}
        procs = []
        for i in range(config.first_index, config.first_index + config.workers):
            (self.stack.logs / f"worker-{i}.log").unlink(missing_ok=True)
            if config.profile:
                procs.append(profiler.start_profiled_worker(self.stack, i, env, self.profile_out))
            else:
                procs.append(self.stack.worker(i, **env))
        self.results["commands"].setdefault(
            "worker", "python -m streams.cli worker --loglevel info  (env LOANRISK_* of "
            "bench_settings, LOANRISK_WORKER_GROUP/REDIS_PREFIX per worker set)")
        return procs

    def _warm_up(self, label: str, procs: list[Proc], cpu: CpuMeter) -> None:
        """Until every worker has decided (the group settled, models and caches warm)."""
        w = self.plan.warmup
        for round_ in range(3):
            res = self.warmup_phase(label, self.load.warm[round_ * w:(round_ + 1) * w], 100.0,
                                    self.decisions, cpu)
            seen = set(res.get("by_worker", {}))
            if len(seen) >= len(procs) and res.get("received") == res["sent"]:
                return
            print(f"  (warm-up round {round_ + 1}: {res.get('received')}/{res['sent']} decided "
                  f"by {sorted(seen)}; again)", flush=True)

    def _profiled_phases(self, label: str, procs: list[Proc], cpu: CpuMeter) -> None:
        """The target rate then half a backlog, with the profile on for exactly those."""
        profiler.toggle(procs)
        self.phase(label, f"{TARGET_P99_AT}/s",
                   self.load.pool[:int(TARGET_P99_AT * self.plan.seconds)],
                   float(TARGET_P99_AT), self.decisions, cpu)
        self.phase(label, "backlog", self.load.pool[-self.plan.backlog // 2:], None,
                   self.decisions, cpu)
        profiler.toggle(procs)
        time.sleep(2)  # the dump

    def _hour_phase(self, label: str, procs: list[Proc], cpu: CpuMeter,
                    rate: float) -> dict[str, Any]:
        """More than a simulated hour of event time, RSS sampled throughout: memory is
        bounded when it stops growing once the windows are full."""
        before = rss_by_name(procs)
        with RssSampler(procs) as rss:
            self.phase(label, "hour", self.load.hour, rate, self.decisions, cpu)
        after = rss_by_name(procs)
        growth = rss.growth_second_half()
        redis_mb = redis_used_mb(self.settings.redis_dsn)
        print(f"  memory over {self.results['hour_phase_event_span_h']:.2f} simulated hours "
              f"({len(self.load.hour):,} applications): RSS {before} -> {after} MB; growth over "
              f"the second half {growth} MB; Redis used {redis_mb} MB", flush=True)
        return {"rss_mb_before_hour": before, "rss_mb_after_hour": after,
                "rss_growth_second_half_mb": growth, "rss_samples": rss.samples,
                "redis_used_mb": redis_mb}
