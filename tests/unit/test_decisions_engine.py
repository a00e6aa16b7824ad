"""Decision precedence, each action, reasons, cold start, offers and determinism."""

from __future__ import annotations

import copy

import pytest

from decisions.engine import POLICY_TEXTS, REVIEW_BAND, REVIEW_WORDING, DecisionEngine
from decisions.errors import PolicyError
from decisions.lists import ListIndex
from decisions.policy import Policy, annuity_factor, make_offer
from decisions.rules import RuleSet, RuleStore
from decisions.shadow import shadow_decide
from schemas import codec_for
from tests.decision_cases import (
    APP,
    FEATS,
    MODEL_REASONS,
    POLICY_YAML,
    RULES_YAML,
    SCORES,
    VERSIONS,
    allow,
    block,
    codes,
    decide,
    engine,
    model_reasons,
)


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
    # top 4; the fraud review the decline outranks (P-FRAUD-REVIEW) is not given
    assert codes(rec) == ["R-F-DEC", "R-F-REV", "F-A", "F-B"]
    assert [r["source"] for r in rec["reason_codes"]] == ["RULE", "RULE", "MODEL", "MODEL"]


def test_a_model_reason_repeating_a_rule_reason_text_gives_its_slot_away() -> None:
    reasons = [("F-DEVICE", "Too many applications from this device"),
               ("F-A", "Model reason A"), ("F-B", "Model reason B")]
    rec = decide(engine(), feats={"vel_device_apps_1h": 7.0}, reasons=lambda _: reasons)
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
    # an adverse outcome, so that every step runs: an allow-list hit, a credit rule, a
    # policy finding, the model reasons and their de-duplication
    eng = engine(allow("EMAIL", "x@example.com"))
    feats = {**FEATS, "sess_paste_count": 4.0, "app_dti": 0.9}
    app, scores = dict(APP), {**SCORES, "pd": 0.07}
    first = eng.decide(app, feats, scores, VERSIONS, model_reasons=model_reasons)
    assert first["decision"] == "DECLINE" and first["list_hits"] == ["ALLOW:EMAIL"]
    assert codes(first) == ["R-C-DEC", "F-A", "F-B", "F-C"]  # no review text on a decline
    app_c, feats_c, scores_c = copy.deepcopy((app, feats, scores))
    for _ in range(3):
        assert engine(allow("EMAIL", "x@example.com")).decide(
            app, feats, scores, VERSIONS, model_reasons=model_reasons) == first
        assert eng.decide(app, feats, scores, VERSIONS, model_reasons=model_reasons) == first
    assert (app, feats, scores) == (app_c, feats_c, scores_c)  # inputs not mutated
    assert MODEL_REASONS[0] == ("F-A", "Model reason A")  # nor the reasons handed over


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
    assert decide(eng, reasons=reasons)["decision"] == "APPROVE"
    assert calls == []  # no TreeSHAP for an approval
    assert "F-FRAUD" in codes(decide(eng, feats={"vel_device_apps_1h": 9.0}, reasons=reasons))
    assert "F-FRAUD" in codes(decide(eng, scores={"fraud_probability": 0.3}, reasons=reasons))
    assert "F-CREDIT" in codes(decide(eng, scores={"pd": 0.2}, reasons=reasons))
    assert "F-CREDIT" in codes(decide(eng, feats={"app_dti": 0.9},
                                      reasons=reasons))  # a credit rule
    assert calls == [True, True, False, False]


@pytest.mark.parametrize(("case", "outcome", "asked"), [
    ({}, "APPROVE", False),
    ({"app": {"annual_income": 24000.0, "requested_amount": 20000.0}}, "APPROVE", False),  # capped
    ({"feats": {"sess_emulator": 1.0}}, "APPROVE", False),  # a flag rule only
    ({"app": {"annual_income": 15000.0, "monthly_debt_payments": 480.0}}, "DECLINE",
     False),  # unaffordable: P-AFFORD says why
    ({"lists": [block("DEVICE_ID", "dev-1")]}, "DECLINE", False),  # L-BLOCK says why
    ({"feats": {"sess_paste_count": 3.0}}, "REVIEW", True),
    ({"scores": {"anomaly_score": 0.99}}, "REVIEW", True),
    ({"scores": {"pd": None}, "app": {"bureau_score": None}}, "REVIEW", True),
    ({"scores": {"pd": 0.3}}, "DECLINE", True),
    ({"feats": {"vel_device_apps_1h": 9.0}, "scores": {"fraud_probability": 0.9}}, "DECLINE",
     True),
])
def test_model_reasons_are_computed_once_and_only_when_a_decline_or_review_needs_them(
    case: dict, outcome: str, asked: bool,
) -> None:
    calls: list[bool] = []

    def counting(fraud_driven: bool) -> list[tuple[str, str]]:
        calls.append(fraud_driven)
        return [("F-COUNTED", "Counted model reason")]

    rec = decide(engine(*case.get("lists", [])), feats=case.get("feats"),
                 scores=case.get("scores"), app=case.get("app"), reasons=counting)
    assert rec["decision"] == outcome
    assert len(calls) == (1 if asked else 0)
    assert ("F-COUNTED" in codes(rec)) == asked


def test_no_model_reasons_gives_the_same_decision_without_model_codes() -> None:
    eng = engine()
    with_reasons = decide(eng, scores={"pd": 0.07})
    without = decide(eng, scores={"pd": 0.07}, reasons=None)
    assert codes(with_reasons) == ["P-PD-REVIEW", "F-A", "F-B", "F-C"]
    assert codes(without) == ["P-PD-REVIEW"]
    assert {**with_reasons, "reason_codes": []} == {**without, "reason_codes": []}


def _published(decision: dict) -> dict:
    """A decision as a worker stamps it before publishing."""
    return {**decision, "decided_at": 1_700_000_000_123, "worker": "w-1",
            "timings_us": {"features": 210.5, "score": 80.0, "anomaly": 12.25, "decide": 40.0}}


@pytest.mark.parametrize("case", [
    {"app": {"date_of_birth": "1990-02-01"}},  # APPROVE with an offer and an age band
    {"app": {"annual_income": 24000.0, "requested_amount": 20000.0}},  # capped offer
    {"feats": {"sess_paste_count": 3.0, "vel_device_apps_1h": 7.0, "sess_emulator": 1.0}},
    {"scores": {"pd": None, "fraud_probability": None, "anomaly_score": None,
                "scorecard_points": None}, "app": {"bureau_score": None}},  # no models, no file
    {"lists": [block("DEVICE_ID", "dev-1"), allow("EMAIL", "x@example.com")]},
    {"shadow": {"pd": 0.5}},  # with the challenger's decision attached
])
def test_engine_output_is_a_decision_record_the_codec_round_trips(case: dict) -> None:
    codec = codec_for("decision")
    eng = engine(*case.get("lists", []))
    rec = decide(eng, feats=case.get("feats"), scores=case.get("scores"), app=case.get("app"))
    if "shadow" in case:
        rec["shadow"] = shadow_decide(eng, APP, FEATS, {**SCORES, **case["shadow"]},
                                      {"model_pd": "pd-2"})
        assert rec["shadow"]["decision"] == "DECLINE"
    published = _published(rec)
    assert set(published) == {f["name"] for f in codec.schema["fields"]}
    assert codec.decode(codec.encode(published)) == published


REVIEW_TEXT_RULES = """
version: "r-review"
rules:
  - {id: R-MANUAL, category: fraud, condition: sess_paste_count >= 3, action: review,
     reason_code: R-MANUAL, reason_text: Application requires manual review}
  - {id: R-PASTE, category: fraud, condition: sess_paste_count >= 5, action: review,
     reason_code: R-PASTE, reason_text: Details were pasted}
  - {id: R-DTI, category: credit, condition: app_dti > 0.6, action: decline,
     reason_code: R-DTI, reason_text: Debt too high for income}
"""


@pytest.mark.parametrize(("decline", "review", "review_codes"), [
    ({"scores": {"pd": 0.2, "fraud_probability": 0.3}}, {"scores": {"fraud_probability": 0.3}},
     {"P-FRAUD-REVIEW"}),
    ({"scores": {"pd": 0.2, "anomaly_score": 0.99}}, {"scores": {"anomaly_score": 0.99}},
     {"P-ANOMALY"}),
    ({"scores": {"fraud_probability": 0.9, "pd": 0.07}}, {"scores": {"pd": 0.07}},
     {"P-PD-REVIEW"}),
    ({"scores": {"fraud_probability": 0.9, "pd": None}, "app": {"bureau_score": 650}},
     {"scores": {"pd": None}, "app": {"bureau_score": 650}}, {"P-COLD-REVIEW"}),
    ({"feats": {"sess_paste_count": 5.0, "app_dti": 0.9}}, {"feats": {"sess_paste_count": 5.0}},
     {"R-MANUAL"}),
])
def test_a_decline_never_carries_review_band_text_but_a_review_does(
        decline: dict, review: dict, review_codes: set[str]) -> None:
    """A review finding or review rule that a decline outranks is not a reason for the
    decline ("requires further review" is not what happened); the same finding on a
    REVIEW is its reason. Facts from review rules stay ("Details were pasted")."""
    eng = DecisionEngine(ListIndex(), RuleStore(RuleSet.from_yaml(REVIEW_TEXT_RULES)),
                         Policy.from_yaml(POLICY_YAML))
    rec = decide(eng, feats=decline.get("feats"), scores=decline.get("scores"),
                 app=decline.get("app"))
    assert rec["decision"] == "DECLINE" and rec["reason_codes"]
    assert not review_codes & set(codes(rec))
    assert not any(REVIEW_WORDING.search(r["text"]) for r in rec["reason_codes"])
    if "feats" in decline:
        assert "R-PASTE" in codes(rec)  # a fact from a review rule is kept
    rec = decide(eng, feats=review.get("feats"), scores=review.get("scores"),
                 app=review.get("app"))
    assert rec["decision"] == "REVIEW" and review_codes <= set(codes(rec))


def test_every_review_band_policy_text_is_recognised() -> None:
    """The policy reasons of a REVIEW finding that only announce a review are in
    REVIEW_BAND and read as such; P-NO-FILE states a fact and stays on a decline."""
    review_findings = {"P-FRAUD-REVIEW", "P-PD-REVIEW", "P-ANOMALY", "P-COLD-REVIEW"}
    assert review_findings == REVIEW_BAND
    assert all(REVIEW_WORDING.search(POLICY_TEXTS[c]) for c in REVIEW_BAND)
    assert not any(REVIEW_WORDING.search(t) for c, t in POLICY_TEXTS.items()
                   if c not in REVIEW_BAND)


def test_the_model_that_drove_the_outcome_explains_it() -> None:
    """A credit decline with a fraud review beside it is explained by the PD model; a
    fraud decline or a fraud review (the outcome itself) by the fraud model."""
    calls: list[bool] = []

    def reasons(fraud_driven: bool) -> list[tuple[str, str]]:
        calls.append(fraud_driven)
        return [("F-FRAUD" if fraud_driven else "F-CREDIT", "why")]

    eng = engine()
    rec = decide(eng, scores={"pd": 0.2, "fraud_probability": 0.3}, reasons=reasons)
    assert rec["decision"] == "DECLINE" and "F-CREDIT" in codes(rec)
    rec = decide(eng, scores={"pd": 0.2, "fraud_probability": 0.6}, reasons=reasons)
    assert rec["decision"] == "DECLINE" and "F-FRAUD" in codes(rec)
    rec = decide(eng, feats={"sess_paste_count": 3.0}, scores={"pd": 0.2}, reasons=reasons)
    assert rec["decision"] == "DECLINE" and "F-CREDIT" in codes(rec)  # fraud review rule
    rec = decide(eng, scores={"pd": 0.07, "fraud_probability": 0.3}, reasons=reasons)
    assert rec["decision"] == "REVIEW" and "F-FRAUD" in codes(rec)
    assert calls == [False, True, False, True]
