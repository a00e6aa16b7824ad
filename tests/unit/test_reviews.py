"""The review domain: queue order (against a brute-force oracle), action checks and four
eyes, the reason catalogue, masking and sealing, roles."""

from __future__ import annotations

import itertools
import random

import pytest

from decisions.policy import Policy
from reviews.actions import (
    Action,
    ActionRefused,
    CaseFacts,
    PendingAction,
    Request,
    check,
)
from reviews.catalogue import default_catalogue
from reviews.events import final_decision, review_event
from reviews.privacy import Sealer, SealError, mask
from reviews.queue import LGD, Filters, Order, QueueItem, headline, ordered
from reviews.roles import Permission, allowed

POLICY = Policy.default()
CATALOGUE = default_catalogue([("R-001", "Too many recent applications from the same device")])


def _case(**kw: object) -> CaseFacts:
    base: dict[str, object] = {"application_id": "a1", "product": "PERSONAL_LOAN",
                               "original_decision": "REVIEW", "risk_grade": "C"}
    base.update(kw)
    return CaseFacts(**base)  # type: ignore[arg-type]


def test_expected_loss_order_matches_a_brute_force_ranking() -> None:
    rng = random.Random(5)
    items = [QueueItem(f"a{i}", "BNPL", rng.randrange(10**6),
                       rng.choice([None, rng.uniform(100, 9000)]),
                       rng.choice([None, rng.random() / 5]), rng.choice([None, rng.random() / 3]))
             for i in range(60)]
    got = ordered(items, Order.EXPECTED_LOSS, 10**7)

    def loss(i: QueueItem) -> float | None:  # the formula written out again
        if i.requested_amount is None or (i.pd is None and i.fraud_probability is None):
            return None
        f, p = i.fraud_probability or 0.0, i.pd or 0.0
        return i.requested_amount * f + i.requested_amount * (1 - f) * p * LGD

    scored = [i for i in items if loss(i) is not None]
    # every scored case comes before every unscored one, and no pair is out of order
    assert {i.application_id for i in got[:len(scored)]} == {i.application_id for i in scored}
    for a, b in itertools.pairwise(got[:len(scored)]):
        assert loss(a) >= loss(b)  # type: ignore[operator]
    unscored = got[len(scored):]
    assert [i.decided_at_ms for i in unscored] == sorted(i.decided_at_ms for i in unscored)
    by_age = ordered(items, Order.SLA_AGE, 10**7)
    assert [i.decided_at_ms for i in by_age] == sorted(i.decided_at_ms for i in items)


def test_filters_and_headline() -> None:
    now = 10_000_000
    items = [QueueItem("a", "BNPL", now - 1000, 1.0, 0.1, 0.1, ("P-COLD-REVIEW",), ("R-002",)),
             QueueItem("b", "CREDIT_CARD", now - 20_000_000, None, None, None, claimed_by="rita")]
    assert [i.application_id for i in items if Filters(reason_code="R-002").keeps(i)] == ["a"]
    assert [i.application_id for i in items if Filters(assignee="-").keeps(i)] == ["a"]
    assert [i.application_id for i in items if Filters(assignee="rita").keeps(i)] == ["b"]
    h = headline(items, now, sla_s=3600)
    assert (h.open_cases, h.unassigned, h.over_sla, h.by_product) == \
        (2, 1, 1, {"BNPL": 1, "CREDIT_CARD": 1})


def test_an_approval_within_the_grade_settles_and_above_it_needs_four_eyes() -> None:
    ok = check(Request(Action.APPROVE, "rita", "reviewer", amount=5000, term_months=36),
               _case(), POLICY, CATALOGUE)
    assert ok.final_outcome == "APPROVE" and not ok.needs_second_reviewer
    assert ok.offer is not None and ok.offer.apr == POLICY.for_product(
        "PERSONAL_LOAN").offer.by_grade["C"].apr
    big = check(Request(Action.APPROVE, "rita", "reviewer", amount=30000, term_months=36),
                _case(), POLICY, CATALOGUE)
    assert big.needs_second_reviewer and big.final_outcome is None
    overturn = check(Request(Action.APPROVE, "rita", "reviewer", amount=2000, term_months=12),
                     _case(original_decision="DECLINE"), POLICY, CATALOGUE)
    assert overturn.needs_second_reviewer
    for amount, term in ((10**6, 36), (5000, 7), (10, 36)):
        with pytest.raises(ActionRefused):
            check(Request(Action.APPROVE, "rita", "reviewer", amount=amount, term_months=term),
                  _case(), POLICY, CATALOGUE)


def test_countersigning_needs_a_different_senior() -> None:
    pending = PendingAction("e1", Action.APPROVE, "sam", None, (), "")
    case = _case(pending=pending)
    with pytest.raises(ActionRefused, match="different senior"):
        check(Request(Action.COUNTERSIGN, "sam", "senior_reviewer"), case, POLICY, CATALOGUE)
    with pytest.raises(ActionRefused, match="only a senior"):
        check(Request(Action.COUNTERSIGN, "rita", "reviewer"), case, POLICY, CATALOGUE)
    with pytest.raises(ActionRefused, match="awaits"):
        check(Request(Action.DECLINE, "rita", "reviewer", reason_codes=("H-INCOME",)), case,
              POLICY, CATALOGUE)
    done = check(Request(Action.COUNTERSIGN, "sue", "senior_reviewer"), case, POLICY, CATALOGUE)
    assert done.final_outcome == "APPROVE"
    final = final_decision(done, case, "e2", 5)
    assert final is not None
    assert (final["reviewer"], final["second_reviewer"], final["review_event_id"]) == \
        ("sam", "sue", "e1")


def test_declines_need_catalogue_reasons_and_fraud_is_never_named() -> None:
    with pytest.raises(ActionRefused, match="at least one"):
        check(Request(Action.DECLINE, "rita", "reviewer"), _case(), POLICY, CATALOGUE)
    with pytest.raises(ActionRefused, match="not in the catalogue"):
        check(Request(Action.DECLINE, "rita", "reviewer", reason_codes=("NOPE",)), _case(),
              POLICY, CATALOGUE)
    fraud = check(Request(Action.CONFIRM_FRAUD, "rita", "reviewer"), _case(), POLICY, CATALOGUE)
    ev = review_event(fraud, _case(), "e", 1)
    assert ev["final"] and ev["reason_codes"] == ["P-FRAUD-DECLINE"]
    assert "fraud" not in CATALOGUE["P-FRAUD-DECLINE"].text.lower()
    assert "P-PD-REVIEW" not in CATALOGUE and "R-001" in CATALOGUE  # no review-band text
    with pytest.raises(ActionRefused, match="already decided"):
        check(Request(Action.APPROVE, "rita", "reviewer", amount=5000, term_months=36),
              _case(settled=True), POLICY, CATALOGUE)
    with pytest.raises(ActionRefused, match="cannot act"):
        check(Request(Action.NOTE, "ana", "analyst", note="x"), _case(), POLICY, CATALOGUE)


def test_masks_sealing_and_roles() -> None:
    assert mask("email", "ada@example.com") == "a•••@example.com"
    assert mask("national_id", "QQ123456C") == "•••56C"
    assert "Analytical" not in mask("address", {"line1": "1 Analytical St", "city": "London",
                                                "postcode": "N1 1AA"})
    token = Sealer("k1").seal({"first_name": "Ada"})
    assert "Ada" not in token and Sealer("k1").unseal(token) == {"first_name": "Ada"}
    with pytest.raises(SealError):
        Sealer("k2").unseal(token)
    assert allowed("reviewer", Permission.REVEAL)
    assert not allowed("reviewer", Permission.RELEASE_RULES)
    assert not allowed("reviewer", Permission.COUNTERSIGN)
    assert not allowed("admin", Permission.WORK_CASES) and not allowed("x", Permission.VIEW_CASES)
