"""What a training label means, applied the same way to files and to ClickHouse rows.

The credit (PD) label is ``label_default``: ever 60+ days past due within 6 months on
book. A confirmed fraud also stops paying, but its loss is a fraud loss, not a credit
loss: counting it as a default teaches the PD model fraud signals (new devices, pasted
details, velocity) and puts them among credit reasons. So by default the rows whose
fraud was confirmed (``label_fraud = 1``) are left out of a PD model's rows -- neither
good nor bad -- and fraud keeps its own label and model. ``include_fraud`` restores the
older definition (every default counts). The definition, with how many rows it left out,
is recorded in the model's manifest (``label``) and an evaluation follows the manifest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.errors import DataError

DEFAULT_TARGET = "label_default"
FRAUD_TARGET = "label_fraud"
DEFAULT_DEFINITION = "ever 60+ days past due within 6 months on book"
FRAUD_DEFINITION = "fraud confirmed (FRAUD_CONFIRMED reported) within the fraud window"


def label_definition(target: str, *, include_fraud: bool = False,
                     has_fraud_label: bool = True, excluded: int = 0) -> dict[str, Any]:
    """The manifest's ``label`` record for ``target``."""
    if target == FRAUD_TARGET:
        return {"target": target, "definition": FRAUD_DEFINITION}
    if target != DEFAULT_TARGET:
        return {"target": target, "definition": "the file's own column"}
    if include_fraud:
        fraud = "counted as default (--include-fraud)"
    elif has_fraud_label:
        fraud = "excluded (a fraud loss is not a credit loss)"
    else:
        fraud = "not known (the data has no label_fraud column)"
    return {"target": target, "definition": DEFAULT_DEFINITION, "confirmed_fraud": fraud,
            "excluded_fraud_rows": int(excluded)}


def excludes_fraud(label: dict[str, Any] | None) -> bool:
    """Whether a manifest's label definition leaves confirmed fraud out (models trained
    before the definition was recorded counted every default)."""
    return bool(label) and str((label or {}).get("confirmed_fraud", "")).startswith("excluded")


def apply_definition(frame: Any, target: str, *, include_fraud: bool = False
                     ) -> tuple[Any, dict[str, Any]]:
    """``frame`` without the rows the definition leaves out, and the definition record."""
    has_fraud = FRAUD_TARGET in frame.columns
    if target != DEFAULT_TARGET or include_fraud or not has_fraud:
        return frame, label_definition(target, include_fraud=include_fraud,
                                       has_fraud_label=has_fraud)
    fraud = frame[FRAUD_TARGET]
    if fraud.isna().any():
        raise DataError(f"{int(fraud.isna().sum()):,} rows have no {FRAUD_TARGET}: the PD "
                        "label leaves confirmed fraud out and needs it on every row (or pass "
                        "--include-fraud)")
    confirmed = np.asarray(fraud.to_numpy(dtype=np.float64) == 1)
    kept = frame[~confirmed].reset_index(drop=True)
    kept.attrs.update(frame.attrs)
    return kept, label_definition(target, excluded=int(confirmed.sum()))
