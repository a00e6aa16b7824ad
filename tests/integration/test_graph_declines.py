"""Declines on the identity graph: the worker records the DECLINEs it publishes with its
next round trip, and replaying its log (each batch's applications, then its decisions)
offline gives the vectors it served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from decisions.lists import ListIndex, make_update
from features.engine import FeatureEngine
from features.offline import replay
from features.spec import FEATURE_SPEC
from schemas import codec_for
from streams.settings import Settings
from streams.worker.compose import build_pipeline
from tests.records import live_traffic

pytestmark = pytest.mark.integration
SHARE = "graph_component_declined_share_30d"


def test_published_declines_count_from_the_next_batch_and_replay_equals_online(
    redis_client: Any, redis_url: str, tmp_path: Path
) -> None:
    apps, _dev, _beh = live_traffic(30, seed=23)
    blocked = apps[3]
    blocked["device_id"] = "blocked-device-1"
    for i in (5, 20):  # linked to the declined applicant by its phone
        apps[i]["phone"] = blocked["phone"]
    lists = ListIndex()
    lists.apply(make_update("BLOCK", "DEVICE_ID", "blocked-device-1", event_time=0))
    settings = Settings(redis_url=redis_url, redis_prefix="gdecl", state_dir=tmp_path,
                        hash_key="declines-test")
    p = build_pipeline(settings, lists)
    p.features.clear()
    batches = [apps[:10], apps[10:]]
    dec, fv = codec_for("decision"), codec_for("feature_vector")
    log: list[tuple[str, dict[str, Any]]] = []
    served: dict[str, list[float | None]] = {}
    for batch in batches:
        decided = p.decide_batch(batch)
        log += [("application", a) for a in batch]
        log += [("decision", dec.decode(d.decision_bytes)) for d in decided]
        served.update({d.application_id: fv.decode(d.features_bytes)["values"]
                       for d in decided})
    decisions = {rec["application_id"]: rec["decision"] for t, rec in log if t == "decision"}
    assert decisions[blocked["application_id"]] == "DECLINE"
    at = FEATURE_SPEC.names.index(SHARE)
    # the same batch does not see the decline; the next one does (component: both at least)
    assert served[apps[5]["application_id"]][at] == 0.0
    assert 0.0 < served[apps[20]["application_id"]][at] <= 0.5
    # batch 1's declines went with batch 2's round trip; batch 2's wait for the next one
    assert p.declines == [(r["application_id"], int(r["event_time"])) for _, r in log[40:]
                          if r["decision"] == "DECLINE"]

    engine = FeatureEngine(p.features.redis, settings.identifier_hash_key, prefix="gdecl-off")
    engine.clear()
    rows = list(replay(engine, log, batch_size=7))  # other batch boundaries, same values
    assert len(rows) == len(apps)
    for app, values in rows:
        assert FEATURE_SPEC.to_list(values) == served[app["application_id"]], \
            app["application_id"]
