"""What the servicing worker does with a batch of statements, whatever carries them.

For each statement: the account's earlier statements from Redis plus this one give the
behaviour features (``features.behaviour.window_features``, the same definition the
training table used); an open account under 60 DPD gets a B-score and the policy's
account actions; an account entering 30 DPD gets the collection score under each
treatment and the policy's treatment (or a random challenger cell). One decision record
per statement, with versions, whatever the outcome; no action is an empty list.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from decisions.servicing_policy import AccountAction, AccountView, ServicingPolicy
from features.account_state import AccountState
from features.behaviour import BEHAVIOUR_SPEC, StatementFacts, window_features
from schemas.servicing import TREATMENTS

BAD_DPD = 60
FLAGS = tuple(f"treat_{t.lower()}" for t in TREATMENTS[1:])


class Scorer(Protocol):
    feature_names: list[str]
    version: str

    def score(self, x: np.ndarray) -> float: ...


@dataclass(frozen=True)
class Scorers:
    bscore: Scorer
    collection: Scorer


def facts(s: dict[str, Any]) -> StatementFacts:
    return StatementFacts(int(s["month_on_book"]), int(s["days_past_due"]),
                          float(s["utilisation"]), float(s["balance"]), float(s["minimum_due"]),
                          float(s["payment_amount"]), float(s["cash_advance"]),
                          s["product"] == "CREDIT_CARD")


class ServicingCore:
    def __init__(self, state: AccountState, scorers: Scorers, policy: ServicingPolicy,
                 worker: str = "") -> None:
        self.state = state
        self.scorers = scorers
        self.policy = policy
        self.worker = worker or f"{socket.gethostname()}:servicing"
        self.versions = {"bscore": scorers.bscore.version,
                         "collection": scorers.collection.version,
                         "policy": policy.version, "features": BEHAVIOUR_SPEC.version}

    def decide(self, statements: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One decision record (account_action.avsc) per statement, in order."""
        ids = list(dict.fromkeys(s["account_id"] for s in statements))
        windows = self.state.windows(ids)
        out: list[dict[str, Any]] = []
        seen: list[tuple[str, StatementFacts]] = []
        for s in statements:
            t0 = time.perf_counter_ns()
            f = facts(s)
            window = [w for w in windows[s["account_id"]] if w.month_on_book < f.month_on_book]
            prev_dpd = window[-1].days_past_due if window else 0
            window.append(f)
            windows[s["account_id"]] = window
            seen.append((s["account_id"], f))
            out.append(self._decide_one(s, window_features(window), prev_dpd, t0))
        self.state.remember(seen)
        return out

    def _decide_one(self, s: dict[str, Any], feats: dict[str, float], prev_dpd: int,
                    t0: int) -> dict[str, Any]:
        dpd, open_ = int(s["days_past_due"]), s["status"] in ("CURRENT", "DELINQUENT")
        bscore = coll = None
        actions: list[AccountAction] = []
        if open_ and dpd < BAD_DPD:
            bscore = self.scorers.bscore.score(_vector(self.scorers.bscore, feats))
            if dpd == 0:
                actions += self.policy.account_actions(_view(s, feats), bscore)
        if open_ and dpd == 30 and prev_dpd == 0:
            p = {t: self.scorers.collection.score(_vector(self.scorers.collection, feats, t))
                 for t in TREATMENTS}
            coll = p["NONE"]
            actions.append(self.policy.treatment(s["account_id"], p, float(s["balance"])))
        return {
            "statement_id": s["statement_id"], "account_id": s["account_id"],
            "event_time": s["event_time"], "decided_at": int(time.time() * 1000),
            "month_on_book": s["month_on_book"], "days_past_due": dpd,
            "credit_limit": s["credit_limit"], "balance": s["balance"],
            "bscore": bscore, "collection_score": coll,
            "actions": [self._action(a) for a in actions], "versions": self.versions,
            "latency_us": (time.perf_counter_ns() - t0) // 1000, "worker": self.worker,
        }

    def _action(self, a: AccountAction) -> dict[str, Any]:
        cost = self.policy.doc.collections.costs.get(a.treatment or "", 0.0)
        return {"action": a.action, "reason_code": a.reason_code, "reason": a.reason,
                "new_limit": a.new_limit, "treatment": a.treatment, "cost": cost,
                "cell": a.cell}


def _vector(model: Scorer, feats: dict[str, float], treatment: str | None = None
            ) -> np.ndarray:
    """The model's inputs in its order; ``treatment`` sets the collection flags."""
    x = dict(feats)
    for flag in FLAGS:
        x[flag] = 1.0 if treatment and flag == f"treat_{treatment.lower()}" else 0.0
    return np.array([x[n] for n in model.feature_names], dtype=np.float64)


def _view(s: dict[str, Any], f: dict[str, float]) -> AccountView:
    return AccountView(is_card=s["product"] == "CREDIT_CARD",
                       months_on_book=int(s["month_on_book"]), utilisation=f["utilisation"],
                       worst_dpd_12m=f["worst_dpd_12m"], payment_ratio=f["payment_ratio"],
                       cash_advance_months_6m=f["cash_advance_months_6m"],
                       credit_limit=float(s["credit_limit"]), balance=float(s["balance"]),
                       income=s.get("income_on_file"))
