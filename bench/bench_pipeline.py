"""End to end: latency from an application's publish to its decision's consume, and the
maximum sustainable rate, with 1 and 2 real ``loanrisk worker`` processes, against a bare
confluent-kafka consume -> produce echo (``bench/echo.py``) on the same broker and topics.

What runs: an isolated stack (Kafka KRaft on 49092/49093, Redis on 46379, all moved by
``LOANRISK_BENCH_PORT_OFFSET``; state in
``.loanrisk/bench``; champion models trained once and cached there), then

1. echo:      offered rates (250, 500, 1,000 applications/s with their device and
              behaviour events) and a backlog published unpaced (its completion rate);
2. 1 worker:  the same, then a phase whose event times span more than a simulated hour
              (worker RSS sampled throughout, to show memory stays bounded);
3. 2 workers: the same rates and backlog;
   (and the Faust echo before the workers, an exactly-once worker after them: the list
   is ``CONFIGS`` in ``bench/pipeline/plan.py``);
4. only if a goal is missed (or ``LOANRISK_BENCH_PROFILE=1``): one worker (the default
              engine) under cProfile in CPU time at 500/s and a backlog; its CPU per step of
              the loop and its top functions are printed and saved.

Traffic comes from ``simulator.live`` and is generated and Avro-encoded before any timing.
Each application's session events are published ``lead`` (100 ms) before it; latency =
the wall time the bench consumed the decision - the wall time it produced the application.
Each worker set gets its own consumer group (committed at the topics' end before it starts)
and its own Redis prefix (fresh velocity state and redelivery memo), so phases do not
pollute each other. Decisions carry ``decided_at`` and per-step ``timings_us``: the split
of the latency into "publish -> decided" and "decided -> consumed" comes from those.

Goals (issue 19, printed met or missed): `bench/pipeline/plan.py` TARGET_*.

Run: ``python -m bench pipeline`` (part of ``make bench``); ``LOANRISK_BENCH_QUICK=1`` for
shorter phases; ``LOANRISK_BENCH_CONFIGS=echo,1worker`` for only those configurations;
``LOANRISK_BENCH_PROFILE=0|1`` never/always profiles (default: on a miss);
``LOANRISK_WORKER_BATCH_MAX`` / ``LOANRISK_WORKER_BATCH_WINDOW_MS`` pass to the workers.
Figures are printed and written to ``.loanrisk/bench/pipeline.json``. The parts, one module
per role, are in ``bench/pipeline/``; this module is the order they run in.
"""

from __future__ import annotations

import sys
import time

from bench.pipeline import plan as plans
from bench.pipeline import report
from bench.pipeline.profiler import print_profile


def main() -> None:
    try:
        plan = plans.plan_from_env()
    except plans.PlanError as exc:
        sys.exit(f"bench pipeline: {exc}")
    print(f"plan: {plan}", flush=True)
    sys.setswitchinterval(0.001)  # the recorder thread should not wait 5 ms for the GIL
    from bench.pipeline.runner import Bench

    bench = Bench(plan)
    t0 = time.monotonic()
    try:
        bench.up()
        bench.traffic()
        for config in plan.chosen():
            bench.run(config)
        if plans.profile_wanted(report.targets_missed(report.verdict(bench.results["phases"]))):
            print("profiling one worker (cProfile, 500/s then a backlog):", flush=True)
            bench.run(plans.PROFILED)
            if bench.profile_out.exists():
                decided = sum(p.get("received", 0) for p in bench.results["phases"]
                              if p["config"] == plans.PROFILED.label)
                bench.results["profile"] = print_profile(bench.profile_out, decided=decided)
                bench.results["profile_file"] = str(bench.profile_out)
        report.report(bench.results)
    finally:
        bench.results["seconds"] = round(time.monotonic() - t0, 1)
        print(f"\nfigures: {report.write(bench.results)}", flush=True)
        bench.down()


if __name__ == "__main__":
    main()
