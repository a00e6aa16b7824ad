"""Counterfactuals of a decline, checked against an independent brute force: every grid
amount decided by the worker's own entry (`DecisionEngine.decide` on the full feature
vector recomputed from the changed application), not by the search's path."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from decisions.adverse_letter import adverse_action_letter
from decisions.counterfactual import CounterfactualError, counterfactuals, grid
from decisions.engine import DecisionEngine
from decisions.lists import ListHit, ListIndex
from decisions.policy import Policy
from decisions.rules import DEFAULT_RULES_PATH, RuleStore
from features.applicant import applicant_features, bureau_from_features
from features.spec import FEATURE_SPEC
from models.slots import ModelSet
from streams.recorded import RecordedScorer, RecordError, check_reconstruction
from tests.records import application


class LinearPD:
    """A PD model of the amount asked: logit = a + b * amount/income + c * payment/income
    (serving's contract: ``score(x)`` on a vector in ``feature_names`` order)."""

    def __init__(self, a: float, b: float, c: float, names: list[str]) -> None:
        self.a, self.b, self.c = a, b, c
        self.feature_names = names
        self.i_ati, self.i_pti = names.index("app_amount_to_income"), names.index("app_pti")

    def score(self, x: np.ndarray) -> float:
        z = self.a + self.b * x[self.i_ati] + self.c * x[self.i_pti]
        return 1.0 / (1.0 + math.exp(-z))

    def points_for_pd(self, pd: float) -> float:
        return 600.0 - 20.0 * math.log2(pd / (1 - pd))


class Constant:
    def __init__(self, p: float) -> None:
        self.p = p

    def score(self, x: np.ndarray) -> float:
        return self.p


NAMES = list(FEATURE_SPEC.names)
POLICY = Policy.default()


def _setup(amount: float = 20000.0, rules_text: str | None = None, fraud: float | None = None,
           list_hits: tuple[ListHit, ...] = ()) -> dict[str, Any]:
    app = application(requested_amount=amount, requested_term_months=36)
    store = RuleStore(known_names=NAMES)
    store.load_text(rules_text or DEFAULT_RULES_PATH.read_text())
    models = ModelSet(pd=LinearPD(-4.0, 6.0, 2.0, NAMES),  # type: ignore[arg-type]
                      fraud=None if fraud is None else Constant(fraud))  # type: ignore[arg-type]
    engine = DecisionEngine(ListIndex(), store, POLICY)

    def decide_fully(changes: dict[str, Any]) -> dict[str, Any]:
        """The independent reference: the worker's entry on a fully recomputed vector."""
        changed = {**app, **changes}
        values = FEATURE_SPEC.complete(applicant_features(changed))  # type: ignore[arg-type]
        x = FEATURE_SPEC.to_array(values)
        pd = models.pd.score(x)  # type: ignore[union-attr]
        scores = {"pd": pd, "fraud_probability": models.fraud.score(x) if models.fraud
                  else None, "scorecard_points": None, "anomaly_score": None}
        if list_hits:  # the engine checks its own lists; these tests give hits directly
            from decisions.engine import decide_outcome

            out = decide_outcome(store.current, POLICY, changed, values, scores, list_hits)
            offer = out.offer
            return {"decision": out.decision, "pd": pd, "offer": offer,
                    "fraud_probability": scores["fraud_probability"]}
        return dict(engine.decide(changed, values, scores, {}))  # type: ignore[arg-type]

    logged = FEATURE_SPEC.complete(applicant_features(app))  # type: ignore[arg-type]
    recorded = decide_fully({})
    scorer = RecordedScorer({**app, "bureau": bureau_from_features(logged)}, NAMES, logged,
                            models, None)
    return {"app": app, "store": store, "decide_fully": decide_fully, "scorer": scorer,
            "recorded": {"decision": recorded["decision"], "pd": recorded["pd"],
                         "fraud_probability": recorded["fraud_probability"],
                         "offer_amount": (recorded["offer"] or {}).get("amount")},
            "list_hits": list_hits}


def _run(s: dict[str, Any]) -> Any:
    return counterfactuals(s["app"], s["recorded"], s["scorer"], s["store"].current, POLICY,
                           s["list_hits"])


def _in_full(d: dict[str, Any], amount: float) -> bool:
    return d["decision"] == "APPROVE" and d["offer"] is not None and d["offer"][
        "amount"] >= amount


def test_the_counterfactual_is_approved_and_the_next_step_up_is_not_by_brute_force():
    s = _setup()
    assert s["recorded"]["decision"] == "DECLINE"
    cf = _run(s)
    best = cf.smallest
    assert best is not None and best.changed == ("amount",)
    assert best.product == "PERSONAL_LOAN" and best.term_months == 36
    step = POLICY.for_product("PERSONAL_LOAN").offer.round_to
    # re-decided by the reference: approved in full; the next step up is not
    assert _in_full(s["decide_fully"]({"requested_amount": best.amount}), best.amount)
    assert not _in_full(s["decide_fully"]({"requested_amount": best.amount + step}),
                        best.amount + step)
    # brute force over the grid: the largest amount approved in full is the counterfactual,
    # and every one below it is approved (so "or less" is true)
    amounts = grid(POLICY.for_product("PERSONAL_LOAN"), 20000.0)
    approved = [a for a in amounts
                if _in_full(s["decide_fully"]({"requested_amount": a}), a)]
    assert approved and max(approved) == best.amount
    assert best.all_below_approved == (approved == [a for a in amounts if a <= best.amount])
    assert best.all_below_approved
    # some amounts above it are approved only capped (a worse grade's cap): not "in full"
    capped = [a for a in amounts if a > best.amount and s["decide_fully"](
        {"requested_amount": a})["decision"] == "APPROVE"]
    assert capped, "the grid should cross a grade cap"
    # every other term and product: its option is the brute force's largest approval too
    for o in cf.options:
        ref = [a for a in grid(POLICY.for_product(o.product), 20000.0)
               if _in_full(s["decide_fully"]({"requested_amount": a, "product": o.product,
                                              "requested_term_months": o.term_months}), a)]
        assert max(ref) == o.amount, o
    assert {o.product for o in cf.options} >= {"PERSONAL_LOAN"}
    letter = adverse_action_letter("PERSONAL_LOAN", 20000.0, 36,
                                   ["Credit risk assessment outside our lending criteria"], cf)
    assert f"An amount of £{best.amount:,.0f} or less over 36 months would have been " \
           "approved." in letter
    assert "declined" in letter and "outside our lending criteria" in letter


def test_a_non_monotone_decision_is_found_exactly_and_the_letter_drops_or_less():
    """A rule declining a band of amounts below the boundary: the counterfactual is still
    the largest approval, but "or less" is not true and is not said."""
    rule = """
  - id: R-BAND
    description: a band of amounts declined (to break monotonicity)
    category: credit
    condition: requested_amount >= 3000.0 && requested_amount < 4000.0
    action: decline
    reason_code: R-BAND
    reason_text: Amount requested outside our lending criteria
"""
    s = _setup(rules_text=DEFAULT_RULES_PATH.read_text() + rule)
    cf = _run(s)
    best = cf.smallest
    assert best is not None and best.amount > 4000
    assert not best.all_below_approved
    assert not _in_full(s["decide_fully"]({"requested_amount": 3500.0}), 3500.0)
    assert _in_full(s["decide_fully"]({"requested_amount": best.amount}), best.amount)
    letter = adverse_action_letter("PERSONAL_LOAN", 20000.0, 36, [], cf)
    assert f"An amount of £{best.amount:,.0f} over 36 months would have been approved." \
        in letter.splitlines()


def test_nothing_the_applicant_controls_would_do_and_the_letter_says_so():
    s = _setup(fraud=0.9)  # a fraud decline: no amount, term or product changes it
    cf = _run(s)
    assert cf.options == () and cf.decisions_run > 100
    letter = adverse_action_letter("PERSONAL_LOAN", 20000.0, 36, ["x"], cf)
    assert "No change to the amount, the term or the product" in letter
    assert "£" not in letter.split("\n")[-1]
    blocked = _setup(list_hits=(ListHit.from_label("BLOCK:NATIONAL_ID_HASH:ab12"),))
    assert blocked["recorded"]["decision"] == "DECLINE" and _run(blocked).options == ()


def test_no_counterfactual_without_a_reproduced_decline():
    s = _setup()
    with pytest.raises(CounterfactualError, match="does not reproduce"):
        counterfactuals(s["app"], {**s["recorded"], "pd": s["recorded"]["pd"] + 1e-6},
                        s["scorer"], s["store"].current, POLICY)
    small = _setup(amount=2000.0)
    assert small["recorded"]["decision"] == "APPROVE"
    with pytest.raises(CounterfactualError, match="for declines"):
        _run(small)
    # the reconstruction must give the logged controlled features (income, amount...)
    logged = dict(s["scorer"].values)
    check_reconstruction(s["scorer"].base, logged)
    with pytest.raises(RecordError, match="app_amount_to_income"):
        check_reconstruction({**s["scorer"].base, "annual_income": 51000.0}, logged)


def test_bureau_from_features_round_trips_the_applicant_features():
    app = application()
    values = applicant_features(app)  # type: ignore[arg-type]
    again = applicant_features({**app, "bureau": bureau_from_features(values)})  # type: ignore
    for k, v in values.items():
        assert again[k] == pytest.approx(v, rel=1e-12), k
    none = application(bureau=None)
    assert bureau_from_features(applicant_features(none)) is None  # type: ignore[arg-type]
    assert ListHit.from_label("ALLOW:IP:10.0.0.0/8") == ListHit("ALLOW", "IP", "", "10.0.0.0/8")
