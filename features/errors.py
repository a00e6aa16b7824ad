"""Errors of the feature engine; all derive from the project root."""

from __future__ import annotations

from schemas.errors import LoanRiskError


class FeatureError(LoanRiskError):
    """The feature engine cannot do what was asked; the message says what to fix."""


class FeatureStateError(FeatureError):
    """Redis refused or lost the feature state (script missing, server down, wrong type)."""
