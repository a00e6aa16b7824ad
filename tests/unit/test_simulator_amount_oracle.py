"""`simulator.risk.AmountOracle`: the true PD at another amount, read back from a written
history (bureau fields of no-file applicants nulled), against the simulator's own truth
recomputed from the unwritten applicants."""

from __future__ import annotations

import numpy as np

from simulator.batch import BUREAU
from simulator.config import SimConfig
from simulator.population import make_applications
from simulator.risk import AmountOracle, oracle_pd, reference_intercept


def test_the_pd_at_another_amount_is_the_simulators_own() -> None:
    cfg = SimConfig()
    rng = np.random.default_rng(5)
    start = int(np.datetime64(cfg.start_date, "ms").astype(np.int64))
    apps = make_applications(cfg, rng, np.sort(start + rng.integers(0, 86_400_000, 3000)),
                             3_600_000)
    c = reference_intercept(cfg)
    written = apps.assign(oracle_pd=oracle_pd(cfg, apps, c))
    no_file = ~written["has_file"].to_numpy(bool)
    assert no_file.any()
    for col in ("bureau_score", *BUREAU):  # as `write_history` leaves them
        written[col] = written[col].astype(object).where(~no_file, None)
    oracle = AmountOracle(cfg, written.drop(columns=["has_file"]), c)
    rows = np.arange(len(apps))
    share = rng.choice([0.25, 0.5, 1.0, 1.5], len(apps))
    amounts = apps["requested_amount"].to_numpy(float) * share
    truth = oracle_pd(cfg, apps.assign(requested_amount=amounts), c)
    got = oracle.pd(rows, amounts)
    assert np.abs(got - truth).max() < 1e-6
    genuine = (apps["fraud_type"] == "none").to_numpy()
    smaller = genuine & (share < 1)
    assert (got[smaller] < written["oracle_pd"].to_numpy()[smaller]).all()  # truly safer
    sub = rows[::7]
    assert np.allclose(oracle.pd(sub, amounts[sub]), got[sub])
