"""The decision step on the real Redis: redelivery, duplicates, determinism, degraded mode."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from models.registry import Registry
from schemas import codec_for
from streams.settings import Settings
from streams.worker.compose import build_pipeline
from streams.worker.pipeline import DecisionPipeline
from tests.harness import train_artifact
from tests.records import live_traffic, stable

pytestmark = pytest.mark.integration


def _pipeline(redis_url: str, tmp_path: Path, prefix: str) -> DecisionPipeline:
    settings = Settings(redis_url=redis_url, redis_prefix=prefix, state_dir=tmp_path,
                        hash_key="step-test")
    return build_pipeline(settings)


@pytest.fixture(scope="module")
def champions(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Artifacts of a small real PD and fraud model (trained once for the module)."""
    work = tmp_path_factory.mktemp("champions")
    return [train_artifact(work, "pd-step", name="pd", seed=3),
            train_artifact(work, "fraud-step", name="fraud", seed=4)]


def _promote(state_dir: Path, artifacts: list[Path]) -> None:
    reg = Registry(state_dir / "models")
    for artifact in artifacts:
        reg.promote(reg.register(artifact), "champion")


def test_every_application_is_decided_with_versions_and_redelivery_is_identical(
    redis_client, redis_url: str, tmp_path: Path
) -> None:
    apps, dev, beh = live_traffic(60)
    p = _pipeline(redis_url, tmp_path, "step1")
    p.features.ingest_session_events(dev, beh)
    first = p.decide_batch(apps[:40]) + p.decide_batch(apps[40:])
    assert [d.application_id for d in first] == [a["application_id"] for a in apps]
    for d in first:
        rec = codec_for("decision").decode(d.decision_bytes)
        assert rec["decision"] in {"APPROVE", "REVIEW", "DECLINE"}
        assert {"rules", "policy", "feature_spec", "anomaly", "code"} <= set(rec["versions"])
        if rec["decision"] != "APPROVE":
            assert 1 <= len(rec["reason_codes"]) <= 4
        fv = codec_for("feature_vector").decode(d.features_bytes)
        assert fv["application_id"] == d.application_id and len(fv["values"]) == len(fv["names"])

    again = p.decide_batch(list(reversed(apps)))  # a redelivery, in another order
    by_id = {d.application_id: d for d in first}
    assert all(d.redelivered for d in again)
    assert all(d.decision_bytes == by_id[d.application_id].decision_bytes for d in again)


def test_a_repeat_inside_one_batch_gets_the_same_decision(redis_client, redis_url: str,
                                                          tmp_path: Path) -> None:
    apps, _dev, _beh = live_traffic(5, seed=12)
    p = _pipeline(redis_url, tmp_path, "step2")
    out = p.decide_batch([*apps, apps[2], apps[0]])
    assert out[5].decision_bytes == out[2].decision_bytes and out[5].redelivered
    assert out[6].decision_bytes == out[0].decision_bytes and out[6].redelivered
    assert p.anomaly is not None and p.anomaly.n_learned == 5  # learned once per application


def test_same_inputs_and_versions_give_the_same_decisions(
    redis_client, redis_url: str, tmp_path: Path, champions: list[Path]
) -> None:
    apps, dev, beh = live_traffic(40, seed=13)
    runs = []
    for prefix in ("det-a", "det-b"):  # fresh state each time, the same models
        _promote(tmp_path / prefix, champions)
        p = _pipeline(redis_url, tmp_path / prefix, prefix)
        p.features.ingest_session_events(dev, beh)
        runs.append([stable(d.decision) for d in p.decide_batch(apps)])
    for d in runs[0]:  # really scored by both models and the anomaly model
        assert d["pd"] is not None and d["fraud_probability"] is not None, d
        assert d["anomaly_score"] is not None
        assert (d["versions"]["model_pd"], d["versions"]["model_fraud"]) == (
            "pd-step", "fraud-step")
    assert len({d["pd"] for d in runs[0]}) > 1, "every application got the same score"
    assert runs[0] == runs[1]


def test_redis_unreachable_decides_review_with_the_reason(redis_client, redis_url: str,
                                                           tmp_path: Path) -> None:
    apps, _dev, _beh = live_traffic(8, seed=14)
    p = _pipeline("redis://127.0.0.1:1/0", tmp_path, "down")  # nothing listens on port 1
    p.retries = (0.01, 0.01)
    pauses: list[float] = []
    p.sleep = pauses.append
    out = p.decide_batch(apps)
    assert len(out) == len(apps) and all(d.degraded for d in out)
    for d in out:
        assert d.decision["decision"] == "REVIEW"
        assert d.decision["reason_codes"][0]["code"] == "S-STATE-UNAVAILABLE"
        assert d.decision["offer"] is None
    assert pauses == [0.01, 0.01]  # the whole backoff once; then one try per batch
    more, _dev, _beh = live_traffic(3, seed=16)
    assert all(d.degraded for d in p.decide_batch(more)) and pauses == [0.01, 0.01]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_frozen_redis_degrades_and_the_degraded_decisions_are_memoised(tmp_path: Path) -> None:
    """A paused Redis (SIGSTOP: connections accepted, nothing answered) degrades the batch
    to REVIEW instead of stalling it; those decisions are decisions too: once Redis is
    back, the same applications get them again, byte for byte, from this worker and from
    a fresh one that never saw them (the memo writes kept while Redis was frozen)."""
    from infra.redis import RedisNode

    node = RedisNode(tmp_path / "frozen", _free_port(), persistent=False)
    node.start()
    pid = node.process.pid()
    assert pid is not None
    apps, _dev, _beh = live_traffic(6, seed=15)
    try:
        p = _pipeline(node.url, tmp_path, "frozen")
        os.kill(pid, signal.SIGSTOP)
        try:
            frozen = p.decide_batch(apps)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert all(d.degraded for d in frozen)
        assert {d.decision["decision"] for d in frozen} == {"REVIEW"}
        again = p.decide_batch(apps)  # Redis answers again: the kept memo is written
        assert all(d.redelivered for d in again)
        assert [d.decision_bytes for d in again] == [d.decision_bytes for d in frozen]
        fresh_worker = _pipeline(node.url, tmp_path, "frozen").decide_batch(apps)
        assert all(d.redelivered for d in fresh_worker)
        assert [d.decision_bytes for d in fresh_worker] == [d.decision_bytes for d in frozen]
    finally:
        node.stop()


def test_a_quote_is_the_decision_its_application_then_gets(
    redis_client, redis_url: str, tmp_path: Path, champions: list[Path]
) -> None:
    """The quote path (streams.worker.quotes) with real champion models: each customer's
    quote, asked just before they apply, has the decision, grade, offer, scores and
    reasons of their application, and leaves the application's features unchanged (no
    session on either; the anomaly model is off, it learns from each application)."""
    from decisions.quote_policy import QUOTE_SOURCE
    from streams.worker.quotes import QuoteDesk, quote_policy

    apps, _dev, _beh = live_traffic(30, seed=17)
    _promote(tmp_path, champions)
    p = _pipeline(redis_url, tmp_path, "quote1")
    p.anomaly = None
    desk = QuoteDesk(p, quote_policy(Settings()))
    compared = 0
    for app in apps:
        request = {k: v for k, v in app.items() if k != "application_id"}
        request.update(quote_id=f"q-{app['application_id']}",
                       session_id=app["session_id"])  # the same (empty) session
        (quote,) = desk.decide([request])
        (d,) = p.decide_batch([app])
        dec = d.decision
        assert quote["pd"] == dec["pd"] and quote["pd"] is not None
        assert quote["fraud_probability"] == dec["fraud_probability"]
        if any(r["source"] == QUOTE_SOURCE for r in quote["reason_codes"]):
            assert quote["decision"] == "DECLINE"  # many quotes: the quote's own limit
            continue
        offer = dec["offer"]
        assert (quote["decision"], quote["risk_grade"], quote["apr"], quote["limit"]) == (
            dec["decision"], dec["risk_grade"], offer["apr"] if offer else None,
            offer["amount"] if offer else None)
        assert quote["reason_codes"] == dec["reason_codes"]
        compared += 1
    assert compared >= 25
    assert desk.quoted == len(apps) and desk.degraded == 0
