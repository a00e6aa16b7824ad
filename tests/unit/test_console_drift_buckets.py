"""The drift plot's time buckets: whole minutes, in order, every row in exactly one, every
bucket with enough rows for a PSI, and as many as the traffic allows up to the maximum."""

from __future__ import annotations

import itertools

import numpy as np

from streams.console.drift_plot import buckets

M = 60_000


def _check(per_minute: list[tuple[int, int]], min_rows: int, most: int) -> None:
    got = buckets(per_minute, min_rows, most)
    total = sum(n for _, n in per_minute)
    if total < min_rows:
        assert got == []
        return
    assert 1 <= len(got) <= most
    assert got[0][0] == per_minute[0][0] and got[-1][1] == per_minute[-1][0] + M
    for (_, end), (start, _) in itertools.pairwise(got):
        assert start >= end  # in order, never overlapping
    covered = 0
    for start, end in got:
        rows = sum(n for m, n in per_minute if start <= m < end)
        assert rows >= min_rows
        covered += rows
    assert covered == total  # every row in exactly one bucket
    # as many as the traffic allows: a bucket closes at the first minute reaching the
    # target, so each holds less than target + the largest minute
    target = max(min_rows, total / most)
    biggest = max(n for _, n in per_minute)
    assert len(got) >= (total - target) // (target + biggest)


def test_buckets_against_their_contract_on_random_traffic() -> None:
    rng = np.random.default_rng(2)
    for _ in range(300):
        minutes = sorted(rng.choice(400, size=int(rng.integers(1, 120)), replace=False))
        per_minute = [(int(m) * M, int(rng.integers(1, 200))) for m in minutes]
        _check(per_minute, int(rng.integers(50, 800)), int(rng.integers(1, 15)))


def test_too_little_traffic_gives_no_bucket() -> None:
    assert buckets([(0, 100), (M, 100)], min_rows=300) == []
    assert buckets([(0, 300)], min_rows=300) == [(0, M)]
