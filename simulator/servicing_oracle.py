"""The servicing oracle: each account's exact probabilities under each action.

Given the hidden state at a statement (stress, episode treatment, bucket) and the
account's chain parameters, dynamic programming over ``simulator.servicing_chain``
gives, with no sampling error:

- ``oracle_bscore``: P(60+ days past due within the next 6 months) under the history's
  own policy (the B-score's label; accounts already 60+ or closed have none);
- ``oracle_bscore_cli``: the same if the line were raised by ``history_line_step`` now
  (cards), so a line strategy is scored against the truth;
- on the statement where an account enters 30 DPD, per treatment T: ``oracle_cure_T``
  (back to current within 3 months), ``oracle_roll_T`` (60+ within 3 months) and
  ``oracle_chargeoff_T`` (charged off within 9 months), later episodes untreated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.servicing import TREATMENTS
from simulator.servicing_chain import CHARGED_OFF, N_TREAT, Chain, Rates, one_hot
from simulator.statements import Book, history_policy

BSCORE_MONTHS, CURE_MONTHS, CHARGEOFF_MONTHS = 6, 3, 9
BAD_BUCKET = 2  # 60 days past due
_CHUNK = 40_000
NO_TREATMENT = np.eye(N_TREAT)[0]


def sub_chain(chain: Chain, idx: np.ndarray) -> Chain:
    """The chain of the accounts (or statement rows) ``idx``."""
    r = Rates(chain.rates.roll[idx], chain.rates.cure[idx])
    return Chain(chain.sc, chain.params.take(idx), r, chain.bust_hazard)


def p_bad(chain: Chain, stress: np.ndarray, treat: np.ndarray, bucket: np.ndarray,
          month: np.ndarray, policy: np.ndarray | None = None) -> np.ndarray:
    """P(60+ DPD within ``BSCORE_MONTHS`` after ``month``) from a known state, per row."""
    pol = history_policy() if policy is None else policy
    out = np.empty(len(stress))
    for lo in range(0, len(stress), _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        c = sub_chain(chain, np.arange(len(stress))[sl])
        start = one_hot(len(stress[sl]), stress[sl], treat[sl], bucket[sl])
        out[sl] = c.reach(start, month[sl], BSCORE_MONTHS, slice(BAD_BUCKET, CHARGED_OFF + 1),
                          pol)
    return out


def treatment_outcomes(chain: Chain, stress: np.ndarray, month: np.ndarray
                       ) -> dict[str, np.ndarray]:
    """Per treatment, P(cure), P(roll to 60+) and P(charge-off) of accounts entering 30 DPD
    at ``month`` in hidden ``stress`` (rows of ``chain``)."""
    n = len(stress)
    out: dict[str, np.ndarray] = {}
    one = np.ones(n, np.int64)
    for ti, name in enumerate(TREATMENTS):
        start = one_hot(n, stress, np.full(n, ti), one)
        key = name.lower()
        out[f"oracle_cure_{key}"] = chain.reach(start, month, CURE_MONTHS, slice(0, 1),
                                                NO_TREATMENT)
        out[f"oracle_roll_{key}"] = chain.reach(start, month, CURE_MONTHS,
                                                slice(BAD_BUCKET, CHARGED_OFF + 1), NO_TREATMENT)
        out[f"oracle_chargeoff_{key}"] = chain.reach(start, month, CHARGEOFF_MONTHS,
                                                     slice(CHARGED_OFF, CHARGED_OFF + 1),
                                                     NO_TREATMENT)
    return out


def with_line_change(chain: Chain, month: np.ndarray, step: float) -> Chain:
    """The chain had the limit been multiplied by ``1 + step`` after ``month``'s statement."""
    line = chain.params.line_log.copy()
    cols = np.arange(line.shape[1])[None, :]
    line += np.where(cols > month[:, None], np.log1p(step), 0.0)
    return Chain(chain.sc, chain.params.with_line(line), chain.rates, chain.bust_hazard)


def add_oracle_columns(frame: pd.DataFrame, b: Book) -> pd.DataFrame:
    """``frame`` (statements with ``_i`` = account row and the latent columns) plus the
    oracle's columns; NaN where a probability does not apply."""
    idx = frame["_i"].to_numpy()
    s = frame["latent_stress"].map({"HEALTHY": 0, "INCOME_SHOCK": 1, "OVER_INDEBTED": 2})
    stress = s.to_numpy(np.int64)
    treat = frame["latent_treatment"].to_numpy(np.int64)
    bucket = frame["latent_bucket"].to_numpy(np.int64)
    month = frame["month_on_book"].to_numpy(np.int64)
    rows = sub_chain(b.chain, idx)
    scored = np.flatnonzero(bucket < BAD_BUCKET)
    bscore = np.full(len(frame), np.nan)
    c = sub_chain(rows, scored)
    bscore[scored] = p_bad(c, stress[scored], treat[scored], bucket[scored], month[scored])
    frame["oracle_bscore"] = bscore
    cards = scored[b.card[idx[scored]]]
    cli = np.full(len(frame), np.nan)
    step = b.chain.sc.history_line_step
    c = with_line_change(sub_chain(rows, cards), month[cards], step)
    cli[cards] = p_bad(c, stress[cards], treat[cards], bucket[cards], month[cards])
    frame["oracle_bscore_cli"] = cli
    entry = np.flatnonzero(frame["treatment"].notna().to_numpy())
    outcomes = treatment_outcomes(sub_chain(rows, entry), stress[entry], month[entry])
    for name, values in outcomes.items():
        col = np.full(len(frame), np.nan)
        col[entry] = values
        frame[name] = col
    return frame
