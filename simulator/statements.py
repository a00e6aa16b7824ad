"""Monthly statements of every booked account, and the hidden trajectory behind them.

``simulate_statements(cfg, applications, months, seed)`` runs the servicing chain
(``simulator.servicing_chain``) for every application of a history (history books them
all) and writes what a card or loan statement shows: limit, balance, utilisation, minimum
due, payment made, cash advances, days past due and status. The customer's hidden state
(healthy, income shock, over-indebted) drives both the risk and the symptoms, so
behaviour reveals it only partly. The history is an exploration book: cards get random
line changes at ``history_line_months`` and every delinquency a uniformly random
treatment, so the effect of each action can be learnt and checked against the oracle
(``simulator.servicing_oracle``), whose columns the frame carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from schemas.servicing import TREATMENTS
from simulator.config import SimConfig
from simulator.errors import SimulatorError
from simulator.performance import MONTH_MS
from simulator.risk import NON_PAYING, reference_intercept, risk_score
from simulator.servicing_chain import (
    CHARGED_OFF,
    CLOSED,
    CURRENT,
    N_TREAT,
    Chain,
    make_params,
    rates,
)
from simulator.servicing_config import STRESS_STATES

STATUS = np.array(["CURRENT", "DELINQUENT", "DELINQUENT", "DELINQUENT", "DELINQUENT",
                   "DELINQUENT", "CHARGED_OFF", "CLOSED"], dtype=object)
LINE_ACTIONS = ("NONE", "CLI", "CLD")
_CASH_ADVANCE_P = np.array([0.03, 0.18, 0.30])
_UTIL_LIFT = np.array([0.0, 0.22, 0.35])


@dataclass(frozen=True)
class Book:
    """Booked accounts: the chain, and what statements need of each application."""

    chain: Chain
    amount: np.ndarray
    card: np.ndarray
    booked_ms: np.ndarray
    line_action: np.ndarray  # (n, months + 1) index into LINE_ACTIONS, at that month


def book(cfg: SimConfig, apps: pd.DataFrame, months: int, rng: np.random.Generator) -> Book:
    """The chain parameters of each application, with the history's random line tests."""
    sc = cfg.credit
    view = apps.assign(has_file=apps["bureau_score"].notna())
    risk = risk_score(view, sc.latent_noise_sd)
    ftype = apps["fraud_type"].to_numpy(object)
    term = apps["requested_term_months"].to_numpy(np.int64)
    card = term == 0
    n = len(apps)
    line_action = np.zeros((n, months + 1), np.int8)
    line_log = np.zeros((n, months + 1))
    sv = cfg.servicing
    for m in sv.history_line_months:
        if m > months:
            continue
        u = rng.random(n)
        cli = card & (u < sv.history_cli_share)
        cld = card & ~cli & (u < sv.history_cli_share + sv.history_cld_share)
        line_action[cli, m], line_action[cld, m] = 1, 2
        step = np.where(cli, np.log1p(sv.history_line_step), 0.0)
        step += np.where(cld, np.log1p(-sv.history_line_step), 0.0)
        line_log[:, m:] += step[:, None]
    params = make_params(sv, risk, reference_intercept(cfg) + risk, term,
                         np.isin(ftype, NON_PAYING), ftype == "first_party", line_log)
    chain = Chain(sv, params, rates(sv, params, np.asarray(sc.roll_rates),
                                    np.asarray(sc.cure_rates)), sc.bust_out_hazard)
    return Book(chain, apps["requested_amount"].to_numpy(float), card,
                apps["event_time"].to_numpy(np.int64), line_action)


def history_policy() -> np.ndarray:
    """The history's treatment policy: uniformly random (a randomised test of every one)."""
    return np.full(N_TREAT, 1.0 / N_TREAT)


def sample_paths(b: Book, months: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stress, treatment, bucket), each (n, months + 1); column 0 is booking."""
    p = b.chain.params
    n = len(p.z)
    u = rng.random(n)
    s0 = np.minimum((u[:, None] >= np.cumsum(p.init_stress, axis=1)).sum(axis=1), 2)
    out = [np.zeros((n, months + 1), np.int8) for _ in range(3)]
    state: tuple[np.ndarray, ...] = (s0, np.zeros(n, np.int64), np.zeros(n, np.int64))
    out[0][:, 0] = s0
    pol = history_policy()
    for m in range(1, months + 1):
        state = b.chain.sample_step(rng, state, np.full(n, m), pol)
        for arr, v in zip(out, state, strict=True):
            arr[:, m] = v
    return out[0], out[1], out[2]


def simulate_statements(cfg: SimConfig, apps: pd.DataFrame, months: int, seed: int
                        ) -> pd.DataFrame:
    """One row per account and month on book (1..months, until charged off or closed),
    in event-time order, with the hidden state and the oracle's columns."""
    from simulator.servicing_oracle import add_oracle_columns  # oracle imports this module

    if months < 2 or len(apps) == 0:
        raise SimulatorError("statements need at least 2 months and 1 booked account")
    rng = np.random.default_rng([seed, 14])
    b = book(cfg, apps, months, rng)
    stress, treat, bucket = sample_paths(b, months, rng)
    cols = _observables(cfg, b, stress, treat, bucket, rng)
    frame = pd.DataFrame(cols)
    ids = apps["application_id"].astype(str).to_numpy()
    frame.insert(0, "application_id", ids[frame["_i"].to_numpy()])
    frame.insert(0, "account_id", "l-" + frame["application_id"])
    frame.insert(0, "statement_id", frame["account_id"] + "-s" +
                 frame["month_on_book"].astype(str).str.zfill(2))
    frame["income_on_file"] = _income_on_file(apps)[frame["_i"].to_numpy()]
    frame = frame.sort_values(["event_time", "statement_id"], kind="stable")
    frame = add_oracle_columns(frame.reset_index(drop=True), b)
    return frame.drop(columns="_i")


def _income_on_file(apps: pd.DataFrame) -> np.ndarray:
    """Declared income capped at the bureau's turnover estimate where there is one (the
    verified income affordability uses)."""
    declared = apps["annual_income"].to_numpy(float)
    estimate = apps["bureau_income_estimate"].to_numpy(float)
    return np.round(np.where(np.isnan(estimate), declared, np.minimum(declared, estimate)), 2)


def _observables(cfg: SimConfig, b: Book, stress: np.ndarray, treat: np.ndarray,
                 bucket: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The statement columns, month by month for all accounts at once."""
    n, months = bucket.shape[0], bucket.shape[1] - 1
    p = b.chain.params
    term = np.maximum(p.term, 1)
    instalment = np.where(b.card, 0.0, b.amount * 1.08 / term)
    base_util = rng.beta(2, 3, n)
    balance = np.where(b.card, base_util * b.amount, b.amount)
    due_prev = np.where(b.card, np.maximum(np.minimum(25.0, balance), 0.03 * balance), instalment)
    recov = np.asarray(cfg.servicing.recovery_rate)
    rows: list[dict[str, np.ndarray]] = []
    for m in range(1, months + 1):
        s, t = stress[:, m].astype(np.int64), treat[:, m].astype(np.int64)
        bk, prev = bucket[:, m].astype(np.int64), bucket[:, m - 1].astype(np.int64)
        alive = (prev != CHARGED_OFF) & (prev != CLOSED)
        limit = np.where(b.card, b.amount * np.exp(p.line_log[:, m]), 0.0)
        paying = bk == CURRENT
        target = np.clip(base_util + _UTIL_LIFT[s], 0, 1) * limit
        spend = 0.6 * balance + 0.4 * target + rng.normal(0, 0.04, n) * limit
        cash = b.card & paying & (rng.random(n) < _CASH_ADVANCE_P[s])
        cash_amt = np.where(cash, rng.uniform(0.05, 0.15, n) * limit, 0.0)
        card_bal = np.where(paying, np.clip(spend, 0, 1.05 * limit) + cash_amt, balance * 1.02)
        loan_bal = np.where(paying, np.maximum(balance - b.amount / term, 0), balance * 1.01)
        balance = np.where(bk == CLOSED, 0.0, np.where(b.card, card_bal, loan_bal))
        payment = _payments(rng, b.card, s, prev, bk, due_prev, instalment, balance)
        due = np.where(b.card, np.maximum(np.minimum(25.0, balance), 0.03 * balance), instalment)
        due = np.where((bk >= 1) & (bk <= 5), due * (bk + 1), np.where(bk >= 6, 0.0, due))
        entered = (prev == CURRENT) & (bk == 1)
        co = (bk == CHARGED_OFF) & (prev != CHARGED_OFF)
        mu = recov[t]
        recovered = np.where(co, balance * rng.beta(2, 2 * (1 - mu) / mu), 0.0)
        keep = np.flatnonzero(alive)
        rows.append({
            "_i": keep,
            "event_time": b.booked_ms[keep] + m * MONTH_MS,
            "month_on_book": np.full(len(keep), m, np.int32),
            "product": np.where(b.card, "CREDIT_CARD", "LOAN")[keep],
            "credit_limit": np.round(limit[keep], 2),
            "balance": np.round(balance[keep], 2),
            "utilisation": np.round(np.where(b.card, balance / np.maximum(limit, 1),
                                             balance / np.maximum(b.amount, 1))[keep], 4),
            "minimum_due": np.round(due[keep], 2),
            "payment_amount": np.round(payment[keep], 2),
            "cash_advance": np.round(cash_amt[keep], 2),
            "days_past_due": np.where(bk <= 5, bk * 30, np.where(bk == CHARGED_OFF, 180, 0)
                                      )[keep].astype(np.int32),
            "status": STATUS[bk[keep]],
            "line_action": np.asarray(LINE_ACTIONS, dtype=object)[b.line_action[keep, m]],
            "treatment": np.where(entered, np.asarray(TREATMENTS, dtype=object)[t],
                                  np.full(n, None, dtype=object))[keep],
            "recovery_amount": np.round(recovered[keep], 2),
            "latent_stress": np.asarray(STRESS_STATES, dtype=object)[s[keep]],
            "latent_treatment": t[keep].astype(np.int8),
            "latent_bucket": bk[keep].astype(np.int8),
        })
        due_prev = due
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def _payments(rng: np.random.Generator, card: np.ndarray, s: np.ndarray, prev: np.ndarray,
              bk: np.ndarray, due_prev: np.ndarray, instalment: np.ndarray,
              balance: np.ndarray) -> np.ndarray:
    """What the customer paid this month: healthy card holders often pay in full, the
    stressed pay near the minimum; a missed month pays little, a cure clears the arrears."""
    n = len(s)
    full = rng.random(n) < np.where(s == 0, 0.45, 0.05)
    top = np.array([4.0, 1.3, 1.1])[s]
    card_pay = np.where(full, np.maximum(balance, due_prev),
                        due_prev * (1 + rng.random(n) * (top - 1)))
    on_time = np.where(card, np.minimum(card_pay, np.maximum(balance, due_prev)), instalment)
    missed = rng.uniform(0, 0.5, n) * due_prev
    partial = rng.uniform(0.3, 0.9, n) * due_prev
    dq_prev = (prev >= 1) & (prev <= 5)
    pay = np.where(bk == CURRENT, np.where(dq_prev, due_prev, on_time),
                   np.where(bk > prev, missed, partial))
    return np.where(bk == CHARGED_OFF, 0.0, np.where(bk == CLOSED, due_prev, pay))


STATEMENTS_FILE = "statements.parquet"


def write_statements(frame: pd.DataFrame, history_dir: Path) -> Path:
    """Write the statements beside the history they were simulated from."""
    path = Path(history_dir) / STATEMENTS_FILE
    frame.to_parquet(path, index=False, compression="zstd")
    return path


def read_statements(history_dir: Path) -> pd.DataFrame:
    path = Path(history_dir) / STATEMENTS_FILE
    if not path.exists():
        raise SimulatorError(
            f"{history_dir} has no {STATEMENTS_FILE}; create it with `loanrisk simulate "
            f"statements --history {history_dir}`")
    return pd.read_parquet(path)
