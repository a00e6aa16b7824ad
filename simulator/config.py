"""Every rate and mix of the simulated world, in one documented object.

The defaults describe a UK-centred lender: about 5% of applications are fraud
(rings and bots included) and about 10% of booked loans default (ever 60+ days
past due within 6 months on book). Load overrides from YAML or JSON with
``SimConfig.from_file(path)``; unknown keys are rejected so typos fail loudly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.errors import SimulatorError
from simulator.reviewers import ReviewersConfig
from simulator.servicing_config import ServicingConfig


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProductMix(_Frozen):
    """Share of each product and its amount/term distributions."""

    share_credit_card: float = Field(
        default=0.40, ge=0, description="Share of credit-card applications."
    )
    share_personal_loan: float = Field(
        default=0.35, ge=0, description="Share of personal-loan applications."
    )
    share_bnpl: float = Field(
        default=0.25, ge=0, description="Share of buy-now-pay-later applications."
    )
    card_limit_median: float = Field(
        default=3000.0, gt=0, description="Median requested card limit."
    )
    loan_amount_median: float = Field(
        default=8000.0, gt=0, description="Median personal-loan amount."
    )
    loan_terms: tuple[int, ...] = Field(
        default=(12, 24, 36, 48, 60), description="Personal-loan terms."
    )
    bnpl_amount_median: float = Field(default=180.0, gt=0, description="Median BNPL basket value.")
    bnpl_terms: tuple[int, ...] = Field(default=(3, 4, 6), description="BNPL terms in months.")


class PopulationConfig(_Frozen):
    """Who applies: home-country share, file coverage, repeat behaviour, channels."""

    home_country: str = Field(default="GB", description="Country of most applicants (ISO alpha-2).")
    foreign_share: float = Field(
        default=0.06, ge=0, le=1, description="Genuine applicants living abroad."
    )
    no_file_share: float = Field(
        default=0.05, ge=0, le=1, description="Genuine applicants with no bureau file."
    )
    thin_file_share: float = Field(
        default=0.10, ge=0, le=1, description="Genuine applicants with a thin file."
    )
    repeat_share: float = Field(
        default=0.08,
        ge=0,
        le=0.9,
        description="Applications by someone who applied before (same identity).",
    )
    repeat_new_device: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="Chance a repeat applicant comes back on a new device.",
    )
    known_customer_share: float = Field(
        default=0.15, ge=0, le=1, description="First-time applicants who are already customers."
    )
    shared_ip_share: float = Field(
        default=0.04,
        ge=0,
        le=1,
        description="Genuine sessions behind carrier NAT (small shared IP pool).",
    )
    family_share: float = Field(
        default=0.05,
        ge=0,
        le=0.5,
        description="Genuine applicants living with an earlier applicant (same address written "
        "their own way, same surname, home IP, sometimes the family's device).",
    )
    office_ip_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Employed genuine applicants who apply from their employer's office IP.",
    )
    student_hall_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Students living in halls of residence (one building, many flats, the "
        "campus IP).",
    )
    address_variant_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Repeat applicants who write their address or phone another way.",
    )
    channel_web: float = Field(default=0.45, ge=0, description="Share of web sessions.")
    channel_app: float = Field(default=0.45, ge=0, description="Share of mobile-app sessions.")
    channel_partner: float = Field(
        default=0.10, ge=0, description="Share of partner (aggregator) sessions."
    )
    income_overstatement: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Share of applicants who overstate income (declared > true).",
    )
    income_estimate_coverage: float = Field(
        default=0.85,
        ge=0,
        le=1,
        description="Share of applicants with a bureau file whose current-account turnover "
        "gives an income estimate.",
    )
    income_estimate_sd: float = Field(
        default=0.10, ge=0, description="Log-scale error of the income estimate for salaries."
    )
    income_estimate_sd_self_employed: float = Field(
        default=0.30, ge=0, description="Log-scale error of the income estimate, self-employed."
    )


class FraudConfig(_Frozen):
    """Rates of each fraud pattern (share of all applications) and their traits."""

    third_party_rate: float = Field(
        default=0.012, ge=0, le=0.5, description="Stolen real identity, new device/ip/phone."
    )
    synthetic_rate: float = Field(
        default=0.008, ge=0, le=0.5, description="Fabricated identity, thin or no file."
    )
    ring_rate: float = Field(
        default=0.015, ge=0, le=0.5, description="Applications that belong to fraud rings."
    )
    bot_rate: float = Field(
        default=0.007, ge=0, le=0.5, description="Scripted applications (fast fill, emulators)."
    )
    first_party_rate: float = Field(
        default=0.008, ge=0, le=0.5, description="Genuine identity, no intent to repay."
    )
    slow_ring_rate: float = Field(
        default=0.006, ge=0, le=0.5,
        description="Slow rings: identities over weeks rotating devices, phones and IPs, "
        "sharing an address, employer or bank account and an email pattern.",
    )
    mule_rate: float = Field(
        default=0.005, ge=0, le=0.5,
        description="Stolen identities paying into a few shared mule bank accounts.",
    )
    identity_farm_rate: float = Field(
        default=0.005, ge=0, le=0.5,
        description="Fabricated identities registered at one building from one or two devices.",
    )
    ring_size_mean: float = Field(
        default=12.0, ge=2, description="Mean applications per ring burst."
    )
    slow_ring_size_mean: float = Field(
        default=8.0, ge=2, description="Mean applications per slow ring."
    )
    mule_group_size_mean: float = Field(
        default=6.0, ge=2, description="Mean applications paying into one group of mule accounts."
    )
    farm_size_mean: float = Field(
        default=8.0, ge=2, description="Mean identities per identity farm."
    )
    slow_span_days: float = Field(
        default=28.0, gt=0, description="Span of a slow ring, mule group or farm (history mode)."
    )
    ring_burst_hours: float = Field(
        default=6.0, gt=0, description="Span of one ring burst (history mode)."
    )
    ring_pool_max: int = Field(
        default=3, ge=1, description="Max devices / ips / phones a ring shares."
    )
    confirm_prob: dict[str, float] = Field(
        default_factory=lambda: {
            "third_party": 0.95,
            "synthetic": 0.85,
            "ring": 0.90,
            "slow_ring": 0.85,
            "mule": 0.90,
            "identity_farm": 0.85,
            "bot": 0.90,
            "first_party": 0.35,
        },
        description="Chance each fraud type is eventually confirmed (label_fraud = confirmed).",
    )
    false_confirm_prob: float = Field(
        default=0.0005, ge=0, le=0.1, description="Genuine applications wrongly confirmed as fraud."
    )
    confirm_delay_months: dict[str, float] = Field(
        default_factory=lambda: {
            "third_party": 1.5,
            "synthetic": 3.0,
            "ring": 2.0,
            "slow_ring": 3.0,
            "mule": 1.5,
            "identity_farm": 3.0,
            "bot": 1.5,
            "first_party": 5.0,
        },
        description="Mean delay from booking to fraud confirmation, in months.",
    )

    @property
    def total_rate(self) -> float:
        return (
            self.third_party_rate
            + self.synthetic_rate
            + self.ring_rate
            + self.slow_ring_rate
            + self.mule_rate
            + self.identity_farm_rate
            + self.bot_rate
            + self.first_party_rate
        )


class CreditConfig(_Frozen):
    """The true default process: target rate, noise and delinquency roll rates."""

    target_default_rate: float = Field(
        default=0.10,
        gt=0,
        lt=0.9,
        description="Mean oracle PD of genuine applicants; the hazard intercept is solved for it.",
    )
    latent_noise_sd: float = Field(
        default=0.6,
        ge=0,
        description="SD of unobservable per-applicant risk (logit scale); the oracle knows it.",
    )
    prepay_monthly: float = Field(
        default=0.015, ge=0, le=0.5, description="Monthly early pay-off chance."
    )
    roll_rates: tuple[float, ...] = Field(
        default=(0.35, 0.55, 0.75, 0.85, 0.90),
        description="Base roll rates 30->60, 60->90, 90->120, 120->150, 150->charge-off.",
    )
    cure_rates: tuple[float, ...] = Field(
        default=(0.40, 0.20, 0.08, 0.04, 0.02),
        description="Base cure rates back to current from 30, 60, 90, 120, 150 days past due.",
    )
    bust_out_hazard: float = Field(
        default=0.6, gt=0, le=1, description="Monthly chance a first-party fraudster stops paying."
    )


class LabelConfig(_Frozen):
    """Label definitions (documented in the README)."""

    default_dpd: int = Field(
        default=60, description="Default = ever this many days past due or worse ..."
    )
    default_horizon_months: int = Field(
        default=6, ge=1, le=36, description="... within this many months on book."
    )
    fraud_window_months: int = Field(
        default=12, ge=1, description="Fraud = confirmed within this many months of booking."
    )
    performance_months: int = Field(
        default=12, ge=1, le=60, description="Monthly performance snapshots simulated per loan."
    )


class LiveConfig(_Frozen):
    """Live-mode pacing and time compression."""

    rate: float = Field(default=500.0, gt=0, description="Applications per second of event time.")
    month_seconds: float = Field(
        default=10.0, gt=0, description="Wall seconds per simulated month on book."
    )
    chunk: int = Field(
        default=512, ge=16, description="Applications generated per vectorised chunk."
    )
    ring_burst_seconds: float = Field(
        default=30.0, gt=0, description="Span of one ring burst in live mode."
    )
    quote_then_apply: float = Field(
        default=0.25, ge=0, le=1,
        description="Share of applicants who ask for a pre-qualification quote first.")
    quote_only: float = Field(
        default=0.10, ge=0, le=1,
        description="Share of applicants who ask for a quote and then do not apply.")
    quote_lead_seconds: float = Field(
        default=1.0, gt=0, le=1.2,
        description="How long before applying a quote is asked for, at most (event time; "
        "within the publisher's 1.5 s look-ahead so quotes go out on time).")

    @model_validator(mode="after")
    def _quote_shares(self) -> LiveConfig:
        if self.quote_then_apply + self.quote_only > 1:
            raise ValueError("live.quote_then_apply + live.quote_only must be at most 1")
        return self


class SimConfig(_Frozen):
    """The whole simulated world. Every field has a sensible default."""

    start_date: str = Field(
        default="2024-01-01", description="First day of the history (UTC, ISO date)."
    )
    products: ProductMix = Field(default_factory=ProductMix)
    population: PopulationConfig = Field(default_factory=PopulationConfig)
    fraud: FraudConfig = Field(default_factory=FraudConfig)
    credit: CreditConfig = Field(default_factory=CreditConfig)
    labels: LabelConfig = Field(default_factory=LabelConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    servicing: ServicingConfig = Field(default_factory=ServicingConfig)
    reviewers: ReviewersConfig = Field(default_factory=ReviewersConfig)

    @model_validator(mode="after")
    def _check(self) -> SimConfig:
        if self.fraud.total_rate >= 0.9:
            raise ValueError("fraud rates add up to 90% or more of applications")
        if self.labels.default_dpd not in (30, 60, 90, 120, 150, 180):
            raise ValueError("labels.default_dpd must be one of 30, 60, 90, 120, 150, 180")
        if len(self.credit.roll_rates) != 5 or len(self.credit.cure_rates) != 5:
            raise ValueError("credit.roll_rates and credit.cure_rates need 5 values each")
        if any(
            r + c > 1 for r, c in zip(self.credit.roll_rates, self.credit.cure_rates, strict=True)
        ):
            raise ValueError("a roll rate plus its cure rate exceeds 1")
        return self

    @classmethod
    def from_file(cls, path: str | Path) -> SimConfig:
        """Load a YAML or JSON file holding any subset of the fields."""
        p = Path(path)
        try:
            text = p.read_text()
            data: Any = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
            return cls.model_validate(data or {})
        except OSError as exc:
            raise SimulatorError(f"cannot read simulator config {p}: {exc}") from exc
        except (ValidationError, ValueError, yaml.YAMLError) as exc:
            raise SimulatorError(
                f"invalid simulator config {p}: {exc}. See `loanrisk simulate config` for the "
                "fields and their defaults."
            ) from exc

    def to_yaml(self) -> str:
        """The full config, every default spelled out (a template to edit)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
