"""``FeatureEngine.exchange``: a worker's whole batch in one round trip on the real Redis --
session events and fraud confirmations written first and seen by the applications of the
same call, the redelivery memo looked up inside the feature script, and a script cache
that Redis lost loaded again without counting anything twice."""

from __future__ import annotations

from typing import Any

import pytest

from features.engine import FeatureEngine
from features.synthetic import T0, application, behaviour_event, device_event
from features.windows import DAY_MS, HOUR_MS

pytestmark = pytest.mark.integration
KEY = b"test-key"


@pytest.fixture()
def engine(redis_client: Any) -> FeatureEngine:
    eng = FeatureEngine(redis_client, KEY, prefix="tx")
    eng.clear()
    return eng


def test_state_in_the_same_exchange_is_seen_and_equals_separate_calls(
        engine: FeatureEngine, redis_client: Any) -> None:
    dev = [device_event("d1", "s1", T0 - 5000, emulator=True)]
    beh = [behaviour_event("b1", "s1", T0 - 4000, "PAGE_VIEW"),
           behaviour_event("b2", "s1", T0 - 3000, "PASTE")]
    got = engine.exchange([application("a1", T0, session_id="s1")],
                          device_events=dev, behaviour_events=beh)
    v = got.vectors[0]
    assert v is not None and got.memoised == [None]
    assert (v["sess_paste_count"], v["sess_emulator"], v["sess_pages"]) == (1.0, 1.0, 1.0)
    # the same events and application through the separate calls, on another prefix
    other = FeatureEngine(redis_client, KEY, prefix="tx2")
    other.clear()
    other.ingest_session_events(dev, beh)
    assert other.compute(application("a1", T0, session_id="s1")) == v
    assert got.identifiers[0] == tuple(other.exchange(
        [application("a1", T0, session_id="s1")]).identifiers[0])


def test_fraud_confirmation_in_the_exchange_counts_for_its_applications(
        engine: FeatureEngine) -> None:
    engine.compute(application("bad", T0, phone="+449"))
    got = engine.exchange([application("y", T0 + 2 * DAY_MS, national_id="Y", phone="+449",
                                       device_id="d2", email="y@y", ip="2.2.2.2",
                                       line1="elsewhere")],
                          confirmations=[("bad", T0 + DAY_MS), ("nobody", T0)])
    assert got.fraud_known == 1
    assert got.vectors[0] is not None and got.vectors[0]["graph_fraud_linked"] == 1.0


def test_a_memoised_application_returns_its_blob_and_counts_nothing(
        engine: FeatureEngine, redis_client: Any) -> None:
    memo = "tx:memo-test"
    redis_client.hset(memo, "a0", b"\x00\x01blob\xff")
    got = engine.exchange([application("a0", T0), application("a1", T0 + 1000)],
                          [memo, memo])
    assert got.memoised == [b"\x00\x01blob\xff", None] and got.vectors[0] is None
    v = got.vectors[1]
    assert v is not None and v["vel_device_apps_1h"] == 1.0  # a0 was never recorded
    assert len(got.identifiers) == 2


def test_a_lost_script_cache_is_reloaded_and_nothing_counts_twice(
        engine: FeatureEngine, redis_client: Any) -> None:
    engine.compute(application("a0", T0))
    redis_client.script_flush()
    beh = [behaviour_event("b1", "s9", T0, "PASTE")]
    got = engine.exchange([application("a1", T0 + HOUR_MS // 2, session_id="s9")],
                          behaviour_events=beh)
    v = got.vectors[0]
    assert v is not None and v["vel_device_apps_1h"] == 2.0 and v["sess_paste_count"] == 1.0


def test_memo_keys_must_match_the_applications(engine: FeatureEngine) -> None:
    from features.errors import FeatureError

    with pytest.raises(FeatureError, match="one per application"):
        engine.exchange([application("a0", T0)], ["m1", "m2"])
