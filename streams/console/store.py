"""What the console reads from ClickHouse: open cases, one case, its linked applications.

Every value from a request reaches SQL as a bound parameter, never as text. The client is
whatever ``streams.clients.analytics_client`` gives (the sink's query server for the
embedded store, a server directly otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reviews.graph import Link
from reviews.queue import QueueItem

LINK_WINDOW_S = 30 * 24 * 3600
KIND_COLUMNS = (("id", "id_hash"), ("device", "device_hash"), ("phone", "phone_hash"),
                ("email", "email_hash"), ("ip", "ip_hash"), ("address", "address_hash"))

_OPEN = """
SELECT d.application_id, d.product, toUnixTimestamp64Milli(d.decided_at), a.requested_amount,
       d.pd, d.fraud_probability, d.reason_codes, d.rule_hits
FROM decisions_of_record AS d
LEFT JOIN (SELECT application_id, requested_amount FROM applications FINAL) AS a
    ON a.application_id = d.application_id
WHERE d.decision = 'REVIEW'
  AND d.application_id NOT IN (SELECT application_id FROM final_decisions)
ORDER BY d.decided_at
LIMIT {limit:UInt32}
SETTINGS join_use_nulls = 1
"""


@dataclass
class CaseData:
    decision: dict[str, Any]
    application: dict[str, Any] | None
    features: dict[str, float | None]
    history: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] | None = None


class ConsoleStore:
    def __init__(self, client: Any) -> None:
        self.client = client

    def _rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        res = self.client.query(sql, parameters=params)
        cols = list(res.column_names)
        return [dict(zip(cols, r, strict=True)) for r in res.result_rows]

    def open_cases(self, limit: int = 5000) -> list[QueueItem]:
        res = self.client.query(_OPEN, parameters={"limit": limit})
        return [QueueItem(r[0], r[1], int(r[2]), r[3], r[4], r[5], tuple(r[6]), tuple(r[7]))
                for r in res.result_rows]

    def case(self, application_id: str) -> CaseData | None:
        dec = self._rows("SELECT *, toUnixTimestamp64Milli(decided_at) AS decided_ms, "
                         "toUnixTimestamp64Milli(event_time) AS event_ms "
                         "FROM decisions_of_record WHERE application_id = {a:String}",
                         a=application_id)
        if not dec:
            return None
        app = self._rows("SELECT * EXCEPT ingested_at FROM applications FINAL "
                         "WHERE application_id = {a:String}", a=application_id)
        fv = self._rows("SELECT names, values FROM feature_vectors_latest "
                        "WHERE application_id = {a:String}", a=application_id)
        history = self._rows(
            "SELECT event_id, action, reviewer, role, acted_at, reason_codes, offer_amount, "
            "offer_term_months, identifiers, note, needs_second_reviewer, countersigns, final "
            "FROM review_actions FINAL WHERE application_id = {a:String} ORDER BY acted_at",
            a=application_id)
        final = self._rows("SELECT * EXCEPT ingested_at FROM final_decisions FINAL "
                           "WHERE application_id = {a:String}", a=application_id)
        features = dict(zip(fv[0]["names"], fv[0]["values"], strict=True)) if fv else {}
        return CaseData(dec[0], app[0] if app else None, features, history,
                        final[0] if final else None)

    def links(self, application_id: str, limit: int = 60) -> list[Link]:
        """Applications that shared an identifier with this one within 30 days."""
        shared = ", ".join(f"if(a.{col} = c.{col}, '{kind}', '')" for kind, col in KIND_COLUMNS)
        any_shared = " OR ".join(f"a.{col} = c.{col}" for _, col in KIND_COLUMNS)
        rows = self.client.query(f"""
            SELECT a.application_id, arrayFilter(x -> x != '', [{shared}]),
                   toUnixTimestamp64Milli(a.event_time)
            FROM (SELECT * FROM applications FINAL) AS a
            CROSS JOIN (SELECT * FROM applications FINAL WHERE application_id = {{a:String}}) AS c
            WHERE a.application_id != c.application_id AND ({any_shared})
              AND abs(dateDiff('second', a.event_time, c.event_time)) <= {LINK_WINDOW_S}
            ORDER BY a.event_time LIMIT {{n:UInt32}}""",
            parameters={"a": application_id, "n": limit}).result_rows
        ids = [r[0] for r in rows]
        outcomes = self._outcomes(ids)
        frauds = self._frauds(ids)
        return [Link(r[0], tuple(r[1]), outcomes.get(r[0]), r[0] in frauds, int(r[2]))
                for r in rows]

    def _outcomes(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = self.client.query(
            "SELECT application_id, decision FROM decisions_of_record "
            "WHERE application_id IN {ids:Array(String)}", parameters={"ids": list(ids)})
        return {r[0]: r[1] for r in rows.result_rows}

    def _frauds(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = self.client.query(
            "SELECT application_id FROM labels_by_source WHERE label_fraud = 1 "
            "AND application_id IN {ids:Array(String)}", parameters={"ids": list(ids)})
        return {r[0] for r in rows.result_rows}
