"""Servicing policy: account actions after a statement, and the collection treatment.

A policy file (``decisions/servicing/default.yaml``) sets, for cards, when to raise a
line (low B-score, seasoned, using the line, never late; capped by affordability: the
new limit at most ``max_limit_to_income`` of the annual income on file) and when to
lower it (high B-score; never below ``min_headroom`` of the balance); the early-warning
flag; proactive hardship contact; and for accounts entering 30 days past due, the
treatment with the lowest expected cost (treatment cost + P(charge-off | treatment) x
balance x ``loss_given_chargeoff``), except in the random challenger cells
(``challenger_share``, a keyed hash of the account) that get a uniformly random
treatment so strategies can be compared live. ``.version`` = declared version + content
hash, recorded on every action.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from decisions.yaml_doc import load_yaml_doc
from schemas.servicing import TREATMENTS

DEFAULT_SERVICING_POLICY_PATH = Path(__file__).parent / "servicing" / "default.yaml"
CHAMPION, CHALLENGER = "champion", "challenger:random"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineIncrease(_M):
    max_bscore: float = Field(ge=0, le=1)
    min_months_on_book: int = Field(ge=0)
    min_utilisation: float = Field(ge=0)
    max_worst_dpd_12m: int = Field(ge=0)
    step: float = Field(gt=0, le=2)
    max_limit_to_income: float = Field(gt=0)


class LineDecrease(_M):
    min_bscore: float = Field(ge=0, le=1)
    step: float = Field(gt=0, lt=1)
    min_headroom: float = Field(ge=1)


class EarlyWarning(_M):
    min_bscore: float = Field(ge=0, le=1)


class Hardship(_M):
    min_bscore: float = Field(ge=0, le=1)
    max_payment_ratio: float = Field(ge=0)
    min_cash_advance_months_6m: int = Field(ge=0)


class Collections(_M):
    costs: dict[str, float]
    loss_given_chargeoff: float = Field(ge=0, le=1)
    challenger_share: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _every_treatment(self) -> Collections:
        if set(self.costs) != set(TREATMENTS):
            raise ValueError(f"collections.costs needs exactly {list(TREATMENTS)}")
        return self


class _Doc(_M):
    version: str = Field(min_length=1)
    line_increase: LineIncrease
    line_decrease: LineDecrease
    early_warning: EarlyWarning
    hardship_contact: Hardship
    collections: Collections


@dataclass(frozen=True, slots=True)
class AccountAction:
    """One action on one account: what, why (a reason code and its text) and the details."""

    action: str  # schemas.servicing.ACCOUNT_ACTIONS
    reason_code: str
    reason: str
    new_limit: float | None = None
    treatment: str | None = None
    cell: str = CHAMPION


@dataclass(frozen=True, slots=True)
class AccountView:
    """What the policy reads of an account at a statement."""

    is_card: bool
    months_on_book: int
    utilisation: float
    worst_dpd_12m: float
    payment_ratio: float  # NaN when unknown
    cash_advance_months_6m: float
    credit_limit: float
    balance: float
    income: float | None  # annual income on file


class ServicingPolicy:
    """A validated servicing policy file."""

    def __init__(self, doc: _Doc, digest: str) -> None:
        self.doc = doc
        self.version = f"{doc.version}+{digest[:12]}"

    @classmethod
    def from_yaml(cls, path: Path = DEFAULT_SERVICING_POLICY_PATH) -> ServicingPolicy:
        doc, text = load_yaml_doc(path, _Doc, "servicing policy")
        return cls(doc, hashlib.sha256(text.encode()).hexdigest())

    def account_actions(self, a: AccountView, bscore: float) -> list[AccountAction]:
        """Line change, early warning and hardship contact for a current account."""
        out: list[AccountAction] = []
        line = self._line_change(a, bscore)
        if line is not None:
            out.append(line)
        d = self.doc
        if bscore >= d.early_warning.min_bscore:
            out.append(AccountAction("EARLY_WARNING", "S-EW",
                                     "Behaviour score in the early-warning band"))
        h = d.hardship_contact
        minimum_only = a.payment_ratio <= h.max_payment_ratio  # NaN compares False
        if bscore >= h.min_bscore or (minimum_only and a.cash_advance_months_6m
                                      >= h.min_cash_advance_months_6m):
            out.append(AccountAction("HARDSHIP_CONTACT", "S-HARDSHIP",
                                     "Signs of financial difficulty: offer help early"))
        return out

    def _line_change(self, a: AccountView, bscore: float) -> AccountAction | None:
        if not a.is_card or a.credit_limit <= 0:
            return None
        up, down = self.doc.line_increase, self.doc.line_decrease
        if (bscore <= up.max_bscore and a.months_on_book >= up.min_months_on_book
                and a.utilisation >= up.min_utilisation
                and a.worst_dpd_12m <= up.max_worst_dpd_12m and a.income):
            cap = up.max_limit_to_income * a.income
            new = min(round(a.credit_limit * (1 + up.step), -1), cap)
            if new > a.credit_limit:
                capped = " (capped by affordability)" if new == cap else ""
                return AccountAction("CREDIT_LINE_INCREASE", "S-CLI",
                                     "Low behaviour risk and regular use of the line" + capped,
                                     new_limit=float(new))
        if bscore >= down.min_bscore:
            new = max(round(a.credit_limit * (1 - down.step), -1),
                      round(a.balance * down.min_headroom, -1))
            if new < a.credit_limit:
                return AccountAction("CREDIT_LINE_DECREASE", "S-CLD",
                                     "High behaviour risk: unused line reduced",
                                     new_limit=float(new))
        return None

    def expected_costs(self, p_chargeoff: Mapping[str, float], balance: float
                       ) -> dict[str, float]:
        """Treatment cost + P(charge-off | treatment) x balance x loss given charge-off."""
        c = self.doc.collections
        return {t: c.costs[t] + p_chargeoff[t] * balance * c.loss_given_chargeoff
                for t in TREATMENTS}

    def treatment(self, account_id: str, p_chargeoff: Mapping[str, float], balance: float,
                  salt: str = "") -> AccountAction:
        """The treatment for an account entering 30 DPD: the cheapest in expectation, or
        a random one in the challenger cells."""
        h = hashlib.sha256(f"{salt}:{account_id}".encode()).digest()
        if int.from_bytes(h[:8], "big") / 2**64 < self.doc.collections.challenger_share:
            t = TREATMENTS[h[8] % len(TREATMENTS)]
            return AccountAction("COLLECTION_TREATMENT", "S-COLL-CELL",
                                 "Random treatment cell (strategy test)", treatment=t,
                                 cell=CHALLENGER)
        costs = self.expected_costs(p_chargeoff, balance)
        t = min(TREATMENTS, key=lambda k: (costs[k], TREATMENTS.index(k)))
        return AccountAction("COLLECTION_TREATMENT", f"S-COLL-{t}",
                             f"Lowest expected cost: {t.lower().replace('_', ' ')}",
                             treatment=t)
