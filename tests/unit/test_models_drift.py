"""PSI of features against a stored training reference: stable, shifted, gone missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.drift import binned_shares, drift_of, feature_drift, feature_reference, status
from models.drift_report import render_drift


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 20_000
    train = pd.DataFrame({"score": rng.normal(680, 60, n), "count": rng.poisson(1.0, n),
                          "bureau": rng.normal(0, 1, n)})
    now = pd.DataFrame({"score": rng.normal(680, 60, n), "count": rng.poisson(1.0, n),
                        "bureau": rng.normal(0, 1, n)})
    now["score"] += 45  # a new, riskier channel moves the score distribution
    now.loc[rng.random(n) < 0.4, "bureau"] = np.nan  # the bureau stops answering 40% of calls
    return train, now


def test_same_distribution_is_stable_and_moved_ones_are_found(frames) -> None:
    train, now = frames
    ref = feature_reference(train)
    assert set(ref) == {"score", "count", "bureau"}
    assert sum(ref["score"]["shares"]) == pytest.approx(1.0) and ref["score"]["missing"] == 0
    drift = {d.name: d for d in feature_drift(ref, now)}
    assert drift["count"].status == "stable" and drift["count"].psi < 0.01
    assert drift["score"].status == "shift" and drift["score"].current_mean > 700
    # nothing moved in the values that arrive, but 40% stopped arriving: a shift too
    assert drift["bureau"].status == "shift" and drift["bureau"].current_missing == pytest.approx(
        0.4, abs=0.02)
    assert [d.name for d in feature_drift(ref, now)][-1] == "count"  # largest PSI first


def test_bins_and_thresholds() -> None:
    shares = binned_shares(np.array([0.0, 1.0, 2.0, np.nan]), np.array([1.0, 2.0]))
    assert shares.tolist() == [0.25, 0.25, 0.25, 0.25]  # <1, [1,2), >=2, missing
    assert [status(x) for x in (0.05, 0.1, 0.25, 0.26)] == ["stable", "watch", "watch", "shift"]
    ref = {"edges": [1.0], "shares": [0.5, 0.5, 0.0], "mean": 1.0, "missing": 0.0}
    same = drift_of("x", ref, np.array([0.0, 5.0] * 50))
    assert same.psi == pytest.approx(0.0, abs=1e-9) and same.rows == 100


def test_html_report_names_the_shifts_and_has_its_plots(frames) -> None:
    train, now = frames
    rows = feature_drift(feature_reference(train), now)
    page = render_drift("Drift", {"current window": "w"}, rows, [])
    assert page.count("data:image/png;base64,") == 1 + len(rows)  # PSI chart + detail per row
    assert 'class="shift"' in page and "bureau" in page
