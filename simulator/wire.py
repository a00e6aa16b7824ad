"""Kafka message bytes for live mode, built fast: the project codec's wire format exactly.

Every message is Avro single-object encoding (``schemas.codec``: ``C3 01``, the
writer schema's fingerprint, the Avro binary body). ``encoder_for`` encodes
dicts with ``fastavro.schemaless_writer`` on a schema parsed once (the shared
codec re-parses it on every call). ``behaviour_batch_messages`` builds the
BehaviourBatch messages -- ~33 events per application, most of the bytes --
column-wise with numpy/Arrow instead of one dict per event; it is checked
against the codec byte for byte in the unit tests and is only used for the
schema it was written for (``BEHAVIOUR_FINGERPRINT``), else callers fall back
to dicts + codec.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastavro.schema import parse_schema

from schemas import codec_for
from schemas.codec import MAGIC
from schemas.vector_writer import varint

Encoder = Callable[[Mapping[str, Any]], bytes]

# the BehaviourBatch schema the column-wise encoder below writes (fields in this order:
# batch_id, session_id, sent_at, events[event_id, session_id, event_time, event_type,
# page?, field?, inter_key_ms?, chars?])
BEHAVIOUR_FINGERPRINT = 0x88468F2BEA524487


def header(schema_name: str) -> bytes:
    """The single-object header (marker + fingerprint) of the project codec's schema."""
    return MAGIC + struct.pack("<Q", codec_for(schema_name).fingerprint)


@cache
def encoder_for(schema_name: str) -> Encoder:
    """``codec_for(schema_name).encode`` with the schema parsed once (same bytes)."""
    parsed = parse_schema(codec_for(schema_name).schema)
    head = header(schema_name)
    write = fastavro.schemaless_writer

    def encode(record: Mapping[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(head)
        write(buf, parsed, record)
        return buf.getvalue()

    return encode


def behaviour_encoder_applies() -> bool:
    return codec_for("behaviour_batch").fingerprint == BEHAVIOUR_FINGERPRINT


def _varints(values: np.ndarray, prefix: int | None = None) -> pa.Array:
    """Avro ``long`` encodings of ``values`` as a binary array (optionally after one byte)."""
    v = np.asarray(values, dtype=np.int64)
    z = ((v << 1) ^ (v >> 63)).view(np.uint64)
    n = len(z)
    nbytes = np.ones(n, np.int64)
    for k in range(1, 10):
        more = z >= np.uint64(1 << (7 * k))
        if not more.any():
            break
        nbytes += more
    width = int(nbytes.max()) if n else 1
    cols = np.arange(width)
    mat = (
        (z[:, None] >> (cols.astype(np.uint64) * np.uint64(7))[None, :]) & np.uint64(0x7F)
    ).astype(np.uint8)
    mat |= (cols[None, :] < (nbytes - 1)[:, None]).astype(np.uint8) << 7
    keep = cols[None, :] < nbytes[:, None]
    if prefix is not None:
        mat = np.concatenate([np.full((n, 1), prefix, np.uint8), mat], axis=1)
        keep = np.concatenate([np.ones((n, 1), bool), keep], axis=1)
        nbytes = nbytes + 1
    return _binary(mat[keep], nbytes)


def _binary(data: np.ndarray, lengths: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.binary(),
        len(lengths),
        [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data, np.uint8))],
    )


def _string(col: Any) -> pa.Array:
    s = col if isinstance(col, pa.Array) else pa.array(col, pa.string())
    if pa.types.is_dictionary(s.type):
        s = s.dictionary_decode()
    s = s.cast(pa.binary())
    return _join([_varints(pc.binary_length(s).to_numpy(zero_copy_only=False)), s])


def _enum(col: pa.Array, symbols: tuple[str, ...]) -> pa.Array:
    idx = _codes(col, symbols)
    return _varints(idx)


def _codes(col: Any, symbols: tuple[str, ...]) -> np.ndarray:
    """Indices of ``col``'s values in ``symbols``, -1 for null."""
    arr = col if isinstance(col, pa.Array) else pa.array(col)
    if pa.types.is_dictionary(arr.type):
        remap = np.array([symbols.index(s) for s in arr.dictionary.to_pylist()] + [-1])
        ind = arr.indices.fill_null(len(remap) - 1).to_numpy(zero_copy_only=False)
        return np.asarray(remap[ind.astype(np.int64)], np.int64)
    idx = pc.index_in(arr, pa.array(symbols, pa.string())).fill_null(-1)
    return np.asarray(idx.to_numpy(zero_copy_only=False), np.int64)


def _optional_string(col: Any, vocab: tuple[str, ...]) -> pa.Array:
    """Union [null, string] for a column whose values come from a small vocabulary."""
    table = pa.array(
        [b"\x02" + varint(len(v.encode())) + v.encode() for v in vocab] + [b"\x00"], pa.binary()
    )
    idx = _codes(col, vocab)
    return table.take(pa.array(np.where(idx < 0, len(vocab), idx)))


def _optional_double(col: pa.Array) -> pa.Array:
    valid = ~np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False), bool)
    x = np.asarray(col.fill_null(0.0).to_numpy(zero_copy_only=False), "<f8")
    mat = np.zeros((len(x), 9), np.uint8)
    mat[:, 0] = np.where(valid, 2, 0)
    mat[:, 1:] = x.view(np.uint8).reshape(-1, 8)
    keep = np.ones((len(x), 9), bool)
    keep[:, 1:] = valid[:, None]
    return _binary(mat[keep], np.where(valid, 9, 1))


def _optional_int(col: pa.Array) -> pa.Array:
    valid = ~np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False), bool)
    x = np.asarray(col.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    enc = _varints(x, prefix=2)
    return pc.if_else(pa.array(valid), enc, pa.scalar(b"\x00", pa.binary()))


def _join(parts: list[pa.Array]) -> pa.Array:
    return pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.binary()))


def behaviour_batch_messages(
    events: Mapping[str, Any], flush_every: int
) -> list[tuple[str, int, bytes, int]] | None:
    """(session_id, sent_at, message bytes, number of events) per BehaviourBatch, in order:
    each session's events (contiguous, in time order, ending with its SUBMIT) flushed
    every ``flush_every`` events and at SUBMIT, like ``records.behaviour_batches``.
    None if the schema changed or the events are not laid out that way."""
    from simulator.sessions import EVENT_TYPES

    n = len(events["event_time"])
    if not behaviour_encoder_applies() or n == 0:
        return None
    etype = _codes(events["event_type"], EVENT_TYPES)
    sess = events["session_id"]
    sess = sess if isinstance(sess, pa.Array) else pa.array(sess, pa.string())
    ends = _session_ends(sess, etype == EVENT_TYPES.index("SUBMIT"))
    if ends is None:
        return None
    data, off = _event_bodies(events, sess, etype)
    times = np.asarray(events["event_time"], np.int64).tolist()
    sids = sess.take(pa.array(ends - 1)).to_pylist()
    head = header("behaviour_batch")
    out: list[tuple[str, int, bytes, int]] = []
    lo = 0
    for sid, end in zip(sids, ends.tolist(), strict=True):
        prefix = varint(len(sid)) + sid.encode()
        for k, start in enumerate(range(lo, end, flush_every)):
            stop = min(start + flush_every, end)
            body = data[off[start] : off[stop]]
            message = _batch_message(
                head, f"{sid}-f{k}", prefix, times[stop - 1], body, stop - start
            )
            out.append((sid, times[stop - 1], message, stop - start))
        lo = end
    return out


def _session_ends(sess: pa.Array, is_submit: np.ndarray) -> np.ndarray | None:
    """The exclusive end of each session's run of events, or None unless every run ends
    with its SUBMIT and no other SUBMIT occurs."""
    change = np.flatnonzero(
        np.asarray(pc.not_equal(sess[1:], sess[:-1]).to_numpy(zero_copy_only=False), bool)
    )
    ends = np.append(change + 1, len(sess))
    if not np.array_equal(np.flatnonzero(is_submit), ends - 1):
        return None
    return ends


def _event_bodies(
    events: Mapping[str, Any], sess: pa.Array, etype: np.ndarray
) -> tuple[bytes, list[int]]:
    """Every event's Avro body, concatenated, with the offsets of each event (n + 1)."""
    from simulator import vocab as V

    n = len(sess)
    body = _join(
        [
            _string(events["event_id"]),
            _string(sess),
            _varints(np.asarray(events["event_time"], np.int64)),
            _varints(etype),
            _optional_string(events["page"], V.PAGES),
            _optional_string(events["field"], tuple(f[0] for f in V.FIELDS)),
            _optional_double(events["inter_key_ms"]),
            _optional_int(events["chars"]),
        ]
    )
    offsets = np.frombuffer(body.buffers()[1], np.int32)[body.offset : body.offset + n + 1]
    return body.buffers()[2].to_pybytes(), offsets.tolist()


def _batch_message(
    head: bytes, batch_id: str, session_prefix: bytes, sent_at: int, events: bytes, count: int
) -> bytes:
    """One BehaviourBatch message: header, batch_id, session_id (already encoded), sent_at,
    then one block of ``count`` encoded events and the array's end."""
    bid = batch_id.encode()
    return b"".join(
        (
            head,
            varint(len(bid)),
            bid,
            session_prefix,
            varint(sent_at),
            varint(count),
            events,
            b"\x00",
        )
    )
