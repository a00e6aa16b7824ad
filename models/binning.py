"""Scorecard binning with optbinning: optimal, constrained bins per feature.

Numeric features: optbinning's optimal binning (mixed-integer programme over up to 20
quantile pre-bins), every bin holding at least ``MIN_BIN_SIZE`` of the rows, the bad rate
monotone in the direction the feature spec declares (``monotone``: +1 risk rises with
the value) or, undeclared, the trend optbinning's ``auto`` finds (ascending, descending,
peak or valley). Nominal features: per-level bins, levels under ``CAT_CUTOFF`` of the
rows merged, then levels with similar bad rates grouped, in no imposed order (a
categorical's codes are alphabetical, not an order). Missing values and the special
codes (e.g. a -1 "never" sentinel) get bins of their own. optbinning chooses the bins;
the WOE of each is computed here, with the scorecard's convention and smoothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.scorecard import FeatureBins, woe_iv

MIN_BIN_SIZE = 0.05
CAT_CUTOFF = 0.02
MAX_PREBINS = 20


def _counts(b: np.ndarray, y: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    bad = np.bincount(b, weights=w * y, minlength=n)
    tot = np.bincount(b, weights=w, minlength=n)
    return bad, tot - bad


def _finish(fb: FeatureBins, x: np.ndarray, y: np.ndarray, w: np.ndarray,
            empty_neutral: Sequence[int]) -> FeatureBins:
    """WOE and IV of ``fb``'s bins on (x, y); bins nobody fell in (missing, special,
    an unseen level's "other") are neutral (WOE 0)."""
    n = len(fb.labels)
    bad, good = _counts(fb.bin_of(x), y, w, n)
    woe, fb.iv = woe_iv(bad, good)
    for i in empty_neutral:
        if bad[i] + good[i] == 0:
            woe[i] = 0.0
    fb.woe = woe.tolist()
    return fb


def bin_numeric(name: str, x: np.ndarray, y: np.ndarray, monotone: int = 0,
                specials: Sequence[float] = (), weight: np.ndarray | None = None,
                min_bin_size: float = MIN_BIN_SIZE) -> FeatureBins:
    """Optimal monotone (or auto-trend) bins of a numeric feature: [a, b) intervals, then
    a special-values bin (when ``specials``) and the missing bin."""
    from optbinning import OptimalBinning

    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
    trend = {1: "ascending", -1: "descending"}.get(int(monotone), "auto")
    ob = OptimalBinning(name, dtype="numerical", monotonic_trend=trend,
                        min_bin_size=min_bin_size, max_n_prebins=MAX_PREBINS,
                        special_codes=list(specials) or None)
    ob.fit(x, y, sample_weight=w)
    edges = [float(e) for e in ob.splits]
    lo = ["-inf", *[f"{e:.4g}" for e in edges]]
    hi = [*[f"{e:.4g}" for e in edges], "inf"]
    labels = [f"[{a}, {c})" for a, c in zip(lo, hi, strict=True)]
    labels += ["special"] * bool(specials) + ["missing"]
    fb = FeatureBins(name, "numeric", edges=edges, labels=labels, closed="left",
                     specials=[float(s) for s in specials])
    n = len(labels)
    return _finish(fb, x, y, w, [n - 1, n - 2] if specials else [n - 1])


def bin_categorical(name: str, x: np.ndarray, y: np.ndarray, levels: Sequence[str],
                    weight: np.ndarray | None = None,
                    min_bin_size: float = MIN_BIN_SIZE) -> FeatureBins:
    """Per-level WOE bins of a nominal feature (``x``: level codes, NaN missing): small
    levels merged, similar ones grouped; then "other" (levels never seen) and missing."""
    from optbinning import OptimalBinning

    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
    present = ~np.isnan(x)
    groups: dict[int, int] = {}
    labels: list[str] = []
    if present.any():
        text = np.array([levels[int(c)] for c in x[present]], dtype=object)
        ob = OptimalBinning(name, dtype="categorical", min_bin_size=min_bin_size,
                            cat_cutoff=CAT_CUTOFF, max_n_prebins=MAX_PREBINS)
        ob.fit(text, y[present], sample_weight=w[present])
        index = {lv: i for i, lv in enumerate(levels)}
        for b, members in enumerate(ob.splits):
            for lv in members:
                groups[index[str(lv)]] = b
            labels.append(", ".join(map(str, members)))
    fb = FeatureBins(name, "categorical", groups=groups, labels=[*labels, "other", "missing"])
    n = len(fb.labels)
    return _finish(fb, x, y, w, [n - 2, n - 1])
