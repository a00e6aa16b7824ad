"""The adverse-action reason catalogue a reviewer may give on a decline.

Built from the texts the automated engine already gives (policy and list reasons, rule
reasons, feature reasons): one vocabulary for applicants whoever declined them. Reasons
that only say a case went to a person (the review band) are not adverse-action reasons
and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from decisions.engine import POLICY_TEXTS, REVIEW_BAND, REVIEW_WORDING


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str


#: reasons only a reviewer gives (what a person established, not a score)
REVIEWER_TEXTS: dict[str, str] = {
    "H-DOCS": "Documents requested to verify the application were not provided",
    "H-INCOME": "Income could not be verified",
    "H-IDENTITY": "Unable to verify the identity information provided",
}


def build_catalogue(rule_reasons: Iterable[tuple[str, str]] = (),
                    feature_reasons: Iterable[tuple[str, str]] = ()) -> dict[str, Reason]:
    """Code -> reason, reviewer reasons first; later sources never replace a code."""
    out: dict[str, Reason] = {}
    sources: list[Iterable[tuple[str, str]]] = [
        REVIEWER_TEXTS.items(), POLICY_TEXTS.items(), rule_reasons, feature_reasons]
    for source in sources:
        for code, text in source:
            if code in REVIEW_BAND or REVIEW_WORDING.search(text) or code in out:
                continue
            out[code] = Reason(code, text)
    return out


def default_catalogue(rules: Iterable[tuple[str, str]] = ()) -> Mapping[str, Reason]:
    """The catalogue of the packaged feature spec plus ``rules`` ((code, text) pairs)."""
    from features.spec import FEATURE_SPEC

    features = [(d.reason_code, d.reason_text) for d in FEATURE_SPEC.defs]
    return build_catalogue(rules, features)
