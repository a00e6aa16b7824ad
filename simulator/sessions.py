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


def make_sessions(
    rng: np.random.Generator, a: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Behaviour and device event columns for the applications ``a``; sets ``a["event_time"]``
    to submit + network delay (arrival times become submit times)."""
    n = len(a["fraud_type"])
    ft = a["fraud_type"]
    bot = ft == "bot"
    fraudster = np.isin(ft, ["third_party", "synthetic", "ring"])
    nf, nb = len(V.FIELDS), len(_BLOCKS)
    # --- per (application, field) counts ----------------------------------------
    p_paste = np.where(bot, 0.85, np.where(fraudster, 0.35, 0.04))[:, None] * np.ones((1, nf))
    p_paste[:, FIELD_NAMES.index("email")] *= 2.0
    paste = rng.random((n, nf)) < np.minimum(p_paste, 0.95)
    bursts = np.where(paste, 0, 1 + np.where(bot[:, None], 0, rng.binomial(2, 0.3, (n, nf))))
    lam = np.where(bot, 0.0, np.where(fraudster, 0.35, 0.15))[:, None]
    corr = rng.poisson(lam * np.ones((1, nf)))
    counts = np.ones((n, nb), dtype=np.int64)
    counts[:, FIELD_BLOCKS] = 1 + paste + bursts + corr
    # --- flatten to one row per event (segment = one block of one application) ----
    per_app = counts.sum(axis=1)
    total = int(per_app.sum())
    c = counts.ravel()
    seg_start = np.cumsum(c) - c
    seg = _run_index(seg_start, total)  # every segment has at least one event
    app_first = seg_start[::nb]
    app = _run_index(app_first, total)
    blk = (seg - app * nb).astype(np.intp)
    j = np.arange(total) - seg_start[seg]
    seg_paste = np.zeros((n, nb), np.int64)
    seg_paste[:, FIELD_BLOCKS] = paste
    seg_bursts = np.zeros((n, nb), np.int64)
    seg_bursts[:, FIELD_BLOCKS] = bursts
    fp = seg_paste.ravel()[seg]
    fb = seg_bursts.ravel()[seg]
    fpfb = fp + fb
    kind = BLOCK_KIND[blk]
    fidx = _BLOCK_FIELD[blk]
    etype = np.where(
        j == 0, _BLOCK_FIRST[blk], np.where(j <= fp, PASTE, np.where(j <= fpfb, KEY, CORR))
    ).astype(np.intp)
    # --- timings ------------------------------------------------------------------
    age = a["latent_age"]
    base_key = np.where(bot, 12.0, 150.0 + 2.5 * (age - 30) * (age > 30)) * np.where(
        bot, 1.0, rng.lognormal(0, 0.2, n)
    )
    key_sd = np.where(bot, 0.01, np.where(fraudster, 0.35, 0.25))
    is_key = etype == KEY
    is_paste = etype == PASTE
    flen = FIELD_LEN[fidx]
    # lognormal(0, 0.2) drawn as exp(0.2 * z): the same stream, several times faster
    jitter = np.exp(0.2 * rng.standard_normal(total))
    chars = np.where(is_key, np.maximum(1, np.round(flen / np.maximum(fb, 1) * jitter)), 0)
    chars = np.where(is_paste, flen, chars)
    ik = base_key[app] * np.exp(key_sd[app] * rng.standard_normal(total))
    # log-normal gaps (ms) before each event, by event type; hesitation scales human pauses
    who = np.where(bot, 2, np.where(fraudster, 1, 0))[app] * len(EVENT_TYPES) + etype
    gap = np.exp(_MU3[who] + _SD3[who] * rng.standard_normal(total)) * _HES3[who]
    gap = np.where(is_key, chars * ik, gap)
    gap = np.round(gap).astype(np.int64)
    cum = np.cumsum(gap)
    app_end = np.cumsum(per_app) - 1
    app_total = cum[app_end] - np.concatenate([[0], cum[app_end[:-1]]])
    offset = cum[app_first] - gap[app_first]  # cumsum before each app's first event
    arrival = a["event_time"]
    start = arrival - app_total
    etime = (start - offset)[app] + cum
    submit_ms = etime[app_end]
    a["event_time"] = submit_ms + rng.integers(40, 400, n)
    sess_fixed = _fixed_width(a["session_id"])
    seq = np.arange(total) - app_first[app]
    behaviour = {
        "event_id": _event_ids(a["session_id"], app, seq, sess_fixed),
        "session_id": _repeat_strings(a["session_id"], app, sess_fixed),
        "event_time": etime,
        "event_type": _dict(EVENT_TYPES, etype, None),
        "page": _dict(V.PAGES, np.where(kind == 0, BLOCK_REF[blk], 0), kind != 0),
        "inter_key_ms": pa.array(np.round(ik, 1), pa.float64(), mask=~is_key),
        "chars": pa.array(chars.astype(np.int32), pa.int32(), mask=~(is_key | is_paste)),
    }
    behaviour["field"] = _dict(FIELD_NAMES, fidx, kind != 1)
    device = _device_events(rng, a, start)
    return behaviour, device


def _run_index(starts: np.ndarray, total: int) -> np.ndarray:
    """For sorted, distinct run ``starts`` (the first at 0), the run number of every position
    in ``range(total)`` -- ``np.repeat(arange(len(starts)), lengths)`` without its cost."""
    marker = np.zeros(total, np.int8)
    marker[starts[1:]] = 1
    return np.cumsum(marker, dtype=np.int64)


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


def _repeat_strings(strings: pa.Array, idx: np.ndarray, fixed: np.ndarray | None) -> pa.Array:
    """``strings[idx]``; a plain byte copy when the strings have a fixed width."""
    return S.take(strings, idx) if fixed is None else _from_fixed(_take_rows(fixed, idx))


def _take_rows(m: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``m[idx]`` for a uint8 matrix, through a 1-D bytes view (numpy copies rows of a 2-D
    uint8 matrix byte by byte, ten times slower)."""
    w = m.shape[1]
    return np.ascontiguousarray(m).view(f"S{w}").ravel()[idx].view(np.uint8).reshape(-1, w)


_DIGITS3 = np.array(
    [[48 + i // 100, 48 + (i // 10) % 10, 48 + i % 10] for i in range(1000)], dtype=np.uint8
)


def _event_ids(
    session_ids: pa.Array, app: np.ndarray, seq: np.ndarray, fixed: np.ndarray | None
) -> pa.Array:
    """``<session_id>-b<seq>`` (seq as three digits), built as fixed-width bytes when session
    ids are fixed width (they are: ``s-`` + 16 hex digits)."""
    if fixed is None:
        return S.join([S.take(session_ids, app), "-b", S.ints(seq, 3)])
    width = fixed.shape[1]
    out = np.empty((len(app), width + 5), dtype=np.uint8)
    out[:, :width] = _take_rows(fixed, app)
    out[:, width] = ord("-")
    out[:, width + 1] = ord("b")
    out[:, width + 2 :] = _take_rows(_DIGITS3, np.minimum(seq, 999))
    return _from_fixed(out)


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
