"""One phase's figures from when each application was sent and its decision (or echo)
arrived: latency percentiles, completion and steady rates, whether lag stayed bounded,
and, from the decisions themselves, where the time went."""

from __future__ import annotations

from collections import Counter
from typing import Any


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


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
    out.update(_lag(ids, offered, sent, recv, out["completed_per_s"]))
    if values:
        out.update(decision_breakdown(sent, recv, values))
    return out


def _lag(ids: list[str], offered: float | None, sent: dict[str, float],
         recv: dict[str, float], completed_per_s: float) -> dict[str, Any]:
    """Bounded: everything arrived, as fast as offered, late latencies no worse than early."""
    fifth = max(1, len(ids) // 5)
    early = [(recv[i] - sent[i]) * 1000 for i in ids[:fifth] if i in recv]
    late = [(recv[i] - sent[i]) * 1000 for i in ids[-fifth:] if i in recv]
    everything = all(i in recv for i in ids)
    return {
        "p50_first_fifth_ms": round(pct(early, .5), 2),
        "p50_last_fifth_ms": round(pct(late, .5), 2),
        "lag_bounded": bool(everything
                            and (offered is None or completed_per_s >= 0.9 * offered)
                            and pct(late, .5) <= 3 * pct(early, .5) + 50),
    }


def decision_breakdown(sent: dict[str, float], recv: dict[str, float],
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
