"""Block/allow list index: matching, ranges, expiry, removal, tombstones."""

from __future__ import annotations

import pytest

from decisions.errors import ListsError
from decisions.lists import ListIndex, list_key, make_update, parse_key

APP = {"phone": "+44 7700 900123", "email": "Bob@Example.com ", "device_id": "dev-1",
       "ip": "192.168.1.77"}


def upd(lt: str, it: str, value: str, **kw: object) -> dict:
    return make_update(lt, it, value, event_time=1, **kw)  # type: ignore[arg-type]


def test_exact_matches_are_normalized() -> None:
    idx = ListIndex()
    idx.apply(upd("BLOCK", "EMAIL", "bob@example.com"))
    idx.apply(upd("ALLOW", "PHONE", "+447700900123"))
    hits = idx.check(APP, {}, now_ms=0)
    assert [h.label for h in hits] == ["BLOCK:EMAIL", "ALLOW:PHONE"]


def test_national_id_matched_by_hash_only() -> None:
    idx = ListIndex()
    idx.apply(upd("BLOCK", "NATIONAL_ID_HASH", "abc123"))
    assert idx.check({**APP, "national_id": "abc123"}, {}, 0) == []
    hits = idx.check(APP, {"NATIONAL_ID_HASH": "abc123"}, 0)
    assert [h.label for h in hits] == ["BLOCK:NATIONAL_ID_HASH:abc123"]


def test_ip_ranges_longest_and_all_matching() -> None:
    idx = ListIndex()
    idx.apply(upd("BLOCK", "IP_RANGE", "192.168.0.0/16"))
    idx.apply(upd("ALLOW", "IP_RANGE", "192.168.1.64/26"))
    idx.apply(upd("BLOCK", "IP_RANGE", "10.0.0.0/8"))
    idx.apply(upd("BLOCK", "IP_RANGE", "2001:db8::/32"))
    labels = {h.label for h in idx.check(APP, {}, 0)}
    assert labels == {"BLOCK:IP_RANGE:192.168.0.0/16", "ALLOW:IP_RANGE:192.168.1.64/26"}
    assert idx.check({"ip": "192.169.0.1"}, {}, 0) == []
    assert [h.ref for h in idx.check({"ip": "2001:db8::5"}, {}, 0)] == ["2001:db8::/32"]
    assert idx.check({"ip": "not-an-ip"}, {}, 0) == []


def test_expiry_honoured() -> None:
    idx = ListIndex()
    idx.apply(upd("BLOCK", "DEVICE_ID", "dev-1", expires_at=1000))
    assert len(idx.check(APP, {}, 999)) == 1
    assert idx.check(APP, {}, 1000) == []


def test_remove_and_tombstone() -> None:
    idx = ListIndex()
    idx.apply(upd("BLOCK", "DEVICE_ID", "dev-1"))
    idx.apply(upd("BLOCK", "IP_RANGE", "192.168.0.0/16"))
    idx.apply(upd("BLOCK", "DEVICE_ID", "dev-1", action="REMOVE"))
    assert [h.identifier_type for h in idx.check(APP, {}, 0)] == ["IP_RANGE"]
    idx.apply_tombstone(list_key("BLOCK", "IP_RANGE", "192.168.0.0/16"))
    assert idx.check(APP, {}, 0) == [] and len(idx) == 0


def test_re_add_replaces_entry() -> None:
    idx = ListIndex()
    idx.apply(upd("BLOCK", "DEVICE_ID", "dev-1", reason="old"))
    idx.apply(upd("BLOCK", "DEVICE_ID", "dev-1", reason="new"))
    hits = idx.check(APP, {}, 0)
    assert len(hits) == 1 and hits[0].reason == "new"


def test_bad_inputs_rejected() -> None:
    with pytest.raises(ListsError, match="IP range"):
        upd("BLOCK", "IP_RANGE", "300.0.0.0/8")
    with pytest.raises(ListsError, match="identifier type"):
        upd("BLOCK", "SSN", "x")
    with pytest.raises(ListsError, match="list type"):
        upd("GREY", "EMAIL", "x")
    with pytest.raises(ListsError):
        parse_key("BLOCK:EMAIL")
    assert parse_key("BLOCK:IP_RANGE:10.0.0.0/8") == ("BLOCK", "IP_RANGE", "10.0.0.0/8")


def test_hashed_phone_and_email_entries_match_the_applications_hashes() -> None:
    from features.identity import hash_identifier

    key = b"k"
    idx = ListIndex()
    idx.apply(upd("BLOCK", "PHONE_HASH", hash_identifier(key, "phone", "+44 7700 900123")))
    idx.apply(upd("ALLOW", "EMAIL_HASH", hash_identifier(key, "email", "Bob@Example.com")))
    app = {"phone": "+447700900123", "email": "bob@example.com", "device_id": "d", "ip": "1.2.3.4"}
    hashed = {"PHONE_HASH": hash_identifier(key, "phone", app["phone"]),
              "EMAIL_HASH": hash_identifier(key, "email", app["email"])}
    hits = idx.check(app, hashed, now_ms=0)
    assert [h.label.split(":")[:2] for h in hits] == [["BLOCK", "PHONE_HASH"],
                                                     ["ALLOW", "EMAIL_HASH"]]
    assert all("+44" not in h.label and "@" not in h.label for h in hits)
    assert idx.check(app, {}, now_ms=0) == []  # matched by hash only
