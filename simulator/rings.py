"""Organised fraud: groups of applications placed in time and sharing identifiers.

Each shape has its own rate, size and span (``FraudConfig``), so a model that only
learns "many identities on one device within hours" misses the others:

* ring (burst): 2-20 identities within hours sharing a small pool of devices,
  phones and IPs (the velocity signal);
* slow_ring: identities spread over weeks that rotate devices, phones and IPs
  but share one identifier that is costly to change -- a home address, an
  employer or a bank account -- and an email pattern (one handle, different
  digits);
* mule: stolen identities (third-party style) whose credit is paid into a
  handful of mule bank accounts, over weeks;
* identity_farm: fabricated identities registered at one building (written as
  different flats), from one or two devices, some reusing a surname and date
  of birth.

``place_groups`` decides which rows belong to which group; ``apply_shapes``
overwrites the identifiers each shape shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from simulator import strings as S
from simulator import vocab as V
from simulator.config import SimConfig
from simulator.variants import address_variants

#: the organised shapes, in placement order
SHAPES = ("ring", "slow_ring", "mule", "identity_farm")
DAY_MS = 86_400_000


def _specs(cfg: SimConfig, burst_span_ms: int) -> list[tuple[str, float, float, int]]:
    f = cfg.fraud
    return [
        ("ring", f.ring_rate, f.ring_size_mean, burst_span_ms),
        ("slow_ring", f.slow_ring_rate, f.slow_ring_size_mean, int(f.slow_span_days * DAY_MS)),
        ("mule", f.mule_rate, f.mule_group_size_mean, int(f.slow_span_days * DAY_MS)),
        ("identity_farm", f.identity_farm_rate, f.farm_size_mean,
         int(f.slow_span_days * DAY_MS)),
    ]


def organised_rate(cfg: SimConfig) -> float:
    """Share of applications placed in groups (every organised shape together)."""
    f = cfg.fraud
    return f.ring_rate + f.slow_ring_rate + f.mule_rate + f.identity_farm_rate


def place_groups(
    cfg: SimConfig, rng: np.random.Generator, times: np.ndarray, burst_span_ms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(times re-sorted, group per row or -1, shape index per group, size per group)."""
    n = len(times)
    group = np.full(n, -1, dtype=np.int64)
    sizes_l, shapes_l, spans_l = [], [], []
    for k, (_, rate, mean, span) in enumerate(_specs(cfg, burst_span_ms)):
        count = int(rng.poisson(n * rate / mean)) if n and rate > 0 else 0
        if count:
            sizes_l.append(2 + rng.poisson(mean - 2, count))
            shapes_l.append(np.full(count, k, np.int64))
            spans_l.append(np.full(count, span, np.int64))
    if not sizes_l:
        return times, group, np.zeros(0, np.int64), np.zeros(0, np.int64)
    sizes, shapes, spans = map(np.concatenate, (sizes_l, shapes_l, spans_l))
    keep = np.cumsum(sizes) <= n // 2
    sizes, shapes, spans = sizes[keep], shapes[keep], spans[keep]
    if len(sizes) == 0:
        return times, group, np.zeros(0, np.int64), np.zeros(0, np.int64)
    total = int(sizes.sum())
    slots = rng.choice(n, total, replace=False)
    member = np.repeat(np.arange(len(sizes)), sizes)
    t0, t1 = int(times.min()), int(times.max())
    width = np.minimum(spans, max(t1 - t0, 1))
    starts = t0 + (rng.random(len(sizes)) * np.maximum(t1 - t0 - width, 0)).astype(np.int64)
    t = times.copy()
    t[slots] = starts[member] + (rng.random(total) * width[member]).astype(np.int64)
    group[slots] = member
    order = np.argsort(t, kind="stable")
    return t[order], group[order], shapes, sizes


def shape_names(group: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """The fraud type of each row: its group's shape, or '' outside any group."""
    names = np.array(SHAPES, dtype=object)
    out = np.full(len(group), "", dtype=object)
    inside = group >= 0
    out[inside] = names[shapes[group[inside]]]
    return out


def _per_group(rng: np.random.Generator, group: np.ndarray, rows: np.ndarray,
               pool_sizes: np.ndarray, make: Any) -> pa.Array:
    """For each row in ``rows``, a value from its group's own pool (pools built by ``make``)."""
    pool = make(int(pool_sizes.sum()))
    off = np.cumsum(pool_sizes) - pool_sizes
    g = group[rows]
    return S.take(pool, off[g] + (rng.random(len(g)) * pool_sizes[g]).astype(np.int64))


def apply_shapes(cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any],
                 group: np.ndarray, shapes: np.ndarray, phones: Any, handles: Any) -> None:
    """Overwrite what the slow shapes share (the burst ring is ``population._ring_pools``)."""
    from simulator.people import bank_accounts

    ft = a["fraud_type"]
    r = len(shapes)
    if r == 0:
        return
    ones = np.ones(r, np.int64)
    # every slow shape rotates devices: a fresh device per application
    slow = np.isin(ft, ["slow_ring", "mule", "identity_farm"])
    S.set_rows(a, "device_id", slow, S.hex_ids(rng, int(slow.sum()), "d-", 8))
    # slow ring: one costly identifier per ring, and one email handle with varying digits
    sr = ft == "slow_ring"
    if sr.any():
        what = rng.integers(0, 3, r)  # 0 address, 1 employer, 2 bank account
        g = group[sr]
        _share_address(rng, a, sr, group, what[g] == 0)
        fake_firms = S.join([S.pick(V.EMPLOYER_STEMS, rng.integers(0, len(V.EMPLOYER_STEMS), r)),
                             " ", S.pick(V.EMPLOYER_TRADES,
                                         rng.integers(0, len(V.EMPLOYER_TRADES), r)), " Ltd"])
        emp_rows = sr.copy()
        emp_rows[sr] = what[g] == 1
        S.set_rows(a, "employer", emp_rows, S.take(fake_firms, group[emp_rows]))
        S.set_rows(a, "employment_status", emp_rows, "EMPLOYED")
        bank_rows = sr.copy()
        bank_rows[sr] = what[g] == 2
        S.set_rows(a, "bank_account", bank_rows,
                   _per_group(rng, group, bank_rows, rng.integers(1, 3, r),
                              lambda m: bank_accounts(rng, m)))
        stems = S.hex_ids(rng, r, nbytes=3)
        domain = S.pick(V.EMAIL_DOMAINS, rng.integers(0, len(V.EMAIL_DOMAINS), r))
        S.set_rows(a, "email", sr, S.join([S.take(stems, g), S.ints(rng.integers(1, 99, len(g))),
                                           "@", S.take(domain, g)]))
        S.set_rows(a, "phone", sr, phones(int(sr.sum())))
    # mules: stolen identities paid into one to three mule accounts per group
    mu = ft == "mule"
    if mu.any():
        S.set_rows(a, "bank_account", mu, _per_group(rng, group, mu, rng.integers(1, 4, r),
                                                     lambda m: bank_accounts(rng, m)))
        S.set_rows(a, "phone", mu, phones(int(mu.sum())))
        S.set_rows(a, "email", mu, handles(int(mu.sum())))
    # identity farms: one building, one or two devices, surnames and birth dates reused
    fa = ft == "identity_farm"
    if fa.any():
        _share_address(rng, a, fa, group, np.ones(int(fa.sum()), bool))
        S.set_rows(a, "device_id", fa, _per_group(rng, group, fa, rng.integers(1, 3, r),
                                                  lambda m: S.hex_ids(rng, m, "d-", 8)))
        S.set_rows(a, "ip", fa, _per_group(rng, group, fa, ones,
                                           lambda m: S.ipv4(rng, np.full(m, 81))))
        reuse = fa & (rng.random(len(ft)) < 0.5)
        surname = S.pick(V.LAST_NAMES, rng.integers(0, len(V.LAST_NAMES), r))
        dob = pa.array((np.datetime64("1985-01-01") + rng.integers(0, 5000, r)).astype(str))
        S.set_rows(a, "last_name", reuse, S.take(surname, group[reuse]))
        S.set_rows(a, "date_of_birth", reuse, S.take(dob, group[reuse]))
        S.set_rows(a, "bank_account", fa, bank_accounts(rng, int(fa.sum())))


def _share_address(rng: np.random.Generator, a: dict[str, Any], rows: np.ndarray,
                   group: np.ndarray, sub: np.ndarray) -> None:
    """Rows ``rows[sub]`` take the address of their group's first member, written variously."""
    target = rows.copy()
    target[rows] = sub
    idx = np.flatnonzero(target)
    if len(idx) == 0:
        return
    g = group[idx]
    first: dict[int, int] = {}
    for i, gi in zip(idx.tolist(), g.tolist(), strict=True):
        first.setdefault(gi, i)
    src = np.array([first[gi] for gi in g.tolist()], np.int64)
    line1 = S.take(S.as_str(a["address_line1"]), src)
    post = S.take(S.as_str(a["address_postcode"]), src)
    line1, post = address_variants(rng, line1, post)
    S.set_rows(a, "address_line1", target, line1)
    S.set_rows(a, "address_postcode", target, post)
    for col in ("address_city", "address_country"):
        S.set_rows(a, col, target, S.take(S.as_str(a[col]), src))
