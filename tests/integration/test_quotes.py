"""Pre-qualification quotes on the real services.

Redis: a quote gets exactly the features an application made at that moment would get,
and leaves the application state as it found it; quote velocity against a brute-force
oracle over random out-of-order sequences with redeliveries, applications interleaved
(which never count quotes). Kafka + Redis + ClickHouse: a decision worker answers quote
requests (a bad one dead-lettered), the indicative decision is the decision the
customer's application then gets, too many quotes from one device are declined with the
quote-velocity reason, and the sink lands requests, quotes and the conversion view.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

import pytest

from features.engine import FeatureEngine
from features.quotes import as_application
from features.spec import QUOTE_WINDOWS
from features.synthetic import T0, application
from features.windows import DAY_MS, HOUR_MS, MINUTE_MS, WINDOWS

pytestmark = pytest.mark.integration
KEY = b"quote-test"
_FIELD = {"id": "national_id", "device": "device_id", "phone": "phone", "email": "email",
          "ip": "ip"}


def _quote(qid: str, t: int, **kw: Any) -> dict[str, Any]:
    q = application(qid, t, **kw)
    q["quote_id"] = q.pop("application_id")
    q["session_id"] = None
    return q


def _state(r: Any, prefix: str) -> dict[str, Any]:
    """Every key of the prefix but the quote velocity's, with its contents."""
    out: dict[str, Any] = {}
    for k in r.scan_iter(match=f"{prefix}:*", count=1000):
        key = k.decode() if isinstance(k, bytes) else k
        if ":qz:" in key:
            continue
        kind = r.type(k)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        read = {"zset": lambda key: r.zrange(key, 0, -1, withscores=True), "string": r.get,
                "hash": r.hgetall, "set": r.smembers}[kind]
        out[key] = read(k)
    return out


def test_a_quote_has_the_features_of_an_application_made_now_and_records_none(
        redis_client: Any) -> None:
    prefix = f"qp{uuid.uuid4().hex[:6]}"
    engine = FeatureEngine(redis_client, KEY, prefix=prefix)
    rng = random.Random(5)
    engine.compute_many([application(
        f"a{i}", T0 + i * 7 * MINUTE_MS, national_id=f"N{rng.randrange(3)}",
        device_id=f"d{rng.randrange(3)}", phone=f"+44{rng.randrange(3)}",
        ip=f"10.0.0.{rng.randrange(2)}", employer="Acme", bank_account=f"B{rng.randrange(2)}")
        for i in range(12)])
    before = _state(redis_client, prefix)
    t = T0 + 90 * MINUTE_MS
    quote = _quote("q1", t, national_id="N1", device_id="d2", phone="+441", ip="10.0.0.1",
                   employer="Acme", bank_account="B1")
    got = engine.quote_exchange([as_application(quote)]).vectors[0]
    assert _state(redis_client, prefix) == before  # not an application: nothing recorded
    assert got["vel_id_apps_24h"] >= 2 and got["graph_ids_linked_30d"] >= 1  # it saw them
    made = engine.compute({**as_application(quote), "application_id": "a-now"})
    assert made == got  # what the application made at that moment gets


def _kinds(x: dict[str, Any]) -> dict[str, str]:
    return {k: x[f] for k, f in _FIELD.items()}


@pytest.mark.parametrize("seed", [1, 2])
def test_quote_velocity_matches_the_brute_force_oracle_and_never_counts_as_applications(
        redis_client: Any, seed: int) -> None:
    rng = random.Random(seed)
    engine = FeatureEngine(redis_client, KEY, prefix=f"qv{seed}{uuid.uuid4().hex[:4]}")
    times = sorted(T0 + rng.randrange(0, 8 * DAY_MS) for _ in range(70))
    times += [times[-1] + rng.randrange(0, HOUR_MS) for _ in range(50)]  # dense: short windows
    events = []
    for i, t in enumerate(times):
        ident = dict(national_id=f"N{rng.randrange(4)}", device_id=f"d{rng.randrange(3)}",
                     phone=f"+44{rng.randrange(3)}", email=f"e{rng.randrange(4)}@x",
                     ip=f"10.0.0.{rng.randrange(3)}")
        is_quote = rng.random() < 0.6
        events.append(_quote(f"q{i}", t, **ident) if is_quote else application(f"a{i}", t,
                                                                                **ident))
    order = list(events)
    for i in range(len(order) - 1):  # out of order, within the lateness
        if rng.random() < 0.3:
            order[i], order[i + 1] = order[i + 1], order[i]
    for i in range(0, len(order), 13):  # redeliveries
        order.insert(i + rng.randrange(1, 8), order[i])
    quotes: dict[str, dict[str, Any]] = {}
    apps: dict[str, dict[str, Any]] = {}
    checked = 0
    for x in order:
        t = x["event_time"]
        if "quote_id" in x:
            quotes[x["quote_id"]] = x
            got = engine.quote_exchange([as_application(x)]).quote_velocity[0]
            for kind, windows in QUOTE_WINDOWS.items():
                for w in windows:
                    want = sum(1 for q in quotes.values() if _kinds(q)[kind] == _kinds(x)[kind]
                               and t - WINDOWS[w] < q["event_time"] <= t)
                    assert got[f"qvel_{kind}_quotes_{w}"] == want, (x["quote_id"], kind, w)
            checked += 1
        else:
            first = x["application_id"] not in apps
            apps[x["application_id"]] = x
            got_app = engine.compute(x)
            if first:
                for kind in ("id", "device"):
                    want = sum(1 for a in apps.values() if _kinds(a)[kind] == _kinds(x)[kind]
                               and t - WINDOWS["24h"] < a["event_time"] <= t)
                    assert got_app[f"vel_{kind}_apps_24h"] == want  # quotes never count
    assert checked > 50


# --- the worker, Kafka to ClickHouse ---------------------------------------------------

def test_worker_answers_quotes_and_the_sink_lands_them_with_the_conversion(
        kafka_bootstrap: str, redis_url: str, clickhouse_client: Any, tmp_path: Any) -> None:
    from reviews.privacy import Sealer
    from schemas import codec_for
    from schemas.topics import APPLICATIONS, DEADLETTER, DECISIONS, QUOTE_REQUESTS, QUOTES
    from sinks.quote_rows import quote_request_converter
    from sinks.rows import application_converter
    from streams.settings import Settings
    from streams.sink.writer import ClickHouseSink, clickhouse_insert
    from streams.worker.kafka_loop import KafkaWorker
    from tests.harness import consume_until, publish, wait_until

    run = uuid.uuid4().hex[:8]
    settings = Settings(kafka_bootstrap=kafka_bootstrap, redis_url=redis_url,
                        redis_prefix=f"qw{run}", state_dir=tmp_path, hash_key="quote-e2e",
                        worker_group=f"qw-{run}", worker_offset_reset="latest",
                        metrics_interval_s=3600, reload_interval_s=3600)
    worker = KafkaWorker(settings)
    sink = ClickHouseSink(settings.kafka, clickhouse_insert(clickhouse_client),
                          group=f"qw-sink-{run}", max_age_s=0.2, offset_reset="latest",
                          applications=application_converter(b"quote-e2e",
                                                             Sealer("quote-pii").seal),
                          quote_requests=quote_request_converter(b"quote-e2e"))
    stop = threading.Event()
    threads = [threading.Thread(target=worker.run, args=(stop,), daemon=True),
               threading.Thread(target=sink.run, args=(stop,), daemon=True)]
    for th in threads:
        th.start()
    t = int(time.time() * 1000) - HOUR_MS
    who = {"a": dict(national_id=f"NA{run}", device_id=f"da{run}", phone="+447700900101",
                     email=f"a{run}@example.com", ip="81.2.69.11"),
           "b": dict(national_id=f"NB{run}", device_id=f"db{run}", phone="+447700900102",
                     email=f"b{run}@example.com", ip="81.2.69.12"),
           "d": dict(device_id=f"dd{run}", ip="81.2.69.13")}
    qs = [_quote(f"{run}-a1", t, **who["a"]), _quote(f"{run}-a2", t + MINUTE_MS, **who["a"]),
          _quote(f"{run}-b1", t + 2 * MINUTE_MS, **who["b"])]
    qs += [_quote(f"{run}-d{i}", t + i * 1000, national_id=f"ND{run}{i}",
                  email=f"d{i}{run}@example.com", phone=f"+4477009002{i:02d}", **who["d"])
           for i in range(7)]  # one device, seven identities, in a minute
    app_a = application(f"{run}-app-a", t + 5 * MINUTE_MS, **who["a"])
    qcodec, acodec = codec_for(QUOTE_REQUESTS.schema), codec_for(APPLICATIONS.schema)
    bad = {**_quote(f"{run}-bad", t, **who["b"]), "requested_amount": -5.0}
    try:
        wait_until(lambda: len(worker.owned) > 0 and len(sink.owned) > 0, 90, "assignments")
        time.sleep(3)  # positions ("latest") resolved before anything is published
        # one partition: answered in event-time order (velocity is as of event time, and
        # a request answered earlier with a later time is not counted by an earlier one)
        publish(kafka_bootstrap, [(QUOTE_REQUESTS.name, q["quote_id"].encode(),
                                   qcodec.encode(q), 0) for q in sorted(
                                       [*qs, bad], key=lambda q: q["event_time"])])
        time.sleep(1)  # the quotes are answered first; then the application
        publish(kafka_bootstrap, [(APPLICATIONS.name, app_a["application_id"].encode(),
                                   acodec.encode(app_a), None)])
        mine = {q["quote_id"] for q in qs}
        out = consume_until(kafka_bootstrap, [QUOTES.name, DECISIONS.name, DEADLETTER.name],
                            lambda ms: _done(ms, run, len(mine)), timeout_s=120)
        got = {r["quote_id"]: r for m in out if m.topic() == QUOTES.name
               and (r := codec_for(QUOTES.schema).decode(m.value()))["quote_id"] in mine}
        decision = next(codec_for(DECISIONS.schema).decode(m.value()) for m in out
                        if m.topic() == DECISIONS.name and m.key() == app_a["application_id"]
                        .encode())
        dead = [codec_for(DEADLETTER.schema).decode(m.value()) for m in out
                if m.topic() == DEADLETTER.name and m.key() == bad["quote_id"].encode()]
        assert set(got) == mine
        assert len(dead) == 1 and dead[0]["source_topic"] == QUOTE_REQUESTS.name
        assert dead[0]["error_type"] == "VALIDATION"
        _check_quotes(got, decision, run)
        sql = (f"SELECT quote_id, converted, application_id, application_decision "
               f"FROM quote_conversion WHERE startsWith(quote_id, '{run}-') ORDER BY quote_id")
        wait_until(lambda: len(clickhouse_client.query(sql).result_rows) == len(mine)
                   and clickhouse_client.query(sql).result_rows[0][1], 90,
                   "the quotes and the application in ClickHouse")
        rows = {r[0]: r[1:] for r in clickhouse_client.query(sql).result_rows}
    finally:
        stop.set()
        for th in threads:
            th.join(30)
        worker.core.follower.close()
        worker.core.releases.close()
    a_id = app_a["application_id"]
    assert rows[f"{run}-a1"] == rows[f"{run}-a2"] == (1, a_id, decision["decision"])
    assert not rows[f"{run}-b1"][0] and rows[f"{run}-b1"][1] is None
    n_req = clickhouse_client.command(
        f"SELECT count() FROM quote_requests FINAL WHERE startsWith(quote_id, '{run}-')")
    assert n_req == len(mine) + 1  # every request on the topic (as for applications)
    hashes = clickhouse_client.query(
        f"SELECT DISTINCT id_hash FROM quote_requests FINAL WHERE startsWith(quote_id, "
        f"'{run}-a')").result_rows
    assert len(hashes) == 1 and who["a"]["national_id"] not in hashes[0][0]  # hashed


def _done(ms: list[Any], run: str, n_quotes: int) -> bool:
    from schemas.topics import DEADLETTER, DECISIONS, QUOTES

    keys = {(m.topic(), m.key()) for m in ms}
    quoted = sum(1 for topic, k in keys if topic == QUOTES.name and k
                 and k.decode().startswith(f"{run}-"))
    return (quoted >= n_quotes and (DECISIONS.name, f"{run}-app-a".encode()) in keys
            and (DEADLETTER.name, f"{run}-bad".encode()) in keys)


def _check_quotes(got: dict[str, dict[str, Any]], decision: dict[str, Any], run: str) -> None:
    """The indicative decision is the application's; quote velocity counts quotes."""
    for qid in (f"{run}-a1", f"{run}-a2"):
        q = got[qid]
        assert q["decision"] == decision["decision"]
        assert q["risk_grade"] == decision["risk_grade"]
        offer = decision["offer"]
        assert (q["apr"], q["limit"]) == ((offer["apr"], offer["amount"]) if offer
                                          else (None, None))
        assert q["versions"]["policy"] == decision["versions"]["policy"]
        assert q["id_hash"] and not q["degraded"]
    assert got[f"{run}-a2"]["quote_velocity"]["qvel_id_quotes_24h"] == 2.0
    assert got[f"{run}-b1"]["quote_velocity"]["qvel_id_quotes_24h"] == 1.0
    device = [got[f"{run}-d{i}"] for i in range(7)]
    assert [q["quote_velocity"]["qvel_device_quotes_10m"] for q in device] == [
        float(i + 1) for i in range(7)]
    limited = ["F-QVEL-DEVICE-10M" in {r["code"] for r in q["reason_codes"]} for q in device]
    assert limited == [False] * 5 + [True] * 2  # the policy allows five in ten minutes
    assert all(q["decision"] == "DECLINE" and q["apr"] is None for q in device[5:])
