"""The review queue: which open case comes first, what the filters keep, the headline.

Two orderings: by expected loss (what a wrong call would cost, largest first) or by age
against the service-level target (oldest first, breaches marked). Expected loss counts
the whole amount at risk for fraud and the loss given default for credit:
``amount * (p_fraud + (1 - p_fraud) * pd * LGD)``; a missing score counts as unknown
risk and sorts after every scored case, by age.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

#: loss given default of unsecured consumer credit (share of the amount not recovered)
LGD = 0.6


class Order(StrEnum):
    EXPECTED_LOSS = "expected_loss"
    SLA_AGE = "sla_age"


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One open REVIEW case as the queue shows it."""

    application_id: str
    product: str
    decided_at_ms: int
    requested_amount: float | None
    pd: float | None
    fraud_probability: float | None
    reason_codes: tuple[str, ...] = ()
    rule_hits: tuple[str, ...] = ()
    claimed_by: str | None = None

    @property
    def expected_loss(self) -> float | None:
        if self.requested_amount is None or (self.pd is None and self.fraud_probability is None):
            return None
        fraud = self.fraud_probability or 0.0
        credit = (self.pd or 0.0) * LGD
        return self.requested_amount * (fraud + (1.0 - fraud) * credit)

    def age_s(self, now_ms: int) -> float:
        return max(0.0, (now_ms - self.decided_at_ms) / 1000)


@dataclass(frozen=True, slots=True)
class Filters:
    product: str | None = None
    reason_code: str | None = None
    assignee: str | None = None  # a user name; "-" = unassigned

    def keeps(self, item: QueueItem) -> bool:
        if self.product and item.product != self.product:
            return False
        if self.reason_code and self.reason_code not in item.reason_codes \
                and self.reason_code not in item.rule_hits:
            return False
        if self.assignee == "-":
            return item.claimed_by is None
        return not self.assignee or item.claimed_by == self.assignee


@dataclass(frozen=True, slots=True)
class Headline:
    """Counts and ages at the top of the queue."""

    open_cases: int
    unassigned: int
    over_sla: int
    oldest_age_s: float
    median_age_s: float
    by_product: dict[str, int] = field(default_factory=dict)


def ordered(items: Iterable[QueueItem], order: Order, now_ms: int) -> list[QueueItem]:
    """The queue in working order (ties broken by age, then id, so it is stable)."""
    rows = list(items)
    if order is Order.SLA_AGE:
        return sorted(rows, key=lambda i: (i.decided_at_ms, i.application_id))

    def by_loss(i: QueueItem) -> tuple[int, float, int, str]:
        loss = i.expected_loss
        return (1 if loss is None else 0, -(loss or 0.0), i.decided_at_ms, i.application_id)

    return sorted(rows, key=by_loss)


def headline(items: Sequence[QueueItem], now_ms: int, sla_s: float) -> Headline:
    ages = sorted(i.age_s(now_ms) for i in items)
    by_product: dict[str, int] = {}
    for i in items:
        by_product[i.product] = by_product.get(i.product, 0) + 1
    return Headline(
        open_cases=len(items),
        unassigned=sum(1 for i in items if i.claimed_by is None),
        over_sla=sum(1 for a in ages if a > sla_s),
        oldest_age_s=ages[-1] if ages else 0.0,
        median_age_s=ages[len(ages) // 2] if ages else 0.0,
        by_product=dict(sorted(by_product.items())),
    )
