"""The models a worker scores with, swapped in place when the registry changes.

A worker polls the registry's roles file; when a promotion changes it, the new
versions are loaded and swapped in whole. A model that fails to load is
reported and the previous one stays in service: a bad release never stops
decisions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.reasons import ReasonMap
from models.registry import ROLES_FILE, Registry
from models.serving import ServingModel, for_feature_order
from schemas.errors import LoanRiskError
from schemas.records import Scores

log = logging.getLogger(__name__)


@dataclass
class ModelSet:
    pd: ServingModel | None = None
    fraud: ServingModel | None = None
    challenger_pd: ServingModel | None = None
    challenger_fraud: ServingModel | None = None

    def versions(self) -> dict[str, str]:
        out = {}
        if self.pd is not None:
            out["model_pd"] = self.pd.version
        if self.fraud is not None:
            out["model_fraud"] = self.fraud.version
        return out

    def challenger_versions(self) -> dict[str, str]:
        out = {}
        if self.challenger_pd is not None:
            out["model_pd"] = self.challenger_pd.version
        if self.challenger_fraud is not None:
            out["model_fraud"] = self.challenger_fraud.version
        return out

    @property
    def has_challenger(self) -> bool:
        return self.challenger_pd is not None or self.challenger_fraud is not None


def model_scores(models: ModelSet, x: np.ndarray) -> Scores:
    """The champion models' scores of one vector (``x`` in the models' feature order):
    what the worker decides on, and what an audit or a counterfactual re-runs with the
    recorded versions. The anomaly score is the caller's (an online model)."""
    scores: Scores = {
        "pd": None, "fraud_probability": models.fraud.score(x) if models.fraud else None,
        "scorecard_points": None, "anomaly_score": None,
    }
    if models.pd is not None:
        scores["pd"] = pd = models.pd.score(x)
        scores["scorecard_points"] = models.pd.points_for_pd(pd)
    return scores


class ModelSlots:
    """Holds the current ModelSet; ``refresh()`` reloads when roles change."""

    def __init__(
        self,
        registry_root: Path,
        reason_map: ReasonMap,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        """``feature_names``: the order of the vectors the worker scores (the feature spec);
        a model trained on another list is served through its own columns, or refused."""
        self.registry = Registry(registry_root)
        self.reason_map = reason_map
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.current = ModelSet()
        self.last_error: str | None = None
        self._loaded_roles: dict[str, dict[str, str]] | None = None
        self._stamp: float | None = None

    def refresh(self) -> bool:
        """Load newly promoted versions; True if the set changed. Never raises."""
        roles_path = self.registry.root / ROLES_FILE
        try:
            stamp = roles_path.stat().st_mtime_ns
        except OSError:
            return False
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            roles = self.registry.roles()
        except LoanRiskError as exc:
            self.last_error = str(exc)
            log.error("model registry unreadable, keeping current models: %s", exc)
            return False
        return self.apply_roles(roles)

    def apply_roles(self, roles: dict[str, dict[str, str]]) -> bool:
        """Serve the versions named in ``roles`` ({role: {name: version}}), loading them
        from the registry; a version that fails to load leaves its slot as it was."""
        if roles == self._loaded_roles:
            return False
        old, new = self.current, ModelSet()
        for role, name, attr in (("champion", "pd", "pd"), ("champion", "fraud", "fraud"),
                                 ("challenger", "pd", "challenger_pd"),
                                 ("challenger", "fraud", "challenger_fraud")):
            version = roles.get(role, {}).get(name)
            current: ServingModel | None = getattr(old, attr)
            if version is None:
                continue
            if current is not None and current.version == version:
                setattr(new, attr, current)
                continue
            try:
                model = self.registry.load_version(version, self.reason_map)
                if self.feature_names is not None:
                    model = for_feature_order(model, self.feature_names)
                setattr(new, attr, model)
                log.info("loaded %s %s model %s", role, name, version)
            except Exception as exc:  # a broken artifact must not stop decisions
                self.last_error = f"{role} {name} model {version} failed to load: {exc}"
                log.error("%s; keeping %s", self.last_error,
                          current.version if current else "no model")
                setattr(new, attr, current)
        self.current = new
        self._loaded_roles = roles
        return True
