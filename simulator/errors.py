"""Errors of the simulator."""

from __future__ import annotations

from schemas.errors import LoanRiskError


class SimulatorError(LoanRiskError):
    """Bad simulator configuration or input (e.g. a history folder that is incomplete)."""
