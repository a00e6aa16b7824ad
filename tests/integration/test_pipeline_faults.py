"""Faults on the real pipeline (issue 7): workers killed or stopped, Redis down, the sink
down, garbage on the input topic, redelivery. Every check is on what analysts see
(ClickHouse through the sink) and what downstream consumers see (Kafka topics).

The stack (``fault_pipeline`` in ``conftest.py``, driven by ``tests/harness.py``) is one
module-scoped set of real processes; each test starts from the baseline (one worker, the
sink, Redis up) and uses application ids of its own prefix. Waits poll with generous
timeouts, never fixed sleeps.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from schemas import codec_for
from schemas.topics import APPLICATIONS, BY_NAME, DEADLETTER, DECISIONS
from tests import records
from tests.harness import FaultPipeline, Message, traffic, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APP_CODEC = codec_for(APPLICATIONS.schema)
DECISION_CODEC = codec_for(DECISIONS.schema)


def decided_ids(p: FaultPipeline, prefix: str) -> list[str]:
    return [r[0] for r in p.query("SELECT application_id FROM decisions_of_record "
                                  f"WHERE startsWith(application_id, '{prefix}')")]


def assert_each_decided_once(p: FaultPipeline, prefix: str, ids: list[str]) -> None:
    """decisions_of_record holds exactly the published applications, once each; copies of a
    redelivered decision in the raw table are identical to the first."""
    latest = decided_ids(p, prefix)
    assert len(latest) == len(ids), "decisions_of_record must count each application once"
    assert set(latest) == set(ids), f"missing: {sorted(set(ids) - set(latest))[:5]}"
    raw_distinct = p.scalar("SELECT uniqExact(application_id) FROM decisions "
                            f"WHERE startsWith(application_id, '{prefix}')")
    assert raw_distinct == len(ids)
    differing = p.query(
        "SELECT application_id, count() AS copies FROM decisions "
        f"WHERE startsWith(application_id, '{prefix}') GROUP BY application_id "
        # a tuple: uniqExact(a, b, ...) would skip every row where pd is NULL (cold start)
        "HAVING uniqExact(tuple(decision, pd, anomaly_score, reason_codes, offer_amount, "
        "decided_at, worker)) > 1")
    assert differing == [], f"redelivered applications decided differently: {differing[:5]}"


# --- 1. a worker crashes (SIGKILL) mid-stream and is restarted ------------------------------
def test_worker_killed_mid_stream_loses_nothing(fault_pipeline: FaultPipeline) -> None:
    p = fault_pipeline
    p.ensure(workers=(0,))
    messages, ids = traffic("kill", 1200, seed=101)
    pub = p.publisher(messages, slice_size=100, pause_s=0.25).start()
    decided = ("SELECT uniqExact(application_id) FROM decisions "
               "WHERE startsWith(application_id, 'kill')")
    p.wait_until(lambda: p.scalar(decided) > 0, 180, "the first decisions of the stream")
    p.workers[0].kill()
    assert p.scalar(decided) < len(ids), "the worker finished before the kill: not mid-stream"
    pub.join()
    log = p.workers[0].log
    offset = log.stat().st_size
    p.start_worker(0)  # returns once the stack has seen the new process log "Worker ready"
    assert "Worker ready" in log.read_bytes()[offset:].decode(errors="replace"), (
        "LocalStack.wait_for_log returned on the killed process's line, not the new one's")
    p.wait_decided("kill", len(ids))
    assert_each_decided_once(p, "kill", ids)


# --- 2. two workers, one stopped: its partitions move ----------------------------------------
def test_stopped_worker_partitions_move_none_lost_or_double_counted(
        fault_pipeline: FaultPipeline) -> None:
    p = fault_pipeline
    p.ensure(workers=(0, 1))
    first, first_ids = traffic("two-a", 600, seed=202, partitioned=True)
    p.publish(first)
    p.wait_decided("two-a", len(first_ids))
    by_worker = dict(p.query("SELECT worker, count() FROM decisions_of_record "
                             "WHERE startsWith(application_id, 'two-a') GROUP BY worker"))
    assert set(by_worker) == {"worker-0", "worker-1"}, by_worker  # both owned partitions

    second, second_ids = traffic("two-b", 900, seed=203, partitioned=True)
    pub = p.publisher(second, slice_size=300, pause_s=0.2).start()
    p.workers[1].stop()  # SIGTERM mid-stream: worker-1 leaves the group
    pub.join()
    p.wait_decided("two-b", len(second_ids))
    assert_each_decided_once(p, "two-a", first_ids)
    assert_each_decided_once(p, "two-b", second_ids)

    # after the move, worker-0 alone decides every partition
    third, third_ids = traffic("two-c", 60, seed=204, partitioned=True)
    p.publish(third)
    p.wait_decided("two-c", len(third_ids))
    workers = p.query("SELECT DISTINCT worker FROM decisions_of_record "
                      "WHERE startsWith(application_id, 'two-c')")
    assert workers == [["worker-0"]]
    assert_each_decided_once(p, "two-c", third_ids)


# --- 3. Redis down: degraded mode, then back to normal -----------------------------------
def test_redis_down_decisions_degrade_to_review_and_nothing_is_lost(
        fault_pipeline: FaultPipeline) -> None:
    from streams.ops.services import redis_node

    p = fault_pipeline
    p.ensure(workers=(0,))
    node = redis_node(p.settings)
    down, down_ids = traffic("redis-down", 150, seed=301)
    try:
        assert node.stop()
        p.publish(down)
        p.wait_decided("redis-down", len(down_ids))
    finally:
        node.start()
    assert_each_decided_once(p, "redis-down", down_ids)
    rows = p.query("SELECT decision, reason_codes FROM decisions_of_record "
                   "WHERE startsWith(application_id, 'redis-down')")
    assert all("S-STATE-UNAVAILABLE" in codes for _d, codes in rows), rows[:5]
    assert {d for d, _codes in rows} == {"REVIEW"}  # never guessed: no block-list hits here

    # Redis is back (empty: no persistence): decisions are normal again
    up, up_ids = traffic("redis-up", 150, seed=302)
    p.publish(up)
    p.wait_decided("redis-up", len(up_ids))
    assert_each_decided_once(p, "redis-up", up_ids)
    degraded = p.scalar("SELECT countIf(has(reason_codes, 'S-STATE-UNAVAILABLE')) "
                        "FROM decisions_of_record WHERE startsWith(application_id, 'redis-up')")
    assert degraded == 0
    assert p.scalar("SELECT countIf(decision = 'APPROVE') FROM decisions_of_record "
                    "WHERE startsWith(application_id, 'redis-up')") > 0


# --- 4. the sink is down while traffic continues ---------------------------------------------
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_sink_down_clickhouse_catches_up(fault_pipeline: FaultPipeline, how: str) -> None:
    p = fault_pipeline
    p.ensure(workers=(0,))
    prefix = f"sink{how}"
    # a stream in flight when the sink goes down: SIGTERM writes its batch, SIGKILL loses it
    # uncommitted (and leaves the store's lock to the OS), to be replayed from Kafka
    before, before_ids = traffic(f"{prefix}-before", 300, seed=400 if how == "stop" else 410)
    p.publish(before)
    assert p.sink_proc is not None
    getattr(p.sink_proc, how)()
    messages, ids = traffic(f"{prefix}-during", 500, seed=401 if how == "stop" else 411)
    p.publish(messages)

    def decisions_in_kafka() -> bool:
        keys = {m.key().decode() for m in p.read_topic(DECISIONS.name, DECISIONS.partitions)}
        return set(ids) <= keys

    p.wait_until(decisions_in_kafka, 180, "the worker to decide while the sink is down", 2.0)
    p.start_sink()
    p.wait_decided(f"{prefix}-", len(ids) + len(before_ids))
    assert_each_decided_once(p, f"{prefix}-before", before_ids)
    assert_each_decided_once(p, f"{prefix}-during", ids)
    p.wait_until(p.sink_caught_up, 120, "the sink to commit everything")


# --- 5. garbage on the input topic: dead letters with reasons, good ones decided -------------
def _bad_messages(prefix: str, n_each: int, rng: random.Random) -> dict[str, list[Message]]:
    topic = APPLICATIONS.name
    wrong_schema = codec_for(BY_NAME["device.events.v1"].schema)
    out: dict[str, list[Message]] = {"random": [], "truncated": [], "wrong_schema": [],
                                     "negative_income": []}
    for i in range(n_each):
        key = f"{prefix}-random-{i}".encode()
        out["random"].append((topic, key, rng.randbytes(rng.randint(1, 300)), None))
        app_id = f"{prefix}-truncated-{i}"
        whole = APP_CODEC.encode(records.application(application_id=app_id))
        cut = whole[:rng.randint(1, len(whole) - 1)]
        out["truncated"].append((topic, app_id.encode(), cut, None))
        key = f"{prefix}-wrong-{i}".encode()
        out["wrong_schema"].append(
            (topic, key, wrong_schema.encode(records.device_event(event_id=key.decode())), None))
        app_id = f"{prefix}-negative-{i}"
        neg = APP_CODEC.encode(records.application(application_id=app_id, session_id=app_id,
                                                   annual_income=-1000.0 - i))
        out["negative_income"].append((topic, app_id.encode(), neg, None))
    return out


def test_malformed_messages_go_to_dead_letters_good_ones_decided(
        fault_pipeline: FaultPipeline) -> None:
    p = fault_pipeline
    p.ensure(workers=(0,))
    rng = random.Random(7)
    bad = _bad_messages("junk", 250, rng)
    good, good_ids = traffic("junk-good", 200, seed=501)
    mixed: list[Message] = [m for ms in bad.values() for m in ms] + good
    rng.shuffle(mixed)  # session events may now follow their application: still decided
    p.publish(mixed)
    n_bad = sum(len(ms) for ms in bad.values())
    assert n_bad == 1000

    p.wait_decided("junk-good", len(good_ids))
    assert_each_decided_once(p, "junk-good", good_ids)
    assert p.scalar("SELECT count() FROM decisions WHERE startsWith(application_id, 'junk-') "
                    "AND NOT startsWith(application_id, 'junk-good')") == 0

    # the dead-letter topic: every bad message once, original bytes, a reason
    dl_codec = codec_for(DEADLETTER.schema)
    sent = {m[1]: m[2] for ms in bad.values() for m in ms}
    letters: dict[bytes, dict[str, Any]] = {}

    def all_dead_lettered() -> bool:
        for msg in p.read_topic(DEADLETTER.name, DEADLETTER.partitions):
            rec = dl_codec.decode(msg.value())
            if rec["key"] in sent:
                letters[rec["key"]] = rec
        return len(letters) == len(sent)

    p.wait_until(all_dead_lettered, 120, "1,000 dead letters", 2.0)
    for key, rec in letters.items():
        assert rec["payload"] == sent[key]
        assert rec["source_topic"] == APPLICATIONS.name
        assert rec["error"]
        kind = key.decode().split("-")[1]
        assert rec["error_type"] == ("VALIDATION" if kind == "negative" else "DECODE"), rec
        if kind == "negative":
            assert "annual_income is negative" in rec["error"]

    # ... and in ClickHouse through the sink, with their reasons
    sql = ("SELECT error_type, count(), countIf(error != '') FROM dead_letters FINAL "
           "WHERE startsWith(base64Decode(assumeNotNull(key_base64)), 'junk-') "
           "GROUP BY error_type ORDER BY error_type")
    p.wait_until(lambda: sum(r[1] for r in p.query(sql)) >= n_bad, 120,
               "1,000 dead letters in ClickHouse")
    assert p.query(sql) == [["DECODE", 750, 750], ["VALIDATION", 250, 250]]


# --- 6. redelivery: the same application twice gets the identical decision ------------------
def test_redelivered_application_gets_identical_decision_counted_once(
        fault_pipeline: FaultPipeline) -> None:
    p = fault_pipeline
    p.ensure(workers=(0,))
    messages, ids = traffic("redeliver", 20, seed=601)
    p.publish(messages)
    p.wait_decided("redeliver", len(ids))
    apps = [m for m in messages if m[0] == APPLICATIONS.name]
    p.publish(apps)  # the same applications again, byte for byte (an upstream retry)

    def decisions_by_key() -> dict[bytes, list[bytes]]:
        out: dict[bytes, list[bytes]] = {}
        for msg in p.read_topic(DECISIONS.name, DECISIONS.partitions):
            if msg.key().decode() in ids:
                out.setdefault(msg.key(), []).append(msg.value())
        return out

    got = p.wait_until(lambda: (d := decisions_by_key()) and all(len(v) >= 2 for v in d.values())
                     and len(d) == len(ids) and d, 120, "two decisions per application")
    for key, values in got.items():
        first = DECISION_CODEC.decode(values[0])
        for again in values[1:]:
            rec = DECISION_CODEC.decode(again)
            assert (rec["decision"], rec["pd"], rec["reason_codes"]) == (
                first["decision"], first["pd"], first["reason_codes"]), key
            assert again == values[0], f"{key!r}: the redelivered decision is not identical"

    p.wait_until(p.sink_caught_up, 120, "the sink to write the redelivered decisions")
    assert_each_decided_once(p, "redeliver", ids)


def test_exactly_once_worker_killed_mid_stream_publishes_each_decision_once(
        fault_pipeline: FaultPipeline) -> None:
    """LOANRISK_PROCESSING_GUARANTEE=exactly_once on the default engine: SIGKILL mid-stream,
    restart under the same worker id; a read_committed reader of the decision topic sees
    every application exactly once (at-least-once may publish a redelivered one twice)."""
    p = fault_pipeline
    p.ensure(workers=())
    eos = {"LOANRISK_PROCESSING_GUARANTEE": "exactly_once"}
    proc = p.stack.worker(7, **eos)
    again = None
    try:
        p.stack.wait_for_log(proc, "Worker ready", timeout_s=180)
        messages, ids = traffic("eos", 1200, seed=801)
        pub = p.publisher(messages, slice_size=100, pause_s=0.25).start()
        decided = ("SELECT uniqExact(application_id) FROM decisions "
                   "WHERE startsWith(application_id, 'eos')")
        p.wait_until(lambda: p.scalar(decided) > 0, 180, "the first decisions of the stream")
        proc.kill()
        assert p.scalar(decided) < len(ids), "the worker finished before the kill"
        pub.join()
        again = p.stack.worker(7, **eos)
        p.stack.wait_for_log(again, "Worker ready", timeout_s=180)
        p.wait_decided("eos", len(ids))
        assert_each_decided_once(p, "eos", ids)
        keys = [m.key().decode() for m in p.read_topic(DECISIONS.name, DECISIONS.partitions)
                if m.key() is not None and m.key().startswith(b"eos")]
        assert sorted(keys) == sorted(ids), (
            f"{len(keys) - len(set(keys))} duplicate and "
            f"{len(set(ids) - set(keys))} missing decisions on the topic")
    finally:
        for worker in (proc, again):
            if worker is not None and worker.alive():
                worker.stop()


def test_faust_engine_decides_the_same_traffic(fault_pipeline: FaultPipeline) -> None:
    """`loanrisk worker --engine faust` runs the same pipeline over Faust agents, quotes
    included."""
    p = fault_pipeline
    p.ensure(workers=())
    proc = p.stack.spawn("worker-faust", "worker", "--engine", "faust",
                         LOANRISK_WORKER_ID="worker-faust")
    try:
        p.stack.wait_for_log(proc, "Worker ready", timeout_s=180)
        messages, ids = traffic("faust", 30, seed=701)
        run = f"fq{uuid.uuid4().hex[:6]}"
        p.publish([*messages, *_quote_requests(run, 5)])
        p.wait_decided("faust", len(ids))
        wait_until(lambda: p.scalar("SELECT count() FROM quotes_of_record WHERE "
                                    f"startsWith(quote_id, '{run}-')") == 5, 120,
                   "five quotes")
        assert_each_decided_once(p, "faust", ids)
        workers = p.scalar("SELECT groupUniqArray(worker) FROM decisions_of_record "
                           "WHERE startsWith(application_id, 'faust')")
        assert workers == ["worker-faust"]
    finally:
        proc.stop()


def _quote_requests(prefix: str, n: int) -> list[Any]:
    from schemas.topics import QUOTE_REQUESTS

    codec = codec_for(QUOTE_REQUESTS.schema)
    out = []
    for i in range(n):
        q = records.application(national_id=f"QQ{i:06d}F", email=f"{prefix}{i}@example.com")
        del q["application_id"]
        q.update(quote_id=f"{prefix}-{i}", session_id=None)
        out.append((QUOTE_REQUESTS.name, q["quote_id"].encode(), codec.encode(q), None))
    return out
