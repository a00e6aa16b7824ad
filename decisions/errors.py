"""Errors of the decision area; each names what is wrong and what to do."""

from __future__ import annotations

from schemas.errors import LoanRiskError


class DecisionError(LoanRiskError):
    """Root of decision-engine errors."""


class RulesError(DecisionError):
    """A rules file that cannot be used; the message names the rule id and the problem.

    A running worker that sees this keeps its previous rule set.
    """


class PolicyError(DecisionError):
    """A policy file that cannot be used; the message names the product and the field."""


class ListsError(DecisionError):
    """A list entry or list import file that cannot be used (bad type, bad CIDR...)."""


class BacktestError(DecisionError):
    """Backtest or shadow-report input that cannot be used (missing column...)."""
