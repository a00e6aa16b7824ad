"""The policy optimiser: per product, the PD cutoff, review band, grades and per-grade limits
that maximise profit on a history, subject to portfolio constraints.

Search (exact for the engine's offer arithmetic, fast enough for a grid):

1. Each application is decided once by a probe policy whose PD never declines, whose
   limits are unbounded and whose smallest offer is one rounding step: an applicant is
   *eligible* when nothing but the PD could stop them (lists aside: block-list hits are
   not in a history), and their affordable amount is computed at every grade's APR
   (`decisions.policy.make_offer`).
2. Per product and per candidate cutoff (quantiles of the eligible PDs): the grade
   boundaries (the base policy's times a scale of at least 1, ``GRADE_SCALES``) and per
   grade the limit (a multiple of the base policy's, rounded to the product's step) with
   the highest profit, for each smallest offer (``MIN_AMOUNT_MULTIPLES`` of the base
   policy's ``min_amount``); the review band is
   sized to the review team's share (``review_share`` in the profit file; reviews are
   counted as not booked). Portfolio figures add up over products.
3. Every combination of the products' cutoffs that passes the fair-lending screen is a
   point; the chosen point maximises profit (labels where known, PD elsewhere) within the
   constraints. The frontier is every point's approval rate, bad rate and profit.
4. The chosen policy is written as a policy file and decided again by the real engine
   (`decisions.book.decide_book`): the reported figures and the constraint checks are that
   verification's, not the search's.

APRs, price tiers, terms, fraud cutoffs, anomaly review and cold start stay as in the
base policy (pricing is not optimised).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from decisions.book import Book, Constraints, Portfolio, decide_book, portfolio
from decisions.engine import APPROVE, decide_outcome
from decisions.errors import BacktestError
from decisions.fairness import MIN_BAND_APPLICATIONS, adverse_impact
from decisions.feasibility import infeasible
from decisions.policy import GRADES, Policy, make_offer
from decisions.profit import ProfitModel, loan_profit, loss_at_default

#: per-grade limits tried, as multiples of the base policy's
LIMIT_MULTIPLES = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
#: smallest offers tried (``offer.min_amount``), as multiples of the base policy's: a lower
#: minimum lets an applicant whose affordability stops short of today's minimum borrow a
#: smaller amount -- the lever that approves more low-income (often young) applicants
#: without approving higher PDs
MIN_AMOUNT_MULTIPLES = (1.0, 0.5, 0.25)
#: grade boundaries tried, as multiples of the base policy's: never below 1, because the
#: profit model has no take-up response to price -- a lower boundary would move applicants
#: to a dearer grade and look profitable only because nobody is modelled to walk away
GRADE_SCALES = (1.0, 1.25, 1.5, 2.0)
UNBOUNDED = 1e12


@dataclass(frozen=True)
class Option:
    """One candidate for one product: its policy part and the figures it books."""

    product: str
    approve_below: float
    decline_at: float
    bounds: tuple[float, ...]  # pd_below of grades A..D (E: 1.0)
    limits: tuple[float, ...]  # max_amount of grades A..E
    min_amount: float
    applications: int
    approvals: int
    bads: float  # best estimate (labels where known, else PD)
    expected_loss: float
    exposure: float
    profit: float
    min_air: float | None  # worst adverse impact ratio of the product's screened bands
    worst_band: str | None


@dataclass(frozen=True)
class Optimised:
    policy_yaml: str
    policy: Policy
    chosen: dict[str, Option]
    frontier: Any  # pandas DataFrame: approval_rate, bad_rate, profit, feasible, chosen
    verified: Portfolio
    base: Portfolio
    checks: list[tuple[str, float | None, float, bool]]
    search_profit: float


def optimise(book: Book, base_raw: dict[str, Any], profit: ProfitModel,
             constraints: Constraints, *, grid: int = 30, version: str | None = None,
             min_band: int = MIN_BAND_APPLICATIONS) -> Optimised:
    """The most profitable policy within ``constraints`` on ``book``; ``base_raw`` is the
    base policy file as parsed YAML (the parts not optimised are kept from it)."""
    import pandas as pd

    base = Policy.from_yaml(yaml.safe_dump(base_raw, sort_keys=False))
    options = {p: _options(book, base_raw, profit, p, grid, min_band)
               for p in sorted(set(book.product.tolist()))}
    screened = {p: [o for o in opts if o.min_air is None
                    or o.min_air >= constraints.air_floor(p) - 1e-12]
                for p, opts in options.items()}
    empty = [p for p, opts in screened.items() if not opts]
    points = None if empty else combine(screened, constraints)
    if points is None or not points["feasible"].any():
        everything = combine(options, constraints)
        air = {p: np.array([1.0 if o.min_air is None else o.min_air for o in opts])[
            everything[f"i_{p}"].to_numpy()] for p, opts in options.items()}
        raise infeasible(everything, air, constraints,
                         _unfair(options, empty, constraints) if empty else
                         f"constraints: {_describe(constraints)}")
    feasible = points[points["feasible"]]
    best = feasible.loc[feasible["profit"].idxmax()]
    chosen = {p: screened[p][int(best[f"i_{p}"])] for p in screened}
    points["chosen"] = points.index == best.name
    raw = policy_raw(base_raw, chosen, version)
    text = yaml.safe_dump(raw, sort_keys=False)
    policy = Policy.from_yaml(text)
    verified = portfolio(book, decide_book(book, policy), profit, min_band=min_band)
    base_figures = portfolio(book, decide_book(book, base), profit, min_band=min_band)
    return Optimised(text, policy, chosen, pd.DataFrame(points), verified, base_figures,
                     constraints.check(verified), float(best["profit"]))


def _unfair(options: dict[str, list[Option]], products: list[str], c: Constraints) -> str:
    """Why the fair-lending screen cannot be met: the best ratio each product reaches."""
    best = []
    for p in products:
        o = max(options[p], key=lambda o: o.min_air or 0.0)
        best.append(f"{p} reaches at best {o.min_air:.3f} ({o.worst_band}, at PD cutoff "
                    f"{o.approve_below:g})")
    floors = ", ".join(f"{p} ≥ {c.air_floor(p):.3f}" for p in products)
    return (f"no PD cutoff passes the fair-lending screen (adverse impact ratio for every "
            f"age band: {floors}): {'; '.join(best)}. The gap that remains comes from what "
            "the cutoff does not decide (rules, fraud checks, affordability even at the "
            "smallest offer searched): review those, "
            "hold each product to no worse than today's policy (--fairness no-worse), or "
            "set a lower --min-adverse-impact explicitly as a documented exception")


def _describe(c: Constraints) -> str:
    parts = [f"{n} {v:g}" for n, v in (("bad rate ≤", c.max_bad_rate),
                                        ("approval rate ≥", c.min_approval_rate),
                                        ("expected loss rate ≤", c.max_expected_loss_rate))
             if v is not None]
    return ", ".join([*parts, "the fair-lending screen"])


# --- step 1: what each applicant could get ------------------------------------------------
def _probe(base_raw: dict[str, Any], product: str, fraud_off: bool = False) -> Policy:
    """The base policy with the PD cutoff off, every limit unbounded and the smallest offer
    one rounding step (the minimum is searched); with ``fraud_off`` the fraud cutoffs too
    (what a fraud flag cleared on review leaves)."""
    raw = copy.deepcopy(base_raw)
    pp = raw["products"][product]
    if fraud_off:
        pp["fraud"] = {"review_at": 1.0, "decline_at": 1.0}
    pp["offer"]["min_amount"] = float(pp["offer"].get("round_to", 50.0))
    pp["pd"] = {"approve_below": 1.0, "decline_at": 1.0}
    pp["grades"] = [*pp["grades"][:-1], {**pp["grades"][-1], "pd_below": 1.0}]
    for g in pp["offer"]["by_grade"].values():
        g["max_amount"] = UNBOUNDED
    return Policy.from_yaml(yaml.safe_dump(raw, sort_keys=False))


@dataclass(frozen=True)
class Reach:
    """One product's applicants: eligibility and the affordable amount at each grade."""

    idx: np.ndarray  # rows of the book
    eligible: np.ndarray
    amounts: np.ndarray  # (n, grades): 0 where nothing affordable reaches the minimum
    term: np.ndarray
    grades: tuple[str, ...]


def product_reach(book: Book, base_raw: dict[str, Any], product: str, fraud_off: bool = False
                  ) -> Reach:
    """Who among ``product``'s applications only the PD could stop, and what each could
    borrow at each grade (`_probe`)."""
    probe = _probe(base_raw, product, fraud_off)
    pp = probe.for_product(product)
    grades = tuple(g for g in GRADES if g in pp.offer.by_grade)
    idx = np.flatnonzero(book.product == product)
    eligible = np.zeros(len(idx), dtype=bool)
    amounts = np.zeros((len(idx), len(grades)))
    term = np.zeros(len(idx))
    for j, i in enumerate(idx):
        row = book.rows[i]
        out = decide_outcome(book.ruleset, probe, row, row, book.scores[i], [],
                             rule_hits=book.hits[i])
        eligible[j] = out.decision == APPROVE or [r["code"] for r in out.reasons] == ["P-AFFORD"]
        for k, g in enumerate(grades):
            made = make_offer(pp, g, row)
            if made is not None:  # (no offer at any grade: never booked, term unused)
                amounts[j, k], term[j] = made.amount, made.term_months
    return Reach(idx, eligible, amounts, term, grades)


# --- step 2: the options of one product ------------------------------------------------------
def _options(book: Book, base_raw: dict[str, Any], profit: ProfitModel, product: str,
             grid: int, min_band: int) -> list[Option]:
    reach = product_reach(book, base_raw, product)
    base_pp = base_raw["products"][product]
    offer = base_pp["offer"]
    econ = profit.economics(product)
    pd_all = book.pd[reach.idx]
    bad_all = book.bad[reach.idx]
    bands = [book.band[i] for i in reach.idx]
    elig_pd = np.sort(pd_all[reach.eligible])
    if len(elig_pd) == 0:
        raise BacktestError(f"no {product} application is eligible on this history (every "
                            "one is stopped by a rule, fraud or affordability)")
    cuts = cutoffs(elig_pd, grid, float(base_pp["pd"]["approve_below"]))
    aprs = np.array([float(offer["by_grade"][g]["apr"]) for g in reach.grades])
    base_limits = [float(offer["by_grade"][g]["max_amount"]) for g in reach.grades]
    step, base_min = float(offer.get("round_to", 50.0)), float(offer["min_amount"])
    base_bounds = [float(g["pd_below"]) for g in base_pp["grades"][:-1]]
    base_cut = round(float(base_pp["pd"]["approve_below"]), 5)
    out = []
    for m in MIN_AMOUNT_MULTIPLES:
        minimum = max(step, float(np.floor(base_min * m / step) * step))
        for c in cuts:  # the base policy's own grading too, so today's policy is a point
            approve = reach.eligible & (pd_all < c)
            gradings = [_graded(econ, offer["kind"], reach, approve, pd_all, bad_all, aprs,
                                _scaled(base_bounds, scale), base_limits, step, minimum)
                        for scale in GRADE_SCALES]
            best = max(gradings, key=lambda g: g[0])
            base_point = c == base_cut and m == 1.0
            for graded in [best] + ([_graded(econ, offer["kind"], reach, approve, pd_all,
                                             bad_all, aprs, base_bounds, base_limits, step,
                                             minimum, search=False)] if base_point else []):
                out.append(_option(product, float(c), graded, pd_all, bad_all, bands, econ,
                                   elig_pd, min_band, minimum))
    return out


def cutoffs(elig_pd: np.ndarray, grid: int, base_cut: float) -> np.ndarray:
    """The PD cutoffs tried: ``grid`` quantiles of the eligible PDs, finer in the top tail
    (where the riskiest, often youngest, are approved or not), and the base policy's."""
    cuts = np.unique(np.round(np.concatenate([
        np.quantile(elig_pd, np.linspace(0.05, 1.0, grid)) + 1e-6,
        np.quantile(elig_pd, np.linspace(0.9, 1.0, 11)) + 1e-6, [base_cut]]), 5))
    return np.asarray(cuts[(cuts > 0) & (cuts <= 1.0)])


def _option(product: str, c: float, graded: Any, pd_all: np.ndarray, bad_all: np.ndarray,
            bands: list[str | None], econ: Any, elig_pd: np.ndarray, min_band: int,
            minimum: float) -> Option:
    """The figures of one cutoff with one grading."""
    money, bounds, limits, booked, amount = graded
    ratios = {b: r for b, r in adverse_impact(booked, bands, min_band).items() if r is not None}
    worst = min(ratios, key=ratios.__getitem__) if ratios else None
    return Option(
        product, c, _review_edge(elig_pd, c, econ.review_share, len(pd_all)),
        tuple(bounds), tuple(limits), minimum, len(pd_all), int(booked.sum()),
        float(bad_all[booked].sum()),
        float((pd_all[booked] * loss_at_default(econ, amount[booked])).sum()),
        float(amount[booked].sum()), money, ratios[worst] if worst else None, worst)


def _scaled(base_bounds: list[float], scale: float) -> list[float]:
    """The base grade boundaries times ``scale`` (kept increasing and below 1)."""
    out: list[float] = []
    for b in base_bounds:
        v = min(round(b * scale, 5), 0.999)
        out.append(max(v, out[-1] + 1e-5) if out else v)
    return out


def _graded(econ: Any, kind: str, reach: Reach, approve: np.ndarray, pd_all: np.ndarray,
            bad_all: np.ndarray, aprs: np.ndarray, bounds: list[float],
            base_limits: list[float], step: float, minimum: float, *,
            search: bool = True) -> Any:
    """Profit, bounds, per-grade limits (the best, or with ``search`` off the base's),
    booked rows and amounts for one grading."""
    grade = np.searchsorted(np.array(bounds), pd_all, side="right")
    booked = np.zeros(len(pd_all), dtype=bool)
    amount = np.zeros(len(pd_all))
    limits = []
    for k in range(len(reach.grades)):
        rows = approve & (grade == k)
        lim, amt = _best_limit(econ, kind, bad_all[rows], reach.amounts[rows, k], aprs[k],
                               reach.term[rows], base_limits[k], step, minimum,
                               (1.0,) if not search else LIMIT_MULTIPLES)
        limits.append(lim)
        amount[rows] = amt
        booked[rows] = amt >= minimum
    apr = aprs[np.minimum(grade, len(aprs) - 1)]
    money = float(loan_profit(econ, kind, bad_all[booked], amount[booked], apr[booked],
                              reach.term[booked]).sum())
    return money, bounds, limits, booked, amount


def _best_limit(econ: Any, kind: str, bad: np.ndarray, affordable: np.ndarray, apr: float,
                term: np.ndarray, base: float, step: float, minimum: float,
                multiples: tuple[float, ...] = LIMIT_MULTIPLES) -> tuple[float, np.ndarray]:
    """The grade's limit with the highest profit, and each row's offered amount under it."""
    best: tuple[float, float, np.ndarray] | None = None
    for m in multiples:
        lim = max(np.floor(base * m / step) * step, minimum)
        amt = np.floor(np.minimum(affordable, lim) / step) * step
        ok = amt >= minimum
        money = float(loan_profit(econ, kind, bad[ok], amt[ok], np.full(int(ok.sum()), apr),
                                  term[ok]).sum())
        if best is None or money > best[0]:
            best = (money, lim, amt)
    assert best is not None
    return best[1], best[2]


def _review_edge(elig_pd: np.ndarray, cut: float, share: float, n: int) -> float:
    """decline_at: the review band [cut, decline_at) holds about ``share`` of applications."""
    above = elig_pd[elig_pd >= cut]
    k = round(share * n)
    if k <= 0 or len(above) == 0:
        return min(1.0, cut)
    edge = float(above[min(k, len(above)) - 1]) + 1e-6 if k < len(above) else 1.0
    return min(1.0, max(cut, round(edge, 5)))


# --- step 3: combine the products ----------------------------------------------------------
def combine(options: dict[str, list[Option]], c: Constraints) -> Any:
    """Every combination of the products' options with its portfolio figures."""
    import pandas as pd

    products = list(options)
    shape = [len(options[p]) for p in products]
    total: dict[str, np.ndarray] = {}
    for field in ("applications", "approvals", "bads", "expected_loss", "exposure", "profit"):
        acc = np.zeros(shape)
        for axis, p in enumerate(products):
            v = np.array([getattr(o, field) for o in options[p]], dtype=np.float64)
            acc = acc + v.reshape([-1 if a == axis else 1 for a in range(len(products))])
        total[field] = acc.ravel()
    idx = np.array(list(itertools.product(*[range(s) for s in shape])))
    with np.errstate(invalid="ignore", divide="ignore"):
        df = pd.DataFrame({
            "approval_rate": total["approvals"] / total["applications"],
            "bad_rate": total["bads"] / total["approvals"],
            "expected_loss_rate": total["expected_loss"] / total["exposure"],
            "profit": total["profit"],
            **{f"i_{p}": idx[:, a] for a, p in enumerate(products)},
        })
    ok = np.ones(len(df), dtype=bool)
    if c.max_bad_rate is not None:
        ok &= (df["bad_rate"] <= c.max_bad_rate).to_numpy()
    if c.min_approval_rate is not None:
        ok &= (df["approval_rate"] >= c.min_approval_rate).to_numpy()
    if c.max_expected_loss_rate is not None:
        ok &= (df["expected_loss_rate"] <= c.max_expected_loss_rate).to_numpy()
    df["feasible"] = ok
    return df


# --- step 4: the policy file -------------------------------------------------------------
def policy_raw(base_raw: dict[str, Any], chosen: dict[str, Option],
               version: str | None) -> dict[str, Any]:
    """The base policy with each product's cutoffs, grades and limits replaced."""
    raw = copy.deepcopy(base_raw)
    raw["version"] = version or f"{base_raw.get('version', 'policy')}-optimised"
    raw["description"] = ("Optimised by `loanrisk policy optimise` from "
                          f"{base_raw.get('version', '?')}: PD cutoffs, review band, grade "
                          "boundaries and per-grade limits.")
    for p, o in chosen.items():
        pp = raw["products"][p]
        grades = [g for g in GRADES if g in pp["offer"]["by_grade"]]
        pp["pd"] = {"approve_below": o.approve_below, "decline_at": o.decline_at}
        pp["offer"]["min_amount"] = float(o.min_amount)
        pp["grades"] = [{"grade": g, "pd_below": b} for g, b in zip(grades, o.bounds,
                                                                  strict=False)]
        pp["grades"].append({"grade": grades[-1], "pd_below": 1.0})
        for g, lim in zip(grades, o.limits, strict=True):
            pp["offer"]["by_grade"][g]["max_amount"] = float(lim)
    return raw
