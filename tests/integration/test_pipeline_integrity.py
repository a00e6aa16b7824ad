"""Integrity on the real pipeline (issue 12): a decision once published is never replaced
(Redis restarts, new consumer groups, lost memos), and nothing read is dropped while Redis
is away. Same stack as ``test_pipeline_faults.py`` (the session's ``fault_pipeline``)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from schemas import codec_for
from schemas.topics import APPLICATIONS, DECISIONS, FEATURES
from tests.harness import FaultPipeline, traffic

pytestmark = [pytest.mark.integration, pytest.mark.slow]


# --- 7. decisions are immutable records ------------------------------------------------------
def _decisions_on_topic(p: FaultPipeline, ids: list[str]) -> dict[str, list[bytes]]:
    wanted = set(ids)
    out: dict[str, list[bytes]] = {}
    for msg in p.read_topic(DECISIONS.name, DECISIONS.partitions):
        key = msg.key().decode()
        if key in wanted:
            out.setdefault(key, []).append(msg.value())
    return out


def _of_record(p: FaultPipeline, prefix: str) -> dict[str, tuple[str, Any, str]]:
    rows = p.query("SELECT application_id, decision, toString(decided_at), worker "
                   f"FROM decisions_of_record WHERE startsWith(application_id, '{prefix}')")
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_redis_restart_then_a_new_group_from_the_beginning_republishes_the_originals(
        fault_pipeline: FaultPipeline) -> None:
    """Redis restarts between two worker runs, and the second run is a brand-new consumer
    group reading the topics from the start: every application of the first run gets its
    original decision again, byte for byte (the redelivery memo is persistent), and
    ClickHouse's decision of record is unchanged."""
    from streams.ops.services import redis_node

    p = fault_pipeline
    p.ensure(workers=(0,))
    messages, ids = traffic("immutable", 60, seed=701)
    p.publish(messages)
    p.wait_decided("immutable", len(ids))
    before = _of_record(p, "immutable")
    originals = {k: v[0] for k, v in _decisions_on_topic(p, ids).items()}
    assert len(originals) == len(ids)

    node = redis_node(p.settings)
    assert node.stop()
    node.start()
    rerun = p.stack.worker(7, LOANRISK_WORKER_GROUP="loanrisk-rerun",
                           LOANRISK_WORKER_OFFSET_RESET="earliest")
    try:
        p.stack.wait_for_log(rerun, "Worker ready", timeout_s=180)
        got = p.wait_until(
            lambda: (d := _decisions_on_topic(p, ids)) and all(len(v) >= 2 for v in d.values())
            and d, 300, "every application decided again by the new group")
    finally:
        rerun.stop()
    for app_id, copies in got.items():
        assert all(c == originals[app_id] for c in copies), f"{app_id}: not the original"
    p.wait_until(p.sink_caught_up, 120, "the sink to write the republished decisions")
    assert _of_record(p, "immutable") == before
    assert p.query("SELECT application_id FROM redecisions "
                   "WHERE startsWith(application_id, 'immutable')") == []


def test_a_re_decision_never_replaces_the_decision_of_record(
        fault_pipeline: FaultPipeline) -> None:
    """The memo is lost (Redis flushed): a replay re-decides, later and maybe differently.
    ClickHouse keeps the first decision as the decision of record and shows the second
    beside it in ``redecisions``."""
    import redis

    p = fault_pipeline
    p.ensure(workers=(0,))
    messages, ids = traffic("redecide", 30, seed=702)
    p.publish(messages)
    p.wait_decided("redecide", len(ids))
    before = _of_record(p, "redecide")
    redis.Redis.from_url(p.settings.redis_dsn).flushall()
    p.publish([m for m in messages if m[0] == APPLICATIONS.name])  # a replay, memo gone
    sql = ("SELECT count() FROM redecisions WHERE startsWith(application_id, 'redecide')")
    p.wait_until(lambda: p.scalar(sql) == len(ids), 240, "the re-decisions in ClickHouse")
    assert _of_record(p, "redecide") == before  # the first published is still of record
    alias = p.query("SELECT application_id, decision FROM decisions_latest "
                    "WHERE startsWith(application_id, 'redecide')")  # the old name
    assert {a: d for a, d in alias} == {a: v[0] for a, v in before.items()}
    rows = p.query("SELECT original_decision, original_worker, times_decided FROM redecisions "
                   "WHERE startsWith(application_id, 'redecide')")
    assert all(times == 2 for _d, _w, times in rows)
    assert {(d, w) for d, w, _t in rows} <= {(v[0], v[2]) for v in before.values()}

    # the vector of record is the one the original was decided with, and explain says so
    app_id = ids[0]
    first_vector = _vector_on_topic(p, app_id)
    of_record = p.query("SELECT values FROM feature_vectors_latest "
                        f"WHERE application_id = '{app_id}'")[0][0]
    assert of_record == first_vector
    out = subprocess.run([sys.executable, "-m", "streams.cli", "explain", app_id, "--json"],
                         env=p.stack.env(), capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode in (0, 3), out.stderr
    shown = json.loads(out.stdout)
    assert (shown["decision"], shown["worker"]) == (before[app_id][0], before[app_id][2])
    assert shown["redecided"]["times_decided"] == 2


def _vector_on_topic(p: FaultPipeline, app_id: str) -> list[float | None]:
    """The values of the first feature vector published for ``app_id``."""
    codec = codec_for(FEATURES.schema)
    for msg in p.read_topic(FEATURES.name, FEATURES.partitions):
        if msg.key() == app_id.encode():
            return list(codec.decode(msg.value())["values"])
    raise AssertionError(f"no feature vector for {app_id} on the topic")


# --- 8. nothing read is dropped: session events held while Redis is away --------------------
def test_session_events_read_during_a_redis_outage_are_held_until_written(
        fault_pipeline: FaultPipeline) -> None:
    """Session events consumed while Redis is down are not committed past and dropped: the
    worker reads them again once Redis answers, so the applications that follow are
    decided with their sessions."""
    from streams.ops.services import redis_node

    p = fault_pipeline
    p.ensure(workers=(0,))
    messages, ids = traffic("held", 40, seed=801)
    sessions = [m for m in messages if m[0] != APPLICATIONS.name]
    apps = [m for m in messages if m[0] == APPLICATIONS.name]
    worker = p.workers[0]
    node = redis_node(p.settings)
    assert node.stop()
    try:
        p.publish(sessions)
        p.stack.wait_for_log(worker, "holding those messages", timeout_s=120)
    finally:
        node.start()
    p.publish(apps)
    p.wait_decided("held", len(ids))
    p.wait_until(p.sink_caught_up, 120, "the sink to write the feature vectors")
    sql = ("SELECT countIf(values[indexOf(names, 'sess_device_missing')] = 1), "
           "countIf(values[indexOf(names, 'sess_behaviour_missing')] = 1), count() "
           "FROM feature_vectors_latest WHERE startsWith(application_id, 'held')")
    row = p.wait_until(lambda: (r := p.query(sql)[0]) and r[2] == len(ids) and r, 120,
                       "every feature vector in ClickHouse")
    device_missing, behaviour_missing, _n = row
    assert device_missing == 0, f"{device_missing} applications lost their device events"
    assert behaviour_missing == 0, f"{behaviour_missing} lost their behaviour events"
