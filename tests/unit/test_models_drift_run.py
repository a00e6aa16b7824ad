"""The pieces of a drift run that need no ClickHouse: windows, score references, alarms."""

from __future__ import annotations

import numpy as np
import pytest

from models.drift import drift_of, reference_of
from models.drift_run import DriftRun, parse_window, score_reference
from models.errors import DataError


def test_windows_in_minutes_hours_and_days() -> None:
    assert parse_window("30m") == 30 * 60_000
    assert parse_window(" 6h") == 6 * 3_600_000
    assert parse_window("1.5d") == 36 * 3_600_000
    with pytest.raises(DataError, match=r"use a number and m, h or d"):
        parse_window("yesterday")


def test_score_reference_is_the_manifest_deciles_with_an_empty_missing_bin() -> None:
    ref = score_reference({"psi_reference": {"edges": [0.1, 0.2], "shares": [0.3, 0.3, 0.4]}})
    assert ref is not None and ref["shares"] == [0.3, 0.3, 0.4, 0.0] and ref["missing"] == 0.0
    assert score_reference({}) is None
    # the same scores against their own reference: no drift
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 1, 2000)
    d = drift_of("pd", reference_of(scores), scores)
    assert d.status == "stable" and d.psi == pytest.approx(0.0, abs=1e-9)


def test_fail_on_flags_the_statuses_at_or_above_it() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(0, 1, 4000)
    ref = reference_of(base)
    stable = drift_of("stable", ref, base)
    shifted = drift_of("moved", ref, base + 2.0)
    run = DriftRun({"model": "m"}, [shifted, stable], [stable])
    assert shifted.status == "shift"
    assert run.flagged("shift") == ["moved"] and run.flagged("watch") == ["moved"]
    assert run.flagged(None) == []
    assert [f["name"] for f in run.record()["features"]] == ["moved", "stable"]
