"""The topics of the pipeline, their schemas and layout. One table, used by
the admin code that creates them, the producers and the consumers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TopicSpec:
    name: str
    schema: str
    partitions: int
    doc: str
    config: dict[str, str] = field(default_factory=dict)


DAY_MS = 24 * 3600 * 1000

APPLICATIONS = TopicSpec(
    "loan.applications.v1", "loan_application", 6,
    "Loan applications from onboarding, keyed by application id.",
    {"retention.ms": str(30 * DAY_MS)},
)
DEVICE_EVENTS = TopicSpec(
    "device.events.v1", "device_event", 6,
    "Device SDK signals, keyed by session id.",
    {"retention.ms": str(7 * DAY_MS)},
)
BEHAVIOUR_EVENTS = TopicSpec(
    "behaviour.events.v1", "behaviour_batch", 6,
    "Form interaction events, batched per SDK flush (BehaviourBatch), keyed by session id.",
    {"retention.ms": str(7 * DAY_MS)},
)
LISTS = TopicSpec(
    "risk.lists.v1", "list_update", 1,
    "Block/allow list entries; compacted, keyed by LIST:TYPE:value.",
    {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
)
RELEASES = TopicSpec(
    "risk.releases.v1", "release", 1,
    "Rules and model-role releases; compacted, keyed by kind (RULES, MODEL_ROLES).",
    {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
)
DECISIONS = TopicSpec(
    "loan.decisions.v1", "decision", 6,
    "Decisions with reason codes, keyed by application id.",
    {"retention.ms": str(30 * DAY_MS)},
)
FEATURES = TopicSpec(
    "loan.features.v1", "feature_vector", 6,
    "The exact feature vector used per decision, keyed by application id.",
    {"retention.ms": str(30 * DAY_MS)},
)
PERFORMANCE = TopicSpec(
    "loan.performance.v1", "loan_performance", 3,
    "Monthly loan performance and fraud confirmations, keyed by application id.",
    {"retention.ms": str(400 * DAY_MS)},
)
DEADLETTER = TopicSpec(
    "loan.deadletter.v1", "dead_letter", 1,
    "Messages that failed to decode, validate or process, with original bytes.",
    {"retention.ms": str(30 * DAY_MS)},
)
METRICS = TopicSpec(
    "loan.metrics.v1", "metrics", 1,
    "Worker monitoring snapshots.",
    {"retention.ms": str(7 * DAY_MS)},
)
REVIEWS = TopicSpec(
    "loan.reviews.v1", "review_event", 3,
    "Review-console actions (approve, decline, confirm fraud, ...), keyed by application id; "
    "workers fold fraud confirmations into the fraud links.",
    {"retention.ms": str(400 * DAY_MS)},
)
FINAL_DECISIONS = TopicSpec(
    "loan.decisions.final.v1", "final_decision", 6,
    "Decisions people made on reviewed applications, keyed by application id (one each).",
    {"retention.ms": str(30 * DAY_MS)},
)
AUDIT = TopicSpec(
    "console.audit.v1", "audit_event", 1,
    "Review-console audit trail: logins, case views, reveals of personal data, actions.",
    {"retention.ms": str(400 * DAY_MS)},
)

ALERTS = TopicSpec(
    "loan.alerts.v1", "fraud_alert", 3,
    "Look-back alerts: applications linked to a confirmed fraud, keyed by application id.",
    {"retention.ms": str(400 * DAY_MS)},
)

STATEMENTS = TopicSpec(
    "account.statements.v1", "account_statement", 3,
    "Monthly statements of booked accounts, keyed by account id (servicing worker input).",
    {"retention.ms": str(400 * DAY_MS)},
)
ACCOUNT_ACTIONS = TopicSpec(
    "account.actions.v1", "account_action", 3,
    "Servicing decisions: B-score, collection score and account actions, keyed by account id.",
    {"retention.ms": str(400 * DAY_MS)},
)

QUOTE_REQUESTS = TopicSpec(
    "loan.quote-requests.v1", "quote_request", 3,
    "Pre-qualification quote requests (soft search), keyed by quote id; decision workers "
    "answer each with a quote and record nothing of it as an application.",
    {"retention.ms": str(30 * DAY_MS)},
)
QUOTES = TopicSpec(
    "loan.quotes.v1", "quote", 3,
    "Indicative quotes (decision, grade, APR, limit, reasons), keyed by quote id.",
    {"retention.ms": str(30 * DAY_MS)},
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    APPLICATIONS, DEVICE_EVENTS, BEHAVIOUR_EVENTS, LISTS, RELEASES, DECISIONS, FEATURES,
    PERFORMANCE, DEADLETTER, METRICS, REVIEWS, FINAL_DECISIONS, AUDIT, ALERTS,
    STATEMENTS, ACCOUNT_ACTIONS, QUOTE_REQUESTS, QUOTES,
)
BY_NAME = {t.name: t for t in ALL_TOPICS}
