"""The servicing world's settings: the hidden trajectory, the causal effects of account
actions and collection treatments, their costs, and the history's exploration policy.

Part of ``SimConfig`` (``servicing:``), so ``loanrisk simulate config`` shows every value.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.servicing import TREATMENTS  # the arrays below are indexed in its order

#: hidden financial states of a customer, in index order
STRESS_STATES = ("HEALTHY", "INCOME_SHOCK", "OVER_INDEBTED")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServicingConfig(_Frozen):
    """Monthly account behaviour after booking, and what actions do to it (the oracle's truth)."""

    shock_logit: float = Field(
        default=-3.6, description="Logit of a healthy customer's monthly income shock (+0.5 risk)."
    )
    overindebted_logit: float = Field(
        default=-5.5, description="Logit of a healthy customer becoming over-indebted (+0.7 risk)."
    )
    shock_recovery: float = Field(
        default=0.22, ge=0, le=1, description="Monthly chance an income shock ends."
    )
    shock_to_overindebted: float = Field(
        default=0.06, ge=0, le=1, description="Monthly chance a shock turns into over-indebtedness."
    )
    overindebted_recovery: float = Field(
        default=0.06, ge=0, le=1, description="Monthly chance an over-indebted customer recovers."
    )
    hazard_offset: float = Field(
        default=-0.6, description="Added to the origination hazard logit for a healthy customer."
    )
    stress_hazard: tuple[float, float, float] = Field(
        default=(0.0, 1.6, 2.2), description="Hazard logit added per hidden state."
    )
    stress_roll: tuple[float, float, float] = Field(
        default=(0.85, 1.15, 1.3), description="Roll-rate multiplier per hidden state."
    )
    stress_cure: tuple[float, float, float] = Field(
        default=(1.3, 0.7, 0.5), description="Cure-rate multiplier per hidden state."
    )
    line_effect: tuple[float, float, float] = Field(
        default=(0.3, 1.2, 1.6),
        description="Hazard logit per unit log(limit / original limit), per hidden state: a "
        "line increase raises risk a little for the healthy and much for the stressed.",
    )
    treatment_cost: tuple[float, ...] = Field(
        default=(0.0, 0.5, 8.0, 35.0, 60.0), description="Cost of each treatment (TREATMENTS)."
    )
    treatment_cure: tuple[tuple[float, float, float], ...] = Field(
        default=((1, 1, 1), (2.0, 1.1, 1.0), (1.7, 1.6, 1.2), (1.2, 2.6, 2.2), (1.1, 1.2, 1.6)),
        description="Cure-rate multiplier of each treatment, per hidden state.",
    )
    treatment_roll: tuple[tuple[float, float, float], ...] = Field(
        default=((1, 1, 1), (0.75, 0.95, 1.0), (0.7, 0.8, 0.9), (0.8, 0.45, 0.5),
                 (0.9, 0.75, 0.6)),
        description="Roll-rate multiplier of each treatment, per hidden state.",
    )
    recovery_rate: tuple[float, ...] = Field(
        default=(0.15, 0.15, 0.17, 0.2, 0.32),
        description="Mean share of the charged-off balance recovered, by the episode's treatment.",
    )
    history_line_months: tuple[int, ...] = Field(
        default=(6, 12), description="Months on book at which the history tests line changes."
    )
    history_cli_share: float = Field(
        default=0.15, ge=0, le=1, description="Random share of open cards given an increase."
    )
    history_cld_share: float = Field(
        default=0.05, ge=0, le=1, description="Random share of open cards given a decrease."
    )
    history_line_step: float = Field(
        default=0.3, gt=0, lt=1, description="Size of a history line change (share of limit)."
    )

    @model_validator(mode="after")
    def _check(self) -> ServicingConfig:
        n = len(TREATMENTS)
        for name in ("treatment_cost", "treatment_cure", "treatment_roll", "recovery_rate"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"servicing.{name} needs {n} values, one per {TREATMENTS}")
        return self
