"""The servicing policy (line changes, early warning, hardship, treatments) and the
collections strategy evaluation against brute-force recomputation."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from decisions.collections_eval import Truth, compare, oracle_best, score, uplift
from decisions.errors import PolicyError
from decisions.servicing_policy import CHALLENGER, AccountView, ServicingPolicy
from schemas.servicing import TREATMENTS


@pytest.fixture(scope="module")
def policy() -> ServicingPolicy:
    return ServicingPolicy.from_yaml()


GOOD = AccountView(is_card=True, months_on_book=12, utilisation=0.5, worst_dpd_12m=0,
                   payment_ratio=3.0, cash_advance_months_6m=0, credit_limit=3000,
                   balance=1500, income=40_000)


def _kinds(actions: list) -> list[str]:
    return [a.action for a in actions]


def test_line_increase_only_when_every_condition_holds(policy: ServicingPolicy) -> None:
    up = policy.account_actions(GOOD, bscore=0.01)
    assert _kinds(up) == ["CREDIT_LINE_INCREASE"] and up[0].new_limit == 3900
    assert up[0].reason_code == "S-CLI" and up[0].cell == "champion"
    for change in ({"months_on_book": 3}, {"utilisation": 0.1}, {"worst_dpd_12m": 30},
                   {"is_card": False}, {"income": None}):
        assert "CREDIT_LINE_INCREASE" not in _kinds(
            policy.account_actions(replace(GOOD, **change), bscore=0.01)), change
    assert "CREDIT_LINE_INCREASE" not in _kinds(policy.account_actions(GOOD, bscore=0.05))


def test_line_increase_is_capped_by_affordability(policy: ServicingPolicy) -> None:
    capped = policy.account_actions(replace(GOOD, income=7_000), bscore=0.01)[0]
    assert capped.new_limit == 3500 and "affordability" in capped.reason
    assert policy.account_actions(replace(GOOD, income=6_000), bscore=0.01) == []


def test_line_decrease_keeps_headroom_over_the_balance(policy: ServicingPolicy) -> None:
    low = policy.account_actions(replace(GOOD, balance=500), bscore=0.5)
    cld = next(a for a in low if a.action == "CREDIT_LINE_DECREASE")
    assert cld.new_limit == 2100
    high = policy.account_actions(replace(GOOD, balance=2900), bscore=0.5)
    assert "CREDIT_LINE_DECREASE" not in _kinds(high)  # 110% of 2,900 is over the limit


def test_early_warning_and_hardship(policy: ServicingPolicy) -> None:
    assert _kinds(policy.account_actions(replace(GOOD, utilisation=0.1), 0.15)) == [
        "EARLY_WARNING"]
    assert _kinds(policy.account_actions(replace(GOOD, utilisation=0.1), 0.35)) == [
        "CREDIT_LINE_DECREASE", "EARLY_WARNING", "HARDSHIP_CONTACT"]
    strained = replace(GOOD, payment_ratio=1.0, cash_advance_months_6m=3, utilisation=0.1)
    assert _kinds(policy.account_actions(strained, 0.05)) == ["HARDSHIP_CONTACT"]
    unknown = replace(strained, payment_ratio=math.nan)
    assert policy.account_actions(unknown, 0.05) == []


def test_treatment_is_the_cheapest_in_expectation_with_random_cells(
        policy: ServicingPolicy) -> None:
    p = {"NONE": 0.6, "REMINDER": 0.5, "CALL": 0.45, "PAYMENT_PLAN": 0.3, "AGENCY": 0.4}
    cells = Counter()
    chosen = Counter()
    for i in range(4000):
        a = policy.treatment(f"acc-{i}", p, balance=1000)
        cells[a.cell] += 1
        chosen[(a.cell, a.treatment)] += 1
    share = cells[CHALLENGER] / 4000
    assert 0.08 < share < 0.12
    assert {t for c, t in chosen if c == "champion"} == {"PAYMENT_PLAN"}
    assert {t for c, t in chosen if c == CHALLENGER} == set(TREATMENTS)
    small = policy.treatment("acc-1", p, balance=1)
    if small.cell == "champion":
        assert small.treatment == "NONE"  # on a balance of 1 no treatment pays for itself
    again = policy.treatment("acc-7", p, balance=1000)
    assert again == policy.treatment("acc-7", p, balance=1000)


def test_policy_file_errors_say_what_is_wrong(tmp_path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text((ServicingPolicy.from_yaml().doc.model_dump_json()).replace(
        '"AGENCY":60.0', '"BAILIFF":60.0'))
    with pytest.raises(PolicyError, match="collections"):
        ServicingPolicy.from_yaml(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        ServicingPolicy.from_yaml(tmp_path / "missing.yaml")


def _entries(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {"balance": rng.uniform(100, 5000, n)}
    for t in TREATMENTS:
        cols[f"oracle_cure_{t.lower()}"] = rng.uniform(0, 1, n)
        cols[f"oracle_chargeoff_{t.lower()}"] = rng.uniform(0, 1, n)
    return pd.DataFrame(cols)


def test_strategy_figures_match_a_row_by_row_recount() -> None:
    e = _entries(300, 1)
    truth = Truth(cost=(0, 1, 8, 35, 60), recovery=(0.1, 0.1, 0.2, 0.2, 0.4))
    choice = np.random.default_rng(2).integers(0, 5, 300)
    got = score("x", e, choice, truth)
    cured = co = cost = loss = 0.0
    for i, row in e.iterrows():
        t = TREATMENTS[choice[i]].lower()
        cured += row[f"oracle_cure_{t}"]
        co += row[f"oracle_chargeoff_{t}"]
        cost += truth.cost[choice[i]]
        loss += row[f"oracle_chargeoff_{t}"] * row["balance"] * (1 - truth.recovery[choice[i]])
    assert (got.cured, got.charged_off, got.treatment_cost) == pytest.approx((cured, co, cost))
    assert got.credit_loss == pytest.approx(loss) and got.net_cost == pytest.approx(cost + loss)
    assert sum(got.mix.values()) == pytest.approx(1.0)


def test_the_oracle_best_beats_every_strategy_per_account() -> None:
    e = _entries(200, 3)
    truth = Truth(cost=(0, 1, 8, 35, 60), recovery=(0.1, 0.1, 0.2, 0.2, 0.4))
    best = score("best", e, oracle_best(e, truth), truth)
    for t in range(5):
        assert best.net_cost <= score("one", e, np.full(200, t), truth).net_cost + 1e-9
    results = compare(e, np.full(200, 3), truth)
    u = uplift(results)
    by = {r.name: r for r in results}
    assert u["net_saving_vs_none"] == pytest.approx(by["no treatment"].net_cost
                                                    - by["policy"].net_cost)
    assert u["net_gap_to_oracle"] >= 0
