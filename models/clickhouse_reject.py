"""Reject inference for training from ClickHouse: the exploration cell's labels, weighted
by the inverse of their probability of approval.

Logged loans are the booked ones only. Those the policy approved had probability 1 of
being booked; a loan booked only because its applicant fell in the exploration cell
(`decisions.cells`: approved although the PD cutoff declined or referred it) had the
cell's share as its probability, so it stands for 1 / share declined applicants like it
(`models.reject_inference.explore`; `loanrisk reject-inference` measures the method
against the truth). The probability is read from what each decision logged -- its cell,
its PD, and the versions of the cells file and policy that decided it -- against the
cells file and policy given, which must be those versions (refused otherwise: a share or
cutoff from another version would weight the wrong loans).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.errors import DataError

DECISIONS = """
SELECT application_id, decision, cell, pd, product,
       versions['cells'] AS cells_version, versions['policy'] AS policy_version
FROM decisions_of_record
WHERE cell = 'explore'
"""


def approval_probability(client: Any, ids: np.ndarray, share: float, cells_version: str,
                         cutoffs: dict[str, float], policy_version: str
                         ) -> tuple[np.ndarray, dict[str, Any]]:
    """P(approved) of each booked application ``ids`` (1, or ``share`` for a loan the
    exploration cell booked below the PD cutoff) and the record of what was found."""
    explore = client.query_df(DECISIONS).set_index("application_id")
    explore = explore[explore.index.isin([str(i) for i in ids])]  # the labelled loans only
    wrong = sorted(set(explore["cells_version"]) - {cells_version})
    if wrong:
        raise DataError(f"exploration decisions were made under cells file {', '.join(wrong)}, "
                        f"not {cells_version}: give that cells file (--cells), whose share "
                        "gave them their probability of approval")
    pol = sorted(set(explore["policy_version"]) - {policy_version})
    if pol:
        raise DataError(f"exploration decisions were made under policy {', '.join(pol)}, not "
                        f"{policy_version}: give that policy (--policy), whose PD cutoff "
                        "tells which loans only the cell approved")
    cut = explore["product"].map(lambda p: cutoffs.get(str(p).upper(), np.inf))
    explored = (explore["decision"] == "APPROVE") & (explore["pd"].astype(float) >= cut)
    explored_ids = set(explore.index[explored.to_numpy()])
    p = np.array([share if str(i) in explored_ids else 1.0 for i in ids], dtype=np.float64)
    if share <= 0 and explored_ids:
        raise DataError("the cells file has no exploration share, yet loans were explored: "
                        "give the cells file the decisions were made with (--cells)")
    n = int((p < 1).sum())
    if n == 0:
        raise DataError("no loan among the labelled ones was booked by the exploration cell "
                        "below the PD cutoff: nothing to correct the selection with; turn the "
                        "exploration cell on (decisions/cells/default.yaml) and wait for its "
                        "labels, or train without --reject-inference")
    return p, {"method": "explore", "explored_loans": n, "share": share,
               "cells": cells_version, "policy": policy_version,
               "weight_of_an_explored_loan": 1.0 / share}


def explore_weights(p_approve: np.ndarray) -> np.ndarray:
    """Inverse probability of approval, the weight of each booked loan."""
    return 1.0 / p_approve

