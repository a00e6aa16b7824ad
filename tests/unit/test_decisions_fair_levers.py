"""`decisions.fair_levers` on the optimiser's synthetic history, checked against the real
engine: today's point is what `decide_book` books; a counter-offer point is what deciding
each declined application again at a share of its amount (re-scored) books; a fraud review
that clears the genuine books what a policy without fraud cutoffs books for them."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import yaml

from decisions import fair_levers as fl
from decisions.book import decide_book, prepare_book
from decisions.engine import APPROVE, decide_outcome
from decisions.optimise import product_reach
from decisions.policy import Policy
from decisions.profit import ProfitModel
from decisions.rules import RuleSet
from tests.decision_cases import RULES_YAML
from tests.unit.test_decisions_optimise import BASE_RAW, history


@pytest.fixture(scope="module")
def book() -> Any:
    return prepare_book(history(), RuleSet.from_yaml(RULES_YAML))


def _asked(book: Any) -> np.ndarray:
    return np.array([float(r["requested_amount"]) for r in book.rows])


def _reaches(book: Any) -> dict[tuple[str, bool], Any]:
    return {(p, f): product_reach(book, BASE_RAW, p, f) for p in sorted(set(book.product))
            for f in (False, True)}


def test_todays_point_is_what_the_engine_books(book: Any) -> None:
    study = fl.Study(book, BASE_RAW, ProfitModel.default())
    rows, port = fl.run(study, [fl.Lever("cutoff", book.pd)])
    d = decide_book(book, Policy.default())
    for r in rows:
        m = book.product == r.product
        assert r.base.approvals == int(d.approved[m].sum())
        assert r.base.exposure == pytest.approx(float(d.amount[m & d.approved].sum()))
        assert r.base.bads == pytest.approx(float(book.label[m & d.approved].sum()))
        limit = r.base.bads / r.base.approvals
        assert r.best is not None and r.best.bads / r.best.approvals <= limit + 1e-12
        assert (r.best.min_air or 1.0) >= (r.base.min_air or 1.0) - 1e-12  # today is a point
    assert port[0].base_bad_rate == pytest.approx(float(book.label[d.approved].mean()))


def test_a_counter_offer_books_what_the_engine_approves_at_the_smaller_amount(book: Any
                                                                              ) -> None:
    asked = _asked(book)

    def rescore(rows: np.ndarray, amounts: np.ndarray) -> np.ndarray:  # safer when smaller
        return book.pd[rows] * (0.4 + 0.6 * amounts / asked[rows])

    study = fl.Study(book, BASE_RAW, ProfitModel.default())
    lever = fl.Lever("counter", book.pd, rescore)
    product, cut = "PERSONAL_LOAN", 0.07  # the base cutoff: always a point
    got = [o for o in fl.points(study, lever, product, _reaches(book))
           if o.approve_below == cut and o.min_amount == 1000.0]
    raw = copy.deepcopy(BASE_RAW)
    raw["products"][product]["pd"] = {"approve_below": cut, "decline_at": cut}
    policy = Policy.from_yaml(yaml.safe_dump(raw))
    booked, exposure, countered = 0, 0.0, 0
    for i in np.flatnonzero(book.product == product):
        row, s = book.rows[i], dict(book.scores[i])
        out = decide_outcome(book.ruleset, policy, row, row, s, [], rule_hits=book.hits[i])
        for share in fl.COUNTER_FRACTIONS:
            if out.decision == APPROVE or not {r["code"] for r in out.reasons} <= {
                    "P-PD-DECLINE", "P-PD-REVIEW"}:
                break
            amount = math.floor(asked[i] * share / 100) * 100
            r2 = {**row, "requested_amount": float(amount)}
            s2 = {**s, "pd": float(rescore(np.array([i]), np.array([amount]))[0])}
            out = decide_outcome(book.ruleset, policy, r2, r2, s2, [], rule_hits=book.hits[i])
            countered += out.decision == APPROVE
        if out.decision == APPROVE:
            booked += 1
            exposure += out.offer["amount"]
    assert countered > 20
    assert len(got) == 1 and got[0].approvals == booked
    assert got[0].exposure == pytest.approx(exposure)


def test_a_fraud_review_clears_the_genuine_only() -> None:
    h = history()
    h.loc[::9, "fraud_probability"] = 0.3  # reviewed
    h.loc[::13, "fraud_probability"] = 0.7  # declined
    book = prepare_book(h, RuleSet.from_yaml(RULES_YAML))
    raw = copy.deepcopy(BASE_RAW)
    for pp in raw["products"].values():
        pp["fraud"] = {"review_at": 1.0, "decline_at": 1.0}
    open_ = decide_book(book, Policy.from_yaml(yaml.safe_dump(raw)))
    today = decide_book(book, Policy.default())
    for genuine, want in ((np.ones(len(book), bool), open_), (np.zeros(len(book), bool), today)):
        study = fl.Study(book, BASE_RAW, ProfitModel.default(), genuine=genuine)
        rows, _ = fl.run(study, [fl.Lever("fraud review", book.pd, fraud_review=True)])
        reaches = _reaches(book)
        for r in rows:
            pt = [o for o in fl.points(study, fl.Lever("f", book.pd, fraud_review=True),
                                       r.product, reaches)
                  if o.approve_below == BASE_RAW["products"][r.product]["pd"]["approve_below"]
                  and o.min_amount == BASE_RAW["products"][r.product]["offer"]["min_amount"]]
            assert pt[0].approvals == int(want.approved[book.product == r.product].sum())


def test_the_truth_at_the_amount_booked_is_what_is_counted(book: Any) -> None:
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def truth(rows: np.ndarray, amounts: np.ndarray) -> np.ndarray:
        seen.append((rows, amounts))
        return np.full(len(rows), 0.5)

    study = fl.Study(book, BASE_RAW, ProfitModel.default(), truth=truth)
    _, port = fl.run(study, [fl.Lever("cutoff", book.pd)])
    d = decide_book(book, Policy.default())
    assert port[0].base_bad_rate == pytest.approx(0.5)
    today = np.sort(np.concatenate([r for r, _ in seen[:3]]))  # each product's first call
    assert np.array_equal(today, np.flatnonzero(d.approved))
    amounts = dict(zip(np.concatenate([r for r, _ in seen[:3]]),
                       np.concatenate([a for _, a in seen[:3]]), strict=True))
    assert all(amounts[i] == d.amount[i] for i in today)


def test_the_portfolio_search_is_the_brute_force_over_every_combination(book: Any) -> None:
    from decisions.book import Constraints
    from decisions.optimise import combine

    asked = _asked(book)
    lever = fl.Lever("counter", book.pd, lambda r, a: book.pd[r] * (0.5 + 0.5 * a / asked[r]))
    study = fl.Study(book, BASE_RAW, ProfitModel.default(), grid=8)
    _, (port,) = fl.run(study, [lever])
    reaches = _reaches(book)
    opts = {p: [o for sub in fl._subsets(lever) for o in fl.points(study, sub, p, reaches)]
            for p in sorted(set(book.product))}
    pts = combine(opts, Constraints(max_bad_rate=port.base_bad_rate))
    air = np.min([np.array([o.min_air or 1.0 for o in opts[p]])[pts[f"i_{p}"]] for p in opts],
                 axis=0)
    ok = pts["feasible"].to_numpy()
    assert port.best_air == pytest.approx(air[ok].max())
    fair = ok & (air >= 0.8) & (pts["profit"].to_numpy() > port.base_profit)
    assert port.feasible == bool(fair.any())
    if fair.any():
        assert port.profit == pytest.approx(pts["profit"].to_numpy()[fair].max())
    lends = np.all([np.array([o.approvals > 0 for o in opts[p]])[pts[f"i_{p}"]] for p in opts],
                   axis=0)
    fairs = lends & (air >= 0.8)  # the price of the screen: at any bad rate
    assert fairs.any()  # (this history can meet the screen, at a price)
    i = np.nanargmin(np.where(fairs, pts["bad_rate"].to_numpy(), np.nan))
    assert port.fair_bad_rate == pytest.approx(pts["bad_rate"].to_numpy()[i])
    assert port.fair_approval_rate == pytest.approx(pts["approval_rate"].to_numpy()[i])
