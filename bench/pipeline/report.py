"""The figures as printed: one line per phase while it runs, the summary table with each
phase's p99 against the same run's echo, and the verdict on the targets, where every
worker configuration is a ratio to the echo baselines measured minutes before it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.pipeline.plan import (
    BENCH_DIR,
    TARGET_CPU_US,
    TARGET_ECHO_RATIO,
    TARGET_LATENCY_AT,
    TARGET_P99_AT,
    TARGET_P99_MS,
    TARGET_P999_MS,
    TARGET_RATE,
    TARGET_REDIS_US,
)

WORKER_CONFIGS = ("1worker", "2workers", "1worker-eo")
BASELINES = ("echo", "faustecho")


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def print_phase(r: dict[str, Any]) -> None:
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
    per_app = ", ".join(f"{k} {v:.0f}" for k, v in r.get("cpu_us_per_app", {}).items())
    print(f"{'':14}cpu µs per application: {per_app}", flush=True)
    wait = ", ".join(f"{k} {v:.0f}%" for k, v in r["wait_for_cpu_pct"].items())
    print(f"{'':14}cpu: {cpu}; waiting for a cpu: {wait}; machine busy "
          f"{r['machine_busy_pct']:.0f}% ({r['others_pct_of_machine']:.0f}% not ours)",
          flush=True)
    if "publish_to_decided_ms" in r:
        steps = ", ".join(f"{k} {v['p50']:.0f}/{v['p99']:.0f}" for k, v in r["step_us"].items())
        print(f"{'':14}publish->decided p50/p99 {r['publish_to_decided_ms']['p50']:.1f}/"
              f"{r['publish_to_decided_ms']['p99']:.1f} ms, decided->consumed "
              f"{r['decided_to_consumed_ms']['p50']:.1f}/"
              f"{r['decided_to_consumed_ms']['p99']:.1f} ms; steps µs p50/p99: {steps}",
              flush=True)


def verdict(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Each worker configuration against the goals, and against the echoes of the run."""
    def find(config: str, phase: str) -> dict[str, Any]:
        return next((p for p in phases if p["config"] == config and p["phase"] == phase), {})

    at_target = {b: find(b, f"{TARGET_P99_AT}/s") for b in BASELINES}
    at_max = {b: find(b, "backlog") for b in BASELINES}
    out: dict[str, Any] = {}
    for label in WORKER_CONFIGS:
        at, mx = find(label, f"{TARGET_P99_AT}/s"), find(label, "backlog")
        fast = find(label, f"{TARGET_LATENCY_AT}/s")
        if not at:
            continue
        p99, top = at.get("p99_ms"), mx.get("steady_per_s")
        echo_ratio = ratio(p99, at_target["echo"].get("p99_ms"))
        r: dict[str, Any] = {
            "p99_ms_at_500": p99, "p99_ratio_to_echo": echo_ratio,
            "p99_ms_at_1000": fast.get("p99_ms"), "p999_ms_at_1000": fast.get("p999_ms"),
            "max_per_s": top,
            "max_fraction_of_echo": ratio(top, at_max["echo"].get("steady_per_s")),
            "p99_ratio_to_faust_echo": ratio(p99, at_target["faustecho"].get("p99_ms")),
            "max_fraction_of_faust_echo": ratio(top, at_max["faustecho"].get("steady_per_s")),
            "cpu_us_per_app": {ph: _cpu(find(label, ph), "workers") for ph in TARGET_CPU_US},
            "redis_us_per_app": {ph: _cpu(find(label, ph), "redis") for ph in TARGET_CPU_US},
        }
        r["goals"] = _goals(label, r)
        out[label] = r
    if "1worker-eo" in out and "1worker" in out:  # the price of exactly-once
        eo, alo = out["1worker-eo"], out["1worker"]
        eo["p99_ratio_to_at_least_once"] = ratio(eo["p99_ms_at_500"], alo["p99_ms_at_500"])
        eo["max_fraction_of_at_least_once"] = ratio(eo["max_per_s"], alo["max_per_s"])
    for b in BASELINES:
        out[b] = {"p99_ms_at_500": at_target[b].get("p99_ms"),
                  "max_per_s": at_max[b].get("steady_per_s")}
    return out


def _cpu(phase: dict[str, Any], who: str) -> float | None:
    return phase.get("cpu_us_per_app", {}).get(who)


def _goals(label: str, r: dict[str, Any]) -> dict[str, bool]:
    """Which of the issue's goals this configuration met (exactly-once: CPU only)."""
    def below(v: float | None, bound: float) -> bool:
        return v is not None and v <= bound

    goals = {f"cpu {ph} <= {us:.0f} µs": below(r["cpu_us_per_app"][ph], us)
             for ph, us in TARGET_CPU_US.items()}
    goals.update({f"redis {ph} <= {TARGET_REDIS_US:.0f} µs": below(v, TARGET_REDIS_US)
                  for ph, v in r["redis_us_per_app"].items()})
    if label in TARGET_RATE:
        goals[f"sustained >= {TARGET_RATE[label]:,.0f}/s"] = (r["max_per_s"] or 0) >= \
            TARGET_RATE[label]
    if label == "1worker":
        goals[f"p99 at {TARGET_P99_AT}/s <= {TARGET_ECHO_RATIO:.0f}x echo"] = below(
            r["p99_ratio_to_echo"], TARGET_ECHO_RATIO)
        goals[f"p99 at {TARGET_LATENCY_AT}/s <= {TARGET_P99_MS:.0f} ms"] = below(
            r["p99_ms_at_1000"], TARGET_P99_MS)
        goals[f"p99.9 at {TARGET_LATENCY_AT}/s <= {TARGET_P999_MS:.0f} ms"] = below(
            r["p999_ms_at_1000"], TARGET_P999_MS)
    return goals


def targets_missed(v: dict[str, Any]) -> bool:
    return any(not all(r.get("goals", {}).values()) for r in v.values())


def print_summary(phases: list[dict[str, Any]]) -> None:
    """Every phase in one table; p99/echo is against the echo's phase of the same name."""
    print("\n=== end-to-end summary (latency publish -> decision consumed) ===")
    print(f"{'config':<10} {'phase':<9} {'n':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'p99.9 ms':>9} {'max ms':>8} {'done/s':>8} {'steady/s':>9} "
          f"{'p99/echo':>9} {'p99.9/echo':>10} {'cpu µs/app':>10} {'redis µs':>9} lag")
    echo_p99 = {p["phase"]: p.get("p99_ms") for p in phases if p["config"] == "echo"}
    echo_p999 = {p["phase"]: p.get("p999_ms") for p in phases if p["config"] == "echo"}
    for p in phases:
        if "p50_ms" not in p:
            what = "skipped" if p.get("skipped") else "nothing received"
            print(f"{p['config']:<10} {p['phase']:<9} {what}")
            continue
        echo = p["config"] == "echo"
        r = None if echo else ratio(p["p99_ms"], echo_p99.get(p["phase"]))
        r9 = None if echo else ratio(p["p999_ms"], echo_p999.get(p["phase"]))
        per_app = p.get("cpu_us_per_app", {})
        own = per_app.get("workers", per_app.get(p["config"]))
        redis = per_app.get("redis")
        print(f"{p['config']:<10} {p['phase']:<9} {p['received']:>7} {p['p50_ms']:>8.1f} "
              f"{p['p99_ms']:>8.1f} {p['p999_ms']:>9.1f} {p['max_ms']:>8.1f} "
              f"{p['completed_per_s']:>8.0f} {p.get('steady_per_s', 0):>9.0f} "
              f"{'' if r is None else f'{r:.1f}x':>9} {'' if r9 is None else f'{r9:.1f}x':>10} "
              f"{'' if own is None else f'{own:.0f}':>10} "
              f"{'' if redis is None else f'{redis:.0f}':>9} "
              f"{'ok' if p['lag_bounded'] else 'GROWS'}")


def print_verdict(v: dict[str, Any], memory: dict[str, Any]) -> None:
    print("\ngoals (issue 19): 1 worker >= 3,000/s, 2 workers >= 5,000/s sustained; 1 worker "
          "at 1,000/s p99 <= 15 ms, p99.9 <= 50 ms; at 500/s p99 <= 2x the echo's; worker CPU "
          "<= 170 µs/application at full speed, <= 400 at 500/s; Redis <= 80 µs/application")
    for label, r in v.items():
        if label in BASELINES:
            print(f"  {label + ':':<10} p99 at 500/s {r['p99_ms_at_500']} ms, max "
                  f"{r['max_per_s']}/s")
            continue
        print(f"  {label}: p99 at 500/s {r['p99_ms_at_500']} ms ({r['p99_ratio_to_echo']}x "
              f"echo, {r['p99_ratio_to_faust_echo']}x the Faust echo); at 1,000/s p99 "
              f"{r['p99_ms_at_1000']} ms, p99.9 {r['p999_ms_at_1000']} ms; max "
              f"{r['max_per_s']}/s ({r['max_fraction_of_echo']} of echo); worker CPU µs/app "
              f"{r['cpu_us_per_app']}; Redis {r['redis_us_per_app']}")
        for goal, met in r["goals"].items():
            print(f"    {'MET   ' if met else 'MISSED'} {goal}")
        if "p99_ratio_to_at_least_once" in r:
            print(f"    exactly-once vs at-least-once: p99 {r['p99_ratio_to_at_least_once']}x"
                  f", max {r['max_fraction_of_at_least_once']} of it")
    for label, m in memory.items():
        short = {k: val for k, val in m.items() if k != "rss_samples"}
        print(f"  memory {label}: {short}")


def report(results: dict[str, Any]) -> None:
    """Print the summary and the verdict; the verdict also goes into ``results``."""
    v = results["verdict"] = verdict(results["phases"])
    print_summary(results["phases"])
    print_verdict(v, results["memory"])


def write(results: dict[str, Any]) -> Path:
    out = BENCH_DIR / "pipeline.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    return out
