"""Serving the logistic regression, the MLP and the ensemble under the one contract.

The logistic regression and the MLP score the same encoded vector they were trained on
(`models.encoding`, stored in their files); an ensemble loads its members from
``members/`` and averages their calibrated log-odds, exactly as at training
(`models.ensemble`). Reasons come from per-feature log-odds contributions: the linear
terms, the MLP's occlusion, the members' average.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.calibration import EPS
from models.errors import ModelLoadError
from models.linear import LinearModel
from models.mlp import MLPModel
from models.reasons import top_positive
from models.serving import ServingModel

LINEAR_FILE = "linear.json"
MLP_FILE = "mlp.json"
MEMBERS_DIR = "members"


class EncodedServing(ServingModel):
    """A `LinearModel` or `MLPModel` behind the serving contract."""

    def __init__(self, manifest: Mapping[str, Any], model: LinearModel | MLPModel,
                 **kw: Any) -> None:
        super().__init__(manifest, **kw)
        self.kind = str(manifest["kind"])
        self.model = model

    def score_raw(self, x: np.ndarray) -> float:
        return float(self.model.raw(x)[0])

    def score_batch_raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.raw(X), dtype=np.float64)

    def log_odds_contributions(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.contributions(x), dtype=np.float64)

    def explain(self, x: np.ndarray, k: int = 4) -> list[tuple[str, float]]:
        return top_positive(self.feature_names, self.log_odds_contributions(x).tolist(), k)


class EnsembleServing(ServingModel):
    """Members' calibrated log-odds averaged, then the ensemble's own calibration."""

    kind = "ensemble"

    def __init__(self, manifest: Mapping[str, Any], members: Sequence[ServingModel],
                 **kw: Any) -> None:
        super().__init__(manifest, **kw)
        self.members = list(members)

    def score_raw(self, x: np.ndarray) -> float:
        ps = np.clip([m.score(x) for m in self.members], EPS, 1 - EPS)
        return float(np.mean(np.log(ps / (1 - ps))))

    def score_batch_raw(self, X: np.ndarray) -> np.ndarray:
        ps = np.clip([m.score_batch(X) for m in self.members], EPS, 1 - EPS)
        return np.asarray(np.mean(np.log(ps / (1 - ps)), axis=0))

    def log_odds_contributions(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.log_odds_contributions(x) for m in self.members], axis=0)

    def explain(self, x: np.ndarray, k: int = 4) -> list[tuple[str, float]]:
        return top_positive(self.feature_names, self.log_odds_contributions(x).tolist(), k)


def load_encoded(d: Path, manifest: Mapping[str, Any], **kw: Any) -> ServingModel:
    """The logistic, MLP or ensemble artifact in directory ``d``."""
    from models.serving import load_model

    kind = manifest["kind"]
    if kind == "ensemble":
        names = manifest.get("members") or []
        if not names:
            raise ModelLoadError(f"{d}: an ensemble without members")
        return EnsembleServing(manifest, [load_model(d / MEMBERS_DIR / n) for n in names], **kw)
    fname, cls = (LINEAR_FILE, LinearModel) if kind == "logistic" else (MLP_FILE, MLPModel)
    fpath = d / fname
    try:
        model = cls.from_dict(json.loads(fpath.read_text()))
    except Exception as e:
        raise ModelLoadError(f"cannot load {kind} model {fpath}: {e}") from e
    return EncodedServing(manifest, model, **kw)
