"""Online, unsupervised anomaly score from River's HalfSpaceTrees, with bounded cost.

Learns from every application's features (no labels needed, so it works from the
first day of a new product) and yields a score in [0, 1], higher = more unusual.

Why these defaults: HalfSpaceTrees swaps the mass profile of every node of every
tree each ``window_size`` events. River's default height 15 means 25 x 65,536 nodes
and a 200-340 ms stall per window on this machine. Height 6 (25 x 127 nodes) and a
1,000-event window keep the swap at ~0.2 ms and a learn+score at ~25 µs (measured in
``bench/bench_models.py``). Inputs must lie in [0, 1]: give fixed per-feature
``bounds`` (preferred: stable across restarts and workers; e.g. min/max of history
via `bounds_from_frame`; values are scaled and clipped to [0, 1]), or River's online
MinMaxScaler is used. Missing values are replaced by the feature's lower bound.

State (trees, masses, scaler) is checkpointed with pickle and restored exactly, so a
restarted worker scores the next event as the old one would have.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from models.errors import ModelLoadError

FORMAT = 1


class AnomalyModel:
    """HalfSpaceTrees (+ optional MinMaxScaler) over a fixed list of features."""

    def __init__(
        self,
        features: Sequence[str],
        bounds: Mapping[str, tuple[float, float]] | None = None,
        n_trees: int = 25,
        height: int = 6,
        window_size: int = 1000,
        seed: int = 42,
    ) -> None:
        from river import anomaly, compose, preprocessing

        self.features = list(features)
        self.bounds = {f: (float(lo), float(hi)) for f, (lo, hi) in (bounds or {}).items()}
        self._fill = {f: self.bounds.get(f, (0.0, 1.0))[0] for f in self.features}
        self.params: dict[str, Any] = {
            "n_trees": n_trees,
            "height": height,
            "window_size": window_size,
        }
        self.seed = seed
        self.version = f"hst-t{n_trees}-h{height}-w{window_size}-s{seed}"
        self.n_learned = 0
        # per feature: (name, low, 1 / range) for fixed bounds, else None (online MinMaxScaler)
        self._scale = [
            (f, self.bounds[f][0], 1.0 / (self.bounds[f][1] - self.bounds[f][0]))
            if f in self.bounds
            else (f, 0.0, 1.0)
            for f in self.features
        ]
        if self.bounds:
            # Scale and clip ourselves: River's own ``limits`` option separated outliers
            # far worse on our data (outlier below the 99th percentile of normal scores).
            self.model: Any = anomaly.HalfSpaceTrees(**self.params, seed=seed)
        else:
            self.model = compose.Pipeline(
                preprocessing.MinMaxScaler(),
                anomaly.HalfSpaceTrees(**self.params, seed=seed),
            )

    def _clean(self, x: Mapping[str, float | None]) -> dict[str, float]:
        out = {}
        if self.bounds:
            for f, lo, inv in self._scale:
                v = x.get(f)
                if v is None or v != v:
                    out[f] = 0.0
                else:
                    z = (float(v) - lo) * inv
                    out[f] = 0.0 if z < 0.0 else 1.0 if z > 1.0 else z
            return out
        for f in self.features:
            v = x.get(f)
            out[f] = self._fill[f] if v is None or v != v else float(v)
        return out

    def score_one(self, x: Mapping[str, float | None]) -> float:
        """Anomaly score in [0, 1] of one event (does not learn from it)."""
        s = float(self.model.score_one(self._clean(x)))
        return 0.0 if s < 0.0 else 1.0 if s > 1.0 else s

    def learn_one(self, x: Mapping[str, float | None]) -> None:
        self.model.learn_one(self._clean(x))
        self.n_learned += 1

    def score_and_learn(self, x: Mapping[str, float | None]) -> float:
        """Score first, then learn: the stream's per-event call."""
        clean = self._clean(x)
        s = float(self.model.score_one(clean))
        self.model.learn_one(clean)
        self.n_learned += 1
        return 0.0 if s < 0.0 else 1.0 if s > 1.0 else s

    # --- checkpoints ------------------------------------------------------------
    def save(self, path: Path | str) -> None:
        """Write a checkpoint atomically (temp file + rename): a crash never leaves half a file."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.")
        with os.fdopen(fd, "wb") as f:
            pickle.dump({"format": FORMAT, "model": self}, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, p)

    @classmethod
    def load(cls, path: Path | str) -> AnomalyModel:
        """Restore a checkpoint written by `save` (trusted, local files only: it is a pickle)."""
        p = Path(path)
        try:
            with p.open("rb") as f:
                data = pickle.load(f)
            model = data["model"]
        except Exception as e:
            raise ModelLoadError(f"cannot load anomaly checkpoint {p}: {e}") from e
        if data.get("format") != FORMAT or not isinstance(model, cls):
            raise ModelLoadError(f"{p} is not an anomaly checkpoint of format {FORMAT}")
        return model


def bounds_from_frame(
    frame: Any, features: Sequence[str], lo_q: float = 0.0, hi_q: float = 1.0
) -> dict[str, tuple[float, float]]:
    """Per-feature (low, high) bounds from history quantiles (a pandas DataFrame)."""
    out = {}
    for f in features:
        col = frame[f].dropna()
        lo, hi = (float(col.quantile(lo_q)), float(col.quantile(hi_q))) if len(col) else (0, 1)
        out[f] = (lo, hi if hi > lo else lo + 1.0)
    return out
