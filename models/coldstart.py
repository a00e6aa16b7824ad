"""Cold start: deciding before any label exists, and when to train the first model.

A new product has no matured labels, so no PD or fraud model can be trained. The
pipeline still decides, with three inputs that need no labels:

1. **Bureau-score policy.** `BureauPrior` turns the bureau score into a PD through
   the bureau's own points scale (score = offset - factor * ln(odds of bad)),
   configurable per bureau (``Scale``: points to double the odds, and the odds at a
   base score). It is a `ServingModel`, so the stream, policy cutoffs, scorecard
   points and reason codes work unchanged; a missing score gets ``missing_pd``.
2. **Rules** (decisions/): lists, velocity and consistency rules need no labels.
3. **Anomaly score** (`models.anomaly.AnomalyModel`): learns from every application
   from the first one, so unusual applications go to review.

Every decision is logged with its feature vector (``feature_vectors``). Once enough
labels have matured (`ready_to_train`: by default 6 months on book, >= 300 bads and
>= 3,000 matured applications, the usual minimum for a stable first scorecard),
``loanrisk train --source clickhouse`` trains on those logged vectors; the first
model is promoted as *challenger* (shadow-scored next to the prior) and becomes
champion only when it beats the prior's AUC on the same rows. Labels exist only for
approved applications, so the first model learns from the prior's approvals:
keep a small random approval band below the cutoff (if policy allows) to reduce the
selection bias.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models.reasons import ReasonMap
from models.scorecard import Scale
from models.serving import ServingModel

#: a FICO-like bureau scale: 20:1 good:bad odds at 660 points, odds double every 40 points
BUREAU_SCALE = Scale(pdo=40.0, base_score=660.0, base_odds=20.0)


class BureauPrior(ServingModel):
    """PD from the bureau score alone: the cold-start 'model' (no training, no labels)."""

    kind = "bureau_prior"

    def __init__(
        self,
        feature_names: Sequence[str],
        score_feature: str = "bureau_score",
        scale: Scale = BUREAU_SCALE,
        missing_pd: float = 0.15,
        reason_map: ReasonMap | None = None,
    ) -> None:
        manifest: dict[str, Any] = {
            "version": f"coldstart-bureau-{scale.base_score:g}-{scale.base_odds:g}-{scale.pdo:g}",
            "name": "pd",
            "target": "label_default",
            "feature_names": list(feature_names),
            "calibration": {"method": "none", "a": 1.0, "b": 0.0, "xs": [], "ys": []},
            "scale": scale.__dict__,
        }
        super().__init__(manifest, reason_map=reason_map or {})
        if score_feature not in self.feature_names:
            raise ValueError(f"{score_feature!r} is not among the feature names")
        self.col = self.feature_names.index(score_feature)
        self.score_feature = score_feature
        self.bureau_scale = scale
        self.missing_raw = math.log(missing_pd / (1 - missing_pd))

    def score_raw(self, x: np.ndarray) -> float:
        s = float(x[self.col])
        if s != s:
            return self.missing_raw
        return (self.bureau_scale.offset - s) / self.bureau_scale.factor

    def score_batch_raw(self, X: np.ndarray) -> np.ndarray:
        s = X[:, self.col]
        raw = (self.bureau_scale.offset - s) / self.bureau_scale.factor
        return np.where(np.isnan(s), self.missing_raw, raw)

    def explain(self, x: np.ndarray, k: int = 4) -> list[tuple[str, float]]:
        """The bureau score is the reason when it implies worse odds than the base score."""
        lift = self.score_raw(x) - (-math.log(self.bureau_scale.base_odds))
        return [(self.score_feature, lift)] if lift > 0 and k > 0 else []


def ready_to_train(
    matured: int,
    bads: int,
    min_matured: int = 3000,
    min_bads: int = 300,
) -> tuple[bool, str]:
    """Whether enough labels have matured to train a first model, and why not if not."""
    if matured < min_matured:
        return False, f"{matured} matured applications; need {min_matured}"
    if bads < min_bads:
        return False, f"{bads} matured bads; need {min_bads}"
    return True, f"{matured} matured applications with {bads} bads: train a first model"


def label_counts(frame: Any, target: str) -> Mapping[str, int]:
    """Matured rows and bads of a labelled frame (e.g. `models.clickhouse_data.labelled_frame`)."""
    y = frame[target].to_numpy()
    return {"matured": len(y), "bads": int(np.sum(y == 1))}
