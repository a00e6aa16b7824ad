"""The decision engine set up for unit tests: a small policy and rule set, one clean
application (approved as it is) and helpers to decide variations of it."""

from __future__ import annotations

from decisions.engine import DecisionEngine
from decisions.lists import ListIndex, make_update
from decisions.policy import Policy
from decisions.rules import RuleSet, RuleStore
from schemas.records import Decision, ModelReasons, Scores

POLICY_YAML = """
version: "p1"
products:
  PERSONAL_LOAN:
    fraud: {review_at: 0.2, decline_at: 0.5}
    pd: {approve_below: 0.05, decline_at: 0.10}
    anomaly_review_at: 0.95
    grades:
      - {grade: A, pd_below: 0.02}
      - {grade: C, pd_below: 0.05}
      - {grade: E, pd_below: 1.0}
    offer:
      kind: loan
      terms: [12, 24, 36]
      min_amount: 1000
      round_to: 100
      max_dti: 0.40
      by_grade:
        A: {max_amount: 20000, apr: 0.12, price_tier: T1}
        C: {max_amount: 10000, apr: 0.12, price_tier: T3}
        E: {max_amount: 3000, apr: 0.24, price_tier: T5}
    cold_start:
      approve_at: 700
      decline_below: 600
      grades_by_score:
        - {grade: A, score_at_least: 780}
        - {grade: C, score_at_least: 700}
        - {grade: E, score_at_least: 300}
  CREDIT_CARD:
    fraud: {review_at: 0.2, decline_at: 0.5}
    pd: {approve_below: 0.05, decline_at: 0.10}
    grades: [{grade: A, pd_below: 1.0}]
    offer:
      kind: card
      min_amount: 250
      round_to: 50
      max_dti: 0.40
      card_payment_rate: 0.05
      by_grade: {A: {max_amount: 5000, apr: 0.2, price_tier: T1}}
    cold_start: {approve_at: 700, decline_below: 600,
                 grades_by_score: [{grade: A, score_at_least: 300}]}
  BNPL:
    fraud: {review_at: 0.2, decline_at: 0.5}
    pd: {approve_below: 0.05, decline_at: 0.10}
    grades: [{grade: A, pd_below: 1.0}]
    offer:
      kind: bnpl
      terms: [3, 6]
      min_amount: 30
      round_to: 10
      max_dti: 0.40
      by_grade: {A: {max_amount: 1000, apr: 0.0, price_tier: T1}}
    cold_start: {approve_at: 700, decline_below: 600,
                 grades_by_score: [{grade: A, score_at_least: 300}]}
"""

RULES_YAML = """
version: "r1"
rules:
  - {id: R-F-DEC, category: fraud, condition: vel_device_apps_1h >= 5, action: decline,
     reason_code: R-F-DEC, reason_text: Too many applications from this device}
  - {id: R-F-REV, category: fraud, condition: sess_paste_count >= 3, action: review,
     reason_code: R-F-REV, reason_text: Details were pasted}
  - {id: R-C-DEC, category: credit, condition: app_dti > 0.6, action: decline,
     reason_code: R-C-DEC, reason_text: Debt too high for income}
  - {id: R-FLAG, category: fraud, condition: sess_emulator >= 1, action: flag,
     reason_code: R-FLAG, reason_text: Emulator}
"""

#: the fields the engine, rules and lists read (a partial LoanApplication)
APP = {
    "application_id": "a-1", "event_time": 1_700_000_000_000, "product": "PERSONAL_LOAN",
    "annual_income": 60000.0, "monthly_debt_payments": 500.0, "requested_amount": 8000.0,
    "requested_term_months": 24, "bureau_score": 720, "employment_status": "EMPLOYED",
    "email": "x@example.com", "phone": "+447700900000", "device_id": "dev-1", "ip": "10.1.2.3",
}
FEATS = {"vel_device_apps_1h": 1.0, "sess_paste_count": 0.0, "app_dti": 0.1, "sess_emulator": 0.0}
SCORES: Scores = {"pd": 0.01, "fraud_probability": 0.01, "anomaly_score": 0.1,
                  "scorecard_points": 700.0}
MODEL_REASONS = [("F-A", "Model reason A"), ("F-B", "Model reason B"),
                 ("F-C", "Model reason C"), ("F-D", "Model reason D")]
VERSIONS = {"model_pd": "pd-1", "model_fraud": "fr-1", "feature_spec": "fs-1"}


def engine(*updates: dict) -> DecisionEngine:
    lists = ListIndex()
    for u in updates:
        lists.apply(u)
    return DecisionEngine(lists, RuleStore(RuleSet.from_yaml(RULES_YAML)),
                          Policy.from_yaml(POLICY_YAML))


def model_reasons(_fraud_driven: bool) -> list[tuple[str, str]]:
    """The same four model reasons whichever model drove the outcome."""
    return MODEL_REASONS


def decide(eng: DecisionEngine, feats: dict | None = None, scores: dict | None = None,
           app: dict | None = None, reasons: ModelReasons | None = model_reasons) -> Decision:
    return eng.decide({**APP, **(app or {})}, {**FEATS, **(feats or {})},
                      {**SCORES, **(scores or {})}, VERSIONS, model_reasons=reasons)


def block(it: str, v: str) -> dict:
    return make_update("BLOCK", it, v, event_time=0)


def allow(it: str, v: str) -> dict:
    return make_update("ALLOW", it, v, event_time=0)


def codes(rec: dict) -> list[str]:
    return [r["code"] for r in rec["reason_codes"]]
