"""ClickHouse tables and views of the review console: the applications it shows, the
actions people took, the decisions they made, the audit trail, and what analysts learn
from them (labels with their source and delay, override rates, time to decision,
agreement between reviewers, precision of the rules that send cases to review).

Part of ``sinks.ddl`` (applied with it, in this order: views after ``decisions_of_record``).
"""

from __future__ import annotations

REVIEW_TABLES: dict[str, str] = {
    # Applications as the review console needs them: identifiers as keyed hashes (to link
    # applications), personal fields only sealed (reviews.privacy; the store never has the
    # key), the rest of the application in clear.
    "applications": """
CREATE TABLE IF NOT EXISTS applications (
    application_id String,
    event_time DateTime64(3, 'UTC'),
    product LowCardinality(String),
    id_hash String,
    device_hash String,
    phone_hash String,
    email_hash String,
    ip_hash String,
    address_hash String,
    employment_status LowCardinality(String),
    employment_months Int32,
    annual_income Float64,
    monthly_debt_payments Float64,
    housing_status LowCardinality(String),
    requested_amount Float64,
    requested_term_months Int32,
    bureau_score Nullable(Int32),
    channel LowCardinality(String),
    session_id String,
    sealed String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_event_time event_time TYPE minmax GRANULARITY 4
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY application_id
""",
    # Every review-console action (loan.reviews.v1), one row per event.
    "review_actions": """
CREATE TABLE IF NOT EXISTS review_actions (
    event_id String,
    application_id String,
    product LowCardinality(String),
    action LowCardinality(String),
    reviewer LowCardinality(String),
    role LowCardinality(String),
    acted_at DateTime64(3, 'UTC'),
    application_event_time DateTime64(3, 'UTC'),
    original_decision LowCardinality(String),
    original_decided_at DateTime64(3, 'UTC'),
    rule_hits Array(String),
    original_reasons Array(String),
    reason_codes Array(String),
    offer_amount Nullable(Float64),
    offer_term_months Nullable(Int32),
    offer_apr Nullable(Float64),
    identifiers Array(String),
    note String,
    needs_second_reviewer Bool,
    countersigns Nullable(String),
    final Bool,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(acted_at)
ORDER BY (application_id, event_id)
""",
    # Decisions people made on reviewed applications (loan.decisions.final.v1); the first
    # per application is kept, like the decision of record.
    "final_decisions": """
CREATE TABLE IF NOT EXISTS final_decisions (
    application_id String,
    product LowCardinality(String),
    decision LowCardinality(String),
    decided_at DateTime64(3, 'UTC'),
    application_event_time DateTime64(3, 'UTC'),
    original_decision LowCardinality(String),
    original_decided_at DateTime64(3, 'UTC'),
    reviewer LowCardinality(String),
    second_reviewer Nullable(String),
    review_action LowCardinality(String),
    review_event_id String,
    reason_codes Array(String),
    reason_texts Array(String),
    offer_amount Nullable(Float64),
    offer_term_months Nullable(Int32),
    offer_apr Nullable(Float64),
    offer_price_tier Nullable(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    keep_first Int64 MATERIALIZED -toUnixTimestamp64Milli(decided_at)
) ENGINE = ReplacingMergeTree(keep_first)
PARTITION BY toYYYYMM(application_event_time)
ORDER BY application_id
""",
    # The review console's audit trail (console.audit.v1): logins, views, reveals, actions.
    "console_audit": """
CREATE TABLE IF NOT EXISTS console_audit (
    event_id String,
    at DateTime64(3, 'UTC'),
    user LowCardinality(String),
    role LowCardinality(String),
    kind LowCardinality(String),
    application_id Nullable(String),
    detail String,
    client_ip String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(at)
ORDER BY (user, at, event_id)
""",
}

REVIEW_VIEWS: dict[str, str] = {
    # Labels with their source and delay: a reviewer's verdict within hours (source
    # 'review': CONFIRM_FRAUD = 1, CLEAR_GENUINE = 0, the latest verdict counts) beside the
    # servicing record months later (source 'performance'). delay_s = from the application
    # to when the label was known.
    "labels_by_source": """
CREATE OR REPLACE VIEW labels_by_source AS
SELECT application_id, 'review' AS source,
       toUInt8(argMax(action, acted_at) = 'CONFIRM_FRAUD') AS label_fraud,
       max(acted_at) AS known_at,
       dateDiff('second', any(application_event_time), known_at) AS delay_s,
       argMax(reviewer, acted_at) AS labelled_by
FROM review_actions FINAL
WHERE action IN ('CONFIRM_FRAUD', 'CLEAR_GENUINE')
GROUP BY application_id
UNION ALL
SELECT p.application_id, 'performance' AS source, p.label_fraud,
       p.known_at, dateDiff('second', d.event_time, p.known_at) AS delay_s, '' AS labelled_by
FROM (
    SELECT application_id,
           toUInt8(countIf(status = 'FRAUD_CONFIRMED') > 0) AS label_fraud,
           if(label_fraud = 1, minIf(event_time, status = 'FRAUD_CONFIRMED'), max(event_time))
               AS known_at
    FROM loan_performance FINAL
    GROUP BY application_id
) AS p
INNER JOIN decisions_of_record AS d ON d.application_id = p.application_id
""",
    # How reviewers settle cases, by reviewer, product and the rule that sent the case:
    # override = a settled case approved (the engine approved none of them).
    "review_override_rate": """
CREATE OR REPLACE VIEW review_override_rate AS
WITH f AS (
    SELECT f.application_id AS application_id, f.reviewer AS reviewer, f.product AS product,
           f.decision AS decision, d.rule_hits AS rule_hits
    FROM final_decisions AS f FINAL
    INNER JOIN decisions_of_record AS d ON d.application_id = f.application_id
)
SELECT dimension, value, count() AS cases, countIf(decision = 'APPROVE') AS approved,
       round(approved / cases, 4) AS override_rate
FROM (
    SELECT 'reviewer' AS dimension, reviewer AS value, decision FROM f
    UNION ALL SELECT 'product', product, decision FROM f
    UNION ALL SELECT 'rule', arrayJoin(if(empty(rule_hits), ['(no rule)'], rule_hits)),
                     decision FROM f
)
GROUP BY dimension, value
""",
    # From the automated REVIEW to the person's final decision, by product and reviewer.
    "review_time_to_decision": """
CREATE OR REPLACE VIEW review_time_to_decision AS
SELECT product, reviewer, count() AS cases,
       round(quantile(0.5)(dateDiff('second', original_decided_at, decided_at)) / 60, 1)
           AS p50_minutes,
       round(quantile(0.9)(dateDiff('second', original_decided_at, decided_at)) / 60, 1)
           AS p90_minutes
FROM final_decisions FINAL
GROUP BY product, reviewer
""",
    # Cases that two or more reviewers gave a verdict on, and whether they agreed
    # (good: APPROVE, CLEAR_GENUINE; bad: DECLINE, CONFIRM_FRAUD).
    "reviewer_agreement": """
CREATE OR REPLACE VIEW reviewer_agreement AS
SELECT application_id, groupUniqArray(reviewer) AS reviewers,
       groupUniqArray(verdict) AS verdicts, toUInt8(length(verdicts) = 1) AS agree
FROM (
    SELECT application_id, reviewer,
           if(argMax(action, acted_at) IN ('APPROVE', 'CLEAR_GENUINE'), 'good', 'bad')
               AS verdict
    FROM review_actions FINAL
    WHERE action IN ('APPROVE', 'DECLINE', 'CONFIRM_FRAUD', 'CLEAR_GENUINE')
    GROUP BY application_id, reviewer
)
GROUP BY application_id
HAVING length(reviewers) >= 2
""",
    # Precision of each rule and reason that sent cases to review: confirmed fraud among
    # the reviewed cases it flagged (reviewed = a review label or a final decision).
    "review_rule_precision": """
CREATE OR REPLACE VIEW review_rule_precision AS
SELECT flag, count() AS reviewed, sum(fraud) AS confirmed_fraud,
       round(confirmed_fraud / reviewed, 4) AS precision
FROM (
    SELECT d.application_id AS application_id,
           arrayJoin(arrayDistinct(arrayConcat(d.rule_hits, d.reason_codes))) AS flag,
           r.fraud AS fraud
    FROM decisions_of_record AS d
    INNER JOIN (
        SELECT application_id, max(action = 'CONFIRM_FRAUD') AS fraud
        FROM review_actions FINAL
        WHERE action IN ('APPROVE', 'DECLINE', 'CONFIRM_FRAUD', 'CLEAR_GENUINE')
        GROUP BY application_id
    ) AS r ON r.application_id = d.application_id
)
GROUP BY flag
""",
}
