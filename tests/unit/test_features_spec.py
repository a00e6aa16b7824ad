"""The feature spec, keyed identifier hashing, and the pure feature families."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.applicant import applicant_features, monthly_payment
from features.errors import FeatureError
from features.identity import application_identifiers, hash_identifier
from features.session import session_features, timezone_countries
from features.spec import FEATURE_SPEC, FeatureDef, FeatureSpec
from features.synthetic import application


def test_spec_is_ordered_unique_and_versioned() -> None:
    names = FEATURE_SPEC.names
    assert len(names) == len(set(names)) == len(FEATURE_SPEC.defs)
    assert 50 <= len(names) <= 120
    assert FEATURE_SPEC.version.startswith("fs-")
    assert all(d.monotone in (-1, 0, 1) for d in FEATURE_SPEC.defs)
    assert all(d.reason_code.startswith("F-") and d.reason_text for d in FEATURE_SPEC.defs)
    assert FEATURE_SPEC.reason("vel_device_apps_1h") == (
        "F-VEL-DEVICE-1H", "Too many recent applications from the same device")


def test_version_changes_when_a_definition_changes() -> None:
    d = FEATURE_SPEC.defs[0]
    changed = FeatureDef(d.name, d.dtype, d.default, d.description + " (v2)", d.family,
                         d.reason_code, d.reason_text, d.monotone)
    assert FeatureSpec([changed, *FEATURE_SPEC.defs[1:]]).version != FEATURE_SPEC.version
    assert FeatureSpec(list(FEATURE_SPEC.defs)).version == FEATURE_SPEC.version


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(FeatureError, match="duplicate"):
        FeatureSpec([FEATURE_SPEC.defs[0], FEATURE_SPEC.defs[0]])


def test_to_array_orders_by_spec_with_nan_for_missing_and_defaults_for_absent() -> None:
    arr = FEATURE_SPEC.to_array({"vel_device_apps_1h": 3.0, "bureau_score": None})
    assert arr.dtype == np.float64 and arr.shape == (len(FEATURE_SPEC),)
    assert arr[FEATURE_SPEC.index["vel_device_apps_1h"]] == 3.0
    assert math.isnan(arr[FEATURE_SPEC.index["bureau_score"]])
    assert arr[FEATURE_SPEC.index["sess_behaviour_missing"]] == 1.0  # declared default
    assert math.isnan(arr[FEATURE_SPEC.index["vel_id_hours_since_prev"]])  # default None


def test_hash_is_keyed_normalised_and_kind_separated() -> None:
    h = hash_identifier(b"k1", "email", "A@Example.com ")
    assert h == hash_identifier(b"k1", "email", "a@example.com")
    assert h != hash_identifier(b"k2", "email", "a@example.com")
    assert h != hash_identifier(b"k1", "phone", "a@example.com")
    assert hash_identifier(b"k", "phone", "+44 7700 900001") == hash_identifier(
        b"k", "phone", "+447700900001")
    assert len(h) == 24 and "example" not in h
    with pytest.raises(FeatureError):
        hash_identifier(b"", "email", "x")


def test_application_identifiers_never_contain_clear_values() -> None:
    app = application("a1", 0, national_id="QQ123456C", email="x@y.com")
    ids = application_identifiers(b"k", app)
    assert len(ids) == 6
    assert not any("QQ123456C".lower() in h or "x@y.com" in h for h in ids)


def test_applicant_features_exact_values() -> None:
    app = application("a1", 0, annual_income=24_000.0, requested_amount=6_000.0, term=12,
                      bureau=False)
    f = applicant_features(app)
    assert f["app_dti"] == pytest.approx(400 * 12 / 24_000)
    assert f["app_amount_to_income"] == pytest.approx(0.25)
    assert f["app_pti"] == pytest.approx(monthly_payment(6_000.0, 12, "PERSONAL_LOAN") / 2_000)
    assert monthly_payment(6_000.0, 12, "PERSONAL_LOAN") == pytest.approx(533.09, abs=0.01)
    assert monthly_payment(3_000.0, 0, "CREDIT_CARD") == pytest.approx(90.0)
    assert f["bureau_missing"] == 1.0 and f["bureau_inquiries_6m"] is None
    assert f["product_personal_loan"] == 1.0 and f["product_bnpl"] == 0.0
    zero = applicant_features(application("a2", 0, annual_income=0.0))
    assert zero["app_dti"] is None and zero["app_pti"] is None


def test_income_check_against_the_bureau_estimate() -> None:
    app = application("a1", 0, annual_income=60_000.0)
    app["bureau"]["income_estimate"] = 40_000.0
    app["bureau"]["new_accounts_6m"] = 3
    f = applicant_features(app)
    assert f["app_income_to_estimate"] == pytest.approx(1.5)
    assert f["bureau_log_income_estimate"] == pytest.approx(math.log1p(40_000.0))
    assert f["bureau_new_accounts_6m"] == 3.0
    # no account data shared (or a v1 record without the fields): missing, never a failure
    for est in (None, 0.0, float("nan")):
        app["bureau"]["income_estimate"] = est
        f = applicant_features(app)
        assert f["app_income_to_estimate"] is None and f["bureau_log_income_estimate"] is None
    del app["bureau"]["income_estimate"], app["bureau"]["new_accounts_6m"]
    f = applicant_features(app)
    assert f["bureau_new_accounts_6m"] is None and f["app_income_to_estimate"] is None
    no_file = applicant_features(application("a2", 0, bureau=False))
    assert no_file["app_income_to_estimate"] is None and no_file["bureau_new_accounts_6m"] is None
    # both raise risk in the spec's monotone directions; the estimate itself lowers it
    by = FEATURE_SPEC.by_name
    assert by["app_income_to_estimate"].monotone == 1 and by["bureau_new_accounts_6m"].monotone == 1
    assert by["bureau_log_income_estimate"].monotone == -1


def test_session_features_missing_session_never_fails() -> None:
    f = session_features({}, "GB", "dev", "ip")
    assert f["sess_behaviour_missing"] == 1.0 and f["sess_device_missing"] == 1.0
    assert f["sess_paste_count"] is None and f["sess_emulator"] is None


def test_session_features_exact_values_from_summary() -> None:
    summary = {"bn": "5", "bt0": "1000", "bt1": "31000", "bpv": "2", "bks": "3",
               "bksum": "3000", "bksq": "3020000", "bpaste": "1", "bcorr": "0",
               "dn": "1", "demu": "1", "droot": "0", "ddev": "dev", "dip": "other",
               "dipc": "NG", "dgeoc": "GB", "dtz": "Africa/Lagos"}
    f = session_features(summary, "GB", "dev", "ip")
    assert f["sess_form_fill_seconds"] == 30.0
    assert f["sess_keystroke_interval_mean_ms"] == 100.0
    # tenths of ms: mean 1000, E[x^2] = 3020000/3 -> var = 6666.67 tenths^2
    assert f["sess_keystroke_interval_std_ms"] == pytest.approx(math.sqrt(20000 / 3) / 10)
    assert f["sess_ip_country_mismatch"] == 1.0 and f["sess_geo_country_mismatch"] == 0.0
    assert f["sess_timezone_mismatch"] == 1.0
    assert f["sess_ip_mismatch"] == 1.0 and f["sess_device_mismatch"] == 0.0


def test_timezone_table_knows_the_simulated_countries() -> None:
    tz = timezone_countries()
    assert "GB" in tz["Europe/London"] and "NG" in tz["Africa/Lagos"]
