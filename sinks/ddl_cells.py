"""ClickHouse views of the test cells (decisions/cells.py): what each cell approved, earned
and lost, read from the decisions of record and the loans' monthly performance."""

from __future__ import annotations

CELL_VIEWS: dict[str, str] = {
    # Test cells (decisions/cells.py): one row per booked loan with what it earned and lost,
    # as observed in its monthly statements -- interest = balance x APR / 12 on every month
    # the loan was current, loss = the balance at charge-off -- before funding and operating
    # costs (the optimiser's profit model, decisions/profit.py, adds those ex ante).
    "loan_outcomes": """
CREATE OR REPLACE VIEW loan_outcomes AS
SELECT
    d.application_id AS application_id,
    d.cell AS cell,
    d.product AS product,
    toStartOfMonth(d.event_time) AS cohort,
    d.offer_amount AS offer_amount,
    l.label_default AS label_default,
    l.default_matured AS default_matured,
    l.label_fraud AS label_fraud,
    ifNull(d.offer_apr, 0.0) * p.current_balance_months / 12 AS interest,
    p.loss AS loss
FROM decisions_of_record AS d
INNER JOIN labels AS l ON l.application_id = d.application_id
INNER JOIN (
    SELECT application_id,
           sumIf(balance, days_past_due = 0 AND status NOT IN ('PAID_OFF', 'FRAUD_CONFIRMED'))
               AS current_balance_months,
           maxIf(balance, status = 'CHARGED_OFF') AS loss
    FROM loan_performance FINAL
    GROUP BY application_id
) AS p ON p.application_id = d.application_id
WHERE d.decision = 'APPROVE'
""",
    # Approval, bad rate and profit by cell: what each cell decided and how its loans did
    # (bad rate among loans whose default label is final; fraud counted apart).
    "cell_performance": """
CREATE OR REPLACE VIEW cell_performance AS
SELECT
    a.cell AS cell, a.product AS product, a.applications AS applications,
    a.approval_rate AS approval_rate, a.mean_pd AS mean_pd,
    o.loans AS loans, o.matured AS matured, o.bads AS bads,
    round(if(o.matured > 0, o.bads / o.matured, NULL), 4) AS bad_rate,
    o.frauds AS frauds, o.exposure AS exposure,
    round(o.interest, 2) AS interest, round(o.loss, 2) AS loss,
    round(o.interest - o.loss, 2) AS profit
FROM (
    SELECT cell, product, count() AS applications,
           round(countIf(decision = 'APPROVE') / count(), 4) AS approval_rate,
           round(avg(pd), 4) AS mean_pd
    FROM decisions_of_record
    GROUP BY cell, product
) AS a
LEFT JOIN (
    SELECT cell, product, count() AS loans, sum(default_matured) AS matured,
           sumIf(label_default, default_matured = 1) AS bads, sum(label_fraud) AS frauds,
           sum(offer_amount) AS exposure, sum(interest) AS interest, sum(loss) AS loss
    FROM loan_outcomes
    GROUP BY cell, product
) AS o ON o.cell = a.cell AND o.product = a.product
""",
    # Vintage curves per cell: the vintages view's cumulative 60+ DPD rate, cell by cell.
    "vintages_by_cell": """
CREATE OR REPLACE VIEW vintages_by_cell AS
SELECT
    d.cell AS cell,
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
GROUP BY cell, cohort, month_on_book
""",
}
