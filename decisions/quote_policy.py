"""Quote policy: what a pre-qualification quote adds to the application policy.

A quote's indicative decision is the application policy's (the same lists, rules,
cutoffs, grades and offers: ``DecisionEngine``) on the features an application made now
would get; the quote policy file (``decisions/quotes/default.yaml``) adds how long a
quote is valid and the quote-velocity limits (``limits``: a feature of
``features.spec.QUOTE_SPEC`` -> the most allowed), above which the quote is declined with
that feature's reason -- so many quotes cannot probe the policy or scrape its prices.
``.version`` = declared version + content hash, recorded on every quote.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from decisions.errors import PolicyError
from decisions.yaml_doc import load_yaml_doc

DEFAULT_QUOTE_POLICY_PATH = Path(__file__).parent / "quotes" / "default.yaml"
DAY_MS = 24 * 3600 * 1000
QUOTE_SOURCE = "QUOTE"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    valid_days: int = Field(gt=0)
    limits: dict[str, float] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LimitHit:
    feature: str
    value: float
    limit: float


class QuotePolicy:
    """A validated quote policy file; ``known`` names the quote-velocity features."""

    def __init__(self, doc: _Doc, digest: str) -> None:
        self.doc = doc
        self.version = f"{doc.version}+{digest[:12]}"

    @classmethod
    def from_yaml(cls, path: Path, known: Sequence[str]) -> QuotePolicy:
        doc, text = load_yaml_doc(path, _Doc, "quote policy")
        unknown = sorted(set(doc.limits) - set(known))
        if unknown:
            raise PolicyError(f"quote policy {path}: limits on unknown features {unknown}; "
                              f"the quote-velocity features are {list(known)}")
        return cls(doc, hashlib.sha256(text.encode()).hexdigest())

    def valid_until(self, event_time: int) -> int:
        return int(event_time) + self.doc.valid_days * DAY_MS

    def over_limits(self, velocity: Mapping[str, float]) -> list[LimitHit]:
        """The limits this request's quote velocity exceeds, in the file's order."""
        return [LimitHit(f, float(velocity[f]), lim) for f, lim in self.doc.limits.items()
                if float(velocity.get(f, 0.0)) > lim]


def limit_reasons(hits: Sequence[LimitHit], reason: Callable[[str], tuple[str, str]]
                  ) -> list[dict[str, str]]:
    """Reason codes of the exceeded limits (``reason``: feature -> (code, text)), one per
    text."""
    out: list[dict[str, str]] = []
    for h in hits:
        code, text = reason(h.feature)
        if all(r["text"] != text for r in out):
            out.append({"code": code, "text": text, "source": QUOTE_SOURCE})
    return out
