"""The quote policy file: validity, velocity limits, refusals naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from decisions.errors import PolicyError
from decisions.quote_policy import DAY_MS, DEFAULT_QUOTE_POLICY_PATH, QuotePolicy, limit_reasons
from features.spec import QUOTE_SPEC


def test_the_shipped_policy_loads_and_limits_only_quote_velocity() -> None:
    p = QuotePolicy.from_yaml(DEFAULT_QUOTE_POLICY_PATH, QUOTE_SPEC.names)
    assert p.version.startswith("2026.12.1+")
    assert p.valid_until(1_000) == 1_000 + 30 * DAY_MS
    assert set(p.doc.limits) <= set(QUOTE_SPEC.names)


def test_limits_are_exceeded_strictly_and_give_the_feature_reason_once(tmp_path: Path) -> None:
    f = tmp_path / "q.yaml"
    f.write_text("version: t\nvalid_days: 7\nlimits:\n  qvel_device_quotes_10m: 5\n"
                 "  qvel_device_quotes_1h: 8\n")
    p = QuotePolicy.from_yaml(f, QUOTE_SPEC.names)
    assert p.over_limits({"qvel_device_quotes_10m": 5.0, "qvel_device_quotes_1h": 8.0}) == []
    hits = p.over_limits({"qvel_device_quotes_10m": 6.0, "qvel_device_quotes_1h": 9.0})
    assert [h.feature for h in hits] == ["qvel_device_quotes_10m", "qvel_device_quotes_1h"]
    reasons = limit_reasons(hits, QUOTE_SPEC.reason)  # both say the same text: given once
    assert reasons == [{"code": "F-QVEL-DEVICE-10M", "source": "QUOTE",
                        "text": "Too many recent quote requests from the same device"}]


@pytest.mark.parametrize(("body", "needle"), [
    ("version: t\nvalid_days: 7\nlimits: {vel_id_apps_24h: 3}\n", "unknown features"),
    ("version: t\nvalid_days: 0\n", "valid_days"),
    ("version: t\nvalid_days: [\n", "not valid YAML"),
])
def test_bad_files_are_refused_naming_the_problem(tmp_path: Path, body: str,
                                                  needle: str) -> None:
    f = tmp_path / "q.yaml"
    f.write_text(body)
    with pytest.raises(PolicyError, match=needle):
        QuotePolicy.from_yaml(f, QUOTE_SPEC.names)
