"""The typed records in schemas/records.py say what the .avsc files say: the same field
names, and ``| None`` exactly where the schema's type is a union with null."""

from __future__ import annotations

import types
from typing import Any, get_args, get_type_hints

import pytest

from schemas import codec_for
from schemas.records import (
    Address,
    BureauAttributes,
    DecisionRecord,
    LoanApplication,
    Offer,
    ReasonCode,
    ShadowDecision,
)


def _records(node: Any) -> dict[str, dict[str, Any]]:
    """Every record type defined anywhere in a schema, by its short name."""
    out: dict[str, dict[str, Any]] = {}
    if isinstance(node, list):
        for item in node:
            out.update(_records(item))
    elif isinstance(node, dict):
        if node.get("type") == "record":
            out[node["name"].split(".")[-1]] = node
        for value in node.values():
            out.update(_records(value))
    return out


def _nullable(avro_type: Any) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


def _optional(hint: Any) -> bool:
    return type(None) in get_args(hint) if isinstance(hint, types.UnionType) else False


@pytest.mark.parametrize(("typed", "schema", "record"), [
    (LoanApplication, "loan_application", "LoanApplication"),
    (Address, "loan_application", "Address"),
    (BureauAttributes, "loan_application", "BureauAttributes"),
    (DecisionRecord, "decision", "Decision"),
    (Offer, "decision", "Offer"),
    (ReasonCode, "decision", "ReasonCode"),
    (ShadowDecision, "decision", "ShadowDecision"),
])
def test_typed_record_matches_its_avro_schema(typed: type, schema: str, record: str) -> None:
    avro = _records(codec_for(schema).schema)[record]
    hints = get_type_hints(typed)
    # the same names (in any order: a record encodes by the schema's order), nullable alike
    assert {n: _optional(h) for n, h in hints.items()} == {
        f["name"]: _nullable(f["type"]) for f in avro["fields"]}
