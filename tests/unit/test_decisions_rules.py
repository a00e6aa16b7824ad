"""Rules: loading, validation messages, evaluation semantics, hot reload."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from decisions.errors import RulesError
from decisions.rules import DEFAULT_RULES_PATH, RuleSet, RuleStore

KNOWN = ["vel_device_apps_1h", "sess_paste_count", "sess_emulator"]


def rules_yaml(version: str = "1", condition: str = "vel_device_apps_1h >= 3", **extra: str) -> str:
    more = "".join(f"\n    {k}: {v}" for k, v in extra.items())
    return f"""
version: "{version}"
rules:
  - id: R-1
    category: fraud
    condition: {condition}
    action: decline
    reason_code: R-1
    reason_text: Too many applications from this device{more}
  - id: R-2
    category: credit
    condition: pd > 0.2
    action: review
    reason_code: R-2
    reason_text: Risk too high
  - id: R-3
    category: fraud
    condition: sess_paste_count >= 1
    action: flag
    reason_code: R-3
    reason_text: Pasted details
"""


def test_default_file_loads_against_feature_spec() -> None:
    from features.spec import FEATURE_SPEC

    rs = RuleSet.from_yaml(DEFAULT_RULES_PATH, FEATURE_SPEC.names)
    assert len(rs) >= 10 and rs.version.startswith("2025.06.1+")


def test_hits_sorted_by_severity_and_actions() -> None:
    rs = RuleSet.from_yaml(rules_yaml(), KNOWN)
    ctx = {"vel_device_apps_1h": 5.0, "pd": 0.3, "sess_paste_count": 2.0}
    assert [(h.rule_id, h.action) for h in rs.evaluate(ctx)] == [
        ("R-1", "decline"), ("R-2", "review"), ("R-3", "flag")]
    assert [h.rule_id for h in rs.evaluate(ctx, skip_categories=("fraud",))] == ["R-2"]
    assert rs.evaluate({"vel_device_apps_1h": 2.0, "pd": 0.1, "sess_paste_count": 0.0}) == []


def test_missing_values_skip_unless_evaluate() -> None:
    rs = RuleSet.from_yaml(rules_yaml(condition="'!(vel_device_apps_1h < 3)'"), KNOWN)
    ctx = rs.context_for({}, {"vel_device_apps_1h": math.nan}, {"pd": None})
    assert ctx["vel_device_apps_1h"] is None
    assert rs.evaluate(ctx) == []
    rs2 = RuleSet.from_yaml(
        rules_yaml(condition="'vel_device_apps_1h == null'", missing="evaluate"), KNOWN)
    assert [h.rule_id for h in rs2.evaluate(ctx)] == ["R-1"]


def test_disabled_and_product_scoped_rules() -> None:
    rs = RuleSet.from_yaml(rules_yaml(enabled="false"), KNOWN)
    ctx = {"vel_device_apps_1h": 9.0}
    assert rs.evaluate(ctx) == []
    assert [h.rule_id for h in rs.evaluate(ctx, include_disabled=True)] == ["R-1"]
    scoped = RuleSet.from_yaml(rules_yaml(products="[BNPL]"), KNOWN)
    assert scoped.evaluate({**ctx, "product": "CREDIT_CARD"}) == []
    assert len(scoped.evaluate({**ctx, "product": "BNPL"})) == 1


def test_application_fields_visible_as_doubles() -> None:
    rs = RuleSet.from_yaml(rules_yaml(
        condition="'annual_income / 12.0 < 1000 && bureau_inquiries_6m > 2'"), KNOWN)
    app = {"annual_income": 9000, "bureau": {"inquiries_6m": 3}}
    assert [h.rule_id for h in rs.evaluate(rs.context_for(app, {}, {}))] == ["R-1"]
    # the bureau's income estimate: a rule can refuse to take a declared income on trust
    check = RuleSet.from_yaml(rules_yaml(
        condition="'annual_income > 1.5 * bureau_income_estimate'"), KNOWN)
    app = {"annual_income": 90000, "bureau": {"income_estimate": 40000, "new_accounts_6m": 2}}
    assert [h.rule_id for h in check.evaluate(check.context_for(app, {}, {}))] == ["R-1"]
    app["bureau"]["income_estimate"] = None  # not shared: the rule is skipped, not an error
    assert check.evaluate(check.context_for(app, {}, {})) == []


@pytest.mark.parametrize(("text", "message"), [
    (rules_yaml(condition="vel_device_apps_1h >>> 3"), "rule R-1: condition is not valid CEL"),
    (rules_yaml(condition="vel_device_app_1h >= 3"),
     "rule R-1: unknown name 'vel_device_app_1h' in condition (did you mean vel_device_apps_1h"),
    (rules_yaml(condition="vel_device_apps_1h + 1.0"), "rule R-1: condition must be true/false"),
    (rules_yaml(condition="vel_device_apps_1h / 2 > 1"), "rule R-1: condition fails on sample"),
    (rules_yaml().replace("action: decline", "action: block", 1), "rule R-1: action"),
    (rules_yaml().replace("id: R-2", "id: R-1"), "rule R-1: duplicate id"),
    (rules_yaml().replace("    reason_code: R-2\n", ""), "rule R-2: reason_code: Field required"),
    ("rules: []", "version"),
    ("version: 1\nrules: [\n", "not valid YAML"),
])
def test_invalid_files_name_rule_and_problem(text: str, message: str) -> None:
    with pytest.raises(RulesError) as err:
        RuleSet.from_yaml(text, KNOWN)
    assert message in str(err.value)


def test_version_changes_with_content() -> None:
    a = RuleSet.from_yaml(rules_yaml(), KNOWN)
    b = RuleSet.from_yaml(rules_yaml(condition="vel_device_apps_1h >= 4"), KNOWN)
    assert a.version.split("+")[0] == b.version.split("+")[0] == "1"
    assert a.version != b.version
    assert RuleSet.from_yaml(rules_yaml(), KNOWN).version == a.version


def test_store_keeps_old_version_on_invalid_text() -> None:
    store = RuleStore(known_names=KNOWN)
    good = store.load_text(rules_yaml())
    with pytest.raises(RulesError):
        store.load_text(rules_yaml(condition="nope >= 1"))
    assert store.current is good
    assert store.last_error is not None and "nope" in store.last_error


def test_hot_reload_from_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rules_yaml(version="1"))
    store = RuleStore.from_path(path, KNOWN)
    v1 = store.current.version
    assert store.reload_if_changed(path) is False  # unchanged

    path.write_text(rules_yaml(version="2", condition="vel_device_apps_1h >= 9"))
    os.utime(path, ns=(1, 10**18))  # a distinct mtime even on coarse clocks
    assert store.reload_if_changed(path) is True
    assert store.current.version.startswith("2+") and store.current.version != v1

    path.write_text("version: 3\nrules: [{id: broken}]")
    os.utime(path, ns=(2, 2 * 10**18))
    assert store.reload_if_changed(path) is False
    assert store.current.version.startswith("2+")
    assert store.last_error is not None and "rule broken" in store.last_error

    path.write_bytes(b"PAR1\x00\xff\xfe binary, e.g. a parquet file")  # never a traceback
    os.utime(path, ns=(3, 3 * 10**18))
    assert store.reload_if_changed(path) is False
    assert store.current.version.startswith("2+")
    assert store.last_error is not None and "not a text file" in store.last_error


def test_store_first_load_of_invalid_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nrules: [{id: X}]")
    with pytest.raises(RulesError, match="rule X"):
        RuleStore.from_path(path, KNOWN)
    with pytest.raises(RulesError, match="cannot read"):
        RuleStore.from_path(tmp_path / "absent.yaml", KNOWN)
