"""The policy optimiser, the profit model and the swap set, on a small synthetic history.

The constraints of the optimised policy are re-checked by an independent computation:
every row decided again with `decide_outcome` and the figures recomputed with pandas,
without `decisions.book`'s portfolio arithmetic or `fairness.adverse_impact`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from decisions.book import Constraints, decide_book, portfolio, prepare_book
from decisions.engine import decide_outcome
from decisions.errors import BacktestError
from decisions.fairness import adverse_impact
from decisions.optimise import optimise
from decisions.optimise_report import efficient, write_outputs
from decisions.policy import DEFAULT_POLICY_PATH, Policy
from decisions.profit import ProfitModel, loan_profit
from decisions.rules import RuleSet
from decisions.swapset import GROUPS, swap_set
from tests.decision_cases import RULES_YAML

BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
TERMS = {"CREDIT_CARD": 0, "PERSONAL_LOAN": 36, "BNPL": 4}
ASK = {"CREDIT_CARD": 3000.0, "PERSONAL_LOAN": 9000.0, "BNPL": 400.0}


def history(n: int = 2400, seed: int = 7) -> pd.DataFrame:
    """Applicants whose risk rises for the young; labels drawn from the PD."""
    rng = np.random.default_rng(seed)
    band_i = rng.integers(0, len(BANDS), n)
    products = rng.choice(list(TERMS), n)
    pd_ = np.clip(rng.beta(1.2, 14, n) * (1.6 - 0.12 * band_i), 0.001, 0.95)
    income = rng.lognormal(10.4, 0.4, n)
    return pd.DataFrame({
        "application_id": [f"h-{i}" for i in range(n)],
        "event_time": 1_700_000_000_000 + np.arange(n),
        "product": products, "pd": pd_,
        "label_default": (rng.random(n) < pd_).astype(float),
        "fraud_probability": rng.beta(1, 60, n), "anomaly_score": rng.random(n) * 0.5,
        "annual_income": income, "monthly_debt_payments": income * rng.uniform(0, 0.03, n),
        "requested_amount": [ASK[p] * rng.uniform(0.3, 1.5) for p in products],
        "requested_term_months": [TERMS[p] for p in products],
        "bureau": [None] * n, "age_band": [BANDS[i] for i in band_i],
        "vel_device_apps_1h": rng.poisson(0.3, n).astype(float),
        "sess_paste_count": rng.poisson(0.4, n).astype(float),
        "app_dti": rng.uniform(0, 0.7, n), "sess_emulator": np.zeros(n),
    })


@pytest.fixture(scope="module")
def book() -> Any:
    return prepare_book(history(), RuleSet.from_yaml(RULES_YAML))


BASE_RAW = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())


def independent(df: pd.DataFrame, policy: Policy, rules: RuleSet) -> dict[str, Any]:
    """Approval rate, bad rate, expected loss rate and per-product worst age-band approval
    ratio, from the engine's decisions and plain pandas."""
    pm = ProfitModel.default()
    rows = []
    for r in df.to_dict("records"):
        s = {k: r[k] for k in ("pd", "fraud_probability", "anomaly_score")}
        out = decide_outcome(rules, policy, r, r, s, [])
        e = pm.economics(r["product"])
        amount = out.offer["amount"] if out.offer else 0.0
        rows.append({"product": r["product"], "band": r["age_band"], "pd": r["pd"],
                     "y": r["label_default"], "ok": out.decision == "APPROVE",
                     "amount": amount, "el": r["pd"] * e.lgd * e.ead * amount})
    d = pd.DataFrame(rows)
    ok = d[d["ok"]]
    by = d.groupby(["product", "band"])["ok"].agg(["mean", "size"]).reset_index()
    by = by[by["size"] >= 50]
    air = {p: float((g["mean"] / g["mean"].max()).min()) for p, g in by.groupby("product")}
    return {"approval_rate": d["ok"].mean(), "bad_rate": ok["y"].mean(),
            "expected_loss_rate": ok["el"].sum() / ok["amount"].sum(), "air": air}


def test_the_optimised_policy_beats_the_base_within_constraints_checked_independently(
        book: Any, tmp_path: Any) -> None:
    pm = ProfitModel.default()
    base = portfolio(book, decide_book(book, Policy.default()), pm)
    c = Constraints(max_bad_rate=base.bad_rate, min_approval_rate=0.3,
                    max_expected_loss_rate=0.03).no_worse_than(base)
    o = optimise(book, BASE_RAW, pm, c, grid=12)
    assert all(met for *_, met in o.checks)
    assert o.verified.profit > base.profit and o.verified.bad_rate <= base.bad_rate + 1e-12
    assert o.verified.profit == pytest.approx(o.search_profit, rel=1e-9)  # search = engine
    written = Policy.from_yaml(o.policy_yaml)  # a valid policy file
    got = independent(history(), written, RuleSet.from_yaml(RULES_YAML))
    assert got["bad_rate"] <= c.max_bad_rate + 1e-12
    assert got["approval_rate"] >= 0.3
    assert got["expected_loss_rate"] <= 0.03
    for product, ratio in got["air"].items():
        assert ratio >= c.air_floor(product) - 1e-12, product
    assert got["approval_rate"] == pytest.approx(o.verified.approval_rate)
    assert got["bad_rate"] == pytest.approx(o.verified.bad_rate)
    rec = write_outputs(tmp_path / "out", o, c, book, pm, "base")
    assert (tmp_path / "out" / "policy.yaml").read_text() == o.policy_yaml
    assert "<img" in (tmp_path / "out" / "report.html").read_text()
    assert rec["feasible_points"] >= 1 and len(pd.read_csv(tmp_path / "out" / "frontier.csv"))


def test_the_base_policy_is_always_a_point_so_its_own_constraints_are_feasible(
        book: Any) -> None:
    pm = ProfitModel.default()
    base = portfolio(book, decide_book(book, Policy.default()), pm)
    o = optimise(book, BASE_RAW, pm, Constraints(max_bad_rate=base.bad_rate,
                                                 max_expected_loss_rate=base.expected_loss_rate
                                                 ).no_worse_than(base), grid=5)
    assert o.verified.profit >= base.profit - 1e-6


def test_constraints_no_policy_meets_are_refused_naming_them(book: Any) -> None:
    with pytest.raises(BacktestError, match=r"bad rate ≤ 0\.0001"):
        optimise(book, BASE_RAW, ProfitModel.default(),
                 Constraints(max_bad_rate=0.0001, min_approval_rate=0.9,
                             min_adverse_impact=0.0), grid=5)


def test_an_unreachable_fairness_screen_names_the_product_band_and_best_ratio(
        book: Any) -> None:
    with pytest.raises(BacktestError, match=r"PERSONAL_LOAN reaches at best 0\.\d+ \(\d\d"):
        optimise(book, BASE_RAW, ProfitModel.default(), Constraints(min_adverse_impact=0.999),
                 grid=5)


def test_adverse_impact_ratio_by_hand() -> None:
    approved = [True] * 80 + [False] * 20 + [True] * 40 + [False] * 60 + [True] * 3
    bands = ["a"] * 100 + ["b"] * 100 + ["c"] * 3 + [None] * 0
    assert adverse_impact(approved, bands) == {"a": 1.0, "b": 0.5, "c": None}


def test_loan_profit_by_hand() -> None:
    e = ProfitModel.default().economics("PERSONAL_LOAN")
    a, r, t = 10_000.0, 0.12, 24
    bal = a * 25 / 48
    want_good = bal * r * 2 + e.fee_rate * a - bal * e.funding_rate * 2 - e.cost_per_loan
    want_bad = -e.lgd * e.ead * a - bal * e.funding_rate * 2 - e.cost_per_loan
    got = loan_profit(e, "loan", np.array([0.0, 1.0, 0.25]), np.full(3, a), np.full(3, r),
                      np.full(3, t))
    assert got[0] == pytest.approx(want_good) and got[1] == pytest.approx(want_bad)
    assert got[2] == pytest.approx(0.75 * (want_good + bal * e.funding_rate * 2
                                           + e.cost_per_loan)
                                   - 0.25 * e.lgd * e.ead * a - bal * e.funding_rate * 2
                                   - e.cost_per_loan)


def test_swap_set_partitions_the_applicants_against_brute_force(book: Any) -> None:
    tight = BASE_RAW | {"products": {p: {**v, "pd": {"approve_below": v["pd"]["approve_below"]
                                                     / 2, "decline_at": v["pd"]["decline_at"]}}
                                     for p, v in BASE_RAW["products"].items()}}
    a = decide_book(book, Policy.default())
    b = decide_book(book, Policy.from_yaml(yaml.safe_dump(tight)))
    rows = swap_set(book, a, b, ProfitModel.default())
    assert [r.group for r in rows] == list(GROUPS)
    assert sum(r.count for r in rows) == len(book)
    ins = sum(1 for x, y in zip(a.decision, b.decision, strict=True)
              if x != "APPROVE" and y == "APPROVE")
    outs = [i for i, (x, y) in enumerate(zip(a.decision, b.decision, strict=True))
            if x == "APPROVE" and y != "APPROVE"]
    assert rows[1].count == ins == 0  # a tighter cutoff swaps nobody in
    assert rows[2].count == len(outs) > 0
    assert rows[2].observed_bad_rate == pytest.approx(float(np.mean(book.label[outs])))
    assert rows[2].profit_b == 0.0 and rows[2].profit_a != 0.0


def test_a_history_without_pd_or_without_what_the_rules_read_is_refused() -> None:
    with pytest.raises(BacktestError, match="no pd column"):
        prepare_book(history(50).drop(columns=["pd"]), RuleSet.from_yaml(RULES_YAML))
    with pytest.raises(BacktestError, match="app_dti"):
        prepare_book(history(50).drop(columns=["app_dti"]), RuleSet.from_yaml(RULES_YAML))


def test_efficient_points_are_not_dominated() -> None:
    f = pd.DataFrame({"approval_rate": [0.5, 0.6, 0.7, 0.8], "bad_rate": [0.01, 0.02, 0.015,
                                                                          0.03],
                      "profit": [1.0, 2.0, 3.0, 2.5]})
    assert efficient(f)["profit"].tolist() == [1.0, 3.0]


def test_verdicts_name_the_binding_constraint_with_the_best_reachable_figure() -> None:
    """By hand: three policies; the fair ones are too risky, the safe one is unfair."""
    from decisions.feasibility import verdicts

    points = pd.DataFrame({"bad_rate": [0.01, 0.02, 0.03], "approval_rate": [0.5, 0.6, 0.7],
                           "expected_loss_rate": [0.01, 0.01, 0.01]})
    air = {"PERSONAL_LOAN": np.array([0.6, 0.82, 0.9])}
    got = {v.constraint: v for v in verdicts(points, air, Constraints(max_bad_rate=0.015))}
    assert got["bad rate ≤"].best == 0.02 and not got["bad rate ≤"].met  # among fair ones
    assert got["PERSONAL_LOAN adverse impact ratio ≥"].best == 0.6
    assert not got["PERSONAL_LOAN adverse impact ratio ≥"].met
    relaxed = verdicts(points, air, Constraints(max_bad_rate=0.025))
    assert all(v.met for v in relaxed)


def test_an_infeasible_optimisation_says_which_constraints_bind(book: Any) -> None:
    from decisions.feasibility import Infeasible

    with pytest.raises(Infeasible) as err:
        optimise(book, BASE_RAW, ProfitModel.default(),
                 Constraints(max_bad_rate=0.0001, min_adverse_impact=0.8), grid=5)
    by = {v.constraint: v for v in err.value.verdicts}
    assert not by["bad rate ≤"].met and by["bad rate ≤"].best is not None
    assert by["bad rate ≤"].best > 0.0001
    assert "binding: bad rate ≤ 0.0001: NOT MET (best" in str(err.value)
