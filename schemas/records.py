"""Typed views of the records on the decision path, mirroring ``schemas/avro/*.avsc``.

``TypedDict``s are plain dicts at runtime: the codec encodes and decodes them
as they are, so typing costs nothing on the hot path and the wire format is
the schema's. Field names and optionality follow the ``.avsc`` files
(``tests/unit/test_schemas_records.py`` checks that they agree); an Avro union
with null is ``X | None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypedDict

Product = Literal["CREDIT_CARD", "PERSONAL_LOAN", "BNPL"]
DecisionOutcome = Literal["APPROVE", "REVIEW", "DECLINE"]
ReasonSource = Literal["MODEL", "RULE", "LIST", "POLICY"]


# --- loan_application.avsc ---------------------------------------------------------------
class Address(TypedDict):
    line1: str
    city: str
    postcode: str
    country: str


class BureauAttributes(TypedDict):
    inquiries_6m: int
    delinquencies_24m: int
    utilisation: float
    file_age_months: int
    open_accounts: int
    thin_file: bool
    new_accounts_6m: int | None
    income_estimate: float | None


class LoanApplication(TypedDict):
    """An application as decoded from ``loan.applications.v1``."""

    application_id: str
    event_time: int
    product: Product
    customer_id: str | None
    first_name: str
    last_name: str
    date_of_birth: str
    national_id: str
    email: str
    phone: str
    address: Address
    employment_status: Literal["EMPLOYED", "SELF_EMPLOYED", "UNEMPLOYED", "RETIRED", "STUDENT"]
    employment_months: int
    annual_income: float
    monthly_debt_payments: float
    housing_status: Literal["OWN", "MORTGAGE", "RENT", "OTHER"]
    requested_amount: float
    requested_term_months: int
    bureau_score: int | None
    bureau: BureauAttributes | None
    channel: Literal["WEB", "APP", "PARTNER"]
    session_id: str
    ip: str
    device_id: str
    employer: str | None
    bank_account: str | None


# --- fraud_alert.avsc ---------------------------------------------------------------------
class FraudAlert(TypedDict):
    """A look-back alert on ``loan.alerts.v1``."""

    alert_id: str
    confirmed_application_id: str
    confirmed_at: int
    application_id: str
    application_event_time: int
    link_kind: str
    link_hash: str
    link_path: str
    outcome: str | None
    action: Literal["HOLD_AND_REVIEW", "RESCORE", "NO_ACTION"]


# --- what a decision is made from ----------------------------------------------------------
class Scores(TypedDict):
    """Model outputs for one application; None where no model is loaded (cold start)."""

    pd: float | None
    fraud_probability: float | None
    scorecard_points: float | None
    anomaly_score: float | None


#: Model reason codes as (code, text), most important first, for the model that drove the
#: outcome: called with ``fraud_driven`` (a fraud rule or fraud cutoff contributed, so the
#: fraud model explains rather than the PD model). Computing them costs a TreeSHAP pass, so
#: the engine calls this only for declines and reviews.
ModelReasons = Callable[[bool], Sequence[tuple[str, str]]]


# --- decision.avsc ---------------------------------------------------------------------------
class Offer(TypedDict):
    amount: float
    term_months: int
    apr: float
    price_tier: str


class ReasonCode(TypedDict):
    code: str
    text: str
    source: ReasonSource


class ShadowDecision(TypedDict):
    """What the challenger would have decided; never acted on."""

    decision: DecisionOutcome
    pd: float | None
    fraud_probability: float | None
    versions: dict[str, str]


class Decision(TypedDict):
    """The decision engine's record: every decision.avsc field but the worker's three."""

    application_id: str
    event_time: int
    product: str
    decision: DecisionOutcome
    pd: float | None
    fraud_probability: float | None
    anomaly_score: float | None
    scorecard_points: float | None
    risk_grade: str | None
    offer: Offer | None
    reason_codes: list[ReasonCode]
    list_hits: list[str]
    rule_hits: list[str]
    versions: dict[str, str]
    shadow: ShadowDecision | None
    age_band: str | None
    cell: str  # test cell (decisions/cells.py)


class DecisionRecord(Decision):
    """The published ``loan.decisions.v1`` record: the decision stamped by its worker."""

    decided_at: int
    timings_us: dict[str, float]
    worker: str
