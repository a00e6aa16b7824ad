"""ClickHouse tables and views of the servicing stage (statements in, account decisions
out), merged into ``sinks.ddl``'s TABLES and VIEWS.

``account_decisions`` is never replaced: a re-decision is a row of its own (keyed by
statement and decision time; a redelivered copy collapses). Views: the decision of
record per statement, one row per action, and the collections outcomes -- roll and cure
rates by treatment and collection-score band (cured = current on one of the next 3
statements, rolled = 60+ DPD on one of them), cost per cured account, and recoveries
after charge-off by the treatment given.
"""

from __future__ import annotations

TABLES = {
    "account_statements": """
CREATE TABLE IF NOT EXISTS account_statements (
    statement_id String,
    account_id String,
    application_id String,
    event_time DateTime64(3, 'UTC'),
    month_on_book Int32,
    product LowCardinality(String),
    credit_limit Float64,
    balance Float64,
    utilisation Float64,
    minimum_due Float64,
    payment_amount Float64,
    cash_advance Float64,
    days_past_due Int32,
    status LowCardinality(String),
    income_on_file Nullable(Float64),
    recovery_amount Float64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (account_id, statement_id)
""",
    "account_decisions": """
CREATE TABLE IF NOT EXISTS account_decisions (
    statement_id String,
    account_id String,
    event_time DateTime64(3, 'UTC'),
    decided_at DateTime64(3, 'UTC'),
    month_on_book Int32,
    days_past_due Int32,
    credit_limit Float64,
    balance Float64,
    bscore Nullable(Float64),
    collection_score Nullable(Float64),
    actions Array(LowCardinality(String)),
    reason_codes Array(String),
    reasons Array(String),
    new_limits Array(Nullable(Float64)),
    treatments Array(Nullable(String)),
    costs Array(Float64),
    cells Array(String),
    versions Map(String, String),
    latency_us Int64,
    worker String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (account_id, statement_id, decided_at)
""",
}

VIEWS = {
    "account_decisions_of_record": """
CREATE OR REPLACE VIEW account_decisions_of_record AS
SELECT * FROM account_decisions FINAL
ORDER BY statement_id, decided_at
LIMIT 1 BY statement_id
""",
    "account_actions": """
CREATE OR REPLACE VIEW account_actions AS
SELECT statement_id, account_id, event_time, decided_at, month_on_book, days_past_due,
       bscore, collection_score, action, reason_code, reason, new_limit, treatment, cost, cell,
       versions
FROM account_decisions_of_record
ARRAY JOIN actions AS action, reason_codes AS reason_code, reasons AS reason,
           new_limits AS new_limit, treatments AS treatment, costs AS cost, cells AS cell
""",
    "collection_outcomes": """
CREATE OR REPLACE VIEW collection_outcomes AS
WITH t AS (
    SELECT account_id, month_on_book AS mob, treatment, cell, cost,
           multiIf(collection_score < 0.3, '1 <30%', collection_score < 0.5, '2 30-50%',
                   collection_score < 0.7, '3 50-70%', '4 70%+') AS score_band
    FROM account_actions WHERE action = 'COLLECTION_TREATMENT'
),
later AS (
    SELECT t.account_id AS account_id, t.mob AS mob,
           max(s.days_past_due = 0) AS cured, max(s.days_past_due >= 60) AS rolled,
           count() AS seen
    FROM t INNER JOIN account_statements AS s FINAL ON s.account_id = t.account_id
    WHERE s.month_on_book > t.mob AND s.month_on_book <= t.mob + 3
    GROUP BY account_id, mob
)
SELECT t.treatment AS treatment, t.score_band AS score_band, t.cell AS cell,
       count() AS treated, countIf(later.seen > 0) AS followed,
       sum(later.cured) AS cured, sum(later.rolled) AS rolled,
       round(cured / nullIf(followed, 0), 4) AS cure_rate,
       round(rolled / nullIf(followed, 0), 4) AS roll_rate,
       round(sum(t.cost) / nullIf(cured, 0), 2) AS cost_per_cure
FROM t LEFT JOIN later ON later.account_id = t.account_id AND later.mob = t.mob
GROUP BY treatment, score_band, cell
ORDER BY treatment, score_band, cell
""",
    "recoveries": """
CREATE OR REPLACE VIEW recoveries AS
SELECT ifNull(tr.treatment, 'NO RECORD') AS treatment, count() AS charged_off,
       round(sum(s.balance), 2) AS balance_charged_off,
       round(sum(s.recovery_amount), 2) AS recovered,
       round(recovered / nullIf(balance_charged_off, 0), 4) AS recovery_rate
FROM account_statements AS s FINAL
LEFT JOIN (
    SELECT account_id, argMax(treatment, month_on_book) AS treatment
    FROM account_actions WHERE action = 'COLLECTION_TREATMENT' GROUP BY account_id
) AS tr ON tr.account_id = s.account_id
WHERE s.status = 'CHARGED_OFF'
GROUP BY treatment
ORDER BY treatment
""",
}
