"""What the end-to-end bench runs: the configurations, the offered rates, the targets.

The options are environment variables (``python -m bench`` takes none of its own):
``LOANRISK_BENCH_QUICK=1`` shorter phases; ``LOANRISK_BENCH_CONFIGS=echo,1worker`` only
the named configurations (default: all, in the order of ``CONFIGS``);
``LOANRISK_BENCH_PROFILE=0|1`` never/always profile (default: when a target is missed);
``LOANRISK_BENCH_KEEP=1`` leave the bench's services running;
``LOANRISK_BENCH_PORT_OFFSET=N`` moves the bench's ports by N (two checkouts benching on
one machine at once).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".loanrisk" / "bench"
ECHO_TOPIC = "bench.echo.v1"
# the goals of issue 19 (same-run ratios; never timed assertions in tests)
TARGET_P99_AT = 500  # the rate of the echo comparison (and of the profiled phase)
TARGET_ECHO_RATIO = 2.0  # p99 at TARGET_P99_AT <= this x the echo's p99 there
TARGET_LATENCY_AT = 1000  # one worker at this rate: p99 and p99.9 bounds below
TARGET_P99_MS = 15.0
TARGET_P999_MS = 50.0
TARGET_RATE = {"1worker": 3000.0, "2workers": 5000.0}  # sustained (backlog, steady)
TARGET_CPU_US = {"backlog": 170.0, f"{TARGET_P99_AT}/s": 400.0}  # worker CPU per application
TARGET_REDIS_US = 80.0  # Redis CPU per application, every worker phase
HOUR_MS = 3_600_000
#: added to every fixed port of the benches (their Kafka, Redis)
PORT_OFFSET = int(os.environ.get("LOANRISK_BENCH_PORT_OFFSET", "0") or 0)


@dataclass(frozen=True)
class Config:
    """One thing measured: an echo baseline (``workers == 0``) or a set of real workers."""

    label: str
    workers: int = 0
    first_index: int = 0  # worker ids (and log names) start here
    faust: bool = False  # the echo as a Faust app
    hour: bool = False  # add the phase whose event times span more than a simulated hour
    profile: bool = False
    env: tuple[tuple[str, str], ...] = ()  # extra LOANRISK_* for the workers


# the baselines first: every worker figure is reported as a ratio to them
CONFIGS: tuple[Config, ...] = (
    Config("echo"),
    Config("faustecho", faust=True),
    Config("1worker", workers=1, first_index=0, hour=True),
    Config("2workers", workers=2, first_index=1),
    # exactly-once: each batch's outputs and offsets in one Kafka transaction; the
    # bench reads decisions read_committed, so latency includes the commit
    Config("1worker-eo", workers=1, first_index=4,
           env=(("LOANRISK_PROCESSING_GUARANTEE", "exactly_once"),)),
)
PROFILED = Config("profiled", workers=1, first_index=9, profile=True)


class PlanError(ValueError):
    pass


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
    configs: tuple[str, ...] = tuple(c.label for c in CONFIGS)

    @property
    def paced_apps(self) -> int:
        return int(sum(r * self.seconds for r in self.rates))

    def chosen(self) -> list[Config]:
        return [c for c in CONFIGS if c.label in self.configs]


def plan_from_env() -> Plan:
    """The plan the environment asks for; a ``PlanError`` names the valid configurations."""
    names = tuple(n.strip() for n in os.environ.get("LOANRISK_BENCH_CONFIGS", "").split(",")
                  if n.strip())
    known = [c.label for c in CONFIGS]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise PlanError(f"LOANRISK_BENCH_CONFIGS: unknown configuration(s) {unknown}; "
                        f"choose from {known}")
    plan = Plan()
    if os.environ.get("LOANRISK_BENCH_QUICK", "") not in ("", "0"):
        plan = Plan(seconds=4.0, backlog=5_000, echo_backlog=8_000, hour_apps=6_000,
                    warmup=200)
    return replace(plan, configs=tuple(n for n in known if n in names)) if names else plan


def profile_wanted(targets_missed: bool) -> bool:
    want = os.environ.get("LOANRISK_BENCH_PROFILE", "")
    return want == "1" or (targets_missed and want != "0")


def keep_services() -> bool:
    return os.environ.get("LOANRISK_BENCH_KEEP", "") not in ("", "0")


def bench_settings(**overrides: Any) -> Any:
    """Isolated services (Kafka KRaft on 49092/49093, Redis on 46379, each moved by
    ``PORT_OFFSET``; state in ``.loanrisk/bench``), so the bench never touches a developer's."""
    from streams.settings import Settings

    fields: dict[str, Any] = {
        "state_dir": BENCH_DIR, "kafka_port": 49092 + PORT_OFFSET,
        "kafka_controller_port": 49093 + PORT_OFFSET, "redis_port": 46379 + PORT_OFFSET,
        "kafka_bootstrap": "", "redis_url": "", "clickhouse_dsn": ""}
    return Settings(**{**fields, **overrides})
