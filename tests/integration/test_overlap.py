"""The overlapped worker step (``streams/worker/overlap.py``) on the real Redis: batch n+1's
round trip in flight while batch n is decided keeps every guarantee of deciding them one
after the other -- one decision per application across consecutive batches, state seen
in order, declines counted exactly when the offline replay of the worker's log says, the
degraded mode and its outage state."""

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
from streams.worker.memo import unpack
from streams.worker.overlap import Overlap
from streams.worker.pipeline import Decided, DecisionPipeline
from tests.records import live_traffic

pytestmark = pytest.mark.integration
SHARE = "graph_component_declined_share_30d"


def _pipeline(redis_url: str, tmp_path: Path, prefix: str,
              lists: ListIndex | None = None, clear: bool = True) -> DecisionPipeline:
    settings = Settings(redis_url=redis_url, redis_prefix=prefix, state_dir=tmp_path / prefix,
                        hash_key="overlap-test")
    p = build_pipeline(settings, lists)
    if clear:
        p.features.clear()
    return p


class Run:
    """Batches through an ``Overlap``, with the worker's log in the order things happened:
    a batch's applications when its round trip is sent, its decisions when made."""

    def __init__(self, p: DecisionPipeline, drain_each: bool = False) -> None:
        self.flow = Overlap(p)
        self.drain_each = drain_each
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.decided: list[Decided] = []
        self._dec = codec_for("decision")

    def _got(self, decided: list[Decided]) -> None:
        self.decided += decided
        self.log += [("decision", self._dec.decode(d.decision_bytes)) for d in decided]

    def batch(self, apps: list[dict[str, Any]]) -> None:
        self.flow.land()  # what the worker does before it logs (and sends) the next
        self.log += [("application", a) for a in apps]
        self._got(self.flow.send(apps, None))
        if self.drain_each:
            self._got(self.flow.drain())

    def finish(self) -> list[Decided]:
        self._got(self.flow.drain())
        self.flow.settle()
        self.flow.close()
        return self.decided


def test_a_redelivery_in_the_next_batches_gets_the_one_decision(
        redis_client: Any, redis_url: str, tmp_path: Path) -> None:
    """An application of batch 1 again in batch 2 (sent before batch 1 is decided) and in
    batch 3 (its memo write queued behind batch 3's round trip), and a repeat inside a
    batch: each gets the first decision byte for byte, scored and learned once, computed
    once in Redis; the memo holds it once the writes have settled."""
    apps, dev, beh = live_traffic(24, seed=31)
    p = _pipeline(redis_url, tmp_path, "ovl-redeliver")
    p.features.ingest_session_events(dev, beh)
    run = Run(p)
    run.batch(apps[:8])
    run.batch([apps[3], *apps[8:16], apps[3]])
    run.batch([apps[5], apps[12], *apps[16:]])
    out = run.finish()
    assert len(out) == 8 + 10 + 10
    first = {d.application_id: d for d in out if not d.redelivered}
    assert sorted(first) == sorted(a["application_id"] for a in apps)
    again = [d for d in out if d.redelivered]
    assert sorted(d.application_id for d in again) == sorted(
        a["application_id"] for a in (apps[3], apps[3], apps[5], apps[12]))
    for d in again:
        assert d.decision_bytes == first[d.application_id].decision_bytes
        assert d.features_bytes == first[d.application_id].features_bytes
    assert p.anomaly is not None and p.anomaly.n_learned == len(apps)
    for a in apps:  # memoised, and the velocity counted each application once
        blob = redis_client.hget(p.memo.bucket(a), a["application_id"])
        assert blob is not None and unpack(blob)[0] == first[a["application_id"]].decision_bytes
    assert p.memo.backlog == 0
    # batch n+1 saw batch n's writes: the vectors are those of one batch after the other
    # (but the declined share, which counts declines one batch later when overlapped)
    serial = _pipeline(redis_url, tmp_path, "ovl-redeliver-serial")
    serial.features.ingest_session_events(dev, beh)
    one_by_one = serial.decide_batch(apps[:8]) + serial.decide_batch(apps[8:16]) + \
        serial.decide_batch(apps[16:])
    fv, at = codec_for("feature_vector"), FEATURE_SPEC.names.index(SHARE)

    def vectors(decided: list[Decided]) -> dict[str, list[float | None]]:
        return {d.application_id: [v for i, v in enumerate(fv.decode(d.features_bytes)[
            "values"]) if i != at] for d in decided if not d.redelivered}

    assert vectors(out) == vectors(one_by_one)


@pytest.mark.parametrize("drain_each", [False, True], ids=["overlapped", "drained"])
def test_declines_count_exactly_when_the_replay_of_the_worker_log_says(
        redis_client: Any, redis_url: str, tmp_path: Path, drain_each: bool) -> None:
    """A blocked applicant is declined in batch 1. Overlapped, batch 2's round trip went
    before batch 1 was decided, so its linked applicant does not see the decline and batch
    3's does; drained after each batch (light load), batch 2 sees it. Either way replaying
    the worker's log offline gives the vectors served, value for value."""
    apps, _dev, _beh = live_traffic(30, seed=23)
    blocked = apps[3]
    blocked["device_id"] = "blocked-device-ovl"
    for i in (5, 15, 25):  # linked to the declined applicant by its phone
        apps[i]["phone"] = blocked["phone"]
    lists = ListIndex()
    lists.apply(make_update("BLOCK", "DEVICE_ID", "blocked-device-ovl", event_time=0))
    prefix = f"ovl-decl-{int(drain_each)}"
    p = _pipeline(redis_url, tmp_path, prefix, lists)
    run = Run(p, drain_each=drain_each)
    for batch in (apps[:10], apps[10:20], apps[20:]):
        run.batch(batch)
    out = run.finish()
    fv = codec_for("feature_vector")
    served = {d.application_id: fv.decode(d.features_bytes)["values"] for d in out}
    assert {d.application_id: d.decision["decision"] for d in out}[
        blocked["application_id"]] == "DECLINE"
    at = FEATURE_SPEC.names.index(SHARE)
    assert served[apps[5]["application_id"]][at] == 0.0  # its own batch: never
    second = served[apps[15]["application_id"]][at]
    assert (second > 0.0) if drain_each else (second == 0.0)
    assert served[apps[25]["application_id"]][at] > 0.0

    engine = FeatureEngine(p.features.redis, b"overlap-test", prefix=f"{prefix}-off")
    engine.clear()
    rows = list(replay(engine, run.log, batch_size=7))
    assert len(rows) == len(apps)
    for app, values in rows:
        assert FEATURE_SPEC.to_list(values) == served[app["application_id"]], \
            app["application_id"]


def test_flush_declines_records_the_held_ones(redis_client: Any, redis_url: str,
                                              tmp_path: Path) -> None:
    """The last batches' declines wait for a round trip that a stopping worker will not
    send: ``flush_declines`` records them (what the replay does at the end of its log)."""
    apps, _dev, _beh = live_traffic(6, seed=24)
    apps[0]["device_id"] = "blocked-device-flush"
    apps[4]["phone"] = apps[0]["phone"]
    lists = ListIndex()
    lists.apply(make_update("BLOCK", "DEVICE_ID", "blocked-device-flush", event_time=0))
    p = _pipeline(redis_url, tmp_path, "ovl-flush", lists)
    run = Run(p)
    run.batch(apps[:3])
    run.finish()
    assert p.declines == [(apps[0]["application_id"], int(apps[0]["event_time"]))]
    p.flush_declines()
    assert p.declines == []
    later = p.decide_batch(apps[3:])
    fv = codec_for("feature_vector")
    share = fv.decode(later[1].features_bytes)["values"][FEATURE_SPEC.names.index(SHARE)]
    assert share > 0.0


def test_an_outage_degrades_every_batch_and_backs_off_once(tmp_path: Path) -> None:
    """Redis away: the first batch's round trip spends the whole backoff on the Redis
    thread, and the batch sent after it has landed tries once; every decision is a
    degraded REVIEW, a redelivery in the next batch gets the same one, and the memo
    writes are kept in the process."""
    apps, _dev, _beh = live_traffic(8, seed=25)
    p = _pipeline("redis://127.0.0.1:1/0", tmp_path, "ovl-down", clear=False)  # no one listens
    p.retries = (0.01, 0.01)
    pauses: list[float] = []
    p.sleep = pauses.append
    run = Run(p)
    run.batch(apps[:4])
    run.batch([apps[1], *apps[4:]])
    out = run.finish()
    assert pauses == [0.01, 0.01]
    assert len(out) == 9 and all(d.decision["decision"] == "REVIEW" for d in out)
    assert all(d.degraded for d in out if not d.redelivered)
    redelivered = [d for d in out if d.redelivered]
    assert [d.application_id for d in redelivered] == [apps[1]["application_id"]]
    assert redelivered[0].decision_bytes == out[1].decision_bytes
    assert p.memo.backlog == len(apps)
    assert all(p.memo.pending(a) is not None for a in apps)
