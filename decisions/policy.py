"""Product credit policy: cutoffs, review band, risk grades and offers.

Per product (CREDIT_CARD, PERSONAL_LOAN, BNPL) a policy file sets:

- ``fraud``: decline at or above ``decline_at``, review at or above ``review_at``;
- ``pd``: approve below ``approve_below``, decline at or above ``decline_at``;
  the band between is the review band;
- ``anomaly_review_at``: an anomaly score at or above it sends an approval to review;
- ``grades``: PD bands -> A..E (first band whose ``pd_below`` exceeds the PD);
- ``offer``: per grade the maximum amount/limit and APR, allowed terms, and
  the affordability cap from declared income and debt;
- ``cold_start``: used when no PD model exists (``pd`` is None): the bureau
  score sets the outcome (approve at or above ``approve_at``, decline below
  ``decline_below``, review between or with no bureau file) and the grade
  (``grades_by_score``). Rules, lists, the fraud cutoff and the anomaly review
  still apply.

Affordability: the monthly payment of the new credit may use at most
``max_dti * monthly income - existing monthly debt``, where income is the
declared income capped at the bureau's estimate from current-account turnover
when the bureau has one (income is verified, not taken on trust). Loans use the annuity
payment at the grade's APR over the term; cards use ``card_payment_rate`` of
the limit per month; BNPL is interest-free, spread over the term.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from decisions.errors import PolicyError
from schemas.records import Offer as OfferRecord

GRADES = ("A", "B", "C", "D", "E")
DEFAULT_POLICY_PATH = Path(__file__).parent / "policy" / "default.yaml"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FraudCutoffs(_M):
    review_at: float = Field(ge=0, le=1)
    decline_at: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _order(self) -> FraudCutoffs:
        if self.review_at > self.decline_at:
            raise ValueError("fraud.review_at must be <= fraud.decline_at")
        return self


class PdCutoffs(_M):
    approve_below: float = Field(ge=0, le=1)
    decline_at: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _order(self) -> PdCutoffs:
        if self.approve_below > self.decline_at:
            raise ValueError("pd.approve_below must be <= pd.decline_at (the review band between)")
        return self


class GradeBand(_M):
    grade: Literal["A", "B", "C", "D", "E"]
    pd_below: float = Field(gt=0, le=1.000001)


class ScoreBand(_M):
    grade: Literal["A", "B", "C", "D", "E"]
    score_at_least: float


class GradeOffer(_M):
    max_amount: float = Field(gt=0, description="Loan amount, card limit or BNPL basket cap.")
    apr: float = Field(ge=0, le=1)
    price_tier: str


class OfferPolicy(_M):
    kind: Literal["card", "loan", "bnpl"]
    by_grade: dict[Literal["A", "B", "C", "D", "E"], GradeOffer]
    terms: tuple[int, ...] = Field(default=(0,), description="Allowed terms; 0 = revolving.")
    min_amount: float = Field(gt=0)
    round_to: float = Field(default=50.0, gt=0)
    max_dti: float = Field(gt=0, le=1, description="Max share of gross monthly income on debt.")
    card_payment_rate: float = Field(default=0.03, gt=0, le=1)


class ColdStart(_M):
    approve_at: float
    decline_below: float
    grades_by_score: tuple[ScoreBand, ...]


class ProductPolicy(_M):
    fraud: FraudCutoffs
    pd: PdCutoffs
    anomaly_review_at: float = Field(default=1.01, ge=0)
    grades: tuple[GradeBand, ...]
    offer: OfferPolicy
    cold_start: ColdStart

    @model_validator(mode="after")
    def _grades_cover(self) -> ProductPolicy:
        bounds = [g.pd_below for g in self.grades]
        if bounds != sorted(bounds):
            raise ValueError("grades must be in increasing pd_below order")
        if not bounds or bounds[-1] < self.pd.decline_at:
            raise ValueError("the last grade's pd_below must reach pd.decline_at")
        missing = {g.grade for g in self.grades} - set(self.offer.by_grade)
        missing |= {b.grade for b in self.cold_start.grades_by_score} - set(self.offer.by_grade)
        if missing:
            raise ValueError(f"offer.by_grade lacks grades {sorted(missing)}")
        return self


class _PolicyDoc(_M):
    version: str = Field(min_length=1)
    description: str = ""
    products: dict[Literal["CREDIT_CARD", "PERSONAL_LOAN", "BNPL"], ProductPolicy]


@dataclass(frozen=True, slots=True)
class Offer:
    amount: float
    term_months: int
    apr: float
    price_tier: str
    capped_by_affordability: bool

    def record(self) -> OfferRecord:
        """The decision record's ``offer`` (decision.avsc Offer)."""
        return {"amount": self.amount, "term_months": self.term_months, "apr": self.apr,
                "price_tier": self.price_tier}


class Policy:
    """A validated policy file; ``.version`` = declared version + content hash."""

    def __init__(self, doc: _PolicyDoc, digest: str) -> None:
        self.products = doc.products
        self.version = f"{doc.version}+{digest[:12]}"

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> Policy:
        if isinstance(text_or_path, Path) or (
            "\n" not in text_or_path and text_or_path.endswith((".yaml", ".yml"))
        ):
            try:
                text = Path(text_or_path).read_text()
            except OSError as exc:
                raise PolicyError(f"cannot read policy file {text_or_path}: {exc}") from exc
        else:
            text = text_or_path
        try:
            raw = yaml.safe_load(text)
            doc = _PolicyDoc.model_validate(raw)
        except yaml.YAMLError as exc:
            raise PolicyError(f"policy file is not valid YAML: {exc}") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise PolicyError(f"invalid policy file: {problems}") from exc
        return cls(doc, hashlib.sha256(text.encode()).hexdigest())

    @classmethod
    def default(cls) -> Policy:
        return cls.from_yaml(DEFAULT_POLICY_PATH)

    def for_product(self, product: str) -> ProductPolicy:
        try:
            return self.products[product]  # type: ignore[index]
        except KeyError:
            raise PolicyError(
                f"policy {self.version} has no product {product!r}; add it to the policy file"
            ) from None


def grade_for_pd(pp: ProductPolicy, pd: float) -> str:
    for band in pp.grades:
        if pd < band.pd_below:
            return band.grade
    return pp.grades[-1].grade


def grade_for_score(pp: ProductPolicy, score: float) -> str:
    for band in sorted(pp.cold_start.grades_by_score, key=lambda b: -b.score_at_least):
        if score >= band.score_at_least:
            return band.grade
    return "E"


def monthly_capacity(pp: ProductPolicy, annual_income: float, monthly_debt: float) -> float:
    """What the applicant can still pay per month for new credit (>= 0)."""
    return max(0.0, pp.offer.max_dti * max(annual_income, 0.0) / 12.0 - max(monthly_debt, 0.0))


def annuity_factor(apr: float, term_months: int) -> float:
    """Monthly payment per unit borrowed."""
    if term_months <= 0:
        raise ValueError("term must be positive")
    r = apr / 12.0
    if r == 0:
        return 1.0 / term_months
    return r / (1.0 - (1.0 + r) ** -term_months)


def affordability_income(application: Mapping[str, Any]) -> float:
    """Annual income for affordability: declared, capped at the bureau's turnover estimate."""
    declared = float(application.get("annual_income") or 0.0)
    estimate = (application.get("bureau") or {}).get("income_estimate")
    return min(declared, float(estimate)) if estimate is not None and estimate > 0 else declared


def make_offer(pp: ProductPolicy, grade: str, application: Mapping[str, Any]) -> Offer | None:
    """The offer for an approval, or None when affordability allows less than the minimum."""
    op = pp.offer
    g = op.by_grade[grade]  # type: ignore[index]
    requested = float(application.get("requested_amount") or 0.0)
    capacity = monthly_capacity(
        pp, affordability_income(application),
        float(application.get("monthly_debt_payments") or 0.0),
    )
    term = _pick_term(op, int(application.get("requested_term_months") or 0))
    if op.kind == "card":
        affordable = capacity / op.card_payment_rate
    elif op.kind == "loan":
        affordable = capacity / annuity_factor(g.apr, term)
    else:
        affordable = capacity * term if term > 0 else capacity
    cap = min(g.max_amount, affordable)
    amount = min(requested, cap) if requested > 0 else cap
    amount = math.floor(amount / op.round_to) * op.round_to
    if amount < op.min_amount:
        return None
    return Offer(amount, term, g.apr, g.price_tier, affordable < min(requested, g.max_amount))


def _pick_term(op: OfferPolicy, requested: int) -> int:
    """The allowed term closest to the one requested (ties: the shorter)."""
    return min(op.terms, key=lambda t: (abs(t - requested), t))
