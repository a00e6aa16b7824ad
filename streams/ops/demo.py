"""``loanrisk demo`` (``make demo``): the whole product, end to end, in a few minutes.

1. services up (Kafka KRaft, Redis, embedded ClickHouse);
2. champion PD and fraud models, and B-score and collection models, unless the registry
   has them (simulate history / statements -> features -> train -> promote);
3. the sink, N workers and a servicing worker as separate processes, and the review
   console (its address and a demo account printed);
4. a book's monthly statements (``loanrisk servicing publish``, while the workers start)
   and a minute of live traffic from the simulator, fraud rings and bots included, with
   the quote requests of customers who quote first, and simulated reviewers working the
   REVIEW cases through the console's action path;
5. wait until every application, quote and statement is decided and in ClickHouse, and
   every review label has landed;
6. a summary of the four stages -- quotes, decisions, account actions, collection
   treatments -- and the reviews, with outcomes, approval rate, fraud caught against the
   simulator's truth, latency, the evaluation report and example queries;
then stop everything it started. The data stays for ``loanrisk sql``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.ops import demo_lifecycle as life
from streams.ops.bootstrap import champion_report, ensure_champions, ensure_servicing_champions
from streams.ops.stack import LocalStack
from streams.settings import Settings

EXAMPLE_QUERIES = (
    "SELECT product, decision, count() AS n, round(avg(pd), 4) AS mean_pd "
    "FROM decisions_of_record GROUP BY product, decision ORDER BY product, decision",
    "SELECT arrayJoin(reason_codes) AS reason, count() AS n FROM decisions_of_record "
    "WHERE decision != 'APPROVE' GROUP BY reason ORDER BY n DESC LIMIT 10",
    "SELECT * FROM quote_conversion_rates",
    "SELECT action, treatment, cell, count() AS n FROM account_actions "
    "GROUP BY action, treatment, cell ORDER BY action, treatment, cell",
)


#: simulated reviewers in the demo (the config's ``reviewers:`` says how they work)
REVIEWERS = 4


def review_drain(duration: float) -> float:
    """Seconds the simulated reviewers keep working after the traffic: a quarter of it,
    8 to 30 s (most of a long run's queue is left for people in the console)."""
    return min(30.0, max(8.0, duration / 4))


def _q(client: Any, sql: str) -> list[list[Any]]:
    return [list(r) for r in client.query(sql).result_rows]


def wait_until(cond: Callable[[], bool], timeout_s: float, every_s: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(every_s)
    return False


def run_demo(settings: Settings, rate: float, duration: float, workers: int,
             say: Callable[[str], None]) -> dict[str, Any]:
    from streams.clients import analytics_client, embedded_http_dsn
    from streams.ops.monitor import Monitor

    # A group of its own that starts at the end of the topics: the demo decides its own
    # traffic, not whatever an earlier session left unconsumed on this machine.
    run_id = int(time.time())
    settings = settings.model_copy(update={"worker_group": f"loanrisk-demo-{run_id}",
                                           "worker_offset_reset": "latest"})
    from streams.ops import services

    stack = LocalStack(settings)
    say("[bold]1/6[/] services: Kafka (KRaft), Redis, ClickHouse (chDB)")
    already_running = services.running_locally(settings)
    stack.up()
    started = services.running_locally(settings) - already_running
    try:
        say("[bold]2/6[/] champion models")
        if not ensure_champions(settings, say=say):
            say("  champion PD and fraud models (current feature spec) already in the registry")
        if not ensure_servicing_champions(settings, say=say):
            say("  champion B-score and collection models already in the registry")
        say(f"[bold]3/6[/] starting the sink, {workers} worker(s) and a servicing worker")
        sink = stack.sink()
        stack.wait_for_log(sink, "loanrisk sql", timeout_s=120)
        procs = [stack.worker(i) for i in range(workers)]
        seed = run_id % 100_000
        book = life.simulate_book(settings, seed)  # while the workers load their models
        servicing = life.start_servicing(stack, f"loanrisk-demo-servicing-{run_id}")
        say(f"  publishing a book's statements: {life.BOOK_ACCOUNTS} accounts, "
            f"{life.BOOK_MONTHS} months each (`loanrisk servicing publish`)")
        statements = life.publish_book(stack, book)  # decided while the workers load
        for p in procs:
            stack.wait_for_log(p, "Worker ready", timeout_s=180)
        if embedded_http_dsn(settings) is None:
            raise RuntimeError(f"the sink is not serving queries; see {sink.log}")
        client = analytics_client(settings)  # over the sink's ClickHouse HTTP interface
        from streams.ops.demo_reviews import DEMO_USER, start_console

        _console, address, password = start_console(stack, settings)
        say(f"  review console on {address} (log in as {DEMO_USER}, password {password}; "
            "it stops with the demo)")

        say(f"[bold]4/6[/] live traffic: {rate:.0f} applications/s for {duration:.0f}s "
            "(with device events, behaviour batches, fraud rings, bots and quote requests)")
        truth = settings.state_dir / "demo" / "truth.parquet"
        reviewed = settings.state_dir / "demo" / "reviews.parquet"
        truth.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "streams.cli", "simulate", "live", "--rate", str(rate),
             "--duration", str(duration), "--seed", str(seed), "--truth-out", str(truth),
             "--reviewers", str(REVIEWERS), "--reviews-out", str(reviewed),
             "--drain", f"{review_drain(duration):.0f}"],
            env=stack.env(), check=True)
        if statements.wait(120) != 0:
            raise RuntimeError("loanrisk servicing publish failed")
        import pandas as pd

        from streams.ops.live_traffic import quotes_truth_path

        published = pd.read_parquet(truth)
        quotes = pd.read_parquet(quotes_truth_path(truth))
        st_ids = life.statement_ids(book)
        say(f"[bold]5/6[/] waiting for {len(published)} decisions, {len(quotes)} quotes and "
            f"{len(st_ids)} statements' decisions to reach ClickHouse")
        mon = Monitor(settings.kafka, settings.worker_group)
        wait_until(lambda: (mon.poll().lag or 0) == 0, timeout_s=600)
        mon.close()
        ids = "','".join(published["application_id"])
        mine = f"SELECT count() FROM decisions_of_record WHERE application_id IN ('{ids}')"
        wait_until(lambda: _q(client, mine)[0][0] >= len(published), timeout_s=300)
        qids = "','".join(quotes["quote_id"])
        wait_until(lambda: _q(client, "SELECT count() FROM quotes_of_record WHERE quote_id IN "
                              f"('{qids}')")[0][0] >= len(quotes), timeout_s=120)
        sids = "','".join(st_ids)
        wait_until(lambda: _q(client, "SELECT count() FROM account_decisions_of_record WHERE "
                              f"statement_id IN ('{sids}')")[0][0] >= len(st_ids),
                   timeout_s=300)
        from streams.ops.demo_reviews import wait_for_reviews

        reviews = wait_for_reviews(client, published, pd.read_parquet(reviewed), wait_until)
        for p in [*procs, servicing]:
            p.stop()
        say("[bold]6/6[/] summary")
        summary = summarise(client, published)
        summary["quotes"] = life.quotes_summary(client, quotes)
        summary["servicing"] = life.servicing_summary(client, st_ids)
        summary["reviews"] = reviews
        summary["report"] = champion_report(settings)
        return summary
    finally:
        stack.stop_all()
        services.down(settings, only=started)  # what was running before stays running


def summarise(client: Any, truth: Any) -> dict[str, Any]:
    import pandas as pd

    ids = "','".join(truth["application_id"])
    rows = _q(client, "SELECT application_id, decision, latency_ms, fraud_probability, "
                    f"product FROM decisions_of_record WHERE application_id IN ('{ids}')")
    d = pd.DataFrame(rows, columns=["application_id", "decision", "latency_ms", "fraud_p",
                                    "product"])
    m = d.merge(truth, on="application_id", how="left")
    m["is_fraud"] = m["fraud_type"].fillna("none") != "none"
    stopped = m["decision"] != "APPROVE"
    frauds = m[m["is_fraud"]]
    by_type = {
        t: (int((g["decision"] != "APPROVE").sum()), len(g))
        for t, g in frauds.groupby("fraud_type")
    }
    by_sharing: dict[str, tuple[int, int]] = {}  # genuine sharers, stopped all the same
    if "genuine_sharing" in m:
        sharers = m[~m["is_fraud"] & (m["genuine_sharing"].fillna("") != "")]
        by_sharing = {str(k): (int((g["decision"] != "APPROVE").sum()), len(g))
                      for k, g in sharers.groupby("genuine_sharing")}
    return {
        "published": len(truth), "decided": len(d),
        "outcomes": d["decision"].value_counts().to_dict(),
        "approval_rate": float((d["decision"] == "APPROVE").mean()) if len(d) else None,
        "latency_p50_ms": float(d["latency_ms"].quantile(0.5)) if len(d) else None,
        "latency_p99_ms": float(d["latency_ms"].quantile(0.99)) if len(d) else None,
        "fraud_recall": float(stopped[m["is_fraud"]].mean()) if len(frauds) else None,
        "fraud_precision": float(m.loc[stopped, "is_fraud"].mean()) if stopped.any() else None,
        "fraud_by_type": by_type,
        "genuine_sharers_stopped": by_sharing,
    }


def print_summary(summary: dict[str, Any], say: Callable[[str], None]) -> None:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    if "quotes" in summary:
        life.print_quotes(summary["quotes"], say)
    say(f"  applications published {summary['published']}, decided {summary['decided']}")
    say("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["outcomes"].items())))
    say(f"  approval rate {pct(summary['approval_rate'])}")
    say(f"  fraud stopped (declined or sent to review) vs the simulator's truth: recall "
        f"{pct(summary['fraud_recall'])}, precision {pct(summary['fraud_precision'])}")
    for t, (caught, n) in sorted(summary["fraud_by_type"].items()):
        say(f"    {t:<13} {caught}/{n} ({pct(caught / n if n else None)})")
    if summary.get("genuine_sharers_stopped"):
        say("  genuine applicants sharing an identifier, stopped (false positives):")
        for k, (stopped_n, n) in sorted(summary["genuine_sharers_stopped"].items()):
            say(f"    {k:<13} {stopped_n}/{n} ({pct(stopped_n / n if n else None)})")
    if summary.get("reviews"):
        from streams.ops.demo_reviews import review_line

        say("  " + review_line(summary["reviews"]))
    say(f"  latency, event time to decision: p50 {summary['latency_p50_ms']:.1f} ms, "
        f"p99 {summary['latency_p99_ms']:.1f} ms")
    if "servicing" in summary:
        life.print_servicing(summary["servicing"], say)
    report: Path | None = summary.get("report")
    say(f"  champion PD evaluation report: {report or 'none'}")
    say("  explore ClickHouse (the data stays):")
    for q in EXAMPLE_QUERIES:
        say(f'    loanrisk sql "{q}"')
    say("  has the traffic drifted from the champion's training data?")
    say("    loanrisk drift --window 5m --out .loanrisk/demo/drift.html")
