"""Live generator: deterministic, valid Avro, session before application, performance."""

from __future__ import annotations

from schemas import codec_for
from schemas.topics import APPLICATIONS, BY_NAME, PERFORMANCE
from simulator.config import SimConfig
from simulator.live import LiveGenerator


def test_live_is_deterministic_and_valid() -> None:
    cfg = SimConfig()
    g1, g2 = LiveGenerator(cfg, 3, 1_750_000_000_000), LiveGenerator(cfg, 3, 1_750_000_000_000)
    for _ in range(50):
        a, b = g1.next_application(), g2.next_application()
        assert a == b
        assert a[-1][0] == APPLICATIONS.name and a[-1][1] == a[-1][2]["application_id"]
        for topic, key, rec in a:
            codec = codec_for(BY_NAME[topic].schema)
            assert codec.decode(codec.encode(rec)) == rec  # valid Avro, intact
            if topic != APPLICATIONS.name:
                assert key == rec["session_id"] == a[-1][2]["session_id"]
    assert LiveGenerator(cfg, 4, 1_750_000_000_000).next_application() != g1.next_application()


def test_arrival_rate_is_respected() -> None:
    g = LiveGenerator(SimConfig(), 1, 0, rate=200)
    times = [app[-1][2]["event_time"] for app in g.next_chunk()]
    span_s = (max(times) - min(times)) / 1000
    assert 0.7 < len(times) / span_s / 200 < 1.3


def test_approved_decisions_get_performance_over_compressed_time() -> None:
    cfg = SimConfig()
    g = LiveGenerator(cfg, 9, 1_000_000)
    apps = [g.next_application()[-1][2] for _ in range(200)]
    decisions = [
        {
            "application_id": a["application_id"],
            "event_time": a["event_time"],
            "decided_at": a["event_time"] + 20,
            "decision": "APPROVE" if i % 2 else "DECLINE",
            "offer": None,
        }
        for i, a in enumerate(apps)
    ]
    out = g.performance_for_decisions(decisions)
    approved = {d["application_id"] for d in decisions if d["decision"] == "APPROVE"}
    assert {k for _, _, k, _ in out} <= approved and len({k for _, _, k, _ in out}) == len(approved)
    month_ms = int(cfg.live.month_seconds * 1000)
    booked = {d["application_id"]: d["decided_at"] for d in decisions}
    for due, topic, key, rec in out:
        assert topic == PERFORMANCE.name and due == rec["event_time"]
        codec_for("loan_performance").encode(rec)
        if rec["status"] != "FRAUD_CONFIRMED":
            assert rec["event_time"] == booked[key] + rec["month_on_book"] * month_ms
    assert g.performance_for_decisions([{**decisions[0], "application_id": "unknown"}]) == []


def test_wire_chunk_is_the_codec_bytes_of_next_chunk() -> None:
    """The publisher's fast path (column-wise behaviour batches, schema parsed once) gives
    exactly the bytes the project codec gives for the records of ``next_chunk`` (quotes,
    which only the fast path gives, are off here)."""
    from simulator.records import records_from_columns, records_from_frame
    from simulator.wire import behaviour_encoder_applies

    assert behaviour_encoder_applies()  # else wire.py needs updating for the new schema
    cfg = _no_quotes()
    for flush in (20, 7):
        g1 = LiveGenerator(cfg, 5, 1_750_000_000_000, flush_every=flush)
        g2 = LiveGenerator(cfg, 5, 1_750_000_000_000, flush_every=flush)
        for _ in range(2):
            recs, wire = g1.next_chunk(), g2.next_wire_chunk()
            assert len(recs) == len(wire)
            for app, w in zip(recs, wire, strict=True):
                assert w.event_time == app[-1][2]["event_time"]
                expected = [
                    (t, k.encode(), codec_for(BY_NAME[t].schema).encode(r)) for t, k, r in app
                ]
                assert [(t, k, v) for t, k, v, _ in w.messages] == expected
    # records_from_frame (pandas) and records_from_columns (Arrow/numpy) agree
    g = LiveGenerator(SimConfig(), 6, 0)
    b = g._generate()
    from simulator.people import to_frame

    for cols, schema in ((b.applications, "loan_application"), (b.device_events, "device_event")):
        assert records_from_frame(to_frame(cols), schema) == records_from_columns(cols, schema)


def _no_quotes() -> SimConfig:
    cfg = SimConfig()
    live = cfg.live.model_copy(update={"quote_then_apply": 0.0, "quote_only": 0.0})
    return cfg.model_copy(update={"live": live})


def test_wire_chunk_quotes_before_some_applications_and_instead_of_others() -> None:
    """Quote requests on the publisher's path: valid records of the applicant's own fields,
    shortly before their application (quote then apply) or with no application at all
    (quote only), in the configured shares; the rest of the traffic as without quotes."""
    from schemas.topics import QUOTE_REQUESTS
    from schemas.validate import validate_quote_request
    from simulator.quotes import converted_application

    cfg = SimConfig()
    wire = LiveGenerator(cfg, 9, 1_750_000_000_000).next_wire_chunk()
    plain = LiveGenerator(_no_quotes(), 9, 1_750_000_000_000).next_wire_chunk()
    apps = {w.messages[-1][1].decode(): w for w in wire if not w.quote}
    every = {w.messages[-1][1].decode(): w for w in plain}
    quotes = [codec_for("quote_request").decode(w.messages[0][2]) for w in wire if w.quote]
    assert all(w.messages[0][0] == QUOTE_REQUESTS.name for w in wire if w.quote)
    assert all(w.messages[-1][0] == APPLICATIONS.name for w in apps.values())
    assert set(apps) <= set(every) and all(apps[k] == every[k] for k in apps)
    n = len(every)
    applied = [q for q in quotes if converted_application(q["quote_id"]) in apps]
    only = [q for q in quotes if converted_application(q["quote_id"]) not in apps]
    assert len(apps) == n - len(only)
    assert abs(len(applied) / n - cfg.live.quote_then_apply) < 0.06
    assert abs(len(only) / n - cfg.live.quote_only) < 0.05
    for q in quotes:
        assert validate_quote_request(q) == [] and q["session_id"] is None
        app = codec_for("loan_application").decode(
            every[converted_application(q["quote_id"])].messages[-1][2])
        lead = app["event_time"] - q["event_time"]
        assert 0 < lead <= cfg.live.quote_lead_seconds * 1000
        assert {k: q[k] for k in ("national_id", "email", "annual_income", "product")} == {
            k: app[k] for k in ("national_id", "email", "annual_income", "product")}
