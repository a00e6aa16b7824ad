"""LightGBM's C API single-row fast path, called through lightgbm's own loaded library.

``Booster.predict`` spends most of its ~38 µs on Python-side checks and array
conversion; ``LGBM_BoosterPredictForMatSingleRowFast`` with a config prepared once
(``...FastInit``) costs ~14 µs. Contributions (TreeSHAP) use the same path with
``predict_type = C_API_PREDICT_CONTRIB``, so reason codes need no Booster.predict either.

A `FastPredictor` is not thread-safe (it owns one output buffer); the stream scores
in one thread per worker.
"""

from __future__ import annotations

import ctypes

import numpy as np

C_API_PREDICT_NORMAL = 0
C_API_PREDICT_RAW_SCORE = 1
C_API_PREDICT_CONTRIB = 3
C_API_DTYPE_FLOAT64 = 1


def _check(ret: int) -> None:
    if ret != 0:
        from lightgbm.basic import _LIB

        raise RuntimeError(_LIB.LGBM_GetLastError().decode())


class FastPredictor:
    """One prepared single-row prediction config for a Booster (raw, normal or contrib)."""

    def __init__(self, booster: object, predict_type: int = C_API_PREDICT_RAW_SCORE) -> None:
        from lightgbm.basic import _LIB

        self._lib = _LIB
        self._booster = booster  # keep the handle's owner alive
        self.ncol = int(booster.num_feature())  # type: ignore[attr-defined]
        self._cfg: ctypes.c_void_p | None = ctypes.c_void_p()
        _check(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,  # type: ignore[attr-defined]
                ctypes.c_int(predict_type),
                ctypes.c_int(0),
                ctypes.c_int(-1),
                ctypes.c_int(C_API_DTYPE_FLOAT64),
                ctypes.c_int32(self.ncol),
                ctypes.c_char_p(b"num_threads=1"),
                ctypes.byref(self._cfg),
            )
        )
        n_out = self.ncol + 1 if predict_type == C_API_PREDICT_CONTRIB else 1
        self._out = np.zeros(n_out, dtype=np.float64)
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._out_len = ctypes.c_int64(0)
        self._out_len_ref = ctypes.byref(self._out_len)
        self._fn = _LIB.LGBM_BoosterPredictForMatSingleRowFast
        self._fn.restype = ctypes.c_int
        self._cfg_val = self._cfg  # bound once: attribute lookups cost on the hot path

    def predict(self, x: np.ndarray) -> float:
        """First output for one row (raw score or probability); ``x`` float64, C-contiguous."""
        ptr = ctypes.c_void_p(x.ctypes.data)
        if self._fn(self._cfg_val, ptr, self._out_len_ref, self._out_ptr):
            _check(1)
        return float(self._out[0])

    def predict_vector(self, x: np.ndarray) -> np.ndarray:
        """All outputs for one row (contributions: one per feature + bias); a fresh copy."""
        ptr = ctypes.c_void_p(x.ctypes.data)
        if self._fn(self._cfg_val, ptr, self._out_len_ref, self._out_ptr):
            _check(1)
        return self._out.copy()

    def __del__(self) -> None:
        cfg = getattr(self, "_cfg", None)
        if cfg is not None and cfg.value:
            self._lib.LGBM_FastConfigFree(cfg)
            self._cfg = None
