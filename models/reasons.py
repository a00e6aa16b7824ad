"""Reason codes: which features pushed risk up the most, as stable codes and true texts.

What an adverse-action notice needs: not the model's internals but the top few
factors, each with a code that does not change between model versions (it comes
from the feature spec) and a text a person can read -- and that is TRUE of the
applicant. TreeSHAP attributes risk to missing values and to values on the
favourable side of the population too; "Credit bureau score is too low" for an
applicant with no bureau file is untrue. So each feature's `ReasonRule` says when
its text may be given: a present value only on the adverse side of its reference,
a missing value only as its own missing-data reason (`MissingReason`, e.g. "No
credit file found"), and otherwise the slot goes to the next true reason. The check
is a few comparisons per candidate: no model call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple


class MissingReason(NamedTuple):
    """The reason a missing value gives: true only while the indicator feature ``when`` is
    1 (e.g. ``bureau_missing``), or always when ``when`` is None."""

    code: str
    text: str
    when: str | None = None


class ReasonRule(NamedTuple):
    """A feature's reason code and text, and when the text is true of a value.

    ``below`` / ``above``: the text is true of a value below / above this reference (with
    neither, the rule cannot check the value and the text is given as before -- only maps
    without the spec's metadata, e.g. a manifest's, are like that). ``if_missing``: what a
    missing value says, the first applicable one; none applicable means no reason.
    """

    code: str
    text: str
    below: float | None = None
    above: float | None = None
    if_missing: tuple[MissingReason, ...] = ()


#: feature -> its rule; a plain (code, text) pair is a rule without references
ReasonMap = Mapping[str, ReasonRule | tuple[str, str]]
#: a feature's value by name (NaN or None when missing)
Values = Mapping[str, float | None]


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    feature: str
    contribution: float  # log-odds added (LightGBM) or points lost (scorecard)


def default_reason(feature: str) -> tuple[str, str]:
    """Fallback code and text for a feature the spec does not describe."""
    return f"F_{feature.upper()}", f"Value of {feature.replace('_', ' ')}"


#: the reference of a spec feature whose text claims no side: no value is below it
NEVER = -math.inf


def reason_map_from_spec(spec: Any) -> dict[str, ReasonRule]:
    """The `ReasonMap` of a feature spec: any object with ``.defs`` of items with name,
    reason_code, reason_text and (optionally) adverse_below, adverse_above, if_missing.
    A spec feature with neither reference never gives its text for a present value."""
    out = {}
    for d in getattr(spec, "defs", ()):
        below, above = getattr(d, "adverse_below", None), getattr(d, "adverse_above", None)
        out[d.name] = ReasonRule(
            d.reason_code, d.reason_text, NEVER if below is None and above is None else below,
            above, tuple(MissingReason(*m) for m in getattr(d, "if_missing", ())))
    return out


def as_rule(entry: ReasonRule | Sequence[Any]) -> ReasonRule:
    """A map entry as a rule: a (code, text) pair, a manifest's list, or a rule."""
    if isinstance(entry, ReasonRule):
        return entry
    code, text, *rest = entry
    below, above, missing = (*rest, None, None, ())[:3]
    return ReasonRule(str(code), str(text), below, above,
                      tuple(MissingReason(*m) for m in missing or ()))


def _is_missing(v: float | None) -> bool:
    return v is None or math.isnan(v)


def true_text(rule: ReasonRule, value: float | None, values: Values) -> tuple[str, str] | None:
    """(code, text) this rule may truthfully give for ``value``, or None.

    A present value gives the rule's text only on the adverse side of its reference; a
    missing value gives its first missing-data reason whose indicator is set in ``values``.
    """
    if _is_missing(value):
        for m in rule.if_missing:
            if m.when is None or values.get(m.when) == 1:
                return m.code, m.text
        return None
    assert value is not None
    if rule.below is None and rule.above is None:  # no reference known: as given
        return rule.code, rule.text
    if (rule.below is not None and value < rule.below) or (
            rule.above is not None and value > rule.above):
        return rule.code, rule.text
    return None


def top_positive(
    names: Sequence[str], contributions: Sequence[float], k: int = 4
) -> list[tuple[str, float]]:
    """The ``k`` features with the largest positive contribution, largest first."""
    pairs = [(n, float(c)) for n, c in zip(names, contributions, strict=True) if c > 0]
    pairs.sort(key=lambda p: (-p[1], p[0]))
    return pairs[:k]


def to_reasons(pairs: Sequence[tuple[str, float]], reason_map: ReasonMap,
               values: Values | None = None, k: int | None = None) -> list[Reason]:
    """Map (feature, contribution) pairs, largest first, to `Reason`s.

    With ``values`` (the row, by feature name), a pair whose text is not true of the
    applicant (`true_text`) gives its place to the next one; without them nothing is
    checked (every pair maps to its text). A code or a text shared by
    several features appears once: an applicant should not read the same reason twice.
    ``k``: stop after this many reasons.
    """
    row: Values = values or {}
    out: list[Reason] = []
    seen: set[str] = set()
    for feature, contribution in pairs:
        entry = reason_map.get(feature)
        rule = as_rule(entry) if entry is not None else ReasonRule(*default_reason(feature))
        given = true_text(rule, row.get(feature), row) if values is not None else (
            rule.code, rule.text)
        if given is None:
            continue
        code, text = given
        if code in seen or text in seen:
            continue
        seen.add(code)
        seen.add(text)
        out.append(Reason(code, text, feature, contribution))
        if k is not None and len(out) == k:
            break
    return out
