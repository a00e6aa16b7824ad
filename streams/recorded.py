"""A decision of record, re-runnable: its application, its logged vector, its recorded
models as a rescorer, and its rules, policy and cell found by the versions it recorded.

What the counterfactual (`decisions.counterfactual`) runs on. The application's own
fields come from ClickHouse's ``applications`` table (the sink writes it), its bureau
attributes back from the logged vector (`features.applicant.bureau_from_features`); the
features an amount, term or product change moves are recomputed by the feature code itself
(`features.applicant.moved_features`) and scored by the recorded model versions through
the worker's own scoring (`models.slots.model_scores`). Before that, the reconstruction
must give the logged values of those features (it would otherwise score another
applicant): `RecordError` says which differ.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from decisions.errors import DecisionError
from features.applicant import applicant_features, bureau_from_features, moved_features
from models.serving import ServingModel, for_feature_order
from models.slots import ModelSet, model_scores
from schemas.records import Scores

APPLICATION_SQL = """
SELECT product, employment_status, employment_months, annual_income, monthly_debt_payments,
       housing_status, requested_amount, requested_term_months, bureau_score, channel,
       toUnixTimestamp64Milli(event_time)
FROM applications FINAL WHERE application_id = '{app}'
"""
_FIELDS = ("product", "employment_status", "employment_months", "annual_income",
           "monthly_debt_payments", "housing_status", "requested_amount",
           "requested_term_months", "bureau_score", "channel", "event_time")
#: what the counterfactual holds at its recorded value, and why
HELD = ("anomaly_score: the online anomaly model's state at the decision is not kept",)
TOLERANCE = 1e-9


class RecordError(DecisionError):
    """What a decision of record needs to be re-run is missing or does not match."""


def recorded_application(client: Any, application_id: str,
                         values: Mapping[str, float | None]) -> dict[str, Any]:
    """The application as decided: its fields from ClickHouse, its bureau attributes from
    the logged vector ``values``."""
    rows = client.query(APPLICATION_SQL.format(app=application_id)).result_rows
    if not rows:
        raise RecordError(f"the application's fields are not in ClickHouse's applications "
                          f"table (the sink writes them when it holds the hash key): "
                          f"{application_id} cannot be re-run")
    app: dict[str, Any] = {"application_id": application_id,
                           **dict(zip(_FIELDS, rows[0], strict=True))}
    app["bureau"] = bureau_from_features(values)
    return app


@dataclass
class RecordedScorer:
    """Scores a changed application as its decision of record was scored: the logged
    vector, with the applicant features the change moves recomputed, through the recorded
    models; the anomaly score held at its recorded value (`HELD`)."""

    base: Mapping[str, Any]
    names: Sequence[str]
    values: Mapping[str, float | None]
    models: ModelSet
    anomaly_score: float | None

    def __call__(self, application: Mapping[str, Any]
                 ) -> tuple[Mapping[str, float | None], Scores]:
        values = {**self.values, **moved_features(self.base, application)}
        x = np.array([_float(values.get(n)) for n in self.names], dtype=np.float64)
        scores = model_scores(self.models, x)
        scores["anomaly_score"] = self.anomaly_score
        return values, scores


def _float(v: float | None) -> float:
    return math.nan if v is None else float(v)


def recorded_scorer(base: Mapping[str, Any], names: Sequence[str],
                    values: Sequence[float | None], pd: ServingModel | None,
                    fraud: ServingModel | None, anomaly_score: float | None) -> RecordedScorer:
    """The rescorer of one decision (``names``/``values``: its logged vector), after checking
    that ``base`` recomputes the logged values of every feature a change can move."""
    logged = dict(zip(names, values, strict=True))
    check_reconstruction(base, logged)
    models = ModelSet(pd=None if pd is None else for_feature_order(pd, names),
                      fraud=None if fraud is None else for_feature_order(fraud, names))
    return RecordedScorer(base, list(names), logged, models, anomaly_score)


def controlled_features(base: Mapping[str, Any]) -> set[str]:
    """The applicant features an amount, term or product change moves (found by the
    feature code itself, on changed copies of ``base``)."""
    out: set[str] = set()
    amount = float(base["requested_amount"])
    term = int(base.get("requested_term_months") or 0)
    variants: list[dict[str, Any]] = [{"requested_amount": amount * 2 + 1},
                                      {"requested_term_months": term + 12},
                                      *({"product": p} for p in ("CREDIT_CARD",
                                                                  "PERSONAL_LOAN", "BNPL"))]
    for change in variants:
        out |= set(moved_features(base, {**base, **change}))
    return out


def check_reconstruction(base: Mapping[str, Any], logged: Mapping[str, float | None]) -> None:
    """Refuse a reconstruction that does not give the logged controlled features."""
    ours = applicant_features(base)  # type: ignore[arg-type]
    wrong = []
    for name in sorted(controlled_features(base) & set(logged)):
        a, b = ours.get(name), logged[name]
        if (a is None) != (b is None) or (a is not None and b is not None and not math.isclose(
                a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)):
            wrong.append(f"{name} {a} (logged {b})")
    if wrong:
        raise RecordError("the application's fields do not give its logged features ("
                          + "; ".join(wrong) + "): it cannot be re-run")


def by_version(kind: str, version: str, found: Iterable[tuple[str, Any]]) -> Any:
    """The policy, rule set or cells file whose ``version`` is ``version`` among ``found``
    (where it was read, what)."""
    seen = []
    for where, item in found:
        if item.version == version:
            return item
        seen.append(f"{where} is {item.version}")
    hint = {"policy": " (--policy FILE)", "rules": " (--rules FILE)",
            "cells": " (LOANRISK_CELLS_FILE)"}.get(kind, "")
    raise RecordError(f"the decision recorded {kind} {version}; not found here ("
                      + "; ".join(seen) + f"): give the {kind} file it was made with{hint}")
