"""Loan performance of booked loans, fraud confirmations, and the matured labels.

Monthly snapshots follow the delinquency chain (``simulator.chain``) from
month 1 until charge-off, pay-off or ``labels.performance_months``. Balances
amortise for instalment loans (missed payments are not paid down) and follow
a per-loan utilisation for cards. A confirmed fraud adds one
FRAUD_CONFIRMED event after an exponential delay (mean per fraud type).

Labels (``LabelConfig``): ``label_default`` = ever ``default_dpd``+ days past
due within ``default_horizon_months`` on book; ``label_fraud`` = confirmed as
fraud within ``fraud_window_months``; ``label_date`` = when both are known.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator import strings as S
from simulator.chain import CHARGED_OFF, PAID_OFF, STATUS, ChainParams, simulate
from simulator.config import SimConfig
from simulator.risk import confirm_delay_mean, confirm_prob

MONTH_MS = int(30.436875 * 86_400_000)


def perform(
    cfg: SimConfig,
    rng: np.random.Generator,
    params: ChainParams,
    a: dict[str, Any],
    booked_ms: np.ndarray,
    month_ms: int = MONTH_MS,
    *,
    by_time: bool = False,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Performance event columns and label columns for loans booked at ``booked_ms``;
    ``by_time``: rows stably sorted by event time (else loan by loan, then confirmations)."""
    lab = cfg.labels
    n = len(booked_ms)
    months = max(lab.performance_months, lab.default_horizon_months)
    path = simulate(params, months, rng)  # (n, months) states
    # --- labels -----------------------------------------------------------------
    bucket = lab.default_dpd // 30
    bad = (path[:, : lab.default_horizon_months] >= bucket) & (
        path[:, : lab.default_horizon_months] <= CHARGED_OFF
    )
    label_default = bad.any(axis=1)
    first_bad = np.where(label_default, bad.argmax(axis=1) + 1, lab.default_horizon_months)
    ftype = a["fraud_type"]
    confirmed = rng.random(n) < confirm_prob(cfg, ftype)
    delay = rng.exponential(confirm_delay_mean(cfg, ftype))
    label_fraud = confirmed & (delay <= lab.fraud_window_months)
    default_known = booked_ms + first_bad * month_ms
    fraud_known = booked_ms + np.where(label_fraud, delay, lab.fraud_window_months) * month_ms
    label_date = np.maximum(default_known, fraud_known.astype(np.int64))
    # --- monthly snapshots (stop after the first terminal state) ------------------
    prev = np.concatenate([np.zeros((n, 1), np.int8), path[:, :-1]], axis=1)
    alive = (prev != CHARGED_OFF) & (prev != PAID_OFF)
    loan_i, m0 = np.nonzero(alive)
    state = path[loan_i, m0]
    mob = m0 + 1
    dpd = np.where(state <= 5, state.astype(np.int64) * 30, np.where(state == CHARGED_OFF, 180, 0))
    amount = a["requested_amount"][loan_i]
    term = a["requested_term_months"][loan_i]
    missed = np.minimum(state, 5) * (state <= 5)
    paid = np.maximum(mob - missed, 0)
    amort = amount * np.clip(1 - paid / np.maximum(term, 1), 0, 1) * 1.02**missed
    util = np.clip(rng.beta(2, 2.5, n)[loan_i] + 0.06 * missed, 0, 1.1)
    balance = np.where(term > 0, amort, amount * util)
    balance = np.where(state == PAID_OFF, 0.0, np.round(balance, 2))
    t = booked_ms[loan_i] + mob * month_ms
    # --- fraud confirmations ------------------------------------------------------
    fi = np.flatnonzero(label_fraud)
    fmob = np.clip(np.ceil(delay[fi]).astype(np.int64), 1, months)
    fstate = path[fi, fmob - 1]
    f_dpd = np.where(fstate <= 5, fstate.astype(np.int64) * 30, 180)
    f_bal = np.round(a["requested_amount"][fi], 2)
    # --- columns: sorted first, strings built last (from small vocabularies) -----
    idx = np.concatenate([loan_i, fi])
    event_time = np.concatenate([t, booked_ms[fi] + (delay[fi] * month_ms).astype(np.int64)])
    suffix = np.concatenate([mob, np.full(len(fi), months + 1)])  # month, or "fraud"
    status = np.concatenate([state, np.full(len(fi), len(STATUS), np.int8)])
    month_on_book = np.concatenate([mob, fmob]).astype(np.int32)
    days_past_due = np.concatenate([dpd, f_dpd]).astype(np.int32)
    balance = np.concatenate([balance, f_bal])
    if by_time and len(event_time) > 1:
        order = np.argsort(event_time, kind="stable")
        idx, event_time, suffix = idx[order], event_time[order], suffix[order]
        status, balance = status[order], balance[order]
        month_on_book, days_past_due = month_on_book[order], days_past_due[order]
    app_ids = S.as_str(a["application_id"])
    loan_col = S.join(["l-", S.take(app_ids, idx)])
    suffixes = [str(m).zfill(2) for m in range(months + 1)] + ["fraud"]
    perf = {
        "event_id": S.join([loan_col, "-", S.pick(suffixes, suffix)]),
        "loan_id": loan_col,
        "application_id": S.take(app_ids, idx),
        "event_time": event_time,
        "month_on_book": month_on_book,
        "days_past_due": days_past_due,
        "balance": balance,
        "status": S.pick([*STATUS, "FRAUD_CONFIRMED"], status),
    }
    labels = {
        "label_default": label_default.astype(np.int8),
        "label_fraud": label_fraud.astype(np.int8),
        "label_date": label_date.astype(np.int64),
    }
    return perf, labels
