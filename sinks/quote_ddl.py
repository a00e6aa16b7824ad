"""ClickHouse tables and views of pre-qualification quotes, merged into ``sinks.ddl``'s
TABLES and VIEWS.

``quote_requests`` holds the requests with identifiers as the features' keyed hashes
(never in clear; a quote is not reviewed, so nothing is sealed either); ``quotes`` every
quote published (never replaced: a redelivered request answered again is a row of its
own). Views: ``quotes_of_record`` (the first quote per request), ``quote_conversion``
(each quote with the first application of the same identity -- the keyed national-id
hash -- made while the quote was valid, and that application's decision of record) and
``quote_conversion_rates`` by product and indicative decision.
"""

from __future__ import annotations

TABLES = {
    "quote_requests": """
CREATE TABLE IF NOT EXISTS quote_requests (
    quote_id String,
    event_time DateTime64(3, 'UTC'),
    product LowCardinality(String),
    id_hash String,
    device_hash String,
    phone_hash String,
    email_hash String,
    ip_hash String,
    address_hash String,
    employment_status LowCardinality(String),
    annual_income Float64,
    monthly_debt_payments Float64,
    requested_amount Float64,
    requested_term_months Int32,
    bureau_score Nullable(Int32),
    channel LowCardinality(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY quote_id
""",
    "quotes": """
CREATE TABLE IF NOT EXISTS quotes (
    quote_id String,
    event_time DateTime64(3, 'UTC'),
    decided_at DateTime64(3, 'UTC'),
    valid_until DateTime64(3, 'UTC'),
    product LowCardinality(String),
    decision LowCardinality(String),
    risk_grade LowCardinality(Nullable(String)),
    offer_apr Nullable(Float64),
    offer_amount Nullable(Float64),
    offer_term_months Nullable(Int32),
    pd Nullable(Float64),
    fraud_probability Nullable(Float64),
    reason_codes Array(String),
    reason_texts Array(String),
    quote_velocity Map(String, Float64),
    id_hash String,
    cell LowCardinality(String),
    versions Map(String, String),
    degraded Bool,
    latency_us Int64,
    worker String,
    latency_ms Float64 MATERIALIZED
        toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(event_time),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (quote_id, decided_at)
""",
}

VIEWS = {
    "quotes_of_record": """
CREATE OR REPLACE VIEW quotes_of_record AS
SELECT *, latency_ms FROM quotes FINAL
ORDER BY quote_id, decided_at
LIMIT 1 BY quote_id
""",
    "quote_conversion": """
CREATE OR REPLACE VIEW quote_conversion AS
WITH q AS (
    SELECT quote_id, event_time, valid_until, product, decision, risk_grade, offer_apr,
           offer_amount, id_hash
    FROM quotes_of_record
),
applied AS (
    SELECT q.quote_id AS quote_id,
           argMin(a.application_id, a.event_time) AS application_id,
           min(a.event_time) AS applied_at,
           argMin(a.product, a.event_time) AS applied_product
    FROM q INNER JOIN applications AS a FINAL ON a.id_hash = q.id_hash
    WHERE a.event_time >= q.event_time AND a.event_time <= q.valid_until
    GROUP BY q.quote_id
)
SELECT q.quote_id AS quote_id, q.event_time AS quoted_at, q.product AS product,
       q.decision AS quote_decision, q.risk_grade AS quote_grade, q.offer_apr AS quote_apr,
       q.offer_amount AS quote_amount, q.id_hash AS id_hash,
       applied.application_id != '' AS converted,
       nullIf(applied.application_id, '') AS application_id,
       if(converted, applied.applied_at, NULL) AS applied_at,
       if(converted, applied.applied_product = q.product, NULL) AS same_product,
       if(converted, (toUnixTimestamp64Milli(applied.applied_at)
                      - toUnixTimestamp64Milli(q.event_time)) / 60000, NULL)
           AS minutes_to_apply,
       nullIf(d.decision, '') AS application_decision
FROM q
LEFT JOIN applied ON applied.quote_id = q.quote_id
LEFT JOIN (SELECT application_id, decision FROM decisions_of_record) AS d
    ON d.application_id = applied.application_id
""",
    "quote_conversion_rates": """
CREATE OR REPLACE VIEW quote_conversion_rates AS
SELECT product, quote_decision, count() AS quotes, countIf(converted) AS applied,
       round(applied / quotes, 4) AS conversion_rate,
       countIf(application_decision = quote_decision) AS same_decision,
       round(same_decision / nullIf(applied, 0), 4) AS agreement,
       quantileIf(0.5)(minutes_to_apply, converted = 1) AS median_minutes_to_apply
FROM quote_conversion
GROUP BY product, quote_decision
ORDER BY product, quote_decision
""",
}
