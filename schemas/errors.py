"""The project's one exception root. Every error says what to do about it."""

from __future__ import annotations


class LoanRiskError(Exception):
    """Root of every error this project raises on purpose."""


class SchemaError(LoanRiskError):
    """A schema file is missing or invalid: a packaging or deployment problem."""


class DecodeError(LoanRiskError):
    """Bytes that are not a valid message of the expected schema.

    Carries a short machine-readable ``kind`` (DECODE or VALIDATION) so the
    dead-letter record can be filtered by cause.
    """

    def __init__(self, message: str, kind: str = "DECODE") -> None:
        super().__init__(message)
        self.kind = kind


class EncodeError(LoanRiskError):
    """A record that does not match its schema; the producer has a bug."""
