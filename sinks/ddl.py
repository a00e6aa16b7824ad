"""ClickHouse schema for decisions, feature vectors, labels, dead letters, metrics and the
review console (applications, review actions, final decisions, audit).

Applied idempotently at start (tables ``CREATE ... IF NOT EXISTS`` plus the
``MIGRATIONS`` that add later columns; views ``CREATE OR REPLACE``). Every table is a
``ReplacingMergeTree`` keyed so that a message redelivered by Kafka replaces
its first copy instead of adding a second; analysts query the views (``FINAL``),
which count each application once even before background merges have run.

A decision once published is never replaced: ``decisions`` is keyed by application and
decision time, so a byte-identical redelivery collapses into its first copy while a
re-decision (a replay the redelivery memo could not answer, a new consumer group) is a
row of its own. ``decisions_of_record`` is the FIRST decision published for each
application; ``redecisions`` lists the applications decided more than once and whether
the outcome differed. Tables are partitioned by month of event time. ``decisions`` is
ordered for what analysts ask of it: ``(product, day, application_id, decided_at)`` serves
time ranges of a product from the primary key, and a bloom-filter index on
``application_id`` serves per-application lookups (measured at 10 million decisions in the
README); the other tables are ordered by ``application_id``.
"""

from __future__ import annotations

from typing import Any

from sinks.ddl_cells import CELL_VIEWS
from sinks.ddl_reviews import REVIEW_TABLES, REVIEW_VIEWS
from sinks.quote_ddl import TABLES as QUOTE_TABLES
from sinks.quote_ddl import VIEWS as QUOTE_VIEWS
from sinks.servicing_ddl import TABLES as SERVICING_TABLES
from sinks.servicing_ddl import VIEWS as SERVICING_VIEWS

TABLES: dict[str, str] = {
    "decisions": """
CREATE TABLE IF NOT EXISTS decisions (
    application_id String,
    event_time DateTime64(3, 'UTC'),
    decided_at DateTime64(3, 'UTC'),
    product LowCardinality(String),
    decision LowCardinality(String),
    pd Nullable(Float64),
    fraud_probability Nullable(Float64),
    anomaly_score Nullable(Float64),
    scorecard_points Nullable(Float64),
    risk_grade LowCardinality(Nullable(String)),
    offer_amount Nullable(Float64),
    offer_term_months Nullable(Int32),
    offer_apr Nullable(Float64),
    offer_price_tier LowCardinality(Nullable(String)),
    reason_codes Array(String),
    reason_texts Array(String),
    list_hits Array(String),
    rule_hits Array(String),
    versions Map(String, String),
    timings_us Map(String, Float64),
    shadow_decision LowCardinality(Nullable(String)),
    shadow_pd Nullable(Float64),
    shadow_fraud_probability Nullable(Float64),
    shadow_versions Map(String, String),
    worker String,
    age_band LowCardinality(Nullable(String)),
    cell LowCardinality(String) DEFAULT '',
    latency_ms Float64 MATERIALIZED
        toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(event_time),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_event_time event_time TYPE minmax GRANULARITY 4,
    INDEX idx_application application_id TYPE bloom_filter GRANULARITY 1
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (product, toDate(event_time), application_id, decided_at)
""",
    "feature_vectors": """
CREATE TABLE IF NOT EXISTS feature_vectors (
    application_id String,
    event_time DateTime64(3, 'UTC'),
    product LowCardinality(String),
    feature_spec_version LowCardinality(String),
    names Array(String),
    values Array(Nullable(Float64)),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    -- the FIRST vector ingested is kept: the one the decision of record was made with
    keep_first Int64 MATERIALIZED -toUnixTimestamp64Milli(ingested_at),
    INDEX idx_event_time event_time TYPE minmax GRANULARITY 4
) ENGINE = ReplacingMergeTree(keep_first)
PARTITION BY toYYYYMM(event_time)
ORDER BY application_id
""",
    "loan_performance": """
CREATE TABLE IF NOT EXISTS loan_performance (
    event_id String,
    loan_id String,
    application_id String,
    event_time DateTime64(3, 'UTC'),
    month_on_book Int32,
    days_past_due Int32,
    balance Float64,
    status LowCardinality(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (application_id, event_id)
""",
    "fraud_alerts": """
CREATE TABLE IF NOT EXISTS fraud_alerts (
    alert_id String,
    confirmed_application_id String,
    confirmed_at DateTime64(3, 'UTC'),
    application_id String,
    application_event_time DateTime64(3, 'UTC'),
    link_kind LowCardinality(String),
    link_hash String,
    link_path String,
    outcome LowCardinality(Nullable(String)),
    action LowCardinality(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(confirmed_at)
ORDER BY (application_id, alert_id)
""",
    "dead_letters": """
CREATE TABLE IF NOT EXISTS dead_letters (
    source_topic LowCardinality(String),
    source_partition Int32,
    source_offset Int64,
    key_base64 Nullable(String),
    payload_base64 Nullable(String),
    error_type LowCardinality(String),
    error String,
    component LowCardinality(String),
    failed_at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(failed_at)
ORDER BY (source_topic, source_partition, source_offset)
""",
    "metrics": """
CREATE TABLE IF NOT EXISTS metrics (
    worker String,
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    decisions Map(String, Int64),
    applications Int64,
    approval_rate Nullable(Float64),
    latency_p50_ms Nullable(Float64),
    latency_p95_ms Nullable(Float64),
    latency_p99_ms Nullable(Float64),
    throughput_per_s Float64,
    dead_letters Int64,
    mean_pd Nullable(Float64),
    mean_fraud_probability Nullable(Float64),
    anomaly_rate Nullable(Float64),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (worker, window_start)
""",
}

VIEWS: dict[str, str] = {
    # The view's name before decisions became immutable records, kept for saved queries.
    "decisions_latest": (
        "CREATE OR REPLACE VIEW decisions_latest AS SELECT * FROM decisions_of_record"
    ),
    # Applications decided more than once: the original (of record) and what came later.
    "redecisions": """
CREATE OR REPLACE VIEW redecisions AS
SELECT
    application_id,
    count() AS times_decided,
    argMin(decision, decided_at) AS original_decision,
    min(decided_at) AS original_decided_at,
    argMin(worker, decided_at) AS original_worker,
    arraySlice(arrayMap(t -> t.2, arraySort(groupArray((decided_at, decision)))), 2)
        AS later_decisions,
    max(decided_at) AS last_decided_at,
    uniqExact(decision) > 1 AS outcome_differs
FROM decisions FINAL
GROUP BY application_id
HAVING times_decided > 1
""",
    "feature_vectors_latest": (
        "CREATE OR REPLACE VIEW feature_vectors_latest AS SELECT * FROM feature_vectors FINAL"
    ),
    # One row per booked application with its labels as known now. Definitions:
    #   label_default = ever 60+ days past due within the first 6 months on book;
    #   label_fraud   = a FRAUD_CONFIRMED status was ever reported;
    #   default_matured = 6 months on book observed, or the default already happened
    #   (a loan that has defaulted cannot un-default, so its label is final).
    "labels": """
CREATE OR REPLACE VIEW labels AS
SELECT
    application_id,
    any(loan_id) AS loan_id,
    max(month_on_book) AS max_month_on_book,
    toUInt8(countIf(days_past_due >= 60 AND month_on_book <= 6) > 0) AS label_default,
    toUInt8(countIf(status = 'FRAUD_CONFIRMED') > 0) AS label_fraud,
    toUInt8(countIf(status = 'CHARGED_OFF') > 0) AS charged_off,
    toUInt8(max(month_on_book) >= 6 OR label_default = 1) AS default_matured,
    max(event_time) AS last_update
FROM loan_performance FINAL
GROUP BY application_id
""",
    # Daily decision mix for risk teams: volume, approval rate, mean scores, latency.
    "approval_daily": """
CREATE OR REPLACE VIEW approval_daily AS
SELECT
    toDate(event_time) AS day,
    product,
    count() AS applications,
    round(countIf(decision = 'APPROVE') / count(), 4) AS approval_rate,
    round(countIf(decision = 'REVIEW') / count(), 4) AS review_rate,
    round(avg(pd), 4) AS mean_pd,
    round(avg(fraud_probability), 4) AS mean_fraud_probability,
    round(quantile(0.99)(latency_ms), 1) AS latency_p99_ms
FROM decisions_of_record
GROUP BY day, product
""",
    # Fair-lending screen: approval rate per age band against the best-treated band of the
    # same month and product (adverse impact ratio; below 0.8 fails the "four-fifths" screen
    # and needs a credit explanation, e.g. a higher mean PD in that band).
    "approval_by_age_band": """
CREATE OR REPLACE VIEW approval_by_age_band AS
SELECT
    month, product, age_band, applications, approval_rate, mean_pd,
    round(approval_rate
          / maxIf(approval_rate, age_band != 'unknown') OVER (PARTITION BY month, product), 4)
        AS adverse_impact_ratio,
    adverse_impact_ratio < 0.8 AS below_four_fifths
FROM (
    SELECT
        toStartOfMonth(event_time) AS month,
        product,
        ifNull(age_band, 'unknown') AS age_band,
        count() AS applications,
        round(countIf(decision = 'APPROVE') / count(), 4) AS approval_rate,
        round(avg(pd), 4) AS mean_pd
    FROM decisions_of_record
    GROUP BY month, product, age_band
)
""",
    # Vintage curves: per monthly cohort of approved applications, the share of loans observed
    # at each month on book that have been 60+ days past due by then.
    "vintages": """
CREATE OR REPLACE VIEW vintages AS
SELECT
    toStartOfMonth(d.event_time) AS cohort,
    mob AS month_on_book,
    count() AS loans,
    countIf(f.bad_mob > 0 AND f.bad_mob <= mob) AS bads_60dpd,
    round(bads_60dpd / loans, 4) AS cum_bad_rate_60dpd
FROM (
    SELECT application_id,
           minIf(month_on_book, days_past_due >= 60) AS bad_mob,
           max(month_on_book) AS max_mob
    FROM loan_performance FINAL
    GROUP BY application_id
) AS f
INNER JOIN decisions_of_record AS d ON d.application_id = f.application_id
ARRAY JOIN range(1, toUInt32(f.max_mob) + 1) AS mob
GROUP BY cohort, month_on_book
""",
    # Roll rates: how loans move between delinquency buckets from one month to the next
    # (fraud confirmations excluded: they are not a payment state).
    "roll_rates": """
CREATE OR REPLACE VIEW roll_rates AS
WITH p AS (
    SELECT application_id, month_on_book AS mob,
           multiIf(status = 'CHARGED_OFF', '6 charged off', status = 'PAID_OFF', '7 paid off',
                   days_past_due = 0, '0 current', days_past_due < 30, '1 1-29',
                   days_past_due < 60, '2 30-59', days_past_due < 90, '3 60-89',
                   '4 90+') AS bucket
    FROM loan_performance FINAL
    WHERE status != 'FRAUD_CONFIRMED'
)
SELECT a.bucket AS from_bucket, b.bucket AS to_bucket, count() AS n,
       round(n / sum(n) OVER (PARTITION BY from_bucket), 4) AS share
FROM p AS a
INNER JOIN p AS b ON b.application_id = a.application_id AND b.mob = a.mob + 1
GROUP BY from_bucket, to_bucket
""",
}
VIEWS.update(CELL_VIEWS)  # test cells (sinks/ddl_cells.py)
TABLES.update(SERVICING_TABLES)  # the servicing stage (sinks/servicing_ddl.py)
VIEWS.update(SERVICING_VIEWS)
TABLES.update(REVIEW_TABLES)  # the review console (sinks/ddl_reviews.py)
VIEWS.update(REVIEW_VIEWS)
TABLES.update(QUOTE_TABLES)  # pre-qualification quotes (sinks/quote_ddl.py)
VIEWS.update(QUOTE_VIEWS)  # after the applications and decisions they join

#: ``ADD COLUMN IF NOT EXISTS`` for columns added after a table's first release, so a store
#: created by an earlier version keeps working (new rows fill them, old rows read NULL).
MIGRATIONS: tuple[str, ...] = (
    "ALTER TABLE decisions ADD COLUMN IF NOT EXISTS age_band LowCardinality(Nullable(String)) "
    "AFTER worker",
    "ALTER TABLE decisions ADD COLUMN IF NOT EXISTS cell LowCardinality(String) DEFAULT '' "
    "AFTER age_band",
)


def apply_ddl(client: Any, dead_letter_payload_days: int = 0) -> list[str]:
    """Create every table and view that does not exist yet; returns their names.

    ``dead_letter_payload_days`` > 0 sets a column TTL on ``dead_letters.payload_base64``:
    the original bytes of a bad message (which may hold an applicant's name, national id
    or address in clear) are cleared that many days after the failure, while the record
    of what failed, where and why stays for audit. 0 keeps them (and leaves any TTL set
    earlier in place).
    """
    _rebuild_changed_tables(client)
    for ddl in TABLES.values():
        client.command(ddl)
    for ddl in MIGRATIONS:  # columns added since a table was first created
        client.command(ddl)
    client.command(record_view(_columns(client, "decisions")))  # the others read it
    for ddl in VIEWS.values():  # replaced every time: a view's columns are fixed at creation
        client.command(ddl)
    if dead_letter_payload_days > 0:
        client.command(
            "ALTER TABLE dead_letters MODIFY COLUMN payload_base64 Nullable(String) "
            f"TTL toDateTime(failed_at) + INTERVAL {int(dead_letter_payload_days)} DAY"
        )
    return [*TABLES, "decisions_of_record", *VIEWS]


#: what the decision of record is grouped by: the application and what it was (the same on
#: every decision of it), so a filter on any of them reaches the table's key and indexes
RECORD_KEYS = ("application_id", "product", "event_time")


def record_view(columns: list[str], table: str = "decisions",
                name: str = "decisions_of_record") -> str:
    """The FIRST decision published for each application (see the module doc), with every
    stored column of ``table`` in its order, then ``latency_ms``.

    A GROUP BY on ``RECORD_KEYS`` with ``argMin(tuple(...), decided_at)``, not ``FINAL ...
    LIMIT 1 BY``: ClickHouse pushes a filter on a grouping key below the aggregation, so a
    lookup of one application or a week of one product reads what the key and indexes
    select instead of sorting every decision ever made. (A tuple keeps NULLs: argMin of a
    Nullable column alone would skip them and take a later decision's value.) A redelivered
    copy has the same ``decided_at``; either copy is the same row.
    """
    rest = [c for c in columns if c not in RECORD_KEYS]
    picked = ", ".join(c if c in RECORD_KEYS else f"first.{rest.index(c) + 1} AS {c}"
                       for c in columns)
    return (f"CREATE OR REPLACE VIEW {name} AS\nSELECT {picked},\n"
            "    toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(event_time) "
            f"AS latency_ms\nFROM (\n    SELECT {', '.join(RECORD_KEYS)}, "
            f"argMin(tuple({', '.join(rest)}), decided_at) AS first\n    FROM {table}\n"
            f"    GROUP BY {', '.join(RECORD_KEYS)}\n)")


def _columns(client: Any, table: str) -> list[str]:
    """The stored columns of ``table`` in order (MATERIALIZED ones are not in ``*``)."""
    return [r[0] for r in client.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = "
        f"'{table}' AND default_kind NOT IN ('MATERIALIZED', 'ALIAS') ORDER BY position"
    ).result_rows]


#: tables whose engine or key changed since their first release: (how to recognise an old
#: definition in system.tables' engine_full, what the old copy is kept as), oldest first
_REBUILDS: dict[str, tuple[tuple[str, str], ...]] = {
    "decisions": (
        # one row per application, the LATER decision replacing the first
        ("ORDER BY application_id ", "decisions_before_rekey"),
        # keyed by application first: every time range of a product read the whole month
        ("ORDER BY (application_id, decided_at)", "decisions_before_product_key"),
    ),
    # the later vector (a re-decision's) replacing the one the decision of record used
    "feature_vectors": (("ReplacingMergeTree(ingested_at)", "feature_vectors_before_rekey"),),
}


def _rebuild_changed_tables(client: Any) -> None:
    """Bring a store created by an earlier version to today's engines, keeping its rows;
    the old table stays under another name for audit."""
    for table, olds in _REBUILDS.items():
        rows = client.query(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() "
            f"AND name = '{table}'").result_rows
        kept_as = next((kept for marker, kept in olds if rows and marker in rows[0][0]), None)
        if kept_as is None:
            continue
        for ddl in MIGRATIONS:  # the old table gains the columns the new one has
            if f"ALTER TABLE {table} " in ddl:
                client.command(ddl)
        client.command(TABLES[table].replace(f"IF NOT EXISTS {table} (",
                                             f"IF NOT EXISTS {table}_rebuilt ("))
        client.command(f"INSERT INTO {table}_rebuilt SELECT * FROM {table}")
        client.command(f"RENAME TABLE {table} TO {kept_as}, {table}_rebuilt TO {table}")
