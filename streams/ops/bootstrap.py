"""First champion models for a fresh installation: simulate history -> features -> train -> promote.

Runs the same commands an analyst would (``loanrisk simulate history``,
``loanrisk features build``, ``loanrisk train --promote champion``) so the
demo and the benchmark exercise the real training path, with their output
shown as it happens.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from models.registry import Registry
from streams.ops.stack import settings_env
from streams.settings import Settings

TARGETS = (("pd", "label_default"), ("fraud", "label_fraud"))


def data_version() -> str:
    """Names the cached history and feature table: a new application schema or feature
    spec means new columns, so an older cache is not reused for training."""
    from features.spec import FEATURE_SPEC
    from schemas import codec_for

    return f"{FEATURE_SPEC.version}-app{codec_for('loan_application').fingerprint:016x}"


def has_champions(settings: Settings) -> bool:
    """Champion PD and fraud models exist and were trained on the current feature spec."""
    from features.spec import FEATURE_SPEC

    reg = Registry(settings.models_dir)
    roles = reg.roles().get("champion", {})
    if not all(name in roles for name, _ in TARGETS):
        return False
    return all(
        reg.show(roles[name]).get("feature_spec_version") == FEATURE_SPEC.version
        for name, _ in TARGETS
    )


def ensure_champions(settings: Settings, applications: int = 60_000, months: int = 12,
                     seed: int = 7, say: Callable[[str], None] = print) -> bool:
    """Train and promote champion PD and fraud models unless both exist on the current
    feature spec (a demo after a spec change shows models that use the new features);
    True if trained."""
    if has_champions(settings):
        return False
    if Registry(settings.models_dir).roles().get("champion"):
        say("  the champion models predate the current feature spec: training new ones")
    import os

    env = {**os.environ, **settings_env(settings)}
    work = settings.state_dir / "bootstrap" / data_version()
    history, table = work / "history", work / "features.parquet"

    def run(*args: str) -> None:
        say("$ loanrisk " + " ".join(args))
        subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, check=True)

    if not (history / "applications.parquet").exists():
        run("simulate", "history", "--applications", str(applications), "--months", str(months),
            "--seed", str(seed), "--out", str(history))
    if not table.exists():
        run("features", "build", "--history", str(history), "--out", str(table))
    for name, target in TARGETS:
        run("train", "--data", str(table), "--target", target, "--time-col", "event_time",
            "--id-col", "application_id", "--name", name, "--promote", "champion",
            "--tune-minutes", "0.5",
            "--registry", str(settings.models_dir))
    return True


#: the servicing champions: (name, target, observation table kind)
SERVICING_TARGETS = (("bscore", "label_bscore", "observation-points"),
                     ("collection", "label_chargeoff", "delinquency-entries"))


def has_servicing_champions(settings: Settings) -> bool:
    """Champion B-score and collection models exist on the current behaviour features."""
    from features.observation import SPEC_FOR_TARGET

    reg = Registry(settings.models_dir)
    roles = reg.roles().get("champion", {})
    return all(name in roles and reg.show(roles[name]).get("feature_spec_version")
               == SPEC_FOR_TARGET[target].version for name, target, _ in SERVICING_TARGETS)


def ensure_servicing_champions(settings: Settings, accounts: int = 3000, months: int = 12,
                               seed: int = 7, say: Callable[[str], None] = print) -> bool:
    """Train and promote champion B-score and collection models from simulated statements
    (``simulate statements`` -> ``features build --kind ...`` -> ``train``) unless both
    exist; True if trained."""
    if has_servicing_champions(settings):
        return False
    import os

    env = {**os.environ, **settings_env(settings)}
    work = settings.state_dir / "bootstrap" / "servicing"
    history = work / "history"

    def run(*args: str) -> None:
        say("$ loanrisk " + " ".join(args))
        subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, check=True)

    if not (history / "applications.parquet").exists():
        run("simulate", "history", "--applications", str(accounts), "--months", "2",
            "--seed", str(seed), "--out", str(history))
    if not (history / "statements.parquet").exists():
        run("simulate", "statements", "--history", str(history), "--months", str(months),
            "--seed", str(seed))
    for name, target, kind in SERVICING_TARGETS:
        table = work / f"{kind}.parquet"
        if not table.exists():
            run("features", "build", "--history", str(history), "--out", str(table),
                "--kind", kind)
        run("train", "--data", str(table), "--target", target, "--time-col",
            "observation_time", "--id-col", "account_id", "--name", name, "--model",
            "lightgbm", "--promote", "champion", "--registry", str(settings.models_dir))
    return True


def champion_report(settings: Settings, name: str = "pd") -> Path | None:
    """Path of the champion's evaluation report, if any."""
    reg = Registry(settings.models_dir)
    version = reg.version_for("champion", name)
    if version is None:
        return None
    report = reg.path(version) / "report.html"
    return report if report.exists() else None
