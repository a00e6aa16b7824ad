"""Models: training, calibration, scorecard, evaluation, registry, fast scoring, anomaly model.

A library over plain data: it takes DataFrames, paths and mappings as arguments and
never reads configuration or imports Kafka clients. Heavy imports (lightgbm, river,
matplotlib) happen in the submodules that need them.
"""

from models.errors import DataError, ModelError, ModelLoadError, RegistryError

__all__ = ["DataError", "ModelError", "ModelLoadError", "RegistryError"]
