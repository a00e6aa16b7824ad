"""Application sessions: device events and form-interaction (behaviour) events.

Every session walks the same form (``vocab.PAGES`` / ``vocab.FIELDS``): a
PAGE_VIEW per page; per field a FIELD_FOCUS, then either a PASTE or one to
three KEYSTROKE bursts (``chars`` typed, ``inter_key_ms`` = mean gap between
keys in the burst), then CORRECTIONs; finally SUBMIT. Timings depend on who
is applying: older applicants type slower; fraudsters hesitate, paste and
correct more (the details are not theirs); bots fill the form in a few
seconds with constant key gaps and mostly pastes. The application's
``event_time`` is the SUBMIT time plus a small network delay.

Built column-wise with numpy (about 33 events per application), no per-row
Python loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator import strings as S
from simulator import vocab as V

EVENT_TYPES = ("PAGE_VIEW", "FIELD_FOCUS", "KEYSTROKE", "PASTE", "CORRECTION", "SUBMIT")
PV, FOCUS, KEY, PASTE, CORR, SUBMIT = range(6)

# the form as an ordered list of blocks: ("page", i) or ("field", j), then submit
_BLOCKS: list[tuple[str, int]] = []
for _p in range(len(V.PAGES)):
    _BLOCKS.append(("page", _p))
    _BLOCKS.extend(("field", j) for j, f in enumerate(V.FIELDS) if f[1] == _p)
_BLOCKS.append(("submit", len(V.PAGES) - 1))
BLOCK_KIND = np.array([{"page": 0, "field": 1, "submit": 2}[k] for k, _ in _BLOCKS])
BLOCK_REF = np.array([i for _, i in _BLOCKS])
FIELD_BLOCKS = np.flatnonzero(BLOCK_KIND == 1)
FIELD_LEN = np.array([f[2] for f in V.FIELDS], dtype=float)
FIELD_NAMES = tuple(f[0] for f in V.FIELDS)
_BLOCK_FIELD = np.where(BLOCK_KIND == 1, BLOCK_REF, 0)  # field index (0 if not a field)
_BLOCK_FIRST = np.select([BLOCK_KIND == 0, BLOCK_KIND == 2], [PV, SUBMIT], FOCUS)
# the same per-block tables as int8 (per-event arrays stay one byte wide)
_KIND8 = BLOCK_KIND.astype(np.int8)
_FIELD8 = _BLOCK_FIELD.astype(np.int8)
_FIRST8 = _BLOCK_FIRST.astype(np.int8)
_PAGE8 = np.where(BLOCK_KIND == 0, BLOCK_REF, 0).astype(np.int8)
_I8 = np.arange(6, dtype=np.int8)  # event type codes as int8 scalars


def make_sessions(
    rng: np.random.Generator, a: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Behaviour and device event columns for the applications ``a``; sets ``a["event_time"]``
    to submit + network delay (arrival times become submit times).

    The steps draw from ``rng`` in a fixed order (the same seed gives the same world)."""
    n = len(a["fraud_type"])
    ft = a["fraud_type"]
    bot = ft == "bot"
    fraudster = np.isin(ft, ["third_party", "synthetic", "ring", "slow_ring", "mule",
                             "identity_farm"])
    ev = _form_walk(*_field_counts(rng, bot, fraudster))
    keys, z = _keystrokes(rng, ev, a["latent_age"], bot, fraudster)
    gaps = _gaps(rng, z, ev, keys, bot, fraudster)
    del z
    etime, start, submit_ms = _event_times(gaps, ev, a["event_time"])
    a["event_time"] = submit_ms + rng.integers(40, 400, n)
    behaviour = _behaviour_columns(a["session_id"], ev, keys, etime)
    device = _device_events(rng, a, start)
    return behaviour, device


def _field_counts(
    rng: np.random.Generator, bot: np.ndarray, fraudster: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (application, field): pasted or not and keystroke bursts; per (application,
    block): the number of events (FIELD_FOCUS + paste + bursts + corrections for a field)."""
    n, nf, nb = len(bot), len(V.FIELDS), len(_BLOCKS)
    p_paste = np.where(bot, 0.85, np.where(fraudster, 0.35, 0.04))[:, None] * np.ones((1, nf))
    p_paste[:, FIELD_NAMES.index("email")] *= 2.0
    paste = rng.random((n, nf)) < np.minimum(p_paste, 0.95)
    bursts = np.where(paste, 0, 1 + np.where(bot[:, None], 0, rng.binomial(2, 0.3, (n, nf))))
    lam = np.where(bot, 0.0, np.where(fraudster, 0.35, 0.15))[:, None]
    corr = rng.poisson(lam * np.ones((1, nf)))
    counts = np.ones((n, nb), dtype=np.int64)
    counts[:, FIELD_BLOCKS] = 1 + paste + bursts + corr
    return counts, paste, bursts


@dataclass(frozen=True)
class _Walk:
    """The form walk flattened to one entry per event (segment = one block of one app)."""

    per_app: np.ndarray  # events per application
    app: np.ndarray  # application row of each event
    blk: np.ndarray  # form block of each event
    kind: np.ndarray  # block kind (0 page, 1 field, 2 submit)
    fidx: np.ndarray  # field index (0 if not a field)
    bursts: np.ndarray  # keystroke bursts of the event's field
    etype: np.ndarray  # event type code

    @property
    def total(self) -> int:
        return len(self.app)


def _form_walk(counts: np.ndarray, paste: np.ndarray, bursts: np.ndarray) -> _Walk:
    """Flatten the per-block event counts: a block's first event is its PAGE_VIEW,
    FIELD_FOCUS or SUBMIT; a field's next ones its PASTE, KEYSTROKE bursts, CORRECTIONs."""
    # Small dtypes and in-place arithmetic throughout: the cost here is touching fresh
    # memory (millions of events), not arithmetic.
    n, nb = counts.shape
    per_app = counts.sum(axis=1)
    total = int(per_app.sum())
    c = counts.ravel()
    pos = np.int32 if total < 2**31 else np.int64
    app = np.repeat(np.arange(n, dtype=pos), per_app)
    blk = np.repeat(np.tile(np.arange(nb, dtype=np.int8), n), c)
    j = _run_positions(c, total)  # position of each event within its block
    seg_paste = np.zeros((n, nb), np.int8)
    seg_paste[:, FIELD_BLOCKS] = paste
    seg_bursts = np.zeros((n, nb), np.int8)
    seg_bursts[:, FIELD_BLOCKS] = bursts
    fp = np.repeat(seg_paste.ravel(), c)
    fb = np.repeat(seg_bursts.ravel(), c)
    etype = np.where(
        j == 0,
        _FIRST8[blk],
        np.where(j <= fp, _I8[PASTE], np.where(j <= fp + fb, _I8[KEY], _I8[CORR])),
    )
    return _Walk(per_app, app, blk, _KIND8[blk], _FIELD8[blk], fb, etype)


@dataclass(frozen=True)
class _Keys:
    """The KEYSTROKE events: their rows, characters typed and mean gap between keys (ms)."""

    rows: np.ndarray
    chars: np.ndarray
    inter_key_ms: np.ndarray


def _keystrokes(
    rng: np.random.Generator,
    ev: _Walk,
    age: np.ndarray,
    bot: np.ndarray,
    fraudster: np.ndarray,
) -> tuple[_Keys, np.ndarray]:
    """Characters and key gaps of each keystroke burst: older applicants type slower, bots
    at a constant pace. Also returns the normal-draw buffer, for ``_gaps`` to reuse."""
    n = len(bot)
    base_key = np.where(bot, 12.0, 150.0 + 2.5 * (age - 30) * (age > 30)) * np.where(
        bot, 1.0, rng.lognormal(0, 0.2, n)
    )
    key_sd = np.where(bot, 0.01, np.where(fraudster, 0.35, 0.25))
    # keystroke values only matter on KEYSTROKE rows; the three normal streams are still
    # drawn in full (one buffer), so every seed gives the same world as before
    ki = np.flatnonzero(ev.etype == KEY)
    app_k = ev.app[ki]
    z = rng.standard_normal(ev.total)
    # lognormal(0, 0.2) drawn as exp(0.2 * z): the same stream, several times faster
    jitter_k = np.exp(0.2 * z[ki])
    chars_k = np.maximum(
        1, np.round(FIELD_LEN[ev.fidx[ki]] / np.maximum(ev.bursts[ki], 1) * jitter_k)
    )
    del jitter_k
    rng.standard_normal(out=z)
    ik_k = base_key[app_k] * np.exp(key_sd[app_k] * z[ki])
    return _Keys(ki, chars_k, ik_k), z


def _gaps(
    rng: np.random.Generator,
    z: np.ndarray,
    ev: _Walk,
    keys: _Keys,
    bot: np.ndarray,
    fraudster: np.ndarray,
) -> np.ndarray:
    """Whole milliseconds before each event: log-normal by event type and who is applying
    (hesitation scales human pauses); a burst takes chars x key gap. Overwrites ``z``."""
    who = np.where(bot, 2, np.where(fraudster, 1, 0)).astype(np.int8)[ev.app]
    who *= len(EVENT_TYPES)
    who += ev.etype
    rng.standard_normal(out=z)
    z *= _SD3[who]
    z += _MU3[who]
    np.exp(z, out=z)
    z *= _HES3[who]
    del who
    z[keys.rows] = keys.chars * keys.inter_key_ms
    np.round(z, out=z)
    return z.astype(np.int64)


def _event_times(
    gaps: np.ndarray, ev: _Walk, arrival: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(event times, session starts, submit times): each session ends at its arrival time
    and starts its total duration before. Reuses ``gaps``' memory for the event times."""
    per_app = ev.per_app
    cum = gaps
    app_first = np.cumsum(per_app) - per_app
    first_gap = cum[app_first]
    np.cumsum(cum, out=cum)
    app_end = np.cumsum(per_app) - 1
    app_total = cum[app_end] - np.concatenate([[0], cum[app_end[:-1]]])
    offset = cum[app_first] - first_gap  # cumsum before each app's first event
    start = arrival - app_total
    cum += (start - offset)[ev.app]
    return cum, start, cum[app_end]


def _behaviour_columns(
    session_ids: pa.Array, ev: _Walk, keys: _Keys, etime: np.ndarray
) -> dict[str, Any]:
    """The behaviour event columns (ids, times, type, page, field, key gap, chars)."""
    total = ev.total
    is_key = ev.etype == KEY
    is_paste = ev.etype == PASTE
    seq = _run_positions(ev.per_app, total)
    ik = np.zeros(total)
    ik[keys.rows] = np.round(keys.inter_key_ms, 1)
    chars = np.zeros(total, np.int32)
    chars[keys.rows] = keys.chars
    pi = np.flatnonzero(is_paste)
    chars[pi] = FIELD_LEN[ev.fidx[pi]]
    del pi
    event_id, session_id = _event_and_session_ids(session_ids, ev.app, seq)
    del seq
    behaviour = {
        "event_id": event_id,
        "session_id": session_id,
        "event_time": etime,
        "event_type": _dict(EVENT_TYPES, ev.etype, None),
        "page": _dict(V.PAGES, _PAGE8[ev.blk], ev.kind != 0),
        "inter_key_ms": pa.array(ik, pa.float64(), mask=~is_key),
        "chars": pa.array(chars, pa.int32(), mask=~(is_key | is_paste)),
    }
    behaviour["field"] = _dict(FIELD_NAMES, ev.fidx, ev.kind != 1)
    return behaviour


def _run_positions(lengths: np.ndarray, total: int) -> np.ndarray:
    """For consecutive runs of the given (positive) ``lengths`` summing to ``total``, the
    position of every element within its run (0, 1, ... per run), in a small dtype."""
    longest = int(lengths.max()) if len(lengths) else 0
    dt = np.int16 if longest < 2**15 else np.int64
    if total == 0:
        return np.zeros(0, dt)
    step = np.ones(total, dt)
    starts = np.cumsum(lengths[:-1])
    step[starts] = 1 - lengths[:-1]  # back to 0 at the start of each run
    step[0] = 0
    return np.cumsum(step, dtype=dt)


# PAGE_VIEW, FIELD_FOCUS, KEYSTROKE (unused: chars x key gap), PASTE, CORRECTION, SUBMIT
_MU = np.log(np.array([2500.0, 700.0, 1.0, 500.0, 800.0, 1500.0]))
_BOT_MU = np.log(np.array([120.0, 700.0, 1.0, 500.0, 800.0, 80.0]))
_SD = np.array([0.5, 0.5, 0.0, 0.4, 0.5, 0.4])
# the same per (genuine | fraudster | bot, event type): index who * 6 + event type
_MU3 = np.concatenate([_MU, _MU, _BOT_MU])
_SD3 = np.tile(_SD, 3)
_HES3 = np.repeat([1.0, 1.8, 0.08], len(_MU))
_HES3[[0, len(_MU), 2 * len(_MU)]] = 1.0  # page views are not hesitation


def _dict(vocab: tuple[str, ...], idx: np.ndarray, null: np.ndarray | None) -> pa.Array:
    """Dictionary-encoded strings (a pandas categorical): cheap for millions of rows."""
    indices = pa.array(np.asarray(idx, dtype=np.int8), pa.int8(), mask=null)
    return pa.DictionaryArray.from_arrays(indices, pa.array(vocab, pa.string()))


def _fixed_width(strings: pa.Array) -> np.ndarray | None:
    """Fixed-width strings as an ``(n, width)`` uint8 matrix (None if widths differ)."""
    sess = S.as_str(strings)
    if len(sess) == 0 or sess.null_count:
        return None
    lengths = pc.utf8_length(sess)
    width = int(pc.max(lengths).as_py())
    if int(pc.min(lengths).as_py()) != width:
        return None
    offsets = np.frombuffer(sess.buffers()[1], dtype=np.int32)[sess.offset : sess.offset + 2]
    data = np.frombuffer(sess.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[0] + width * len(sess)].reshape(-1, width)


def _from_fixed(rows: np.ndarray) -> pa.Array:
    """An ``(n, width)`` uint8 matrix of UTF-8 as an Arrow string array, without a copy."""
    n, width = rows.shape
    data = np.ascontiguousarray(rows).reshape(-1)
    if n * width < 2**31:
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
        typ = pa.string()
    else:
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
        typ = pa.large_string()
    return pa.Array.from_buffers(typ, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _take_rows(m: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``m[idx]`` for a uint8 matrix, through a 1-D bytes view (numpy copies rows of a 2-D
    uint8 matrix byte by byte, ten times slower)."""
    w = m.shape[1]
    return np.ascontiguousarray(m).view(f"S{w}").ravel()[idx].view(np.uint8).reshape(-1, w)


_DIGITS3 = np.array(
    [[48 + i // 100, 48 + (i // 10) % 10, 48 + i % 10] for i in range(1000)], dtype=np.uint8
)


def _event_and_session_ids(
    session_ids: pa.Array, app: np.ndarray, seq: np.ndarray
) -> tuple[pa.Array, pa.Array]:
    """Per event: ``<session_id>-b<seq>`` (seq as three digits) and the session id. With
    fixed-width session ids (they are: ``s-`` + 16 hex digits) both are built as fixed-width
    bytes from one gather of the session rows."""
    fixed = _fixed_width(session_ids)
    if fixed is None:
        sess = S.take(session_ids, app)
        return S.join([sess, "-b", S.ints(seq, 3)]), sess
    width = fixed.shape[1]
    rows = _take_rows(fixed, app)
    out = np.empty((len(app), width + 5), dtype=np.uint8)
    out[:, :width] = rows
    out[:, width] = ord("-")
    out[:, width + 1] = ord("b")
    out[:, width + 2 :] = _take_rows(_DIGITS3, np.minimum(seq, 999))
    return _from_fixed(out), _from_fixed(rows)


_DEVICE_COLS = (
    "device_id",
    "idfv",
    "ip",
    "user_agent",
    "os",
    "emulator",
    "rooted",
    "geo_lat",
    "geo_lon",
    "geo_country",
    "ip_country",
    "timezone",
    "utc_offset_minutes",
)


def _device_events(
    rng: np.random.Generator, a: dict[str, Any], start: np.ndarray
) -> dict[str, Any]:
    """One device event at session start; a second one at submit for a third of sessions."""
    n = len(start)
    second = rng.random(n) < 0.33
    rows = np.concatenate([np.arange(n), np.flatnonzero(second)])
    k = np.concatenate([np.zeros(n, np.int64), np.ones(int(second.sum()), np.int64)])
    t = np.where(k == 0, start[rows] - rng.integers(50, 400, len(rows)), a["event_time"][rows] - 30)
    src = {**a, "os": a["device_os"]}
    dev = S.take_cols({c: src[c] for c in _DEVICE_COLS}, rows)
    sess = S.take(a["session_id"], rows)
    out: dict[str, Any] = {
        "event_id": S.join([sess, "-d", S.ints(k)]),
        "session_id": sess,
        "event_time": t,
    }
    out.update(dev)
    out["geo_lat"] = pa.array(dev["geo_lat"], pa.float64(), from_pandas=True)
    out["geo_lon"] = pa.array(dev["geo_lon"], pa.float64(), from_pandas=True)
    return out
