"""Swap-set analysis: who two policies treat differently, and what that is worth.

Comparing approval rates hides the trade: a new policy may approve as many applicants as
the old one but different ones. The swap set splits applicants into both-approve,
swap-ins (only B approves), swap-outs (only A approves) and both-decline, with each group's
expected bad rate (mean PD), observed bad rate where labels exist, and profit under each
policy (`decisions.profit`; labels where known, PD elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from decisions.book import Book, Decided, profits
from decisions.profit import ProfitModel

GROUPS = ("both approve", "swap-in", "swap-out", "both decline")


@dataclass(frozen=True)
class SwapRow:
    group: str
    count: int
    share: float
    expected_bad_rate: float | None
    observed_bad_rate: float | None
    labelled: int
    profit_a: float
    profit_b: float


def swap_set(book: Book, a: Decided, b: Decided, profit: ProfitModel) -> list[SwapRow]:
    """One row per group (``GROUPS`` order); "both decline" includes reviews."""
    pa, pb = a.approved, b.approved
    masks = (pa & pb, ~pa & pb, pa & ~pb, ~pa & ~pb)
    money_a = profits(book, a, profit, book.bad)
    money_b = profits(book, b, profit, book.bad)
    n = max(len(book), 1)
    out = []
    for name, m in zip(GROUPS, masks, strict=True):
        k = int(m.sum())
        lab = m & ~np.isnan(book.label)
        out.append(SwapRow(
            name, k, k / n, float(book.pd[m].mean()) if k else None,
            float(book.label[lab].mean()) if lab.any() else None, int(lab.sum()),
            float(money_a[m].sum()), float(money_b[m].sum())))
    return out


def records(rows: list[SwapRow]) -> list[dict[str, Any]]:
    return [r.__dict__.copy() for r in rows]
