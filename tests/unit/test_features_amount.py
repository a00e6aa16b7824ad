"""`features.applicant.AMOUNT_FEATURES`: the features a counter-offer moves, and how."""

from __future__ import annotations

import pytest

from features.applicant import AMOUNT_FEATURES, applicant_features, moved_features
from features.synthetic import application


@pytest.mark.parametrize("product,term", [("PERSONAL_LOAN", 36), ("CREDIT_CARD", 0),
                                          ("BNPL", 4)])
def test_a_share_of_the_amount_scales_exactly_the_amount_features(product: str,
                                                                  term: int) -> None:
    asked = application("a-1", 0, product=product, term=term, requested_amount=4000.0)
    before = applicant_features(asked)  # type: ignore[arg-type]
    for share in (0.75, 0.5, 0.25):
        moved = moved_features(asked, {**asked, "requested_amount": 4000.0 * share})
        assert set(moved) == set(AMOUNT_FEATURES)
        for n in AMOUNT_FEATURES:
            assert moved[n] == pytest.approx(before[n] * share, rel=1e-12)
