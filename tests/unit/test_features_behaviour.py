"""Behaviour features and observation points: the per-account window (what the servicing
worker computes) against the vectorised builder on every row, hand-worked values, labels
recomputed by brute force, and no leakage from the future."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.behaviour import (
    BEHAVIOUR_NAMES,
    StatementFacts,
    facts_from_frame,
    frame_features,
    window_features,
)
from features.observation import delinquency_entries, observation_points
from simulator.config import SimConfig
from simulator.history import generate_history
from simulator.statements import simulate_statements

MONTHS = 12


@pytest.fixture(scope="module")
def statements() -> pd.DataFrame:
    apps = generate_history(SimConfig(), 250, 2, seed=8).applications
    return simulate_statements(SimConfig(), apps, MONTHS, seed=5)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_window_features_by_hand() -> None:
    def s(m: int, dpd: int, util: float, bal: float, due: float, pay: float,
          cash: float = 0.0) -> StatementFacts:
        return StatementFacts(m, dpd, util, bal, due, pay, cash, True)

    w = [s(1, 0, 0.2, 200, 25, 0), s(2, 30, 0.3, 300, 50, 10, 40), s(3, 0, 0.5, 500, 25, 100),
         s(4, 0, 0.6, 600, 25, 25)]
    f = window_features(w)
    assert f["months_on_book"] == 4 and f["days_past_due"] == 0
    assert f["worst_dpd_3m"] == 30 and f["worst_dpd_12m"] == 30 and f["times_30dpd_12m"] == 1
    assert f["utilisation_avg_3m"] == pytest.approx((0.3 + 0.5 + 0.6) / 3)
    assert f["utilisation_trend_3m"] == pytest.approx(0.6 - 0.2)
    assert f["balance_trend_3m"] == pytest.approx(600 / 200 - 1)
    assert f["payment_ratio"] == pytest.approx(25 / 25)
    assert f["payment_ratio_avg_3m"] == pytest.approx((10 / 25 + 100 / 50 + 25 / 25) / 3)
    assert f["cash_advance_months_6m"] == 1 and f["is_card"] == 1
    first = window_features(w[:1])
    assert math.isnan(first["payment_ratio"]) and math.isnan(first["utilisation_trend_3m"])


def test_vectorised_builder_equals_the_window_on_every_row(statements: pd.DataFrame) -> None:
    got = frame_features(statements)
    st = statements.sort_values(["account_id", "month_on_book"])
    checked = 0
    for _, g in st.groupby("account_id", sort=False):
        facts = facts_from_frame(g)
        for i, idx in enumerate(g.index):
            want = window_features(facts[: i + 1])
            row = got.loc[idx]
            bad = [k for k in BEHAVIOUR_NAMES if not _same(want[k], float(row[k]))]
            assert not bad, (idx, bad)
            checked += 1
    assert checked == len(statements) > 2000


def _brute_labels(st: pd.DataFrame, horizon: int) -> dict[str, tuple[int, bool]]:
    """statement_id -> (60+ within horizon, window complete), one account at a time."""
    out: dict[str, tuple[int, bool]] = {}
    data_end = int(st["month_on_book"].max())
    for _, g in st.groupby("account_id"):
        g = g.sort_values("month_on_book")
        ended = g["status"].isin(["CHARGED_OFF", "CLOSED"]).any()
        end = data_end if ended else int(g["month_on_book"].max())
        rows = list(g.itertuples())
        for i, r in enumerate(rows):
            later = rows[i + 1 : i + 1 + horizon]
            out[r.statement_id] = (int(any(x.days_past_due >= 60 for x in later)),
                                   r.month_on_book + horizon <= end)
    return out


def test_observation_points_labels_and_population(statements: pd.DataFrame) -> None:
    table = observation_points(statements, horizon=6)
    rows = table.rows
    brute = _brute_labels(statements, 6)
    assert len(rows) > 1000
    for sid, y in zip(rows["statement_id"], rows["label_bscore"], strict=True):
        assert brute[sid] == (int(y), True)
    eligible = statements[(statements["days_past_due"] < 60)
                          & ~statements["status"].isin(["CHARGED_OFF", "CLOSED"])]
    complete = [brute[s][1] for s in eligible["statement_id"]]
    assert len(rows) == sum(complete) and table.dropped == len(complete) - sum(complete)
    assert (rows["label_date"] > rows["observation_time"]).all()
    assert rows["oracle_bscore"].notna().all()


def test_no_leakage_changing_the_future_changes_no_feature(statements: pd.DataFrame) -> None:
    """Scramble everything after month 6 (and drop some of it): every row at or before
    month 6 keeps its features; only labels may move."""
    cut = 6
    rng = np.random.default_rng(0)
    future = statements["month_on_book"] > cut
    other = statements.copy()
    for col in ("utilisation", "balance", "minimum_due", "payment_amount", "cash_advance"):
        other.loc[future, col] = rng.permutation(other.loc[future, col].to_numpy())
    other.loc[future, "days_past_due"] = 150
    other = other.drop(index=other.index[future & (rng.random(len(other)) < 0.3)])
    a = observation_points(statements, horizon=3).rows.set_index("statement_id")
    b = observation_points(other, horizon=3).rows.set_index("statement_id")
    early = a.index[a["month_on_book"] <= cut - 3].intersection(b.index)
    assert len(early) > 500
    pd.testing.assert_frame_equal(a.loc[early, list(BEHAVIOUR_NAMES)],
                                  b.loc[early, list(BEHAVIOUR_NAMES)])
    fa = frame_features(statements)
    fb = frame_features(other)
    keep = statements.index[~future]
    pd.testing.assert_frame_equal(fa.loc[keep], fb.loc[keep])


def test_delinquency_entries(statements: pd.DataFrame) -> None:
    table = delinquency_entries(statements, cure_months=3, chargeoff_months=6)
    rows = table.rows
    assert len(rows) > 15 and (rows["days_past_due"] == 30).all()
    assert set(rows["treatment"]) <= {"NONE", "REMINDER", "CALL", "PAYMENT_PLAN", "AGENCY"}
    st = statements.set_index("statement_id")
    for r in rows.itertuples():
        acc = statements[statements["account_id"] == r.account_id].sort_values("month_on_book")
        later = acc[acc["month_on_book"] > r.month_on_book]
        assert r.label_cured == int((later.head(3)["days_past_due"] == 0).any())
        assert r.label_rolled == int((later.head(3)["days_past_due"] >= 60).any())
        assert r.label_chargeoff == int((later.head(6)["status"] == "CHARGED_OFF").any())
        assert st.loc[r.statement_id, "treatment"] == r.treatment
