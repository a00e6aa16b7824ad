"""Test cells: a deterministic share of applicants decided differently, so the lender learns.

A lender that only books what its policy approves never learns how the declined would
have done, and never sees a challenger policy decide for real. A cells file puts a small,
configurable share of applicants into cells recorded on every decision (``cell``):

- ``control``: the champion policy (everyone else);
- ``explore``: an applicant the PD cutoff would decline or refer is approved anyway, at a
  capped exposure (``max_amount`` per product) and only below ``max_pd``; never on a
  block-list hit, a fraud decline or review, a decline or review rule, an anomaly review,
  or an offer affordability does not allow (those stand as in control);
- ``strategy:<name>``: the named challenger policy decides live, its version recorded.

Assignment is a keyed hash of the applicant's identity (the keyed national-id hash the
worker computes, never the id in clear), salted by the file's ``salt``: the same person
lands in the same cell on every application and on every worker, and changing the salt
re-draws everyone. The application id plays no part, so re-applying cannot shop for a
cell.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from decisions.errors import PolicyError
from decisions.policy import Policy
from decisions.yaml_doc import load_yaml_doc

CONTROL = "control"
EXPLORE = "explore"
STRATEGY_PREFIX = "strategy:"
DEFAULT_CELLS_PATH = Path(__file__).parent / "cells" / "default.yaml"
#: the identity the cell is drawn from (a keyed hash, see features.identity)
IDENTITY_KEY = "NATIONAL_ID_HASH"
_SCALE = float(1 << 64)

Product = Literal["CREDIT_CARD", "PERSONAL_LOAN", "BNPL"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExplorationDoc(_M):
    share: float = Field(default=0.0, ge=0, le=0.2, description="Share of applicants.")
    max_pd: float = Field(default=0.3, gt=0, le=1, description="Above it even explore declines.")
    max_amount: dict[Product, float] = Field(
        default_factory=dict, description="Exposure cap per product (amount or limit).")


class StrategyDoc(_M):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    share: float = Field(gt=0, le=0.5)
    policy: str = Field(min_length=1, description="Policy YAML, relative to the cells file.")


class _CellsDoc(_M):
    version: str = Field(min_length=1)
    salt: str = Field(min_length=1)
    description: str = ""
    exploration: ExplorationDoc = Field(default_factory=ExplorationDoc)
    strategies: tuple[StrategyDoc, ...] = ()

    @model_validator(mode="after")
    def _shares(self) -> _CellsDoc:
        total = self.exploration.share + sum(s.share for s in self.strategies)
        if total > 0.5:
            raise ValueError(f"cells take {total:.0%} of applicants; at most 50% may leave "
                             "control")
        names = [s.name for s in self.strategies]
        if len(names) != len(set(names)):
            raise ValueError("strategy names must be distinct")
        if self.exploration.share > 0 and not self.exploration.max_amount:
            raise ValueError("exploration.max_amount must cap the exposure of every product "
                             "explored")
        return self


@dataclass(frozen=True, slots=True)
class Exploration:
    share: float
    max_pd: float
    max_amount: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Strategy:
    cell: str  # "strategy:<name>"
    share: float
    policy: Policy


class Cells:
    """A validated cells file; ``version`` = declared version + content hash."""

    def __init__(self, doc: _CellsDoc, digest: str, strategies: list[Strategy]) -> None:
        self.version = f"{doc.version}+{digest[:12]}"
        self.salt = doc.salt.encode()
        e = doc.exploration
        self.exploration = Exploration(e.share, e.max_pd,
                                       {str(k): v for k, v in e.max_amount.items()})
        self.strategies = tuple(strategies)
        self._bounds: list[tuple[float, str]] = []
        edge = e.share
        if e.share > 0:
            self._bounds.append((edge, EXPLORE))
        for s in strategies:
            edge += s.share
            self._bounds.append((edge, s.cell))
        self._policies = {s.cell: s.policy for s in strategies}

    @classmethod
    def from_yaml(cls, path: Path) -> Cells:
        doc, text = load_yaml_doc(path, _CellsDoc, "cells file")
        strategies = [Strategy(STRATEGY_PREFIX + s.name, s.share, _strategy_policy(path, s))
                      for s in doc.strategies]
        return cls(doc, hashlib.sha256(text.encode()).hexdigest(), strategies)

    @classmethod
    def default(cls) -> Cells:
        return cls.from_yaml(DEFAULT_CELLS_PATH)

    def position(self, identity_hash: str) -> float:
        """Where the applicant falls in [0, 1): uniform over identities, fixed per salt."""
        h = hashlib.blake2b(identity_hash.encode(), key=self.salt, digest_size=8).digest()
        return int.from_bytes(h, "big") / _SCALE

    def assign(self, hashed: Mapping[str, str] | None) -> str:
        """The applicant's cell; ``control`` when the identity hash is not given."""
        identity = (hashed or {}).get(IDENTITY_KEY)
        if not identity or not self._bounds:
            return CONTROL
        x = self.position(identity)
        for edge, cell in self._bounds:
            if x < edge:
                return cell
        return CONTROL

    def policy_for(self, cell: str) -> Policy | None:
        """The challenger policy deciding a strategy cell (None for control and explore)."""
        return self._policies.get(cell)


def _strategy_policy(path: Path, s: StrategyDoc) -> Policy:
    """A strategy cell's challenger policy, which must decide every product."""
    policy = Policy.from_yaml(path.parent / s.policy)
    missing = sorted(set(get_args(Product)) - set(policy.products))
    if missing:
        raise PolicyError(f"cells file {path}: strategy {s.name}'s policy {s.policy} has no "
                          f"policy for {', '.join(missing)}; a cell decides every product")
    return policy


#: no cells: everyone is in control
NO_CELLS = Cells(_CellsDoc(version="none", salt="none"), "0" * 12, [])
