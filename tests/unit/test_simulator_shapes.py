"""The simulated fraud world: every ring shape shares what it should, genuine applicants
share too, and the shared identifiers resolve to one canonical key."""

from __future__ import annotations

import pandas as pd
import pytest

from features import canonical as C
from simulator.config import SimConfig
from simulator.history import generate_history

N = 20_000


@pytest.fixture(scope="module")
def apps() -> pd.DataFrame:
    return generate_history(SimConfig(), N, 6, 5).applications


def _address_key(df: pd.DataFrame) -> pd.Series:
    return pd.Series([C.address(a, p, c) for a, p, c in zip(
        df["address_line1"], df["address_postcode"], df["address_country"], strict=True)],
        index=df.index)


def test_each_shape_appears_near_its_configured_rate(apps: pd.DataFrame) -> None:
    f = SimConfig().fraud
    share = apps["fraud_type"].value_counts() / len(apps)
    for shape, rate in (("ring", f.ring_rate), ("slow_ring", f.slow_ring_rate),
                        ("mule", f.mule_rate), ("identity_farm", f.identity_farm_rate)):
        assert 0.4 * rate < share.get(shape, 0.0) < 2.2 * rate, shape
    assert apps.loc[apps["fraud_type"] != "none", "ring_id"].notna().sum() > 0


def test_slow_rings_rotate_devices_and_share_a_costly_identifier(apps: pd.DataFrame) -> None:
    rings = apps[apps["fraud_type"] == "slow_ring"].assign(addr=lambda d: _address_key(d))
    checked = 0
    for _, g in rings.groupby("ring_id"):
        if len(g) < 3:
            continue
        checked += 1
        assert g["device_id"].nunique() == len(g)  # a fresh device every time
        span_days = (g["event_time"].max() - g["event_time"].min()) / 86_400_000
        assert span_days > 1.0  # weeks, not hours
        shared = [g[c].nunique() <= 2 for c in ("addr", "employer", "bank_account")]
        assert any(shared)
        skeletons = {C.email_skeleton(C.email(e)) for e in g["email"]}
        assert len(skeletons) == 1 and g["email"].nunique() > 1  # one handle, other digits
    assert checked >= 3


def test_mules_pay_into_a_few_accounts_from_many_identities(apps: pd.DataFrame) -> None:
    mules = apps[apps["fraud_type"] == "mule"]
    for _, g in mules.groupby("ring_id"):
        assert g["bank_account"].nunique() <= 3
        assert g["national_id"].nunique() == len(g)


def test_identity_farms_share_one_building_written_many_ways(apps: pd.DataFrame) -> None:
    farms = apps[apps["fraud_type"] == "identity_farm"].assign(addr=lambda d: _address_key(d))
    varied = 0
    for _, g in farms.groupby("ring_id"):
        assert g["addr"].nunique() == 1 and g["device_id"].nunique() <= 2
        varied += g["address_line1"].nunique() > 1
    assert varied >= 2  # the clear strings differ, the canonical key does not


def test_genuine_sharers_exist_and_share_canonical_keys(apps: pd.DataFrame) -> None:
    g = apps[apps["fraud_type"] == "none"]
    kinds = g["genuine_sharing"].value_counts()
    assert {"family", "office", "halls"} <= set(kinds.index)
    assert (apps.loc[apps["fraud_type"] != "none", "genuine_sharing"] == "").all()
    fam = g[g["genuine_sharing"] == "family"].assign(addr=lambda d: _address_key(d))
    by_addr = fam.groupby("addr")
    multi = by_addr.filter(lambda x: x["national_id"].nunique() > 1)
    assert len(multi) > 0.3 * len(fam)
    assert (multi.groupby("addr")["last_name"].nunique() == 1).mean() > 0.9
    written = multi.groupby("addr")["address_line1"].nunique()
    assert (written > 1).any()  # families write the same address differently
    halls = g[g["genuine_sharing"] == "halls"].assign(addr=lambda d: _address_key(d))
    assert halls["addr"].nunique() <= 6 < len(halls)
