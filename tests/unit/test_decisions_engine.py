"""Decision precedence, each action, reasons, cold start, offers and determinism."""

from __future__ import annotations

import copy

import pytest

from decisions.engine import DecisionEngine
from decisions.errors import PolicyError
from decisions.lists import ListIndex, make_update
from decisions.policy import Policy, annuity_factor, make_offer
from decisions.rules import RuleSet, RuleStore
from schemas import codec_for

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

APP = {
    "application_id": "a-1", "event_time": 1_700_000_000_000, "product": "PERSONAL_LOAN",
    "annual_income": 60000.0, "monthly_debt_payments": 500.0, "requested_amount": 8000.0,
    "requested_term_months": 24, "bureau_score": 720, "employment_status": "EMPLOYED",
    "email": "x@example.com", "phone": "+447700900000", "device_id": "dev-1", "ip": "10.1.2.3",
}
FEATS = {"vel_device_apps_1h": 1.0, "sess_paste_count": 0.0, "app_dti": 0.1, "sess_emulator": 0.0}
SCORES = {"pd": 0.01, "fraud_probability": 0.01, "anomaly_score": 0.1, "scorecard_points": 700.0,
          "reasons": [("F-A", "Model reason A"), ("F-B", "Model reason B"),
                      ("F-C", "Model reason C"), ("F-D", "Model reason D")]}
VERSIONS = {"model_pd": "pd-1", "model_fraud": "fr-1", "feature_spec": "fs-1"}


def engine(*updates: dict) -> DecisionEngine:
    lists = ListIndex()
    for u in updates:
        lists.apply(u)
    return DecisionEngine(lists, RuleStore(RuleSet.from_yaml(RULES_YAML)),
                          Policy.from_yaml(POLICY_YAML))


def decide(eng: DecisionEngine, feats: dict | None = None, scores: dict | None = None,
           app: dict | None = None) -> dict:
    return eng.decide({**APP, **(app or {})}, {**FEATS, **(feats or {})},
                      {**SCORES, **(scores or {})}, VERSIONS)


def block(it: str, v: str) -> dict:
    return make_update("BLOCK", it, v, event_time=0)


def allow(it: str, v: str) -> dict:
    return make_update("ALLOW", it, v, event_time=0)


def codes(rec: dict) -> list[str]:
    return [r["code"] for r in rec["reason_codes"]]


def test_clean_application_approved_with_offer_and_versions() -> None:
    rec = decide(engine())
    assert rec["decision"] == "APPROVE" and rec["risk_grade"] == "A"
    assert rec["offer"] == {"amount": 8000.0, "term_months": 24, "apr": 0.12, "price_tier": "T1"}
    assert rec["reason_codes"] == [] and rec["list_hits"] == [] and rec["rule_hits"] == []
    assert rec["versions"]["rules"].startswith("r1+")
    assert rec["versions"]["policy"].startswith("p1+")
    assert rec["versions"]["model_pd"] == "pd-1" and rec["shadow"] is None


def test_decision_records_the_age_band_but_not_the_date_of_birth() -> None:
    rec = decide(engine(), app={"date_of_birth": "1990-02-01"})  # 2023-11-14 in APP
    assert rec["age_band"] == "25-34"
    assert "1990" not in str(rec)
    assert decide(engine())["age_band"] is None  # no date of birth: no band
    assert codec_for("decision").decode(codec_for("decision").encode(
        {**rec, "decided_at": 1, "timings_us": {}, "worker": "w"}))["age_band"] == "25-34"


def test_block_list_declines_even_when_allowed_and_rules_clean() -> None:
    rec = decide(engine(block("DEVICE_ID", "dev-1"), allow("EMAIL", "x@example.com")))
    assert rec["decision"] == "DECLINE" and codes(rec) == ["L-BLOCK"]
    assert rec["list_hits"] == ["BLOCK:DEVICE_ID", "ALLOW:EMAIL"]
    assert rec["reason_codes"][0]["source"] == "LIST"


def test_allow_list_skips_fraud_rules_and_cutoff_but_not_credit() -> None:
    eng = engine(allow("EMAIL", "x@example.com"))
    rec = decide(eng, feats={"vel_device_apps_1h": 9.0}, scores={"fraud_probability": 0.9})
    assert rec["decision"] == "APPROVE" and rec["rule_hits"] == []
    rec = decide(eng, feats={"app_dti": 0.9})
    assert rec["decision"] == "DECLINE" and rec["rule_hits"] == ["R-C-DEC"]
    rec = decide(eng, scores={"pd": 0.5})
    assert rec["decision"] == "DECLINE" and "P-PD-DECLINE" in codes(rec)


def test_each_rule_action() -> None:
    eng = engine()
    rec = decide(eng, feats={"vel_device_apps_1h": 5.0})
    assert rec["decision"] == "DECLINE" and codes(rec)[0] == "R-F-DEC"
    rec = decide(eng, feats={"sess_paste_count": 3.0})
    assert rec["decision"] == "REVIEW" and codes(rec)[0] == "R-F-REV"
    rec = decide(eng, feats={"sess_emulator": 1.0})
    assert rec["decision"] == "APPROVE" and rec["rule_hits"] == ["R-FLAG"]
    assert rec["reason_codes"] == []


def test_decline_beats_review_beats_flag_and_reason_order() -> None:
    rec = decide(engine(), feats={"sess_paste_count": 3.0, "vel_device_apps_1h": 7.0,
                                  "sess_emulator": 1.0}, scores={"fraud_probability": 0.3})
    assert rec["decision"] == "DECLINE"
    assert rec["rule_hits"] == ["R-F-DEC", "R-F-REV", "R-FLAG"]
    assert codes(rec) == ["R-F-DEC", "R-F-REV", "P-FRAUD-REVIEW", "F-A"]  # top 4
    assert [r["source"] for r in rec["reason_codes"]] == ["RULE", "RULE", "POLICY", "MODEL"]


def test_a_model_reason_repeating_a_rule_reason_text_gives_its_slot_away() -> None:
    reasons = [("F-DEVICE", "Too many applications from this device"),
               ("F-A", "Model reason A"), ("F-B", "Model reason B")]
    rec = decide(engine(), feats={"vel_device_apps_1h": 7.0}, scores={"reasons": reasons})
    texts = [r["text"] for r in rec["reason_codes"]]
    assert codes(rec)[0] == "R-F-DEC" and "F-DEVICE" not in codes(rec)
    assert len(texts) == len(set(texts)) and "Model reason A" in texts


def test_policy_cutoffs_and_review_band() -> None:
    eng = engine()
    assert decide(eng, scores={"fraud_probability": 0.5})["decision"] == "DECLINE"
    assert decide(eng, scores={"fraud_probability": 0.2})["decision"] == "REVIEW"
    rec = decide(eng, scores={"pd": 0.07})
    assert rec["decision"] == "REVIEW" and rec["risk_grade"] == "E"
    assert codes(rec) == ["P-PD-REVIEW", "F-A", "F-B", "F-C"]
    assert decide(eng, scores={"pd": 0.10})["decision"] == "DECLINE"
    assert decide(eng, scores={"pd": 0.0499})["decision"] == "APPROVE"
    rec = decide(eng, scores={"anomaly_score": 0.96})
    assert rec["decision"] == "REVIEW" and codes(rec)[0] == "P-ANOMALY"


def test_rule_review_plus_policy_decline_declines() -> None:
    rec = decide(engine(), feats={"sess_paste_count": 3.0}, scores={"pd": 0.2})
    assert rec["decision"] == "DECLINE" and codes(rec)[:2] == ["R-F-REV", "P-PD-DECLINE"]


def test_cold_start_uses_bureau_score() -> None:
    eng = engine()
    rec = decide(eng, scores={"pd": None}, app={"bureau_score": 790})
    assert rec["decision"] == "APPROVE" and rec["risk_grade"] == "A" and rec["pd"] is None
    rec = decide(eng, scores={"pd": None}, app={"bureau_score": 650})
    assert rec["decision"] == "REVIEW" and codes(rec)[0] == "P-COLD-REVIEW"
    rec = decide(eng, scores={"pd": float("nan")}, app={"bureau_score": 550})
    assert rec["decision"] == "DECLINE" and codes(rec)[0] == "P-COLD-DECLINE"
    rec = decide(eng, scores={"pd": None}, app={"bureau_score": None})
    assert rec["decision"] == "REVIEW" and codes(rec)[0] == "P-NO-FILE"
    # rules still apply in cold start
    rec = decide(eng, feats={"vel_device_apps_1h": 5.0}, scores={"pd": None},
                 app={"bureau_score": 790})
    assert rec["decision"] == "DECLINE"


def test_affordability_caps_loan_offer() -> None:
    # capacity = 0.4 * 24000/12 - 500 = 300/month; grade A apr 12%, 24 months
    rec = decide(engine(), app={"annual_income": 24000.0, "requested_amount": 20000.0})
    affordable = 300 / annuity_factor(0.12, 24)  # ~6373
    assert rec["decision"] == "APPROVE"
    assert rec["offer"]["amount"] == 6300.0 and rec["offer"]["amount"] <= affordable
    assert codes(rec) == ["P-AFFORD-CAP"]
    # the offered loan's payment fits the capacity
    assert rec["offer"]["amount"] * annuity_factor(0.12, 24) <= 300 + 1e-9


def test_affordability_uses_the_bureau_income_estimate_when_lower() -> None:
    bureau = {"inquiries_6m": 1, "delinquencies_24m": 0, "utilisation": 0.3,
              "file_age_months": 96, "open_accounts": 5, "thin_file": False,
              "new_accounts_6m": 0, "income_estimate": 18_000.0}
    # declared 24,000 but account turnover shows 18,000: 0.4 * 1500 - 500 = 100/month
    rec = decide(engine(), app={"annual_income": 24000.0, "requested_amount": 20000.0,
                                "bureau": bureau})
    assert rec["decision"] == "APPROVE" and codes(rec) == ["P-AFFORD-CAP"]
    assert rec["offer"]["amount"] == 2100.0  # floor(100 / annuity(12%, 24) to 100)
    # an estimate above the declared income never raises the cap
    rec = decide(engine(), app={"annual_income": 24000.0, "requested_amount": 20000.0,
                                "bureau": {**bureau, "income_estimate": 90_000.0}})
    assert rec["offer"]["amount"] == 6300.0


def test_unaffordable_declines() -> None:
    rec = decide(engine(), app={"annual_income": 15000.0, "monthly_debt_payments": 480.0})
    assert rec["decision"] == "DECLINE" and codes(rec) == ["P-AFFORD"] and rec["offer"] is None


def test_card_and_bnpl_offers_respect_caps() -> None:
    pol = Policy.from_yaml(POLICY_YAML)
    card = pol.for_product("CREDIT_CARD")
    app = {"annual_income": 30000.0, "monthly_debt_payments": 800.0, "requested_amount": 9000.0,
           "requested_term_months": 0}
    offer = make_offer(card, "A", app)  # capacity 200/month at 5% -> 4000
    assert offer is not None and offer.amount == 4000.0 and offer.capped_by_affordability
    bnpl = pol.for_product("BNPL")
    offer = make_offer(bnpl, "A", {**app, "requested_amount": 2000.0, "requested_term_months": 4})
    assert offer is not None and (offer.term_months, offer.amount) == (3, 600.0)
    offer = make_offer(bnpl, "A", {**app, "requested_amount": 120.0, "requested_term_months": 6})
    assert offer is not None and offer.amount == 120.0 and not offer.capped_by_affordability


def test_same_inputs_same_decision() -> None:
    eng = engine(allow("EMAIL", "x@example.com"))
    feats = {**FEATS, "sess_paste_count": 4.0}
    app, scores = dict(APP), dict(SCORES)
    first = eng.decide(app, feats, scores, VERSIONS)
    app_c, feats_c, scores_c = copy.deepcopy((app, feats, scores))
    for _ in range(3):
        assert engine(allow("EMAIL", "x@example.com")).decide(
            app, feats, scores, VERSIONS) == first
        assert eng.decide(app, feats, scores, VERSIONS) == first
    assert (app, feats, scores) == (app_c, feats_c, scores_c)  # inputs not mutated


def test_hot_reload_applies_to_next_decision_and_records_version() -> None:
    eng = engine()
    feats = {"sess_paste_count": 3.0}
    before = decide(eng, feats=feats)
    eng.rules.load_text(RULES_YAML.replace('version: "r1"', 'version: "r2"').replace(
        "sess_paste_count >= 3, action: review", "sess_paste_count >= 3, action: decline"))
    after = decide(eng, feats=feats)
    assert (before["decision"], after["decision"]) == ("REVIEW", "DECLINE")
    assert before["versions"]["rules"].startswith("r1+")
    assert after["versions"]["rules"].startswith("r2+")


def test_unknown_product_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="no product"):
        Policy.from_yaml(POLICY_YAML).for_product("MORTGAGE")


def test_invalid_policy_rejected_with_field() -> None:
    bad = POLICY_YAML.replace("approve_below: 0.05, decline_at: 0.10", "approve_below: 0.2, "
                              "decline_at: 0.10", 1)
    with pytest.raises(PolicyError, match=r"PERSONAL_LOAN\.pd"):
        Policy.from_yaml(bad)


def test_default_policy_loads() -> None:
    pol = Policy.default()
    assert set(pol.products) == {"CREDIT_CARD", "PERSONAL_LOAN", "BNPL"}


def test_lazy_model_reasons_are_asked_only_for_adverse_action_and_told_what_drove_it() -> None:
    calls: list[bool] = []

    def reasons(fraud_driven: bool) -> list[tuple[str, str]]:
        calls.append(fraud_driven)
        return [("F-FRAUD" if fraud_driven else "F-CREDIT", "why")]

    eng = engine()
    assert decide(eng, scores={"reasons": reasons})["decision"] == "APPROVE"
    assert calls == []  # no TreeSHAP for an approval
    assert "F-FRAUD" in codes(decide(eng, feats={"vel_device_apps_1h": 9.0},
                                      scores={"reasons": reasons}))
    assert "F-FRAUD" in codes(decide(eng, scores={"fraud_probability": 0.3,
                                                  "reasons": reasons}))
    assert "F-CREDIT" in codes(decide(eng, scores={"pd": 0.2, "reasons": reasons}))
    assert "F-CREDIT" in codes(decide(eng, feats={"app_dti": 0.9},
                                      scores={"reasons": reasons}))  # a credit rule
    assert calls == [True, True, False, False]
