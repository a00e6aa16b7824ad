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


def make_sessions(
    rng: np.random.Generator, a: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Behaviour and device event columns for the applications ``a``; sets ``a["event_time"]``
    to submit + network delay (arrival times become submit times)."""
    n = len(a["fraud_type"])
    ft = a["fraud_type"]
    bot = ft == "bot"
    fraudster = np.isin(ft, ["third_party", "synthetic", "ring"])
    nf = len(V.FIELDS)
    # --- per (application, field) counts ----------------------------------------
    p_paste = np.where(bot, 0.85, np.where(fraudster, 0.35, 0.04))[:, None] * np.ones((1, nf))
    p_paste[:, FIELD_NAMES.index("email")] *= 2.0
    paste = rng.random((n, nf)) < np.minimum(p_paste, 0.95)
    bursts = np.where(paste, 0, 1 + np.where(bot[:, None], 0, rng.binomial(2, 0.3, (n, nf))))
    lam = np.where(bot, 0.0, np.where(fraudster, 0.35, 0.15))[:, None]
    corr = rng.poisson(lam * np.ones((1, nf)))
    counts = np.ones((n, len(_BLOCKS)), dtype=np.int64)
    counts[:, FIELD_BLOCKS] = 1 + paste + bursts + corr
    # --- flatten to one row per event -----------------------------------------
    per_app = counts.sum(axis=1)
    total = int(per_app.sum())
    app = np.repeat(np.arange(n), per_app)
    blk = np.repeat(np.tile(np.arange(len(_BLOCKS)), n), counts.ravel())
    seg_start = np.repeat(np.cumsum(counts.ravel()) - counts.ravel(), counts.ravel())
    j = np.arange(total) - seg_start
    kind = BLOCK_KIND[blk]
    ref = BLOCK_REF[blk]
    fidx = np.where(kind == 1, ref, 0)
    fp = paste[app, fidx].astype(np.int64)
    fb = bursts[app, fidx]
    etype = np.select(
        [kind == 0, kind == 2, j == 0, j <= fp, j <= fp + fb],
        [PV, SUBMIT, FOCUS, PASTE, KEY],
        CORR,
    )
    # --- timings ------------------------------------------------------------------
    age = a["latent_age"]
    base_key = np.where(bot, 12.0, 150.0 + 2.5 * (age - 30) * (age > 30)) * np.where(
        bot, 1.0, rng.lognormal(0, 0.2, n)
    )
    key_sd = np.where(bot, 0.01, np.where(fraudster, 0.35, 0.25))
    hesit = np.where(bot, 0.08, np.where(fraudster, 1.8, 1.0))
    flen = FIELD_LEN[fidx]
    is_key = etype == KEY
    chars = np.where(
        is_key, np.maximum(1, np.round(flen / np.maximum(fb, 1) * rng.lognormal(0, 0.2, total))), 0
    )
    chars = np.where(etype == PASTE, flen, chars)
    ik = base_key[app] * np.exp(key_sd[app] * rng.standard_normal(total))
    # log-normal gaps (ms) before each event, by event type; hesitation scales human pauses
    isbot = bot[app]
    mu = np.where(isbot, _BOT_MU[etype], _MU[etype])
    gap = np.exp(mu + _SD[etype] * rng.standard_normal(total)) * np.where(
        etype == PV, 1.0, hesit[app]
    )
    gap = np.where(is_key, chars * ik, gap)
    gap = np.round(gap).astype(np.int64)
    cum = np.cumsum(gap)
    app_end = np.cumsum(per_app) - 1
    app_total = cum[app_end] - np.concatenate([[0], cum[app_end[:-1]]])
    app_first = np.concatenate([[0], app_end[:-1] + 1])
    offset = cum[app_first] - gap[app_first]  # cumsum before each app's first event
    arrival = a["event_time"]
    start = arrival - app_total
    etime = start[app] + (cum - offset[app])
    submit_ms = etime[app_end]
    a["event_time"] = submit_ms + rng.integers(40, 400, n)
    sess = S.take(a["session_id"], app)
    behaviour = {
        "event_id": _event_ids(a["session_id"], app, np.arange(total) - app_first[app]),
        "session_id": sess,
        "event_time": etime,
        "event_type": _dict(EVENT_TYPES, etype, None),
        "page": _dict(V.PAGES, np.where(kind == 0, ref, 0), kind != 0),
        "inter_key_ms": pa.array(np.round(ik, 1), pa.float64(), mask=~is_key),
        "chars": pa.array(chars.astype(np.int32), pa.int32(), mask=~(is_key | (etype == PASTE))),
    }
    behaviour["field"] = _dict(FIELD_NAMES, fidx, kind != 1)
    device = _device_events(rng, a, start)
    return behaviour, device


# PAGE_VIEW, FIELD_FOCUS, KEYSTROKE (unused: chars x key gap), PASTE, CORRECTION, SUBMIT
_MU = np.log(np.array([2500.0, 700.0, 1.0, 500.0, 800.0, 1500.0]))
_BOT_MU = np.log(np.array([120.0, 700.0, 1.0, 500.0, 800.0, 80.0]))
_SD = np.array([0.5, 0.5, 0.0, 0.4, 0.5, 0.4])


def _dict(vocab: tuple[str, ...], idx: np.ndarray, null: np.ndarray | None) -> pa.Array:
    """Dictionary-encoded strings (a pandas categorical): cheap for millions of rows."""
    indices = pa.array(np.asarray(idx, dtype=np.int8), pa.int8(), mask=null)
    return pa.DictionaryArray.from_arrays(indices, pa.array(vocab, pa.string()))


def _event_ids(session_ids: pa.Array, app: np.ndarray, seq: np.ndarray) -> pa.Array:
    """``<session_id>-b<seq>`` built as fixed-width bytes (session ids are fixed width)."""
    sess = S.as_str(session_ids)
    width = int(pc.max(pc.utf8_length(sess)).as_py() or 0)
    if len(sess) == 0 or int(pc.min(pc.utf8_length(sess)).as_py()) != width:
        return S.join([S.take(sess, app), "-b", S.ints(seq)])
    sb = np.frombuffer(sess.buffers()[2], dtype=np.uint8)[: width * len(sess)].reshape(-1, width)
    out = np.empty((len(app), width + 5), dtype=np.uint8)
    out[:, :width] = sb[app]
    out[:, width] = ord("-")
    out[:, width + 1] = ord("b")
    seq = np.minimum(seq, 999)
    out[:, width + 2] = 48 + seq // 100
    out[:, width + 3] = 48 + (seq // 10) % 10
    out[:, width + 4] = 48 + seq % 10
    fixed = out.view(f"S{width + 5}").ravel()
    return pc.cast(pa.array(fixed, pa.binary(width + 5)), pa.string())


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
