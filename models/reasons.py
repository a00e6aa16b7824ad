"""Reason codes: which features pushed risk up the most, as stable codes and texts.

What an adverse-action notice needs: not the model's internals but the top few
factors, each with a code that does not change between model versions (it comes
from the feature spec) and a text a person can read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ReasonMap = Mapping[str, tuple[str, str]]  # feature -> (code, text)


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    feature: str
    contribution: float  # log-odds added (LightGBM) or points lost (scorecard)


def default_reason(feature: str) -> tuple[str, str]:
    """Fallback code and text for a feature the spec does not describe."""
    return f"F_{feature.upper()}", f"Value of {feature.replace('_', ' ')}"


def reason_map_from_spec(spec: Any) -> dict[str, tuple[str, str]]:
    """Build a `ReasonMap` from any object with ``.defs`` of items with name/reason_code/text."""
    return {d.name: (d.reason_code, d.reason_text) for d in getattr(spec, "defs", ())}


def top_positive(
    names: Sequence[str], contributions: Sequence[float], k: int = 4
) -> list[tuple[str, float]]:
    """The ``k`` features with the largest positive contribution, largest first."""
    pairs = [(n, float(c)) for n, c in zip(names, contributions, strict=True) if c > 0]
    pairs.sort(key=lambda p: (-p[1], p[0]))
    return pairs[:k]


def to_reasons(pairs: Sequence[tuple[str, float]], reason_map: ReasonMap) -> list[Reason]:
    """Map (feature, contribution) pairs to `Reason`s. A code or a text shared by several
    features appears once: an applicant should not read the same reason twice."""
    out: list[Reason] = []
    seen: set[str] = set()
    for feature, contribution in pairs:
        code, text = reason_map.get(feature) or default_reason(feature)
        if code in seen or text in seen:
            continue
        seen.add(code)
        seen.add(text)
        out.append(Reason(code, text, feature, contribution))
    return out
