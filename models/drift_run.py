"""One drift check: the logged traffic of a window against a reference, feature by feature
and score by score (the run behind ``loanrisk drift``).

The reference is either the champion's training data (the distributions stored in its
manifest) or the window of the same length just before. Scores are compared per model
version, so a promotion inside the window never reads as drift. Reads ClickHouse through
the client it is given; errors are `DataError`/`RegistryError` naming what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from models.clickhouse_data import feature_window, logged_span, scores_window
from models.drift import Drift, drift_of, feature_drift, feature_reference, reference_of
from models.errors import DataError, ModelError, RegistryError
from models.registry import Registry

UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
REFERENCES = ("model", "previous")
ALARMS = {"watch": ("watch", "shift"), "shift": ("shift",)}  # --fail-on -> statuses that alarm
#: fewest rows in the current window and in the reference for a PSI to mean anything: with
#: a handful of rows the decile shares are noise, and noise reads as a shift
MIN_ROWS = 500


def parse_window(text: str) -> int:
    """'30m', '6h', '7d' -> milliseconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([mhd])", text.strip())
    if not m:
        raise DataError(f"--window {text!r}: use a number and m, h or d (30m, 6h, 7d)")
    return int(float(m.group(1)) * UNITS_MS[m.group(2)])


@dataclass(frozen=True)
class DriftRun:
    """What was compared (``context``, shown as is) and the drift of every score and
    feature, largest feature PSI first."""

    context: dict[str, str]
    features: list[Drift]
    scores: list[Drift]

    def flagged(self, fail_on: str | None) -> list[str]:
        """Scores and features at status ``fail_on`` ('watch' or 'shift') or worse."""
        alarming = ALARMS.get(fail_on or "", ())
        return [d.name for d in [*self.scores, *self.features] if d.status in alarming]

    def record(self) -> dict[str, Any]:
        return {"context": self.context, "scores": [d.record() for d in self.scores],
                "features": [d.record() for d in self.features]}


@dataclass(frozen=True)
class _Scored:
    column: str  # pd or fraud_probability
    version: str
    manifest: dict[str, Any]


def run_drift(client: Any, registry: Registry, *, window: str = "24h",
              until_ms: int | None = None, reference: str = "model",
              model: str | None = None, min_rows: int = MIN_ROWS) -> DriftRun:
    """Drift of the ``window`` ending at ``until_ms`` (default: just after the latest
    logged decision) against ``reference`` ('model' or 'previous'), for ``model``
    (default: the champion PD model, and the champion fraud model's scores too).
    Refused (DataError naming the counts) when either side has fewer than ``min_rows``;
    a score with fewer is listed as not compared."""
    if reference not in REFERENCES:
        raise DataError("--reference is 'model' or 'previous'")
    length = parse_window(window)
    scored = _scored_models(registry, model)
    span = logged_span(client)
    if span is None:
        raise DataError("no logged feature vectors in ClickHouse yet; run the pipeline and "
                        "the sink")
    end = until_ms if until_ms is not None else span[1] + 1
    start = end - length
    current = feature_window(client, start, end)
    if current.empty:
        raise DataError(f"no logged decisions in the {window} before {iso(end)}; widen --window")
    if reference == "model":
        ref, ref_label, score_refs = _model_reference(scored)
    else:
        ref, ref_label, score_refs = _previous_reference(client, scored, window, start, length)
    _enough_rows(len(current), _reference_rows(ref), ref_label, min_rows)
    scores, notes = _score_drift(client, scored, score_refs, start, end, min_rows)
    context = {"current window": f"{iso(start)} to {iso(end)} ({len(current):,} rows)",
               "reference": ref_label, "model": scored[0].version,
               "feature spec": current.attrs.get("feature_spec_version", "")}
    if notes:
        context["scores not compared"] = "; ".join(notes)
    return DriftRun(context, feature_drift(ref, current), scores)


def _reference_rows(ref: dict[str, Any]) -> int | None:
    """Rows behind a feature reference (every feature's has the same); None if unrecorded."""
    rows = [int(r["rows"]) for r in ref.values() if r.get("rows") is not None]
    return max(rows) if rows else None


def _enough_rows(current: int, reference: int | None, ref_label: str, min_rows: int) -> None:
    if current < min_rows or (reference is not None and reference < min_rows):
        raise DataError(
            f"too few rows for a drift check: {current:,} in the current window and "
            f"{reference or 0:,} in the reference ({ref_label}); each needs at least {min_rows:,} "
            "for the PSI to mean anything. Widen --window, or lower --min-rows explicitly")


def _scored_models(registry: Registry, model: str | None) -> list[_Scored]:
    """The PD model compared, and the champion fraud model unless a model was named."""
    version = model or registry.version_for("champion", "pd")
    if version is None:
        raise RegistryError(f"no champion PD model in {registry.root}; pass --model VERSION")
    try:
        out = [_Scored("pd", str(version), registry.show(str(version)))]
    except (OSError, ModelError) as exc:
        raise RegistryError(f"model {version}: {exc}") from exc
    fraud_version = registry.version_for("champion", "fraud")
    if fraud_version and not model:
        out.append(_Scored("fraud_probability", fraud_version, registry.show(fraud_version)))
    return out


def _model_reference(scored: list[_Scored]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    pd_model = scored[0]
    ref = pd_model.manifest.get("feature_reference")
    if not ref:
        raise DataError(f"model {pd_model.version} predates stored training distributions; "
                        "use --reference previous, or retrain it")
    return (ref, f"training data of {pd_model.version}",
            {s.column: score_reference(s.manifest) for s in scored})


def _previous_reference(client: Any, scored: list[_Scored], window: str, start: int,
                        length: int) -> tuple[dict[str, Any], str, dict[str, Any]]:
    previous = feature_window(client, start - length, start)
    if previous.empty:
        raise DataError(f"no logged decisions in the {window} before {iso(start)} to "
                        "compare with")
    label = f"{iso(start - length)} to {iso(start)} ({len(previous):,} rows)"
    refs = {s.column: reference_of(scores_window(client, start - length, start, s.column,
                                                 s.version)) for s in scored}
    return feature_reference(previous), label, refs


def _score_drift(client: Any, scored: list[_Scored], refs: dict[str, Any], start: int,
                 end: int, min_rows: int) -> tuple[list[Drift], list[str]]:
    """Each model's scores in the window against its reference; notes for those that
    have too little to compare (fewer than ``min_rows`` on either side)."""
    scores, notes = [], []
    for s in scored:
        cur, sref = scores_window(client, start, end, s.column, s.version), refs.get(s.column)
        ref_rows = None if not sref else sref.get("rows")  # None: the training deciles
        if len(cur) < min_rows or not sref or (ref_rows is not None and ref_rows < min_rows):
            side, n = (("current", len(cur)) if len(cur) < min_rows
                       else ("reference", ref_rows or 0))
            notes.append(f"{s.column}: {n:,} decisions by {s.version} in the {side} window, "
                         f"fewer than {min_rows:,}")
            continue
        scores.append(drift_of(f"{s.column} ({s.version})", sref, cur))
    return scores, notes


def score_reference(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest's score deciles in the binned-reference form (no missing scores)."""
    ref = manifest.get("psi_reference")
    if not ref:
        return None
    return {"edges": ref["edges"], "shares": [*ref["shares"], 0.0], "mean": None, "missing": 0.0,
            "rows": None}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
