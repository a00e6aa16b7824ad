"""The servicing world: statements, the hidden trajectory, and the causal oracle checked
against sampling from the chain it claims to solve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.config import SimConfig
from simulator.history import generate_history
from simulator.servicing_chain import CHARGED_OFF, Chain, one_hot
from simulator.servicing_config import TREATMENTS
from simulator.servicing_oracle import NO_TREATMENT, sub_chain, with_line_change
from simulator.statements import Book, book, history_policy, simulate_statements

MONTHS = 12


@pytest.fixture(scope="module")
def apps() -> pd.DataFrame:
    return generate_history(SimConfig(), 700, 2, seed=4).applications


@pytest.fixture(scope="module")
def statements(apps: pd.DataFrame) -> pd.DataFrame:
    return simulate_statements(SimConfig(), apps, MONTHS, seed=2)


@pytest.fixture(scope="module")
def accounts(apps: pd.DataFrame) -> Book:
    genuine = apps[apps["fraud_type"] == "none"].iloc[:20]
    return book(SimConfig(), genuine, MONTHS, np.random.default_rng(0))


def _sampled_reach(chain: Chain, start: tuple[np.ndarray, ...], month0: int, months: int,
                   buckets: range, policy: np.ndarray, seed: int) -> np.ndarray:
    """Monte Carlo of the chain's own sampler: did each path visit ``buckets``?"""
    rng = np.random.default_rng(seed)
    state, n = start, len(start[0])
    hit = np.zeros(n, bool)
    for k in range(1, months + 1):
        state = chain.sample_step(rng, state, np.full(n, month0 + k), policy)
        hit |= np.isin(state[2], list(buckets))
    return hit


@pytest.mark.parametrize(("stress", "treatment", "bucket", "buckets", "months"), [
    (0, 0, 0, range(2, 7), 6),     # B-score: healthy and current, 60+ within 6
    (1, 0, 0, range(2, 7), 6),     # income shock
    (2, 3, 1, range(0, 1), 3),     # over-indebted on a payment plan: cure within 3
    (1, 4, 1, range(6, 7), 10),    # agency: charge-off within 10
])
def test_exact_probabilities_match_sampled_paths(accounts: Book, stress: int, treatment: int,
                                                 bucket: int, buckets: range,
                                                 months: int) -> None:
    reps = 250
    idx = np.repeat(np.arange(len(accounts.chain.params.z)), reps)
    chain = sub_chain(accounts.chain, idx)
    n = len(idx)
    s, t, b = np.full(n, stress), np.full(n, treatment), np.full(n, bucket)
    policy = history_policy()
    exact = chain.reach(one_hot(n, s, t, b), np.full(n, 2), months,
                        slice(buckets.start, buckets.stop), policy)
    hit = _sampled_reach(chain, (s, t, b), 2, months, buckets, policy, seed=stress + 10)
    se = np.sqrt(exact.mean() * (1 - exact.mean()) / n)
    assert abs(hit.mean() - exact.mean()) < 4 * se + 1e-3
    # per account too (400 paths each), not only on average
    per_acc = hit.reshape(-1, reps).mean(axis=1) - exact.reshape(-1, reps).mean(axis=1)
    assert np.abs(per_acc).max() < 0.15


def test_treatments_have_the_configured_causal_effects(accounts: Book) -> None:
    """Effects differ by hidden state: a reminder cures the healthy (forgetful) best of
    the cheap ones, a payment plan the shocked; every treatment beats none on cure."""
    from simulator.servicing_oracle import treatment_outcomes

    n = len(accounts.chain.params.z)
    out = {s: treatment_outcomes(accounts.chain, np.full(n, s), np.full(n, 3)) for s in (0, 1)}
    for s in (0, 1):
        none = out[s]["oracle_cure_none"]
        for name in TREATMENTS[1:]:
            assert (out[s][f"oracle_cure_{name.lower()}"] >= none - 1e-12).all()
    assert out[1]["oracle_cure_payment_plan"].mean() > out[1]["oracle_cure_reminder"].mean()
    gain_healthy = out[0]["oracle_cure_reminder"] - out[0]["oracle_cure_none"]
    gain_shocked = out[1]["oracle_cure_reminder"] - out[1]["oracle_cure_none"]
    assert gain_healthy.mean() > 1.4 * gain_shocked.mean()


def test_a_line_increase_raises_risk_most_for_stressed_customers(accounts: Book) -> None:
    from simulator.servicing_oracle import p_bad

    n = len(accounts.chain.params.z)
    month = np.full(n, 3)
    zeros = np.zeros(n, np.int64)
    more = with_line_change(accounts.chain, month, 0.5)
    lift = {}
    for s in (0, 1):
        st = np.full(n, s)
        lift[s] = (p_bad(more, st, zeros, zeros, month, NO_TREATMENT)
                   - p_bad(accounts.chain, st, zeros, zeros, month, NO_TREATMENT))
    assert (lift[0] >= 0).all() and (lift[1] >= 0).all()
    assert lift[1].mean() > 1.5 * lift[0].mean()


def test_statements_show_the_hidden_state_and_follow_the_chain(statements: pd.DataFrame
                                                                ) -> None:
    st = statements
    assert st["month_on_book"].between(1, MONTHS).all()
    assert st.groupby("account_id")["month_on_book"].apply(
        lambda m: (np.diff(np.sort(m.to_numpy())) == 1).all()).all()
    # nothing after a charge-off or a closure
    last = st.sort_values("month_on_book").groupby("account_id").tail(1)
    ended = st[st["status"].isin(["CHARGED_OFF", "CLOSED"])]
    assert set(ended["statement_id"]) <= set(last["statement_id"])
    by = st[st["product"] == "CREDIT_CARD"].groupby("latent_stress")
    assert by["utilisation"].mean()["OVER_INDEBTED"] > by["utilisation"].mean()["HEALTHY"]
    assert (by["cash_advance"].apply(lambda c: (c > 0).mean())["INCOME_SHOCK"]
            > 2 * by["cash_advance"].apply(lambda c: (c > 0).mean())["HEALTHY"])
    assert set(st["latent_stress"]) == {"HEALTHY", "INCOME_SHOCK", "OVER_INDEBTED"}
    # every delinquency entry got one of the treatments, at random
    entries = st[st["treatment"].notna()]
    assert (entries["days_past_due"] == 30).all()
    shares = entries["treatment"].value_counts(normalize=True)
    assert set(shares.index) == set(TREATMENTS) and shares.min() > 0.1
    assert ((st["recovery_amount"] > 0) <= (st["status"] == "CHARGED_OFF")).all()
    assert (st["days_past_due"] // 30 == st["latent_bucket"].clip(upper=6).where(
        st["latent_bucket"] < 7, 0)).all()


def test_oracle_columns_are_where_they_apply(statements: pd.DataFrame) -> None:
    st = statements
    open_ok = st["latent_bucket"] < 2
    assert st.loc[open_ok, "oracle_bscore"].between(0, 1).all()
    assert st.loc[~open_ok, "oracle_bscore"].isna().all()
    cards = open_ok & (st["product"] == "CREDIT_CARD")
    assert (st.loc[cards, "oracle_bscore_cli"] >= st.loc[cards, "oracle_bscore"] - 1e-12).all()
    entry = st["treatment"].notna()
    for name in TREATMENTS:
        col = st[f"oracle_chargeoff_{name.lower()}"]
        assert col[entry].between(0, 1).all() and col[~entry].isna().all()


def test_same_seed_same_statements(apps: pd.DataFrame) -> None:
    few = apps.iloc[:100]
    once = simulate_statements(SimConfig(), few, 6, seed=2)
    pd.testing.assert_frame_equal(once, simulate_statements(SimConfig(), few, 6, seed=2))
    other = simulate_statements(SimConfig(), few, 6, seed=3)
    assert not other["balance"].equals(once["balance"])


def test_sampled_charge_offs_match_the_oracle_on_the_book(statements: pd.DataFrame) -> None:
    """The statements themselves (not only the sampler) agree with the oracle: accounts
    entering 30 DPD with a full year ahead charge off as often as it says."""
    st = statements.sort_values(["account_id", "month_on_book"])
    entry = st[st["treatment"].notna() & (st["month_on_book"] <= MONTHS - 8)]
    co = st[st["status"] == "CHARGED_OFF"].set_index("account_id")["month_on_book"]
    got = entry["account_id"].map(co)
    charged = (got.notna() & (got - entry["month_on_book"] <= 8)).to_numpy()
    name = entry["treatment"].str.lower().to_numpy()
    p = np.array([entry[f"oracle_chargeoff_{t}"].iloc[i] for i, t in enumerate(name)])
    assert len(p) > 50
    # the oracle's 9-month horizon bounds the 8 months observed from above
    assert charged.mean() <= p.mean() + 3 * np.sqrt(p.mean() * (1 - p.mean()) / len(p))
    assert charged.mean() >= 0.7 * p.mean() - 3 * np.sqrt(p.mean() / len(p))
    assert CHARGED_OFF == 6
