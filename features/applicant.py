"""Applicant, bureau and product features: pure functions of the application."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from schemas.records import LoanApplication

Value = float | None

#: reference APR used to turn an amount and term into a monthly payment (documented in the spec)
REFERENCE_APR = 0.12
CARD_MIN_PAYMENT = 0.03
#: the features proportional to the amount asked (``monthly_payment`` is linear in it): a
#: counter-offer of a share of the amount scales them by that share, the rest stay
AMOUNT_FEATURES = ("app_pti", "app_amount_to_income")


def monthly_payment(amount: float, term_months: int, product: str) -> float:
    """Estimated monthly payment: annuity at REFERENCE_APR, or 3% of a card limit."""
    if product == "CREDIT_CARD" or term_months <= 0:
        return amount * CARD_MIN_PAYMENT
    r = REFERENCE_APR / 12.0
    return amount * r / (1.0 - (1.0 + r) ** -term_months)


def income_check(declared: float, estimate: float | None) -> dict[str, Value]:
    """Declared income against the bureau's current-account estimate (CATO).

    The ratio is what affordability checks look at: far above 1 means the declared
    income is not visible in the applicant's account turnover.
    """
    if estimate is None or not estimate > 0:  # also catches NaN
        return {"bureau_log_income_estimate": None, "app_income_to_estimate": None}
    return {
        "bureau_log_income_estimate": math.log1p(estimate),
        "app_income_to_estimate": max(declared, 0.0) / estimate,
    }


def applicant_features(app: LoanApplication) -> dict[str, Value]:
    """The features of the application's own fields; no state, so also the degraded path's."""
    income = float(app["annual_income"])
    amount = float(app["requested_amount"])
    term = int(app["requested_term_months"])
    product = str(app["product"])
    emp = str(app["employment_status"])
    out: dict[str, Value] = {}
    if income > 0:
        out["app_dti"] = float(app["monthly_debt_payments"]) * 12.0 / income
        out["app_pti"] = monthly_payment(amount, term, product) / (income / 12.0)
        out["app_amount_to_income"] = amount / income
    else:
        out["app_dti"] = out["app_pti"] = out["app_amount_to_income"] = None
    out["app_log_income"] = math.log1p(max(income, 0.0))
    out["app_term_months"] = float(term)
    out["app_employment_months"] = float(app["employment_months"])
    out["app_emp_unemployed"] = 1.0 if emp == "UNEMPLOYED" else 0.0
    out["app_emp_self_employed"] = 1.0 if emp == "SELF_EMPLOYED" else 0.0
    out["app_emp_student"] = 1.0 if emp == "STUDENT" else 0.0
    out["app_housing_rent"] = 1.0 if app["housing_status"] == "RENT" else 0.0
    out["app_known_customer"] = 0.0 if app.get("customer_id") is None else 1.0
    score = app.get("bureau_score")
    out["bureau_score"] = None if score is None else float(score)
    b = app.get("bureau")
    out["bureau_missing"] = 1.0 if b is None else 0.0
    if b is None:
        for k in ("bureau_inquiries_6m", "bureau_delinquencies_24m", "bureau_utilisation",
                  "bureau_file_age_months", "bureau_open_accounts", "bureau_thin_file",
                  "bureau_new_accounts_6m", "bureau_log_income_estimate",
                  "app_income_to_estimate"):
            out[k] = None
    else:
        out["bureau_inquiries_6m"] = float(b["inquiries_6m"])
        out["bureau_delinquencies_24m"] = float(b["delinquencies_24m"])
        out["bureau_utilisation"] = float(b["utilisation"])
        out["bureau_file_age_months"] = float(b["file_age_months"])
        out["bureau_open_accounts"] = float(b["open_accounts"])
        out["bureau_thin_file"] = 1.0 if b["thin_file"] else 0.0
        new_accounts = b.get("new_accounts_6m")
        out["bureau_new_accounts_6m"] = None if new_accounts is None else float(new_accounts)
        out.update(income_check(income, b.get("income_estimate")))
    out["product_credit_card"] = 1.0 if product == "CREDIT_CARD" else 0.0
    out["product_personal_loan"] = 1.0 if product == "PERSONAL_LOAN" else 0.0
    out["product_bnpl"] = 1.0 if product == "BNPL" else 0.0
    ch = app.get("channel")
    out["channel_app"] = 1.0 if ch == "APP" else 0.0
    out["channel_partner"] = 1.0 if ch == "PARTNER" else 0.0
    return out


def bureau_from_features(values: Mapping[str, Value]) -> dict[str, Any] | None:
    """The bureau record a logged vector was computed from, as far as its features keep
    it (the inverse of `applicant_features` on the bureau fields; the income estimate back
    from its log): None when the vector says there was no file."""
    if values.get("bureau_missing") == 1.0:
        return None
    est = values.get("bureau_log_income_estimate")
    thin = values.get("bureau_thin_file")
    return {
        "inquiries_6m": values.get("bureau_inquiries_6m"),
        "delinquencies_24m": values.get("bureau_delinquencies_24m"),
        "utilisation": values.get("bureau_utilisation"),
        "file_age_months": values.get("bureau_file_age_months"),
        "open_accounts": values.get("bureau_open_accounts"),
        "thin_file": None if thin is None else thin == 1.0,
        "new_accounts_6m": values.get("bureau_new_accounts_6m"),
        "income_estimate": None if est is None else math.expm1(est),
    }


def moved_features(before: LoanApplication | Mapping[str, Any],
                   after: LoanApplication | Mapping[str, Any]) -> dict[str, Value]:
    """The applicant features whose value differs between two versions of an application
    (e.g. another amount asked), with their values for ``after``."""
    a = applicant_features(before)  # type: ignore[arg-type]
    b = applicant_features(after)  # type: ignore[arg-type]
    return {k: v for k, v in b.items() if not _same(a.get(k), v)}


def _same(x: Value, y: Value) -> bool:
    if x is None or y is None:
        return x is y
    return x == y or (math.isnan(x) and math.isnan(y))
