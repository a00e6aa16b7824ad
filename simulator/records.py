"""Frames (flattened columns) back to Avro record dicts, column-wise and fast.

``records_from_frame(df, "loan_application")`` returns dicts that
``codec_for("loan_application").encode`` accepts: nested ``address`` and
``bureau`` are rebuilt from the ``address_*`` / ``bureau_*`` columns (bureau is
null when the applicant has no file), NaN becomes null, and columns not in the
schema (truth, latent) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def _column(df: pd.DataFrame, name: str, typ: pa.DataType) -> list[Any]:
    arr = pa.array(df[name], from_pandas=True)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type != typ:
        arr = arr.cast(typ)
    return arr.to_pylist()


def records_from_frame(df: pd.DataFrame, schema: str) -> list[dict[str, Any]]:
    """One Avro-ready dict per row of ``df`` for the named schema."""
    cols: dict[str, list[Any]] = {}
    builders: list[tuple[str, Any]] = []
    for f in _fields(schema):
        name, t = f["name"], f["type"]
        sub = _record_type(t)
        if sub is None:
            cols[name] = _column(df, name, _leaf_type(t))
            builders.append((name, None))
            continue
        prefix = "address" if name == "address" else name
        names = [s["name"] for s in sub["fields"]]
        for s in sub["fields"]:
            cols[f"{prefix}_{s['name']}"] = _column(
                df, f"{prefix}_{s['name']}", _leaf_type(s["type"])
            )
        builders.append((name, (prefix, names, isinstance(t, list))))
    n = len(df)
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for name, nested in builders:
        if nested is None:
            for rec, v in zip(out, cols[name], strict=True):
                rec[name] = v
            continue
        prefix, names, nullable = nested
        lists = [cols[f"{prefix}_{s}"] for s in names]
        for i, rec in enumerate(out):
            vals = [c[i] for c in lists]
            rec[name] = (
                None if nullable and vals[0] is None else dict(zip(names, vals, strict=True))
            )
    return out


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
