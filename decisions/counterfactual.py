"""Counterfactuals of a decline: the smallest change in what the applicant controls -- the
amount, the term, the product -- that the same decision would have approved.

Nothing here re-implements the decision: each candidate application is scored by the
caller's ``rescore`` (the recorded model versions on the feature vector the change moves,
`streams.recorded`) and decided by `decisions.engine.decide_outcome` with the recorded
decision's rules, policy, list hits and exploration cell. Before any counterfactual is
given, the re-run of the application as it was must reproduce the recorded outcome,
scores and offer; otherwise there is none (`CounterfactualError` says what differs).

Every amount stated was decided: the search covers the policy's own grid (multiples of the
product's ``round_to`` from its minimum up to the amount asked, or the product's largest
grade cap) exhaustively, a few hundred decisions per product and term. It is not a
bisection: the decision need not be monotone in the amount (a rule on the amount, a grade
boundary moving the grade's cap), and "or less" is claimed only when every step below the
amount was decided and approved too (``all_below_approved``).

"Approved" means approved in full: an APPROVE whose offer is at least the amount (an
approval capped below the amount asked is not what the applicant asked for). Inputs the
change cannot be re-run on are held at their recorded values and named in ``held`` (the
online anomaly score: the model's state at that moment is not kept).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from decisions.cells import Exploration
from decisions.engine import APPROVE, DECLINE, decide_outcome
from decisions.errors import DecisionError
from decisions.lists import ListHit
from decisions.policy import Policy, ProductPolicy
from decisions.rules import RuleSet
from schemas.records import Scores

#: changed application -> (its feature values, its scores with the recorded models)
Rescore = Callable[[Mapping[str, Any]], tuple[Mapping[str, float | None], Scores]]
#: what the applicant controls, in the order a change is the smaller one
CONTROLS = ("amount", "term", "product")
SCORE_TOLERANCE = 1e-9


class CounterfactualError(DecisionError):
    """No counterfactual can be stated: the decision is not a decline, or re-running it as
    it was does not give what was recorded (the message names the difference)."""


@dataclass(frozen=True)
class Trial:
    """One application decided: on ``product`` over ``term_months`` for ``amount``."""

    product: str
    term_months: int
    amount: float
    decision: str
    risk_grade: str | None
    offer_amount: float | None
    pd: float | None
    fraud_probability: float | None

    @property
    def approved_in_full(self) -> bool:
        return self.decision == APPROVE and self.offer_amount is not None and (
            self.offer_amount >= self.amount)


@dataclass(frozen=True)
class Option:
    """A change that would have been approved: on ``product`` over ``term_months``, the
    largest grid amount at most the one asked that was approved in full."""

    product: str
    term_months: int
    amount: float
    changed: tuple[str, ...]  # a subset of CONTROLS
    all_below_approved: bool  # every grid amount from the product minimum up was approved
    risk_grade: str | None
    pd: float | None


@dataclass(frozen=True)
class Counterfactual:
    application_id: str
    recorded: Trial  # the re-run of the application as it was (reproduces the record)
    options: tuple[Option, ...]  # the smallest change first; empty: nothing would do
    decisions_run: int
    held: tuple[str, ...] = ()
    grid: dict[str, float] = field(default_factory=dict)  # product -> its amount step

    @property
    def smallest(self) -> Option | None:
        return self.options[0] if self.options else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["smallest"] = None if self.smallest is None else asdict(self.smallest)
        return out


def grid(pp: ProductPolicy, up_to: float) -> list[float]:
    """The amounts the policy can offer (multiples of ``round_to`` from the product's
    minimum), ascending, up to ``up_to``."""
    step = pp.offer.round_to
    first = math.ceil(pp.offer.min_amount / step - 1e-9)
    last = math.floor(up_to / step + 1e-9)
    return [float(k * step) for k in range(first, last + 1)]


def counterfactuals(
    application: Mapping[str, Any],
    recorded: Mapping[str, Any],
    rescore: Rescore,
    ruleset: RuleSet,
    policy: Policy,
    list_hits: Sequence[ListHit] = (),
    explore: Exploration | None = None,
    held: Sequence[str] = (),
) -> Counterfactual:
    """The counterfactuals of the declined ``application`` (its fields as decided).

    ``recorded``: the decision of record's ``decision``, ``pd``, ``fraud_probability``
    and ``offer_amount``; the re-run as it was must give them. ``held``: names of inputs
    ``rescore`` keeps at their recorded values, stated with the result.
    """
    if recorded.get("decision") != DECLINE:
        raise CounterfactualError(f"the decision of record is {recorded.get('decision')}; "
                                  "counterfactuals are given for declines")
    runs = 0

    def decide(product: str, term: int, amount: float) -> Trial:
        nonlocal runs
        runs += 1
        app = {**application, "product": product, "requested_term_months": term,
               "requested_amount": amount}
        features, scores = rescore(app)
        out = decide_outcome(ruleset, policy, app, features, scores, list_hits,
                             explore=explore)
        offer = out.offer["amount"] if out.offer else None
        return Trial(product, term, amount, out.decision, out.risk_grade, offer,
                     scores.get("pd"), scores.get("fraud_probability"))

    product = str(application["product"])
    term = int(application.get("requested_term_months") or 0)
    asked = float(application["requested_amount"])
    base = decide(product, term, asked)
    _check_reproduces(base, recorded)
    options: list[Option] = []
    steps: dict[str, float] = {}
    for p in policy.products:
        pp = policy.for_product(p)
        steps[p] = pp.offer.round_to
        cap = asked if p == product else min(asked, max(g.max_amount
                                                         for g in pp.offer.by_grade.values()))
        amounts = grid(pp, cap)
        terms = pp.offer.terms if p != product else tuple(dict.fromkeys((term, *pp.offer.terms)))
        for t in terms:
            tried = [base if (p, t, a) == (product, term, asked) else decide(p, t, a)
                     for a in amounts]
            if p == product and t == term and asked not in amounts:
                tried.append(base)  # the amount asked, off the grid, was decided as recorded
            option = _best(tried, product, term, asked)
            if option is not None:
                options.append(option)
    options.sort(key=lambda o: ("product" in o.changed, "term" in o.changed,
                                asked - o.amount, o.term_months))
    return Counterfactual(str(application.get("application_id", "")), base, tuple(options),
                          runs, tuple(held), steps)


def _best(tried: list[Trial], product: str, term: int, asked: float) -> Option | None:
    """The largest amount approved in full among ``tried`` (one product and term)."""
    tried = sorted(tried, key=lambda t: t.amount)
    approved = [t for t in tried if t.approved_in_full]
    if not approved:
        return None
    top = approved[-1]
    below = [t for t in tried if t.amount <= top.amount]
    changed = tuple(c for c, moved in (("amount", top.amount != asked),
                                       ("term", top.term_months != term),
                                       ("product", top.product != product)) if moved)
    return Option(top.product, top.term_months, top.amount, changed,
                  all(t.approved_in_full for t in below), top.risk_grade, top.pd)


def _check_reproduces(base: Trial, recorded: Mapping[str, Any]) -> None:
    """The application as it was, re-run, must give the decision of record."""
    problems = []
    if base.decision != recorded.get("decision"):
        problems.append(f"decision {base.decision}, recorded {recorded.get('decision')}")
    for name, got in (("pd", base.pd), ("fraud_probability", base.fraud_probability)):
        want = recorded.get(name)
        if (want is None) != (got is None) or (
                want is not None and got is not None and abs(got - want) > SCORE_TOLERANCE):
            problems.append(f"{name} {got}, recorded {want}")
    if base.offer_amount != recorded.get("offer_amount"):
        problems.append(f"offer {base.offer_amount}, recorded {recorded.get('offer_amount')}")
    if problems:
        raise CounterfactualError("re-running the application as it was does not reproduce "
                                  "the decision of record (" + "; ".join(problems) + "): no "
                                  "counterfactual can be stated")
