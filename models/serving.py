"""Serving: one scoring contract for every model artifact, fast on single rows.

``ServingModel.score(x)`` takes a float64 vector in ``feature_names`` order and
returns a calibrated probability. LightGBM artifacts use the C API fast path
(`models.fastlgb`), scorecards a per-feature bisect over plain lists; neither goes
through sklearn or ``Booster.predict``. ``explain``/``reasons`` cost more
(TreeSHAP) and are meant for declines and reviews only; ``reasons`` gives only texts
that are true of the row (`models.reasons.true_text`: a few comparisons per candidate).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.calibration import Calibrator
from models.errors import ModelLoadError
from models.reasons import Reason, ReasonMap, as_rule, to_reasons, top_positive
from models.scorecard import Scale, Scorecard

MANIFEST = "manifest.json"
LGB_FILE = "model.txt"
SCORECARD_FILE = "scorecard.json"


class ServingModel:
    """A loaded artifact. Subclasses implement ``score_raw`` and ``explain``."""

    kind = "base"

    def __init__(self, manifest: Mapping[str, Any], reason_map: ReasonMap | None = None) -> None:
        self.manifest = dict(manifest)
        self.version: str = manifest["version"]
        self.name: str = manifest.get("name", "")
        self.target: str = manifest.get("target", "")
        self.feature_names: list[str] = list(manifest["feature_names"])
        self.feature_spec_version: str = manifest.get("feature_spec_version") or ""
        self.categories: dict[str, list[str]] = dict(manifest.get("categories", {}))
        self.calibrator = Calibrator.from_dict(manifest["calibration"])
        self.scale = Scale(**manifest.get("scale", {}))
        stored = {k: as_rule(v) for k, v in manifest.get("reasons", {}).items()}
        self.reason_map: ReasonMap = reason_map if reason_map is not None else stored

    # --- scoring --------------------------------------------------------------
    def score_raw(self, x: np.ndarray) -> float:
        """Uncalibrated log-odds of a bad for one row."""
        raise NotImplementedError

    def score(self, x: np.ndarray) -> float:
        """Calibrated probability for one row (float64, feature order)."""
        return self.calibrator.apply_one(self.score_raw(x))

    def score_batch_raw(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score_batch(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for many rows (evaluation, backfills)."""
        return self.calibrator.apply(self.score_batch_raw(X))

    # --- points and reasons ----------------------------------------------------
    def points_for_pd(self, pd: float) -> float:
        """Scorecard points of a probability: offset - factor * ln(pd / (1 - pd))."""
        return self.scale.points_for_pd(pd)

    def scorecard_points(self, x: np.ndarray) -> float:
        """Points of one row: the scorecard's own sum, or the points of the calibrated PD."""
        return self.points_for_pd(self.score(x))

    def explain(self, x: np.ndarray, k: int = 4) -> list[tuple[str, float]]:
        """Top ``k`` features pushing risk up, with their contribution."""
        raise NotImplementedError

    def log_odds_contributions(self, x: np.ndarray) -> np.ndarray:
        """Log-odds each feature adds (an ensemble averages its members' vectors)."""
        raise NotImplementedError

    def reasons(self, x: np.ndarray, k: int = 4) -> list[Reason]:
        """Top ``k`` reason codes and texts for one row (adverse-action notice): the largest
        contributions whose text is true of the row's values, the next one taking the place
        of one that is not (a missing bureau score says "no credit file", not "too low")."""
        values = dict(zip(self.feature_names, x.tolist(), strict=True))
        return to_reasons(self.explain(x, k=len(self.feature_names)), self.reason_map,
                          values, k)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.version} target={self.target}>"


class LightGBMServing(ServingModel):
    kind = "lightgbm"

    def __init__(self, manifest: Mapping[str, Any], booster: Any, **kw: Any) -> None:
        from models.fastlgb import C_API_PREDICT_CONTRIB, FastPredictor

        super().__init__(manifest, **kw)
        self.booster = booster
        self._raw = FastPredictor(booster)
        self._contrib = FastPredictor(booster, C_API_PREDICT_CONTRIB)
        self._raw_predict = self._raw.predict
        self._cal = self.calibrator.apply_one

    def score_raw(self, x: np.ndarray) -> float:
        return self._raw_predict(x)

    def score(self, x: np.ndarray) -> float:
        return self._cal(self._raw_predict(x))

    def score_batch_raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(X, raw_score=True), dtype=np.float64)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions (log-odds) per feature, plus the bias last."""
        return self._contrib.predict_vector(np.ascontiguousarray(x, dtype=np.float64))

    def log_odds_contributions(self, x: np.ndarray) -> np.ndarray:
        return self.contributions(x)[:-1]

    def explain(self, x: np.ndarray, k: int = 4) -> list[tuple[str, float]]:
        return top_positive(self.feature_names, self.contributions(x)[:-1].tolist(), k)


class ScorecardServing(ServingModel):
    kind = "scorecard"

    def __init__(self, manifest: Mapping[str, Any], card: Scorecard, **kw: Any) -> None:
        super().__init__(manifest, **kw)
        self.card = card
        self.scale = card.scale
        pos = {n: i for i, n in enumerate(self.feature_names)}
        tables = card.points_table()
        # per kept feature: (column, numeric?, edges, code->bin, points, bisect, special codes)
        self._plan = [
            (pos[fb.name], fb.kind == "numeric", list(fb.edges), dict(fb.groups), t.tolist(),
             bisect_right if fb.closed == "left" else bisect_left, frozenset(fb.specials))
            for fb, t in zip(card.bins, tables, strict=True)
        ]
        self._best = [max(plan[4]) for plan in self._plan]

    def _row_points(self, x: np.ndarray) -> list[float]:
        vals = x.tolist()
        out = []
        for col, numeric, edges, groups, pts, bisect, specials in self._plan:
            v = vals[col]
            if v != v:  # NaN -> missing bin
                out.append(pts[-1])
            elif numeric:
                out.append(pts[-2] if v in specials else pts[bisect(edges, v)])
            else:
                out.append(pts[groups.get(int(v), len(pts) - 2)])
        return out

    def scorecard_points(self, x: np.ndarray) -> float:
        return float(sum(self._row_points(x)))

    def score_raw(self, x: np.ndarray) -> float:
        return (self.scale.offset - sum(self._row_points(x))) / self.scale.factor

    def score_batch_raw(self, X: np.ndarray) -> np.ndarray:
        return self.card.raw(X)

    def explain(self, x: np.ndarray, k: int = 4) -> list[tuple[str, float]]:
        """Points lost against each feature's best bin (the scorecard's adverse-action rule)."""
        lost = [b - p for b, p in zip(self._best, self._row_points(x), strict=True)]
        names = [self.feature_names[col] for col, *_ in self._plan]
        return top_positive(names, lost, k)

    def log_odds_contributions(self, x: np.ndarray) -> np.ndarray:
        """Points lost against each kept feature's best bin, in log-odds (0 elsewhere)."""
        out = np.zeros(len(self.feature_names))
        for (col, *_), b, p in zip(self._plan, self._best, self._row_points(x), strict=True):
            out[col] = (b - p) / self.scale.factor
        return out


class ReorderedServing(ServingModel):
    """A model trained on another feature list, fed from vectors in the caller's order.

    The stream builds one vector in the current feature spec's order; a model trained on
    an earlier spec (features added since) picks its own columns out of it by index.
    """

    def __init__(self, inner: ServingModel, take: np.ndarray) -> None:
        super().__init__(inner.manifest, inner.reason_map)
        self.inner = inner
        self.kind = inner.kind
        self.scale = inner.scale
        self._take = take

    def score_raw(self, x: np.ndarray) -> float:
        return self.inner.score_raw(x[self._take])

    def score(self, x: np.ndarray) -> float:
        return self.inner.score(x[self._take])

    def score_batch_raw(self, X: np.ndarray) -> np.ndarray:
        return self.inner.score_batch_raw(X[:, self._take])

    def scorecard_points(self, x: np.ndarray) -> float:
        return self.inner.scorecard_points(x[self._take])

    def explain(self, x: np.ndarray, k: int = 4) -> list[tuple[str, float]]:
        return self.inner.explain(x[self._take], k)

    def reasons(self, x: np.ndarray, k: int = 4) -> list[Reason]:
        return self.inner.reasons(x[self._take], k)

    def log_odds_contributions(self, x: np.ndarray) -> np.ndarray:
        return self.inner.log_odds_contributions(x[self._take])


def for_feature_order(model: ServingModel, names: Sequence[str]) -> ServingModel:
    """``model`` scoring vectors laid out as ``names``; refuses a model that needs a feature
    the vector does not carry (scoring it would silently read the wrong columns)."""
    if model.feature_names == list(names):
        return model
    pos = {n: i for i, n in enumerate(names)}
    missing = [n for n in model.feature_names if n not in pos]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ModelLoadError(
            f"model {model.version} needs {len(missing)} feature(s) this pipeline does not "
            f"compute ({shown}); its feature spec is {model.feature_spec_version or 'unknown'}. "
            "Retrain it on the current spec (`loanrisk features build`, `loanrisk train`)."
        )
    return ReorderedServing(model, np.array([pos[n] for n in model.feature_names], np.intp))


def load_model(path: Path | str, reason_map: ReasonMap | None = None) -> ServingModel:
    """Load an artifact directory; any failure raises `ModelLoadError` naming the file."""
    d = Path(path)
    mpath = d / MANIFEST
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot read model manifest {mpath}: {e}") from e
    kind = manifest.get("kind")
    if kind == "lightgbm":
        fpath = d / LGB_FILE
        try:
            import lightgbm as lgb

            booster = lgb.Booster(model_str=fpath.read_text())
        except Exception as e:
            raise ModelLoadError(f"cannot load LightGBM model {fpath}: {e}") from e
        if booster.num_feature() != len(manifest["feature_names"]):
            raise ModelLoadError(f"{fpath} has {booster.num_feature()} features, manifest differs")
        return LightGBMServing(manifest, booster, reason_map=reason_map)
    if kind == "scorecard":
        fpath = d / SCORECARD_FILE
        try:
            card = Scorecard.from_dict(json.loads(fpath.read_text()))
        except Exception as e:
            raise ModelLoadError(f"cannot load scorecard {fpath}: {e}") from e
        return ScorecardServing(manifest, card, reason_map=reason_map)
    if kind in ("logistic", "mlp", "ensemble"):
        from models.serving_encoded import load_encoded

        return load_encoded(d, manifest, reason_map=reason_map)
    raise ModelLoadError(f"{mpath}: unknown model kind {kind!r}; expected lightgbm, "
                         "scorecard, logistic, mlp or ensemble")


def logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))
