"""Writing a trained model as a versioned artifact directory.

Layout: ``manifest.json`` (version, kind, target, feature names and spec version,
categorical levels, calibration, points scale, reason codes, training window, data
fingerprint, row counts, metrics, code version), the model file (``model.txt`` for
LightGBM, ``scorecard.json``), ``metrics.json`` and ``report.html``. Everything needed
to reproduce or audit a decision is in the directory.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.candidates import Fitted
from models.data import Dataset
from models.drift import feature_reference
from models.evaluate import evaluate_predictions, fitted_importance, psi_reference
from models.labels import label_definition
from models.serving import LGB_FILE, MANIFEST, SCORECARD_FILE
from models.serving_encoded import LINEAR_FILE, MEMBERS_DIR, MLP_FILE
from models.train import TrainConfig, TrainResult


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model's numbers."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("loanrisk", "lightgbm", "scikit-learn", "numpy", "pandas", "river"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-able: {type(o)}")


def dump_json(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=1, default=_json_default, allow_nan=True))


def write_artifact(
    out_dir: Path | str,
    result: TrainResult,
    ds: Dataset,
    cfg: TrainConfig,
    *,
    code_version: Mapping[str, str] | None = None,
    version: str | None = None,
) -> Path:
    """Write the chosen model, its evaluation and report under ``out_dir``; returns the dir."""
    from models.report import render

    now = datetime.now(UTC)
    version = version or f"{cfg.name}-{now:%Y%m%dT%H%M%S}-{ds.fingerprint[:8]}"
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    chosen = result.chosen
    save_fitted(chosen, d, version, ds)
    psi_ref = psi_reference(result.p_train)
    ev = _evaluation(result, cfg, psi_ref)
    manifest = _manifest(version, now, result, ds, cfg, ev, psi_ref)
    manifest["code_version"] = {**library_versions(), **(code_version or {})}
    dump_json(manifest, d / MANIFEST)
    dump_json({"version": version, "candidates": result.candidates,
               "selection": result.selection, **ev}, d / "metrics.json")
    title = f"Model report: {version} ({chosen.kind}, target {ds.target})"
    (d / "report.html").write_text(render(title, manifest, ev, result.y_eval, result.p_eval))
    return d


def scoring_manifest(f: Fitted, version: str, ds: Dataset) -> dict[str, Any]:
    """The part of a manifest that scoring reads (an ensemble member's whole manifest)."""
    return {"version": version, "kind": f.serving_kind, "candidate": f.kind,
            "target": ds.target, "feature_names": ds.feature_names,
            "categories": ds.categories, "calibration": f.calibrator.to_dict(),
            "members": f.params.get("members", []) if f.kind == "ensemble" else [],
            **({"scale": f.model.scale.__dict__} if f.kind == "scorecard" else {})}


def save_fitted(f: Fitted, d: Path, version: str, ds: Dataset) -> None:
    """The model file of one fitted candidate in ``d``; an ensemble's members each get a
    directory of their own under ``members/`` (a manifest and their model file)."""
    kind = f.serving_kind
    if kind == "lightgbm":
        f.model.save_model(str(d / LGB_FILE))
    elif kind == "ensemble":
        for m in f.model.members:
            sub = d / MEMBERS_DIR / m.kind
            sub.mkdir(parents=True, exist_ok=True)
            save_fitted(m, sub, f"{version}/{m.kind}", ds)
            dump_json(scoring_manifest(m, f"{version}/{m.kind}", ds), sub / MANIFEST)
    else:
        fname = {"scorecard": SCORECARD_FILE, "logistic": LINEAR_FILE, "mlp": MLP_FILE}[kind]
        dump_json(f.model.to_dict(), d / fname)


def _evaluation(
    result: TrainResult, cfg: TrainConfig, psi_ref: dict[str, list[float]]
) -> dict[str, Any]:
    """Metrics of the chosen model on its evaluation rows, with feature importance from
    (at most) 5,000 of them, drawn with the run's seed."""
    chosen = result.chosen
    rng = np.random.default_rng(cfg.seed)
    sample = result.X_eval[rng.permutation(len(result.X_eval))[:5000]]
    imp = fitted_importance(chosen.serving_kind, chosen.model, sample)
    ev = evaluate_predictions(
        result.y_eval,
        result.p_eval,
        cutoff=result.cutoff,
        psi_ref=psi_ref,
        raw=result.raw_eval,
        oracle=result.oracle_eval,
        importance=imp,
        loss_per_bad=cfg.loss_per_bad,
        revenue_per_good=cfg.revenue_per_good,
        time_ms=result.time_eval,
    )
    if chosen.serving_kind == "lightgbm":
        from models.benchmark import treeshap_cost

        ev["treeshap_cost"] = treeshap_cost(chosen.model, sample)
    return ev


def _manifest(
    version: str,
    now: datetime,
    result: TrainResult,
    ds: Dataset,
    cfg: TrainConfig,
    ev: dict[str, Any],
    psi_ref: dict[str, list[float]],
) -> dict[str, Any]:
    """Everything serving and an audit need to know about the model, but the code version."""
    chosen = result.chosen
    reasons = {n: list(cfg.reasons[n]) for n in ds.feature_names if n in cfg.reasons}
    return {
        "version": version,
        "name": cfg.name,
        "target": ds.target,
        "label": ds.label or label_definition(ds.target, has_fraud_label=False),
        "reject_inference": ds.reject_inference or None,
        "kind": chosen.serving_kind,
        "candidate": chosen.kind,
        "members": chosen.params.get("members", []) if chosen.kind == "ensemble" else [],
        "created_at": now.isoformat(),
        "feature_names": ds.feature_names,
        "feature_spec_version": cfg.feature_spec_version,
        "categories": ds.categories,
        "dropped_columns": ds.dropped,
        "monotone": {k: int(v) for k, v in cfg.monotone.items() if k in ds.feature_names},
        "reasons": reasons,
        "calibration": chosen.calibrator.to_dict(),
        "calibration_choice": chosen.calibration_scores,
        "scale": chosen.model.scale.__dict__ if chosen.kind == "scorecard" else cfg.scale.__dict__,
        "selection": result.selection,
        "tuning": chosen.params.get("tuning"),
        "cutoff": result.cutoff,
        "validation": result.design,
        "candidates": result.candidates,
        "training_window": result.window,
        "data_fingerprint": ds.fingerprint,
        "label_source": ds.label_source or None,
        "rows": result.n_rows,
        "seed": cfg.seed,
        "psi_reference": psi_ref,
        "feature_reference": feature_reference(ds.X),
        "metrics": ev["metrics"],
        "oracle": ev.get("oracle"),
    }
