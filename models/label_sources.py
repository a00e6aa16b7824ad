"""Review verdicts as early fraud labels, beside the servicing record.

A reviewer's CONFIRM_FRAUD (1) or CLEAR_GENUINE (0) is known within hours of the
application, and a case declined as fraud is never booked, so it never gets performance:
without these labels the most certain frauds are missing from training. Point in time:
only verdicts acted by the label date count, the latest one per application (the same
rule as the ``labels_by_source`` view).

Where both exist: a review verdict is the label and is final at once (source
``review``), unless servicing later confirmed fraud on a loan the reviewer cleared -- a
miss that surfaced -- which stays a fraud (source ``performance``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models.clickhouse_data import VECTOR_COLUMNS

#: which labels training may use (``--labels``)
LABEL_CHOICES = ("performance", "review+performance")

REVIEW_QUERY = "SELECT" + VECTOR_COLUMNS + """,
    r.label_fraud AS review_fraud
FROM feature_vectors AS f FINAL
INNER JOIN (
    SELECT application_id, toUInt8(argMax(action, acted_at) = 'CONFIRM_FRAUD') AS label_fraud
    FROM review_actions FINAL
    WHERE action IN ('CONFIRM_FRAUD', 'CLEAR_GENUINE')
      AND acted_at <= fromUnixTimestamp64Milli(toInt64({as_of}))
    GROUP BY application_id
) AS r ON r.application_id = f.application_id
WHERE f.event_time <= fromUnixTimestamp64Milli(toInt64({as_of}))
"""


#: columns only performance rows have (a reviewed application without any gets zeros)
PERF_ONLY = ["max_month_on_book", "label_default", "label_fraud", "charged_off"]


def review_rows(client: Any, as_of_ms: int) -> pd.DataFrame:
    """Logged vectors with a review verdict acted by ``as_of_ms`` (may be empty)."""
    return client.query_df(REVIEW_QUERY.format(as_of=int(as_of_ms)))


def with_review_labels(perf: pd.DataFrame, review: pd.DataFrame) -> pd.DataFrame:
    """``perf`` (performance rows, ``label_fraud`` from servicing) with review verdicts
    folded in, plus the reviewed applications that have no performance; column
    ``label_source`` says where each row's fraud label came from and ``review_final``
    marks a label final through review."""
    out = perf.copy()
    out["label_source"] = "performance"
    out["review_final"] = False
    if review.empty:
        return out
    if out.empty:  # early on: reviews, no performance yet
        out = pd.DataFrame(columns=[*review.columns.drop("review_fraud"), *PERF_ONLY,
                                    "label_source", "review_final"])
    verdict = dict(zip(review["application_id"], review["review_fraud"].astype(int),
                       strict=True))
    has = out["application_id"].isin(verdict.keys()).to_numpy()
    rev = out.loc[has, "application_id"].map(verdict).astype(int).to_numpy()
    perf_fraud = out.loc[has, "label_fraud"].astype(int).to_numpy()
    out.loc[has, "label_fraud"] = np.maximum(rev, perf_fraud)
    out.loc[has, "label_source"] = np.where((perf_fraud == 1) & (rev == 0), "performance",
                                            "review")
    out.loc[has, "review_final"] = True
    new = review[~review["application_id"].isin(out["application_id"])].copy()
    if not new.empty:
        new = new.assign(max_month_on_book=0, label_default=0, charged_off=0,
                         label_fraud=new["review_fraud"].astype(int), label_source="review",
                         review_final=True)
        cols = [c for c in out.columns if c in new.columns]
        out = new[cols] if out.empty else pd.concat([out, new[cols]], ignore_index=True)
    out["label_fraud"] = out["label_fraud"].astype(int)
    out["review_final"] = out["review_final"].astype(bool)
    return out


def source_counts(frame: pd.DataFrame, target: str) -> dict[str, dict[str, int]]:
    """Rows and bads of ``target`` by label source (what the manifest records)."""
    out: dict[str, dict[str, int]] = {}
    for source, g in frame.groupby("label_source"):
        out[str(source)] = {"rows": len(g), "bads": int(g[target].astype(int).sum())}
    return out
