"""Errors of the models area; each says what to do about it."""

from __future__ import annotations

from schemas.errors import LoanRiskError


class ModelError(LoanRiskError):
    """Root of model training, evaluation and serving errors."""


class DataError(ModelError):
    """Training or evaluation data that cannot be used as given (missing column, one class...)."""


class ModelLoadError(ModelError):
    """A model artifact that cannot be loaded; the message names the file.

    The stream keeps serving the previous model when it sees this.
    """


class RegistryError(ModelError):
    """A registry operation on an unknown version or role."""
