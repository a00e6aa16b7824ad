"""Frames (flattened columns) back to Avro record dicts, column-wise and fast.

``records_from_frame(df, "loan_application")`` returns dicts that
``codec_for("loan_application").encode`` accepts: nested ``address`` and
``bureau`` are rebuilt from the ``address_*`` / ``bureau_*`` columns (bureau is
null when the applicant has no file), NaN becomes null, and columns not in the
schema (truth, latent) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas import codec_for

_ARROW = {
    "int": pa.int32(),
    "long": pa.int64(),
    "double": pa.float64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}


def _leaf_type(t: Any) -> pa.DataType:
    if isinstance(t, list):
        t = next(x for x in t if x != "null")
    if isinstance(t, dict):
        return (
            pa.string() if t.get("type") == "enum" else _ARROW.get(t.get("type", ""), pa.string())
        )
    return _ARROW[t]


def _fields(schema: str) -> list[dict[str, Any]]:
    return list(codec_for(schema).schema["fields"])


@lru_cache(maxsize=32)
def _plan(schema: str) -> tuple[list[tuple[str, pa.DataType]], list[tuple[str, Any]]]:
    """(flat source columns with their Arrow types, how each record field is built)."""
    leaves: list[tuple[str, pa.DataType]] = []
    builders: list[tuple[str, Any]] = []
    for f in _fields(schema):
        name, t = f["name"], f["type"]
        sub = _record_type(t)
        if sub is None:
            leaves.append((name, _leaf_type(t)))
            builders.append((name, None))
            continue
        names = tuple(s["name"] for s in sub["fields"])
        leaves.extend((f"{name}_{s['name']}", _leaf_type(s["type"])) for s in sub["fields"])
        builders.append((name, (names, isinstance(t, list))))
    return leaves, builders


_NUMPY_KIND = {"int32": "iu", "int64": "iu", "double": "f", "bool": "b"}


def _values(col: Any, typ: pa.DataType) -> list[Any]:
    """One column (Arrow, numpy or pandas) as Python values of the Avro type; NaN is null."""
    if (
        isinstance(col, np.ndarray)
        and col.dtype.kind in _NUMPY_KIND.get(str(typ), "")
        and (col.dtype.kind != "f" or not np.isnan(col).any())
    ):
        return col.tolist()
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if isinstance(col, pa.Array) and pa.types.is_floating(col.type):
        col = col.to_numpy(zero_copy_only=False)
    arr = col if isinstance(col, pa.Array) else pa.array(col, from_pandas=True)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type != typ:
        arr = arr.cast(typ)
    return arr.to_pylist()


def records_from_columns(cols: Mapping[str, Any], schema: str) -> list[dict[str, Any]]:
    """One Avro-ready dict per row of the columns ``cols`` (numpy, Arrow or pandas, flattened
    like a frame) for the named schema; built column-wise, no per-row indexing."""
    leaves, builders = _plan(schema)
    lists = {name: _values(cols[name], typ) for name, typ in leaves}
    fields: list[str] = []
    values: list[list[Any]] = []
    for name, nested in builders:
        fields.append(name)
        if nested is None:
            values.append(lists[name])
            continue
        names, nullable = nested
        parts = zip(*(lists[f"{name}_{s}"] for s in names), strict=True)
        if nullable:
            values.append(
                [None if v[0] is None else dict(zip(names, v, strict=True)) for v in parts]
            )
        else:
            values.append([dict(zip(names, v, strict=True)) for v in parts])
    return [dict(zip(fields, row, strict=True)) for row in zip(*values, strict=True)]


def records_from_frame(df: pd.DataFrame, schema: str) -> list[dict[str, Any]]:
    """One Avro-ready dict per row of ``df`` for the named schema."""
    if len(df) == 0:
        return []
    leaves, _ = _plan(schema)
    return records_from_columns({name: df[name] for name, _ in leaves}, schema)


def _record_type(t: Any) -> dict[str, Any] | None:
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if isinstance(t, dict) and t.get("type") == "record":
        return t
    return None


def rows(df: pd.DataFrame, idx: Sequence[int]) -> pd.DataFrame:
    return df.iloc[list(idx)]


def behaviour_batches(
    events: Sequence[dict[str, Any]], flush_every: int = 20
) -> list[dict[str, Any]]:
    """Group one session's behaviour events (in time order) into BehaviourBatch records the
    way the SDK flushes them: every ``flush_every`` events and at SUBMIT."""
    out: list[dict[str, Any]] = []
    buf: list[dict[str, Any]] = []
    for e in events:
        buf.append(e)
        if len(buf) >= flush_every or e["event_type"] == "SUBMIT":
            out.append(
                {
                    "batch_id": f"{e['session_id']}-f{len(out)}",
                    "session_id": e["session_id"],
                    "sent_at": e["event_time"],
                    "events": buf,
                }
            )
            buf = []
    if buf:
        out.append(
            {
                "batch_id": f"{buf[-1]['session_id']}-f{len(out)}",
                "session_id": buf[-1]["session_id"],
                "sent_at": buf[-1]["event_time"],
                "events": buf,
            }
        )
    return out
