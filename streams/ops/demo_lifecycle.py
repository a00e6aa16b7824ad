"""The demo's other stages: pre-qualification quotes (answered by the decision workers)
and servicing (a book's statements through ``loanrisk servicing worker``: account
actions and collection treatments), each summarised from ClickHouse in one line.

The servicing book is simulated afresh per run (small: a few hundred accounts, 12
statements each) and published with ``loanrisk servicing publish`` while the live
applications and quotes flow, so the demo takes about as long as before.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.ops.stack import LocalStack, Proc
from streams.settings import Settings

BOOK_ACCOUNTS = 300
BOOK_MONTHS = 12


def _q(client: Any, sql: str) -> list[list[Any]]:
    return [list(r) for r in client.query(sql).result_rows]


def _in(ids: Any) -> str:
    return "('" + "','".join(ids) + "')"


def simulate_book(settings: Settings, seed: int) -> Path:
    """A fresh book for the servicing stage: a folder with its statements.parquet."""
    from simulator.config import SimConfig
    from simulator.history import generate_history
    from simulator.statements import simulate_statements, write_statements

    out = settings.state_dir / "demo" / f"book-{seed}"
    cfg = SimConfig()
    h = generate_history(cfg, BOOK_ACCOUNTS, 1, seed)
    out.mkdir(parents=True, exist_ok=True)
    st = simulate_statements(cfg, h.applications, BOOK_MONTHS, seed)
    for col in ("account_id", "statement_id"):  # ids of this run only
        st[col] = f"d{seed}-" + st[col].astype(str)
    write_statements(st, out)
    return out


def start_servicing(stack: LocalStack, group: str) -> Proc:
    proc = stack.spawn("servicing-worker", "servicing", "worker",
                       LOANRISK_SERVICING_GROUP=group)
    stack.wait_for_log(proc, "Servicing worker ready", timeout_s=180)
    return proc


def publish_book(stack: LocalStack, book: Path) -> subprocess.Popen[bytes]:
    """``loanrisk servicing publish`` of the book, in the background."""
    return subprocess.Popen([sys.executable, "-m", "streams.cli", "servicing", "publish",
                             "--history", str(book)], env=stack.env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def statement_ids(book: Path) -> list[str]:
    import pandas as pd

    return list(pd.read_parquet(book / "statements.parquet", columns=["statement_id"])
                ["statement_id"])


def quotes_summary(client: Any, quotes: Any) -> dict[str, Any]:
    """Quotes answered, their decisions and latency; conversions against the truth."""
    if not len(quotes):
        return {"requested": 0, "quoted": 0, "outcomes": {}, "latency_p50_ms": None,
                "converted": 0, "applied_truth": 0}
    ids = _in(quotes["quote_id"])
    rows = _q(client, f"SELECT decision, count(), quantile(0.5)(latency_ms) FROM "
                      f"quotes_of_record WHERE quote_id IN {ids} GROUP BY decision")
    quoted = sum(int(n) for _, n, _ in rows)
    p50 = _q(client, f"SELECT quantile(0.5)(latency_ms), quantile(0.99)(latency_ms) FROM "
                     f"quotes_of_record WHERE quote_id IN {ids}")[0]
    conv = _q(client, f"SELECT countIf(converted), countIf(converted AND application_decision "
                      f"= quote_decision) FROM quote_conversion WHERE quote_id IN {ids}")[0]
    return {"requested": len(quotes), "quoted": quoted,
            "outcomes": {str(d): int(n) for d, n, _ in rows},
            "latency_p50_ms": float(p50[0]) if quoted else None,
            "latency_p99_ms": float(p50[1]) if quoted else None,
            "converted": int(conv[0]), "same_decision": int(conv[1]),
            "applied_truth": int(quotes["applied"].sum())}


def servicing_summary(client: Any, ids: list[str]) -> dict[str, Any]:
    """Statements decided, account actions by kind, collection treatments by treatment."""
    sel = _in(ids)
    decided, p50, p99 = _q(client, "SELECT count(), quantile(0.5)(latency_us), "
                           "quantile(0.99)(latency_us) FROM account_decisions_of_record "
                           f"WHERE statement_id IN {sel}")[0]
    actions = dict(_q(client, f"SELECT action, count() FROM account_actions WHERE "
                              f"statement_id IN {sel} AND action != 'COLLECTION_TREATMENT' "
                              "GROUP BY action ORDER BY action"))
    treat = _q(client, f"SELECT treatment, cell, count(), sum(cost) FROM account_actions "
                       f"WHERE statement_id IN {sel} AND action = 'COLLECTION_TREATMENT' "
                       "GROUP BY treatment, cell ORDER BY treatment, cell")
    return {"statements": len(ids), "decided": int(decided),
            "latency_p50_us": float(p50) if decided else None,
            "latency_p99_us": float(p99) if decided else None,
            "actions": {str(k): int(v) for k, v in actions.items()},
            "treatments": [(str(t), str(c), int(n), float(cost)) for t, c, n, cost in treat]}


def print_quotes(s: dict[str, Any], say: Callable[[str], None]) -> None:
    out = ", ".join(f"{k} {v}" for k, v in sorted(s["outcomes"].items())) or "none"
    lat = ("" if s.get("latency_p50_ms") is None else
           f"; request to quote p50 {s['latency_p50_ms']:.1f} ms, p99 {s['latency_p99_ms']:.1f} ms")
    say(f"  quotes: requested {s['requested']}, quoted {s['quoted']} ({out}){lat}; "
        f"converted to applications {s['converted']} (simulator: {s['applied_truth']} "
        f"applied), {s.get('same_decision', 0)} decided as quoted")


def print_servicing(s: dict[str, Any], say: Callable[[str], None]) -> None:
    acts = ", ".join(f"{k} {v}" for k, v in s["actions"].items()) or "none"
    lat = ("" if s["latency_p50_us"] is None else
           f"; p50 {s['latency_p50_us']:.0f} µs, p99 {s['latency_p99_us']:.0f} µs per statement")
    say(f"  account actions: statements published {s['statements']}, decided {s['decided']}; "
        f"{acts}{lat}")
    by_treatment: dict[str, int] = {}
    challenger = 0
    cost = 0.0
    for t, cell, n, c in s["treatments"]:
        by_treatment[t] = by_treatment.get(t, 0) + n
        challenger += n if cell != "champion" else 0
        cost += c
    total = sum(by_treatment.values())
    mix = ", ".join(f"{k} {v}" for k, v in by_treatment.items()) or "none"
    say(f"  collection treatments: {total} accounts entering 30 DPD treated ({mix}); "
        f"{challenger} in random challenger cells; cost {cost:,.0f}")
