"""Vectorised string building on Arrow compute: millions of ids without Python loops."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def hex_ids(rng: np.random.Generator, n: int, prefix: str = "", nbytes: int = 8) -> pa.Array:
    """``n`` random hex ids (``2*nbytes`` hex digits) with a prefix, e.g. ``a-3f9c...``."""
    if n == 0:
        return pa.array([], pa.string())
    raw = np.frombuffer(rng.bytes(nbytes * n).hex().encode(), dtype=f"S{2 * nbytes}")
    arr = pc.cast(pa.array(raw, pa.binary(2 * nbytes)), pa.string())
    return join([prefix, arr]) if prefix else arr


def uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """Random (version-less) UUID-formatted strings, e.g. for iOS/Android idfv."""
    h = hex_ids(rng, n, nbytes=16)
    parts = [
        pc.utf8_slice_codeunits(h, a, b) for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
    ]
    return pc.utf8_upper(pc.binary_join_element_wise(*parts, "-"))


def ints(values: np.ndarray, width: int = 0) -> pa.Array:
    """Integers as decimal strings, left-padded with zeros to ``width``."""
    s = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(s, width, "0") if width else s


def pick(vocab: Sequence[str] | np.ndarray, idx: np.ndarray) -> pa.Array:
    """``vocab[idx]`` as an Arrow string array."""
    return _vocab(tuple(vocab)).take(pa.array(np.asarray(idx, dtype=np.int64)))


@lru_cache(maxsize=256)
def _vocab(vocab: tuple[str, ...]) -> pa.Array:
    return pa.array(vocab, pa.string())


def join(parts: Sequence[str | pa.Array]) -> pa.Array:
    """Concatenate string arrays and literals element-wise."""
    n = next((len(p) for p in parts if not isinstance(p, str)), None)
    if n is None:
        raise ValueError("join needs at least one array")
    arrays = [pa.scalar(p, pa.string()) if isinstance(p, str) else as_str(p) for p in parts]
    return pc.binary_join_element_wise(*arrays, "")


def ipv4(rng: np.random.Generator, first_octets: np.ndarray) -> pa.Array:
    """Random IPv4 addresses whose first octet is given per row."""
    n = len(first_octets)
    rest = rng.integers(1, 255, size=(3, n))
    return join([ints(first_octets), ".", ints(rest[0]), ".", ints(rest[1]), ".", ints(rest[2])])


def take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    return arr.take(pa.array(np.asarray(idx, dtype=np.int64)))


def set_rows(cols: dict[str, Any], name: str, rows: np.ndarray, values: object) -> None:
    """``cols[name][rows] = values`` for a numpy or Arrow column (values: scalar or one per row)."""
    col = cols[name]
    rows = np.asarray(rows, dtype=bool)
    m = int(rows.sum())
    if m == 0:
        return
    if isinstance(col, pa.Array):
        if values is None or isinstance(values, str):
            vals = pa.array([values] * m, pa.string())
        else:
            vals = as_str(values)
        cols[name] = pc.replace_with_mask(col, pa.array(rows), vals)
    else:
        new = col.copy()
        new[rows] = values
        cols[name] = new


def take_cols(cols: dict[str, Any], idx: np.ndarray) -> dict[str, Any]:
    """Rows ``idx`` of every column."""
    pidx = pa.array(np.asarray(idx, dtype=np.int64))
    return {k: v.take(pidx) if isinstance(v, pa.Array) else v[idx] for k, v in cols.items()}


def concat_cols(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        k: pa.concat_arrays([as_str(a[k]), as_str(v)])
        if isinstance(v, pa.Array)
        else np.concatenate([a[k], v])
        for k, v in b.items()
    }


def where(mask: np.ndarray, a: pa.Array, b: pa.Array) -> pa.Array:
    """Element-wise ``a if mask else b`` for string arrays."""
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), as_str(a), as_str(b))


def as_str(x: object) -> pa.Array:
    """Any string column (Arrow, pandas, numpy object) as an Arrow ``string`` array."""
    arr = x if isinstance(x, pa.Array) else pa.array(x)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.string() else pc.cast(arr, pa.string())
