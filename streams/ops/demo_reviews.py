"""The demo's review loop: the console as a process with a demo account, and what the
simulated reviewers' verdicts became in ClickHouse, scored against the simulator's truth.

The figures are read back from ClickHouse (review actions, labels_by_source), not taken
from the simulator's own bookkeeping: they show what actually landed.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from typing import Any

from streams.ops.stack import LocalStack, Proc
from streams.settings import Settings

DEMO_USER = "demo"
SIM_REVIEWERS = "sim-reviewer-%"


def free_port(host: str, preferred: int) -> int:
    """``preferred`` if nothing listens there, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError(f"no free port on {host}")


def start_console(stack: LocalStack, settings: Settings) -> tuple[Proc, str, str]:
    """``loanrisk console serve`` as a process, and a senior-reviewer account for the demo
    (a new random password every run): (process, address, password)."""
    from streams.clients import redis_client
    from streams.console.compose import accounts

    password = secrets.token_urlsafe(12)
    accounts(settings, redis_client(settings)).add(DEMO_USER, password, "senior_reviewer",
                                                   replace=True)
    host = settings.console_host
    port = free_port(host, settings.console_port)
    proc = stack.spawn("console", "console", "serve", "--host", host, "--port", str(port))
    stack.wait_for_log(proc, "review console on", timeout_s=120)
    return proc, f"http://{host}:{port}/", password


def _ids(frame: Any) -> str:
    return "['" + "','".join(frame["application_id"]) + "']"


def review_counts(client: Any, truth: Any) -> dict[str, Any]:
    """Reviews of this run's applications as ClickHouse holds them: cases the simulated
    reviewers worked, review labels (fraud confirmed / cleared) and their accuracy against
    the truth."""
    ids = _ids(truth)
    worked = client.query(
        "SELECT uniqExact(application_id) FROM review_actions FINAL "
        f"WHERE reviewer LIKE '{SIM_REVIEWERS}' AND application_id IN {ids}").result_rows[0][0]
    labels = client.query(
        "SELECT application_id, label_fraud FROM labels_by_source "
        f"WHERE source = 'review' AND application_id IN {ids}").result_rows
    fraud = {str(a): str(t) not in ("", "none", "None")
             for a, t in zip(truth["application_id"], truth["fraud_type"], strict=True)}
    right = sum(int(bool(lab) == fraud.get(str(a), False)) for a, lab in labels)
    confirmed = sum(int(lab) for _, lab in labels)
    review_cases = client.query(
        "SELECT count() FROM decisions_of_record WHERE decision = 'REVIEW' "
        f"AND application_id IN {ids}").result_rows[0][0]
    return {"review_cases": int(review_cases), "worked": int(worked), "labels": len(labels),
            "confirmed_fraud": confirmed, "cleared": len(labels) - confirmed,
            "accuracy": right / len(labels) if labels else None}


def wait_for_reviews(client: Any, truth: Any, done: Any,
                     wait: Callable[[Callable[[], bool], float], bool]) -> dict[str, Any]:
    """Wait until the labels of the ``done`` reviews (the simulator's --reviews-out) are in
    ClickHouse, then count."""
    if len(done):
        wait(lambda: review_counts(client, truth)["labels"] >= len(done), 60)
    return review_counts(client, truth)


def review_line(r: dict[str, Any]) -> str:
    acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.1%}"
    return (f"reviews worked {r['worked']} of {r['review_cases']} REVIEW cases by the "
            f"simulated reviewers: confirmed fraud {r['confirmed_fraud']}, cleared "
            f"{r['cleared']}, accuracy vs truth {acc}, labels landed {r['labels']}")
