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

from dataclasses import dataclass, fields
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
    ``by_time``: rows stably sorted by event time (else loan by loan, then confirmations).

    The steps draw from ``rng`` in a fixed order (the same seed gives the same book)."""
    lab = cfg.labels
    months = max(lab.performance_months, lab.default_horizon_months)
    path = simulate(params, months, rng)  # (n, months) states
    labels, delay = _labels(cfg, rng, path, a["fraud_type"], booked_ms, month_ms)
    snapshots = _snapshots(rng, path, a, booked_ms, month_ms)
    fraud = _confirmations(path, a, booked_ms, month_ms, labels["label_fraud"] == 1, delay)
    rows = _Rows.concat(snapshots, fraud)
    if by_time and len(rows.event_time) > 1:
        rows = rows.take(np.argsort(rows.event_time, kind="stable"))
    return _performance_columns(a["application_id"], rows, months), labels


def _labels(
    cfg: SimConfig,
    rng: np.random.Generator,
    path: np.ndarray,
    ftype: np.ndarray,
    booked_ms: np.ndarray,
    month_ms: int,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The label columns, and each loan's fraud-confirmation delay in months (drawn for
    every loan; confirmed only where the fraud type is confirmed)."""
    lab = cfg.labels
    n = len(booked_ms)
    bucket = lab.default_dpd // 30
    bad = (path[:, : lab.default_horizon_months] >= bucket) & (
        path[:, : lab.default_horizon_months] <= CHARGED_OFF
    )
    label_default = bad.any(axis=1)
    first_bad = np.where(label_default, bad.argmax(axis=1) + 1, lab.default_horizon_months)
    confirmed = rng.random(n) < confirm_prob(cfg, ftype)
    delay = rng.exponential(confirm_delay_mean(cfg, ftype))
    label_fraud = confirmed & (delay <= lab.fraud_window_months)
    default_known = booked_ms + first_bad * month_ms
    fraud_known = booked_ms + np.where(label_fraud, delay, lab.fraud_window_months) * month_ms
    label_date = np.maximum(default_known, fraud_known.astype(np.int64))
    labels = {
        "label_default": label_default.astype(np.int8),
        "label_fraud": label_fraud.astype(np.int8),
        "label_date": label_date.astype(np.int64),
    }
    return labels, delay


@dataclass(frozen=True)
class _Rows:
    """Performance events before their strings are built: ``idx`` is the loan's row in
    ``a``; ``suffix`` the event id's suffix (month on book, or months + 1 for "fraud");
    ``status`` an index into STATUS (len(STATUS) = FRAUD_CONFIRMED)."""

    idx: np.ndarray
    event_time: np.ndarray
    suffix: np.ndarray
    status: np.ndarray
    month_on_book: np.ndarray
    days_past_due: np.ndarray
    balance: np.ndarray

    def arrays(self) -> list[np.ndarray]:
        return [getattr(self, f.name) for f in fields(self)]

    @classmethod
    def concat(cls, first: _Rows, second: _Rows) -> _Rows:
        pairs = zip(first.arrays(), second.arrays(), strict=True)
        return cls(*(np.concatenate([x, y]) for x, y in pairs))

    def take(self, order: np.ndarray) -> _Rows:
        return _Rows(*(x[order] for x in self.arrays()))


def _snapshots(
    rng: np.random.Generator,
    path: np.ndarray,
    a: dict[str, Any],
    booked_ms: np.ndarray,
    month_ms: int,
) -> _Rows:
    """Monthly snapshots, stopping after the first terminal state. Instalment balances
    amortise (missed payments are not paid down); card balances follow a utilisation."""
    n = len(booked_ms)
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
    return _Rows(
        loan_i,
        t,
        mob,
        state,
        mob.astype(np.int32),
        dpd.astype(np.int32),
        balance,
    )


def _confirmations(
    path: np.ndarray,
    a: dict[str, Any],
    booked_ms: np.ndarray,
    month_ms: int,
    label_fraud: np.ndarray,
    delay: np.ndarray,
) -> _Rows:
    """One FRAUD_CONFIRMED event per loan labelled fraud, ``delay`` months after booking."""
    months = path.shape[1]
    fi = np.flatnonzero(label_fraud)
    fmob = np.clip(np.ceil(delay[fi]).astype(np.int64), 1, months)
    fstate = path[fi, fmob - 1]
    f_dpd = np.where(fstate <= 5, fstate.astype(np.int64) * 30, 180)
    return _Rows(
        fi,
        booked_ms[fi] + (delay[fi] * month_ms).astype(np.int64),
        np.full(len(fi), months + 1),
        np.full(len(fi), len(STATUS), np.int8),
        fmob.astype(np.int32),
        f_dpd.astype(np.int32),
        np.round(a["requested_amount"][fi], 2),
    )


def _performance_columns(application_id: Any, rows: _Rows, months: int) -> dict[str, Any]:
    """The loan_performance columns; strings are built last, from small vocabularies."""
    app_ids = S.as_str(application_id)
    loan_col = S.join(["l-", S.take(app_ids, rows.idx)])
    suffixes = [str(m).zfill(2) for m in range(months + 1)] + ["fraud"]
    return {
        "event_id": S.join([loan_col, "-", S.pick(suffixes, rows.suffix)]),
        "loan_id": loan_col,
        "application_id": S.take(app_ids, rows.idx),
        "event_time": rows.event_time,
        "month_on_book": rows.month_on_book,
        "days_past_due": rows.days_past_due,
        "balance": rows.balance,
        "status": S.pick([*STATUS, "FRAUD_CONFIRMED"], rows.status),
    }
