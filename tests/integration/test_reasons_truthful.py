"""Adverse-action reasons are true statements, over thousands of simulated decisions.

A small PD and fraud model are trained the way ``loanrisk train`` does on a simulated
history whose features come from the offline builder (the live engine on Redis); live
simulated traffic is then featurised the same way and decided by the real engine with the
models' TreeSHAP reasons. Every reason given must be true of the applicant: the feature
behind a model reason is present and on the adverse side of its documented reference
(features/spec.py), or the reason is the missing-data reason and the data is indeed
missing; an applicant without a bureau file or without current-account data is never told
a fact about them; and no DECLINE carries review-band text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from decisions.engine import DecisionEngine
from decisions.lists import ListIndex
from decisions.policy import Policy
from decisions.rules import DEFAULT_RULES_PATH, RuleStore
from features.engine import FeatureEngine
from features.offline import build_training_table, replay
from features.spec import FEATURE_SPEC, FeatureDef
from models.reasons import reason_map_from_spec
from models.slots import ModelSet, ModelSlots
from schemas.records import Decision
from simulator.config import SimConfig
from simulator.history import generate_history
from simulator.live import LiveGenerator
from tests.records import T0

pytestmark = pytest.mark.integration

KEY = b"truthful-reasons"
HISTORY, LIVE = 6000, 3000
#: what an applicant without a bureau file must never be told
BUREAU_FACTS = {"F-BUR-SCORE", "F-BUR-INQ", "F-BUR-DELQ", "F-BUR-UTIL", "F-BUR-AGE",
                "F-BUR-OPEN", "F-BUR-THIN", "F-BUR-NEW", "F-BUR-INCOME", "F-APP-INCOME-CHECK"}
#: what an applicant without current-account data must never be told
ACCOUNT_FACTS = {"F-BUR-INCOME", "F-APP-INCOME-CHECK"}
REVIEW_WORDING = re.compile(r"\b(requires?|needs?)\b.*\b(review|verification)\b|\bmanual\b",
                            re.IGNORECASE)

Values = Mapping[str, float | None]
Row = tuple[Mapping[str, Any], Values, Decision]


def _train(client: Any, registry_root: Path) -> ModelSet:
    """PD and fraud champions trained as `loanrisk train` trains them, served as the
    worker serves them (`ModelSlots` with the spec's reason map)."""
    from models.data import frame_to_dataset
    from models.registry import Registry
    from models.train import TrainConfig
    from models.workflow import spec_metadata, train_and_register

    history = generate_history(SimConfig(), HISTORY, 6, seed=31)
    frame = build_training_table(history, FeatureEngine(client, KEY, prefix="truth-hist"))
    reg = Registry(registry_root)
    meta = spec_metadata(list(frame.columns), FEATURE_SPEC)
    for name, target in (("pd", "label_default"), ("fraud", "label_fraud")):
        ds = frame_to_dataset(frame, target, "event_time", "application_id",
                              features=meta.features)
        cfg = TrainConfig(name=name, model="lightgbm", seed=3, num_boost_round=60, folds=2)
        train_and_register(ds, meta, cfg, reg, served_names=FEATURE_SPEC.names,
                           promote="champion", code_version={"git": "test"})
    slots = ModelSlots(registry_root, reason_map_from_spec(FEATURE_SPEC), FEATURE_SPEC.names)
    slots.refresh()
    assert slots.current.pd is not None and slots.current.fraud is not None
    return slots.current


def _live_events(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Live simulated traffic (rings, bots, no-file applicants) as replay events."""
    gen = LiveGenerator(SimConfig(), 32, T0, rate=20)
    sent = 0
    while sent < n:
        for app in gen.next_chunk():
            for topic, _key, rec in app:
                if topic == "behaviour.events.v1":
                    yield from (("behaviour", e) for e in rec["events"])
                else:
                    yield topic, rec
            sent += 1


@pytest.fixture(scope="module")
def decided(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> list[Row]:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        models = _train(client, tmp_path_factory.mktemp("truth") / "models")
        engine = DecisionEngine(ListIndex(), RuleStore.from_path(
            DEFAULT_RULES_PATH, known_names=FEATURE_SPEC.names), Policy.default())
        live = FeatureEngine(client, KEY, prefix="truth-live")
        out: list[Row] = []
        for app, values in replay(live, _live_events(LIVE)):
            out.append((app, values, _decide(engine, models, app, values)))
        return out
    finally:
        client.close()


def _decide(engine: DecisionEngine, models: ModelSet, app: Any, values: Values) -> Decision:
    x = FEATURE_SPEC.to_array(values)
    assert models.pd is not None and models.fraud is not None
    pd_ = models.pd.score(x)
    scores = {"pd": pd_, "fraud_probability": models.fraud.score(x),
              "scorecard_points": models.pd.points_for_pd(pd_), "anomaly_score": None}

    def model_reasons(fraud_driven: bool) -> list[tuple[str, str]]:
        model = models.fraud if fraud_driven else models.pd
        assert model is not None
        return [(r.code, r.text) for r in model.reasons(x, k=4)]

    return engine.decide(app, values, scores, models.versions(),  # type: ignore[arg-type]
                         model_reasons=model_reasons)


def _missing(v: float | None) -> bool:
    return v is None or math.isnan(v)


def _adverse(d: FeatureDef, v: float) -> bool:
    return ((d.adverse_below is not None and v < d.adverse_below)
            or (d.adverse_above is not None and v > d.adverse_above))


def _supported(code: str, text: str, values: Values) -> bool:
    """Some feature behind (code, text) is present and on its adverse side, or is missing
    and (code, text) is the first missing-data reason that applies to it."""
    for d in FEATURE_SPEC.defs:
        v = values.get(d.name)
        if not _missing(v) and (d.reason_code, d.reason_text) == (code, text):
            assert v is not None
            if _adverse(d, v):
                return True
        if _missing(v):
            applicable = [m for m in d.if_missing if m.when is None or values.get(m.when) == 1]
            if applicable and (applicable[0].code, applicable[0].text) == (code, text):
                return True
    return False


def _untrue(app: Mapping[str, Any], values: Values, decision: Decision) -> list[str]:
    """What is wrong with one decision's reasons (empty when every reason is true)."""
    bureau = app.get("bureau")
    estimate = None if bureau is None else bureau.get("income_estimate")
    wrong = []
    for r in decision["reason_codes"]:
        code, text = r["code"], r["text"]
        if decision["decision"] == "DECLINE" and REVIEW_WORDING.search(text):
            wrong.append(f"review text on a DECLINE: {code}")
        if r["source"] != "MODEL":
            continue
        if not _supported(code, text, values):
            wrong.append(f"unsupported model reason: {code}")
        if bureau is None and code in BUREAU_FACTS:
            wrong.append(f"bureau fact without a bureau file: {code}")
        if estimate is None and code in ACCOUNT_FACTS:
            wrong.append(f"account fact without account data: {code}")
        if code == "F-APP-INCOME-CHECK" and not (estimate is not None
                                                 and app["annual_income"] > estimate):
            wrong.append("income check with declared income not above the estimate")
    return wrong


def test_every_reason_over_thousands_of_decisions_is_true(decided: list[Row]) -> None:
    outcomes = Counter(d["decision"] for _, _, d in decided)
    adverse = [(a, v, d) for a, v, d in decided if d["decision"] != "APPROVE"]
    model_given = Counter(r["code"] for _, _, d in adverse for r in d["reason_codes"]
                          if r["source"] == "MODEL")
    # the run exercises what the issue found: declines explained by the models,
    # applicants without a bureau file and without account data among them
    assert len(decided) >= LIVE and outcomes["DECLINE"] >= 100, outcomes
    assert sum(model_given.values()) >= 500, model_given
    assert sum(a.get("bureau") is None for a, _, _ in adverse) >= 20
    assert sum(_missing(v["bureau_log_income_estimate"]) for _, v, _ in adverse) >= 50
    problems = Counter(p for a, v, d in decided for p in _untrue(a, v, d))
    examples = [(d["application_id"], d["decision"], [r["code"] for r in d["reason_codes"]])
                for a, v, d in decided if _untrue(a, v, d)][:5]
    assert not problems, (f"{sum(problems.values())} untrue reasons in {len(decided)} "
                          f"decisions {dict(outcomes)}: {problems.most_common()}; e.g. {examples}")


def test_missing_bureau_data_gets_its_own_reason(decided: list[Row]) -> None:
    """Applicants without a bureau file hear "No credit file found" where TreeSHAP blamed
    their missing bureau values (most adverse decisions: the fraud model explains the rest,
    or rules and policy fill the slots); applicants with a file never do."""
    def told(d: Decision) -> bool:
        return "F-BUR-NO-FILE" in {r["code"] for r in d["reason_codes"]}

    no_file = [d for a, _, d in decided if a.get("bureau") is None and d["decision"] != "APPROVE"]
    assert len(no_file) >= 20 and sum(map(told, no_file)) >= len(no_file) // 2
    assert not [d for a, _, d in decided if a.get("bureau") is not None and told(d)]
