"""Console roles and what each may do; one table, checked on every request."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    REVIEWER = "reviewer"
    SENIOR = "senior_reviewer"
    ANALYST = "analyst"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW_CASES = "view_cases"  # the queue and case pages (personal data masked)
    WORK_CASES = "work_cases"  # claim a case, act on it
    COUNTERSIGN = "countersign"  # the second pair of eyes
    REVEAL = "reveal"  # unmask personal data (audited)
    DASHBOARDS = "dashboards"
    RELEASE_RULES = "release_rules"
    MANAGE_USERS = "manage_users"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.REVIEWER: frozenset({Permission.VIEW_CASES, Permission.WORK_CASES, Permission.REVEAL}),
    Role.SENIOR: frozenset({Permission.VIEW_CASES, Permission.WORK_CASES, Permission.REVEAL,
                            Permission.COUNTERSIGN, Permission.DASHBOARDS}),
    Role.ANALYST: frozenset({Permission.VIEW_CASES, Permission.DASHBOARDS,
                             Permission.RELEASE_RULES}),
    Role.ADMIN: frozenset({Permission.DASHBOARDS, Permission.RELEASE_RULES,
                           Permission.MANAGE_USERS}),
}


def allowed(role: str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``; an unknown role holds nothing."""
    try:
        return permission in GRANTS[Role(role)]
    except ValueError:
        return False
