"""The search for a less discriminatory alternative: how far each lawful lever moves the
fair-lending screen at today's bad rate.

When the four-fifths age screen and the bad rate cannot both be met (`decisions.feasibility`),
a lender must show it looked for an alternative that is fairer at the same risk before it
accepts the gap. Age never enters a decision here (no model, rule or policy reads it); the
levers are ones a lender may pull for everyone alike:

- ``cutoff``: the PD cutoff and the smallest offer (what `decisions.optimise` searches);
- ``counter-offer``: an applicant the cutoff declines at the amount asked is offered the
  largest of ``COUNTER_FRACTIONS`` of it whose PD, re-scored at that amount (the model reads
  payment and amount to income), passes the same cutoff -- a smaller loan is truly safer
  only if the truth says so, hence the truth at the amount booked (``Study.truth``);
- ``fraud review``: every applicant a fraud cutoff stops is reviewed by a reviewer who
  knows the truth, so genuine ones are decided on credit (the best any review can do);
- alternative PD models (e.g. ones trained without the strongest age proxies), and the
  oracle's PD: the ceiling for any model, since no score ranks risk better;
- ``all``: the oracle's PD with counter-offers and fraud review -- the ceiling of them all.

Each lever gives per product a set of points (cutoff x smallest offer) with the figures the
optimiser uses (`decisions.optimise.Option`); today's policy is measured the same way. The
report is the best adverse impact ratio each lever reaches at today's bad rate, per product
and for the portfolio, and whether any point meets the screen, the bad rate and beats
today's profit. Grade boundaries and limits stay the base policy's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from decisions.book import Book, Constraints
from decisions.fairness import MIN_BAND_APPLICATIONS, adverse_impact
from decisions.optimise import (
    MIN_AMOUNT_MULTIPLES,
    Option,
    Reach,
    combine,
    cutoffs,
    product_reach,
)
from decisions.profit import ProfitModel, loan_profit, loss_at_default

#: (book rows, amounts) -> PD of those rows borrowing those amounts
AtAmount = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: shares of the amount asked a counter-offer tries, the largest first
COUNTER_FRACTIONS = (0.75, 0.5, 0.25)


@dataclass(frozen=True)
class Lever:
    name: str
    score: np.ndarray  # PD per book row that the cutoff reads
    rescore: AtAmount | None = None  # counter-offers: the same model at a smaller amount
    fraud_review: bool = False  # fraud-stopped applicants reviewed with the truth


@dataclass(frozen=True)
class Study:
    """What the levers are measured with: ``truth`` the true PD at the amount booked
    (None: the book's labels, which know only the amount asked), ``genuine`` per book row
    (for the fraud review)."""

    book: Book
    base_raw: dict[str, Any]
    profit: ProfitModel
    truth: AtAmount | None = None
    genuine: np.ndarray | None = None
    grid: int = 30
    min_band: int = MIN_BAND_APPLICATIONS


@dataclass(frozen=True)
class ProductFinding:
    product: str
    lever: str
    base: Option  # today's policy, measured like the lever
    best: Option | None  # highest worst-band ratio at or below today's product bad rate


@dataclass(frozen=True)
class PortfolioFinding:
    lever: str
    best_air: float | None  # highest worst ratio over products at today's bad rate or below
    feasible: bool  # some point meets the screen everywhere, the bad rate, and beats profit
    profit: float | None  # the best such point's profit
    base_profit: float
    base_bad_rate: float
    #: the price of the screen: the lowest portfolio bad rate (and its approval rate) at
    #: which every product meets it, at any profit; None when no point meets it
    fair_bad_rate: float | None = None
    fair_approval_rate: float | None = None


def run(study: Study, levers: Sequence[Lever], floor: float = 0.8
        ) -> tuple[list[ProductFinding], list[PortfolioFinding]]:
    """Every lever's findings, against today's policy measured the same way."""
    products = sorted(set(study.book.product.tolist()))
    reaches = {(p, f): product_reach(study.book, study.base_raw, p, f) for p in products
               for f in {False, any(lv.fraud_review for lv in levers)}}
    today = Lever("today", study.book.pd)
    base = {p: points(study, today, p, reaches, today_only=True)[0] for p in products}
    base_bad = sum(o.bads for o in base.values()) / sum(o.approvals for o in base.values())
    base_profit = sum(o.profit for o in base.values())
    rows, port = [], []
    for lv in levers:
        opts = {p: [o for sub in _subsets(lv) for o in points(study, sub, p, reaches)]
                for p in products}
        for p in products:
            limit = base[p].bads / base[p].approvals + 1e-12
            ok = [o for o in opts[p] if o.approvals and o.bads / o.approvals <= limit]
            best = max(ok, key=lambda o: (_air(o), o.profit)) if ok else None
            rows.append(ProductFinding(p, lv.name, base[p], best))
        port.append(_portfolio(lv.name, opts, base_bad, base_profit, floor))
    return rows, port


def _undominated(opts: list[Option], bad_rate: float) -> list[Option]:
    """The options no other beats on all of: the room it leaves under ``bad_rate`` (the
    portfolio meets it when the products' ``bads - bad_rate x approvals`` add up to at most
    0), the worst-band ratio and profit. Exact for the portfolio search, and it keeps the
    combinations few."""
    key = np.array([[o.bads - bad_rate * o.approvals, -_air(o), -o.profit] for o in opts])
    keep = [i for i in range(len(opts))
            if not ((key <= key[i]).all(axis=1) & (key < key[i]).any(axis=1)).any()]
    return [opts[i] for i in dict.fromkeys(keep)]


def _subsets(lv: Lever) -> list[Lever]:
    """The lever with each of its parts pulled or not: a lender may leave any part unused,
    so adding a part never lowers what the lever reaches."""
    rescores = [None, lv.rescore] if lv.rescore is not None else [None]
    reviews = [False, True] if lv.fraud_review else [False]
    return [Lever(lv.name, lv.score, r, f) for r in rescores for f in reviews]


def _air(o: Option) -> float:
    return 1.0 if o.min_air is None else o.min_air


def _portfolio(name: str, opts: Mapping[str, list[Option]], base_bad: float,
               base_profit: float, floor: float) -> PortfolioFinding:
    raw = opts
    opts = {p: _undominated(o, base_bad) for p, o in opts.items()}
    pts = combine(dict(opts), Constraints(max_bad_rate=base_bad))
    air = np.min(np.stack([np.array([_air(o) for o in opts[p]])[pts[f"i_{p}"].to_numpy()]
                           for p in opts]), axis=0)
    ok = pts["feasible"].to_numpy()
    fair = ok & (air >= floor - 1e-12) & (pts["profit"].to_numpy() > base_profit)
    profit = float(pts["profit"].to_numpy()[fair].max()) if fair.any() else None
    cheapest = _cheapest_fair(raw, floor)
    return PortfolioFinding(name, float(air[ok].max()) if ok.any() else None, bool(fair.any()),
                            profit, base_profit, base_bad, *cheapest)


def _cheapest_fair(opts: Mapping[str, list[Option]], floor: float
                   ) -> tuple[float | None, float | None]:
    """The lowest portfolio bad rate with every product at or above ``floor``, and its
    approval rate. Per product only the options no other beats on both bads (fewer) and
    approvals (more) can be in it: the search is exact on them."""
    fair = {p: [o for o in os if o.approvals and _air(o) >= floor - 1e-12]
            for p, os in opts.items()}
    if not all(fair.values()):
        return None, None
    for p, os in fair.items():
        key = np.array([[o.bads, -o.approvals] for o in os])
        fair[p] = [os[i] for i in range(len(os)) if not (
            (key <= key[i]).all(axis=1) & (key < key[i]).any(axis=1)).any()]
    pts = combine(fair, Constraints())
    best = pts.loc[pts["bad_rate"].idxmin()]
    return float(best["bad_rate"]), float(best["approval_rate"])


@dataclass(frozen=True)
class _Variant:
    """One product's applicants at one share of the amount asked."""

    score: np.ndarray
    grade: np.ndarray
    amount: np.ndarray  # offered (capped by the grade's affordability and limit)


def points(study: Study, lv: Lever, product: str, reaches: Mapping[tuple[str, bool], Reach],
            today_only: bool = False) -> list[Option]:
    """The lever's points for one product (``today_only``: the base policy's point)."""
    book, pp = study.book, study.base_raw["products"][product]
    reach = reaches[(product, False)]
    eligible = reach.eligible
    if lv.fraud_review and study.genuine is not None:
        cleared = reaches[(product, True)].eligible & study.genuine[reach.idx]
        eligible = eligible | cleared
    offer = pp["offer"]
    step, base_min = float(offer.get("round_to", 50.0)), float(offer["min_amount"])
    bounds = np.array([float(g["pd_below"]) for g in pp["grades"][:-1]])
    limits = np.array([float(offer["by_grade"][g]["max_amount"]) for g in reach.grades])
    asked = np.array([float(book.rows[i].get("requested_amount") or 0.0) for i in reach.idx])
    fractions = (1.0, *COUNTER_FRACTIONS) if lv.rescore is not None else (1.0,)
    variants = [_variant(lv, reach, bounds, limits, asked, f, step) for f in fractions]
    base_cut = float(pp["pd"]["approve_below"])
    if today_only:
        return [_point(study, lv, product, reach, eligible, variants, base_cut, base_min)]
    cuts = cutoffs(np.sort(lv.score[reach.idx][eligible]), study.grid, base_cut)
    return [_point(study, lv, product, reach, eligible, variants, float(c),
                   max(step, float(np.floor(base_min * m / step) * step)))
            for m in MIN_AMOUNT_MULTIPLES for c in cuts]


def _variant(lv: Lever, reach: Reach, bounds: np.ndarray, limits: np.ndarray,
             asked: np.ndarray, fraction: float, step: float) -> _Variant:
    if fraction == 1.0 or lv.rescore is None:
        score, cap = lv.score[reach.idx], asked
    else:
        cap = np.floor(asked * fraction / step) * step
        score = lv.rescore(reach.idx, cap)
    grade = np.minimum(np.searchsorted(bounds, score, side="right"), len(limits) - 1)
    room = reach.amounts[np.arange(len(grade)), grade]
    amount = np.floor(np.minimum(np.minimum(room, cap), limits[grade]) / step) * step
    return _Variant(score, grade, amount)


def _point(study: Study, lv: Lever, product: str, reach: Reach, eligible: np.ndarray,
           variants: list[_Variant], cut: float, minimum: float) -> Option:
    """Approve at the amount asked when the PD passes ``cut``, else at the largest
    counter-offer that passes it; the figures of what is booked."""
    n = len(reach.idx)
    booked, amount = np.zeros(n, dtype=bool), np.zeros(n)
    grade, score = np.zeros(n, dtype=np.int64), np.zeros(n)
    for v in variants:
        take = eligible & ~booked & (v.score < cut) & (v.amount >= minimum)
        booked |= take
        amount[take], grade[take], score[take] = v.amount[take], v.grade[take], v.score[take]
    rows = reach.idx[booked]
    bad = (study.truth(rows, amount[booked]) if study.truth is not None
           else study.book.bad[rows])
    econ = study.profit.economics(product)
    offer = study.base_raw["products"][product]["offer"]
    aprs = np.array([float(offer["by_grade"][g]["apr"]) for g in reach.grades])
    money = float(loan_profit(econ, offer["kind"], bad, amount[booked], aprs[grade[booked]],
                              reach.term[booked]).sum())
    bands = [study.book.band[i] for i in reach.idx]
    ratios = {b: r for b, r in adverse_impact(booked.tolist(), bands, study.min_band).items()
              if r is not None}
    worst = min(ratios, key=ratios.__getitem__) if ratios else None
    pp = study.base_raw["products"][product]
    return Option(product, cut, cut, tuple(float(g["pd_below"]) for g in pp["grades"][:-1]),
                  tuple(float(offer["by_grade"][g]["max_amount"]) for g in reach.grades),
                  minimum, n, int(booked.sum()), float(bad.sum()),
                  float((score[booked] * loss_at_default(econ, amount[booked])).sum()),
                  float(amount[booked].sum()), money,
                  ratios[worst] if worst else None, worst)
