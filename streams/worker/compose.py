"""Composition root of a worker: builds the decision pipeline from settings."""

from __future__ import annotations

import logging
import os
import socket
from importlib import resources
from pathlib import Path

from decisions.cells import DEFAULT_CELLS_PATH, Cells
from decisions.engine import DecisionEngine
from decisions.lists import ListIndex
from decisions.policy import Policy
from decisions.rules import RuleStore
from features.engine import FeatureEngine
from features.spec import FEATURE_SPEC
from models.anomaly import AnomalyModel
from models.reasons import reason_map_from_spec
from models.slots import ModelSlots
from streams.clients import redis_client
from streams.settings import Settings
from streams.worker.pipeline import DecisionPipeline

log = logging.getLogger(__name__)

# The anomaly model sees the signals where "unusual" means risk -- velocity, links, session
# behaviour, the size of the ask -- each scaled into [0, 1] by fixed domain bounds (the same
# on every worker and across restarts; values beyond are clipped). Fourteen features keep a
# score-and-learn at tens of microseconds.
ANOMALY_BOUNDS: dict[str, tuple[float, float]] = {
    "vel_device_apps_1h": (0, 10), "vel_ip_apps_1h": (0, 10), "vel_phone_apps_24h": (0, 10),
    "vel_id_apps_24h": (0, 10), "dist_ids_per_device_7d": (0, 10),
    "dist_ids_per_ip_24h": (0, 10), "graph_linked_apps_30d": (0, 30),
    "sess_form_fill_seconds": (0, 900), "sess_keystroke_interval_std_ms": (0, 300),
    "sess_paste_count": (0, 20), "sess_corrections": (0, 30), "sess_emulator": (0, 1),
    "device_first_seen_days": (0, 365), "app_amount_to_income": (0, 2),
}


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
            if model.features == list(ANOMALY_BOUNDS) and model.bounds == ANOMALY_BOUNDS:
                log.info("anomaly model restored from %s (%d events learned)", path,
                         model.n_learned)
                return model
            log.warning("anomaly checkpoint %s is for other features; starting afresh", path)
        except Exception as exc:
            log.error("anomaly checkpoint %s unreadable (%s); starting a fresh model", path, exc)
    return AnomalyModel(list(ANOMALY_BOUNDS), bounds=ANOMALY_BOUNDS)


def build_pipeline(settings: Settings, lists: ListIndex | None = None) -> DecisionPipeline:
    redis = redis_client(settings)
    if settings.dev_keys:
        log.warning("%s still the development default: fine for the demo and tests; set a "
                    "secret of your own before real applicants' data", " and ".join(
                        settings.dev_keys) + (" are" if len(settings.dev_keys) > 1 else " is"))
    hash_key = settings.identifier_hash_key
    features = FeatureEngine(redis, hash_key, prefix=settings.redis_key_prefix)
    rules = RuleStore.from_path(rules_path(settings), known_names=FEATURE_SPEC.names)
    policy = Policy.from_yaml(policy_path(settings))
    cells = Cells.from_yaml(settings.cells_file or DEFAULT_CELLS_PATH)
    decider = DecisionEngine(lists or ListIndex(), rules, policy, cells)
    slots = ModelSlots(settings.models_dir, reason_map_from_spec(FEATURE_SPEC), FEATURE_SPEC.names)
    slots.refresh()
    if slots.current.pd is None:
        log.warning("no champion PD model in %s: deciding with the cold-start bureau policy "
                    "(train and promote one: `loanrisk train ...`)", settings.models_dir)
    return DecisionPipeline(features, decider, slots, build_anomaly(settings), hash_key,
                            worker_id(settings))
