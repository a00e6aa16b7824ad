"""Composition root of a worker: builds the decision pipeline from settings."""

from __future__ import annotations

import logging
import os
import socket
from importlib import resources
from pathlib import Path

from decisions.engine import DecisionEngine
from decisions.lists import ListIndex
from decisions.policy import Policy
from decisions.rules import RuleStore
from features.engine import FeatureEngine
from features.spec import FEATURE_SPEC
from models.anomaly import AnomalyModel
from models.reasons import reason_map_from_spec
from streams.clients import redis_client
from streams.model_slots import ModelSlots
from streams.pipeline import DecisionPipeline
from streams.settings import Settings

log = logging.getLogger(__name__)

# The anomaly model sees the signals where "unusual" means risk: velocity, links, session.
ANOMALY_FAMILIES = ("velocity", "distinct", "graph", "session")


def rules_path(settings: Settings) -> Path:
    return settings.rules_file or Path(str(resources.files("decisions") / "rules" / "default.yaml"))


def policy_path(settings: Settings) -> Path:
    return settings.policy_file or Path(
        str(resources.files("decisions") / "policy" / "default.yaml"))


def anomaly_checkpoint(settings: Settings) -> Path:
    """One checkpoint per consumer group: a restarted worker resumes from the latest."""
    return settings.state_dir / "anomaly" / f"{settings.worker_group}.pkl"


def worker_id(settings: Settings) -> str:
    return settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"


def build_anomaly(settings: Settings) -> AnomalyModel:
    path = anomaly_checkpoint(settings)
    if path.exists():
        try:
            model = AnomalyModel.load(path)
            log.info("anomaly model restored from %s (%d events learned)", path, model.n_learned)
            return model
        except Exception as exc:
            log.error("anomaly checkpoint %s unreadable (%s); starting a fresh model", path, exc)
    names = [d.name for d in FEATURE_SPEC.defs if d.family in ANOMALY_FAMILIES]
    return AnomalyModel(names)


def build_pipeline(settings: Settings, lists: ListIndex | None = None) -> DecisionPipeline:
    redis = redis_client(settings)
    hash_key = settings.hash_key.encode()
    features = FeatureEngine(redis, hash_key, prefix=settings.redis_prefix)
    rules = RuleStore.from_path(rules_path(settings), known_names=FEATURE_SPEC.names)
    policy = Policy.from_yaml(policy_path(settings))
    decider = DecisionEngine(lists or ListIndex(), rules, policy)
    slots = ModelSlots(settings.models_dir, reason_map_from_spec(FEATURE_SPEC))
    slots.refresh()
    if slots.current.pd is None:
        log.warning("no champion PD model in %s: deciding with the cold-start bureau policy "
                    "(train and promote one: `loanrisk train ...`)", settings.models_dir)
    return DecisionPipeline(features, decider, slots, build_anomaly(settings), hash_key,
                            worker_id(settings))
