"""The types of the feature specification (``features/spec.py`` declares the features).

``FeatureSpec.version`` is a content hash of the declarations plus ``SEMANTICS``; the
reason metadata (``REASON_TRUTH_FIELDS``) says what an applicant may be told, not what is
computed, so it stays out of the version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from features.errors import FeatureError

#: bump when the computation of any feature changes but its declaration does not
SEMANTICS = "1.1.0"  # 1.1: identifiers hashed in canonical form (features.canonical)

Value = float | None


class MissingReason(NamedTuple):
    """What a missing value may truthfully say: ``code`` and ``text``, given only when the
    indicator feature ``when`` is 1 (or always, when ``when`` is None)."""

    code: str
    text: str
    when: str | None = None


@dataclass(frozen=True, slots=True)
class FeatureDef:
    name: str
    dtype: str  # "count" | "float" | "flag" (0/1); all travel as float64
    default: float | None  # value used when it cannot be computed; None = missing (NaN)
    description: str
    family: str  # velocity | distinct | graph | session | applicant | bureau | product
    reason_code: str
    reason_text: str
    monotone: int = 0  # +1: higher raises default/fraud risk; -1: lowers it; 0: no constraint
    # reason metadata (see the module docstring): the reason text is true of a value below
    # ``adverse_below`` or above ``adverse_above``; with neither, the feature gives no reason
    adverse_below: float | None = None
    adverse_above: float | None = None
    if_missing: tuple[MissingReason, ...] = ()  # first applicable one, else no reason

#: reason metadata: what an applicant is told, not what is computed (not in the version)
REASON_TRUTH_FIELDS = ("adverse_below", "adverse_above", "if_missing")


class FeatureSpec:
    """Ordered, versioned feature definitions with vector helpers."""

    def __init__(self, defs: Sequence[FeatureDef]) -> None:
        names = [d.name for d in defs]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise FeatureError(f"duplicate feature names in the spec: {dupes}")
        for d in defs:
            if d.monotone not in (-1, 0, 1):
                raise FeatureError(f"{d.name}: monotone must be -1, 0 or 1")
        self.defs: list[FeatureDef] = list(defs)
        self.names: list[str] = names
        self.index: dict[str, int] = {n: i for i, n in enumerate(names)}
        self.by_name: dict[str, FeatureDef] = {d.name: d for d in defs}
        #: (name, default) in order: the vector helpers run per application on the hot path
        self._defaults: tuple[tuple[str, Value], ...] = tuple((d.name, d.default) for d in defs)
        declared = [{k: v for k, v in asdict(d).items() if k not in REASON_TRUTH_FIELDS}
                    for d in defs]
        blob = json.dumps(declared, sort_keys=True).encode()
        digest = hashlib.sha256(blob + SEMANTICS.encode()).hexdigest()[:8]
        self.version: str = f"fs-{SEMANTICS}-{digest}"

    def __len__(self) -> int:
        return len(self.defs)

    @property
    def monotone(self) -> list[int]:
        """Per-feature monotone directions in vector order (LightGBM's monotone_constraints)."""
        return [d.monotone for d in self.defs]

    def complete(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """All spec features in order, with declared defaults for absent keys."""
        get = values.get
        return {name: get(name, default) for name, default in self._defaults}

    def to_array(self, values: Mapping[str, Value]) -> np.ndarray:
        """Float64 vector in spec order; absent keys take their default, None becomes NaN."""
        get = values.get
        return np.array([get(name, default) for name, default in self._defaults],
                        dtype=np.float64)

    def to_list(self, values: Mapping[str, Value]) -> list[float | None]:
        """Values in spec order as plain floats/None (for the feature_vector Avro record)."""
        get = values.get
        return [None if (v := get(name, default)) is None else float(v)
                for name, default in self._defaults]

    def reason(self, name: str) -> tuple[str, str]:
        """(reason_code, reason_text) for a feature, e.g. from a SHAP top contributor."""
        d = self.by_name.get(name)
        if d is None:
            raise FeatureError(f"no feature {name!r} in spec {self.version}")
        return d.reason_code, d.reason_text
