"""Calibration: improves log loss on held-out data when scores are miscalibrated."""

from __future__ import annotations

import numpy as np

from models.calibration import Calibrator, choose_calibrator, log_loss, sigmoid


def _data(n, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(-2, 1, n)
    y = (rng.random(n) < sigmoid(z)).astype(int)
    raw = 3.0 * z + 2.0  # overconfident and shifted: a miscalibrated model
    return raw, y


def test_calibration_improves_log_loss_on_held_out_rows():
    raw_v, y_v = _data(4000, 1)
    raw_t, y_t = _data(4000, 2)
    cal, scores = choose_calibrator(raw_v, y_v)
    assert cal.method in {"isotonic", "platt"}
    assert scores[cal.method] < scores["none"]
    before, after = log_loss(y_t, sigmoid(raw_t)), log_loss(y_t, cal.apply(raw_t))
    assert after < before - 0.05


def test_platt_recovers_the_true_map_and_round_trips():
    raw, y = _data(20000, 3)
    cal = Calibrator("platt").fit(raw, y)
    assert abs(cal.a - 1 / 3) < 0.05 and abs(cal.b - (-2 / 3)) < 0.15
    back = Calibrator.from_dict(cal.to_dict())
    assert back.apply_one(0.7) == cal.apply_one(0.7)
    assert abs(cal.apply_one(0.7) - float(cal.apply(np.array([0.7]))[0])) < 1e-12


def test_isotonic_is_monotone_and_single_equals_batch():
    raw, y = _data(5000, 4)
    cal = Calibrator("isotonic").fit(raw, y)
    grid = np.linspace(-10, 10, 200)
    p = cal.apply(grid)
    assert np.all(np.diff(p) >= 0)
    assert all(abs(cal.apply_one(g) - q) < 1e-12 for g, q in zip(grid, p, strict=True))
