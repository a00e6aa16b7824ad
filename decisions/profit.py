"""Profit of an approved loan: interest and fees against loss and funding, per product.

The policy optimiser maximises it and the swap-set and comparison tables report it; the
parameters are a documented YAML file (``decisions/profit/default.yaml``), so a lender's
finance team can set them without touching code. Expected profit uses the PD; realised
profit puts the observed default label (0/1) in its place.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from decisions.errors import PolicyError
from decisions.yaml_doc import load_yaml_doc

DEFAULT_PROFIT_PATH = Path(__file__).parent / "profit" / "default.yaml"


class ProductEconomics(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    funding_rate: float = Field(ge=0, le=1, description="Annual cost of the funds lent.")
    lgd: float = Field(ge=0, le=1, description="Loss given default (share of EAD lost).")
    ead: float = Field(ge=0, le=1.5, description="Exposure at default, share of the amount.")
    utilisation: float = Field(default=1.0, gt=0, le=1.5, description="Cards: drawn share.")
    horizon_months: int = Field(default=12, gt=0, description="Cards: months of revenue.")
    fee_rate: float = Field(default=0.0, ge=0, le=1, description="Fees as a share of A.")
    cost_per_loan: float = Field(default=0.0, ge=0, description="Acquisition and servicing.")
    review_share: float = Field(default=0.03, ge=0, le=0.5,
                                description="Applications the review team can take.")


class _ProfitDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    description: str = ""
    products: dict[Literal["CREDIT_CARD", "PERSONAL_LOAN", "BNPL"], ProductEconomics]


class ProfitModel:
    """A validated profit file; ``version`` = declared version + content hash."""

    def __init__(self, doc: _ProfitDoc, digest: str) -> None:
        self.products: dict[str, ProductEconomics] = {str(k): v for k, v in doc.products.items()}
        self.version = f"{doc.version}+{digest[:12]}"

    @classmethod
    def from_yaml(cls, path: Path) -> ProfitModel:
        doc, text = load_yaml_doc(path, _ProfitDoc, "profit file")
        return cls(doc, hashlib.sha256(text.encode()).hexdigest())

    @classmethod
    def default(cls) -> ProfitModel:
        return cls.from_yaml(DEFAULT_PROFIT_PATH)

    def economics(self, product: str) -> ProductEconomics:
        try:
            return self.products[product]
        except KeyError:
            raise PolicyError(f"profit model {self.version} has no product {product!r}; add "
                              "it to the profit file") from None


def _balance_and_life(e: ProductEconomics, kind: str, amount: np.ndarray,
                      term: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average balance and months of life of each loan."""
    if kind == "card":
        return amount * e.utilisation, np.full(len(amount), float(e.horizon_months))
    t = np.maximum(term.astype(np.float64), 1.0)
    return amount * (t + 1) / (2 * t), t


def loan_profit(e: ProductEconomics, kind: str, bad: np.ndarray, amount: np.ndarray,
                apr: np.ndarray, term: np.ndarray) -> np.ndarray:
    """Profit of each approved loan; ``bad`` is the PD (expected) or the label (realised).
    ``kind``: the policy's offer kind (card, loan, bnpl)."""
    balance, life = _balance_and_life(e, kind, amount, term)
    revenue = balance * apr * life / 12 + e.fee_rate * amount
    funding = balance * e.funding_rate * life / 12
    return (1 - bad) * revenue - bad * loss_at_default(e, amount) - funding - e.cost_per_loan


def loss_at_default(e: ProductEconomics, amount: np.ndarray) -> np.ndarray:
    """What a default costs: LGD x EAD x amount."""
    return e.lgd * e.ead * amount
