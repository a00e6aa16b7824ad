"""Reproduce a logged decision's score: the recorded model version on the logged vector.

Every decision records its model versions, and the exact feature vector it was scored on
is logged next to it. Re-scoring that vector with that artifact must give the recorded
probability -- the evidence an auditor or a complaints team asks for -- and TreeSHAP on
it names what drove the score, with the values the applicant actually had.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.serving import ServingModel, for_feature_order

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Reproduction:
    model_version: str
    recorded: float | None
    recomputed: float
    drivers: list[tuple[str, float | None, float]]  # feature, its value, log-odds pushed

    @property
    def matches(self) -> bool:
        return self.recorded is not None and abs(self.recomputed - self.recorded) <= TOLERANCE


def reproduce(model: ServingModel, names: Sequence[str], values: Sequence[float | None],
              recorded: float | None, k: int = 6) -> Reproduction:
    """Score the logged vector (``names``/``values``, None = missing) with ``model``."""
    served = for_feature_order(model, names)
    x = np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    value_of = dict(zip(names, x.tolist(), strict=True))
    drivers = [(n, None if math.isnan(value_of[n]) else value_of[n], c)
               for n, c in served.explain(x, k=k)]
    return Reproduction(model.version, recorded, served.score(x), drivers)
