"""Canonical identifiers: every rule with the variants applicants really type."""

from __future__ import annotations

import pytest

from features import canonical as C
from features.identity import address_string, application_identifiers, hash_identifier
from features.synthetic import application

KEY = b"k"


@pytest.mark.parametrize("variant", [
    "07700 900123", "07700900123", "+44 7700 900123", "+44 (0)7700 900123", "0044 7700 900123",
    "+447700900123", "(07700) 900-123", "+44-7700-900-123", " 07700 900 123 ", "+4407700900123",
])
def test_uk_mobile_variants_resolve_to_one_e164(variant: str) -> None:
    assert C.phone(variant, "GB") == "+447700900123"


def test_national_format_is_read_in_the_address_country() -> None:
    assert C.phone("06 12 34 56 78", "FR") == "+33612345678"
    assert C.phone("+33 6 12 34 56 78", "GB") == "+33612345678"  # international wins
    assert C.phone("087 123 4567", "IE") == "+353871234567"
    assert C.phone("087 123 4567", "IE") != C.phone("087 123 4567", "GB")


def test_unparseable_phone_keeps_its_digits() -> None:
    assert C.phone("call me", "GB") == ""
    assert C.phone("+12", "GB") == C.phone("+ 1 2", "GB") == "+12"


@pytest.mark.parametrize(("variant", "canonical"), [
    ("Jo.Smith+loans@GMail.com", "josmith@gmail.com"),
    ("josmith@googlemail.com", "josmith@gmail.com"),
    (" J.O.SMITH@gmail.com ", "josmith@gmail.com"),
    ("jo.smith@gmail.com.", "josmith@gmail.com"),
    ("Jo.Smith+x@outlook.com", "jo.smith@outlook.com"),  # Outlook keeps dots, drops +tags
    ("jo.smith+2@hotmail.co.uk", "jo.smith@hotmail.co.uk"),
    ("jo+bank@icloud.com", "jo@icloud.com"),
    ("j.o-s_mith+x@protonmail.com", "josmith@proton.me"),
    ("jo.smith@pm.me", "josmith@proton.me"),
    # unknown rules: only case and spaces change (a dot or +tag may be a different mailbox)
    ("Jo.Smith+x@yahoo.co.uk", "jo.smith+x@yahoo.co.uk"),
    ("Jo.Smith@BTInternet.com", "jo.smith@btinternet.com"),
])
def test_email_provider_rules(variant: str, canonical: str) -> None:
    assert C.email(variant) == canonical


def test_email_that_differs_by_a_digit_shares_a_skeleton_not_a_key() -> None:
    a, b = C.email("jsmith84@gmail.com"), C.email("jsmith85@gmail.com")
    assert a != b
    assert C.email_skeleton(a) == C.email_skeleton(b) == "jsmith@gmail.com"
    assert C.email_skeleton(C.email("jsmith84@outlook.com")) != C.email_skeleton(a)


@pytest.mark.parametrize("variant", [
    "14 Elm Court", "14, Elm Court", "14 Elm Ct", "14 elm ct.", "14 ELM COURT ", "14  Elm   Court",
    "Flat 1, 14 Elm Court", "Flat 2 14 Elm Ct", "FLAT 1A, 14 ELM CT", "Apartment 3, 14 Elm Court",
    "Apt. 12, 14 Elm Court", "Ground Floor Flat, 14 Elm Ct", "2nd Floor, 14 Elm Court",
    "3/14 Elm Court", "Elm Court 14", "Flat B, 14 Elm Court", "Unit 4, 14 Elm Crt",
    "Studio 9, 14 Elm Court",
])
def test_address_variants_resolve_to_one_premise(variant: str) -> None:
    assert C.premise(variant) == "14 elm ct"


@pytest.mark.parametrize(("a", "b"), [
    ("Apartment 3, Riverside House, 5 Quay Street", "5 Quay St"),
    ("221 B Baker Street", "221b Baker St"),
    ("1 Saint Mary's Road", "1 St. Mary’s Rd"),
    ("14 - 16 High Street", "14-16 High St"),
    ("Rose Cottage, Mill Lane", "rose cottage mill ln"),
    ("12 Crèche Gardens", "12 Creche Gdns"),
])
def test_more_premise_variants(a: str, b: str) -> None:
    assert C.premise(a) == C.premise(b)


@pytest.mark.parametrize(("a", "b"), [
    ("14 Elm Court", "15 Elm Court"),
    ("14 Elm Court", "14 Elm Road"),
    ("14a Elm Court", "14b Elm Court"),
    ("14 Elm Court", "14 Oak Court"),
])
def test_different_premises_stay_different(a: str, b: str) -> None:
    assert C.premise(a) != C.premise(b)


def test_premise_is_idempotent_on_its_own_output() -> None:
    for v in ("Flat 1, 14 Elm Court", "Apartment 3, Riverside House, 5 Quay Street",
              "221 B Baker Street", "1 Saint Mary's Road"):
        assert C.premise(C.premise(v)) == C.premise(v)


@pytest.mark.parametrize("variant", ["E1 6AN", "e16an", "E1  6AN ", "e1-6an"])
def test_postcode_variants(variant: str) -> None:
    assert C.postcode(variant) == "E16AN"


def test_address_key_is_premise_postcode_country() -> None:
    key = C.address("Flat 1, 14 Elm Court", "e16an", "gb ")
    assert key == "14 elm ct|E16AN|GB" == C.address("14 Elm Ct", "E1 6AN", "GB")
    assert C.address("14 Elm Ct", "E1 6AN", "GB") != C.address("14 Elm Ct", "E1 6AP", "GB")


@pytest.mark.parametrize(("a", "b"), [
    ("Dr  Seán O'Brien-Smith", "sean obriensmith"),
    ("MRS ZOË  D’ARCY", "zoe darcy"),
    ("  Ann-Marie   Jones ", "annmarie jones"),
])
def test_names_for_comparison(a: str, b: str) -> None:
    assert C.name(a) == b


def test_person_key_for_the_same_dob_and_surname_near_match() -> None:
    assert C.person_key("O'Brien", "1990-01-01") == C.person_key("OBRIEN ", " 1990-01-01")
    assert C.person_key("O'Brien", "1990-01-01") != C.person_key("O'Brien", "1990-01-02")


def test_application_hashes_agree_across_written_variants() -> None:
    a = application("a", 0, phone="+447700900123", email="jo.smith@gmail.com",
                    line1="14 Elm Court", postcode="E1 6AN")
    b = application("b", 0, phone="07700 900123", email="Jo.Smith+loans@googlemail.com",
                    line1="Flat 1, 14 Elm Ct ", postcode="e16an")
    ha, hb = application_identifiers(KEY, a), application_identifiers(KEY, b)
    assert ha[2:4] == hb[2:4] and ha[5] == hb[5]  # phone, email, address
    assert hash_identifier(KEY, "address", address_string(b["address"])) == ha[5]
    # the canonical form, not the clear value, is hashed: no clear value survives
    assert all("elm" not in h and "7700" not in h for h in hb)


def test_the_e164_fast_path_returns_what_the_parse_returns() -> None:
    """``_already_e164`` skips libphonenumber only where the parse gives the input back:
    every country calling code, every first digit of the national number, lengths from
    one digit to too long, read in several regions."""
    import random

    import phonenumbers

    rng = random.Random(164)
    numbers = ["+447700900123", "+353871234567", "+33612345678", "+4915112345678"]
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for first in "0123456789":
            for length in (1, 2, 5, 8, 10, 12, 16):
                rest = "".join(rng.choice("0123456789") for _ in range(length - 1))
                numbers.append(f"+{code}{first}{rest}")
    numbers += ["+1", "+999123456", "+0123456789", "+44", "+4407700900123", "+12"]
    fast = 0
    for number in numbers:
        for region in ("GB", "AR", "US"):
            if C._already_e164(number):
                fast += 1
                assert C._parsed(number, region) == number, (number, region)
    assert fast > len(numbers)  # most of them take the fast path (in every region)
