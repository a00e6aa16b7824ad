"""Train-and-register and evaluate-a-version: the steps behind ``loanrisk train`` and
``loanrisk evaluate``, callable from a script or a notebook with the same results.

Data comes from an analyst's file or from the vectors logged in ClickHouse (a client is
passed in); the feature spec in use is passed in too, so this library never reaches for
the stream's configuration. Errors are `ModelError`s whose message says what to do.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from models.artifact import dump_json, write_artifact
from models.clickhouse_data import Maturity, load_with_maturity, parse_as_of
from models.clickhouse_reject import approval_probability, explore_weights
from models.coldstart import ready_to_train
from models.data import Dataset, frame_to_dataset, read_table
from models.errors import DataError
from models.evaluate import evaluate_predictions
from models.labels import apply_definition, excludes_fraud
from models.metrics import auc, ks
from models.registry import Registry
from models.serving import ServingModel, for_feature_order, load_model
from models.train import ORACLE_FOR, TrainConfig, train

ORACLE_COLUMNS = ORACLE_FOR
#: readiness to train on logged labels (docs/models.md, `models.coldstart.ready_to_train`)
MIN_MATURED, MIN_BADS = 3000, 300
#: the fewest matured rows an evaluation on logged labels is reported on (docs/models.md)
MIN_EVAL_ROWS = 500
#: months on book after which a default label is final; file columns that tell maturity
DEFAULT_MONTHS = 6
MATURITY_COLUMNS = ("default_matured", "max_month_on_book", "months_on_book")


@dataclass(frozen=True)
class ExploreDesign:
    """What gave an explored loan its probability of approval: the cells file's
    exploration share and version, and the PD cutoffs and version of the policy."""

    share: float
    cells_version: str
    cutoffs: Mapping[str, float]
    policy_version: str


class _FeatureDef(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def monotone(self) -> int: ...
    @property
    def reason_code(self) -> str: ...
    @property
    def reason_text(self) -> str: ...


class FeatureSpecLike(Protocol):
    """What training reads of ``features.spec.FEATURE_SPEC``."""

    @property
    def names(self) -> Sequence[str]: ...
    @property
    def defs(self) -> Sequence[_FeatureDef]: ...
    @property
    def version(self) -> str: ...


@dataclass(frozen=True)
class SpecMetadata:
    """What the feature spec adds to a model trained on its features (nothing when the
    data is an analyst's own columns)."""

    features: list[str] | None = None  # the spec's order, when every spec feature is present
    monotone: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, tuple[str, str]] = field(default_factory=dict)
    version: str = ""


def spec_metadata(columns: Sequence[str], spec: FeatureSpecLike | None) -> SpecMetadata:
    """Feature names, monotone directions, reason codes and version from the feature spec."""
    if spec is None:
        return SpecMetadata()
    present = [n for n in spec.names if n in columns]
    if not present:
        return SpecMetadata()
    complete = len(present) == len(spec.names)
    return SpecMetadata(
        features=list(spec.names) if complete else None,
        monotone={d.name: d.monotone for d in spec.defs if d.monotone},
        reasons={d.name: (d.reason_code, d.reason_text) for d in spec.defs},
        version=spec.version if complete else "",
    )


def git_version() -> dict[str, str]:
    """The commit the model was trained from (``-dirty`` with local changes)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        return {"git": sha + ("-dirty" if dirty else "")}
    except (OSError, subprocess.SubprocessError):
        return {"git": "unknown"}


def training_data_from_file(
    path: Path, target: str, spec: FeatureSpecLike | None, *, time_col: str | None = None,
    id_col: str | None = None, positive: str | None = None, exclude: Sequence[str] = (),
    include_fraud: bool = False,
) -> tuple[Dataset, SpecMetadata]:
    """An analyst's CSV/Parquet file; spec features (all of them) are used in spec order.
    A PD label leaves confirmed fraud out unless ``include_fraud`` (`models.labels`)."""
    frame, label = apply_definition(read_table(path), target, include_fraud=include_fraud)
    meta = spec_metadata(list(frame.columns), spec)
    ds = frame_to_dataset(frame, target, time_col, id_col, positive=positive,
                          features=meta.features, exclude=exclude)
    ds.label = label
    ds.label_source = {"from": "file", "path": str(path), "target": target}
    return ds, meta


def training_data_from_clickhouse(
    client: Any, target: str, spec: FeatureSpecLike | None, *, as_of: str | None = None,
    product: str | None = None, min_matured: int = MIN_MATURED, min_bads: int = MIN_BADS,
    include_fraud: bool = False,
    labels: str = "performance", explore: ExploreDesign | None = None,
) -> tuple[Dataset, SpecMetadata]:
    """Logged feature vectors with labels matured by ``as_of`` (ISO; default now); refused
    (DataError naming the counts) below the readiness thresholds. A PD label leaves the
    fraud confirmed by then out unless ``include_fraud``; ``labels`` =
    ``review+performance`` adds reviewers' verdicts as early fraud labels. ``explore``:
    reject inference from the exploration cell (each loan weighted by 1 / its probability
    of approval, `models.clickhouse_reject`)."""
    ds, mat = load_with_maturity(client, target, parse_as_of(as_of), product=product,
                                 include_fraud=include_fraud, labels=labels)
    if explore is not None:
        if ds.ids is None:
            raise DataError("reject inference needs the application ids of the loans")
        p, record = approval_probability(client, ds.ids, explore.share, explore.cells_version,
                                         dict(explore.cutoffs), explore.policy_version)
        ds.weight, ds.reject_inference = explore_weights(p), record
    ready, _why = ready_to_train(mat.matured, mat.bads, min_matured, min_bads)
    if not ready:
        raise DataError(
            f"not ready to train {target} as of {as_of or 'now'}: {mat.matured:,} matured "
            f"applications with {mat.bads:,} bads ({mat.immature:,} more not matured yet); "
            f"the readiness thresholds are {min_matured:,} matured and {min_bads:,} bads "
            "(docs/models.md). Wait for labels to mature, or lower --min-matured / "
            "--min-bads explicitly")
    return ds, spec_metadata(ds.feature_names, spec)


def check_validation(result: Any) -> None:
    """Refuse a model whose validation could not be measured (NaN AUC or KS: a split held
    one class only), before anything is written or registered."""
    with np.errstate(all="ignore"):
        figures = {f"validation AUC of {k}": v["valid_auc"] for k, v in result.candidates.items()}
        figures["test AUC"] = auc(result.y_eval, result.p_eval)
        figures["test KS"] = ks(result.y_eval, result.p_eval)[0]
    nan = [name for name, v in figures.items() if not np.isfinite(v)]
    if nan:
        y = result.y_eval
        raise DataError(
            f"validation could not be computed ({', '.join(nan)}: NaN; the {len(y):,} test "
            f"rows hold {int(np.sum(y == 1)):,} bads of {result.n_rows['total']:,} rows in "
            "all); nothing was registered. Train on more matured data, with goods and bads "
            "in every split")


@dataclass(frozen=True)
class Registered:
    """A trained model in the registry: its version, directory and manifest."""

    version: str
    path: Path
    manifest: dict[str, Any]
    dropped: dict[str, str]  # columns not used as features, with the reason
    promoted: str | None


def train_and_register(
    ds: Dataset, meta: SpecMetadata, cfg: TrainConfig, registry: Registry, *,
    served_names: Sequence[str], out_dir: Path | None = None, promote: str | None = None,
    progress: Callable[[str], None] | None = None,
    code_version: Mapping[str, str] | None = None,
) -> Registered:
    """Fit (``cfg`` plus the spec's monotone directions, reasons and version), evaluate,
    write the artifact (``out_dir``, default a temporary directory), register it, and
    promote it to ``promote`` if the stream can serve it (``served_names``)."""
    say = progress or (lambda _msg: None)
    cfg = replace(cfg, monotone=meta.monotone, reasons=meta.reasons,
                  feature_spec_version=meta.version)
    say(f"training on {len(ds.y):,} rows")
    result = train(ds, cfg, progress=say, weight=ds.weight)
    check_validation(result)
    say("writing report")
    out = out_dir or Path(tempfile.mkdtemp(prefix="loanrisk-model-"))
    art = write_artifact(out, result, ds, cfg, code_version=code_version or git_version())
    version = registry.register(art)
    if promote:
        promote_servable(registry, version, promote, served_names)
    return Registered(version, registry.path(version), registry.show(version),
                      dict(ds.dropped), promote)


def promote_servable(registry: Registry, version: str, role: str,
                     served_names: Sequence[str]) -> None:
    """Promote, refusing what the stream cannot serve: a broken artifact, or a model
    trained on features the pipeline (``served_names``) does not compute (ModelError)."""
    for_feature_order(registry.load_version(version), served_names)
    registry.promote(version, role)


def model_to_evaluate(model: str, registry: Registry) -> ServingModel:
    """An artifact directory, or a version registered in ``registry``."""
    path = Path(model)
    return load_model(path) if path.is_dir() else registry.load_version(model)


def matured_rows(frame: Any, target: str, positive: str | None = None
                 ) -> tuple[Any, Maturity | None]:
    """The rows of a file whose default label is final, when the file says (a 0/1
    ``default_matured`` column, or months on book): a loan younger than the default
    window that has not defaulted may still default, so it is left out and counted.
    ``None`` when the target is not a default label or the file carries no maturity."""
    col = next((c for c in MATURITY_COLUMNS if c in frame.columns), None)
    if target != "label_default" or col is None:
        return frame, None
    y = frame[target]
    bad = (y.astype(str) == positive) if positive is not None else (y == 1)
    final = frame[col] == 1 if col == "default_matured" else frame[col] >= DEFAULT_MONTHS
    keep = (final | bad).to_numpy()
    kept = frame[keep].reset_index(drop=True)
    return kept, Maturity(int(keep.sum()), int(bad[keep].sum()), int((~keep).sum()))


def evaluation_data_from_file(sm: ServingModel, path: Path, target: str | None = None,
                              positive: str | None = None) -> tuple[Dataset, Maturity | None]:
    """The file's rows with final labels (see `matured_rows`) and how many were left out;
    the label defined as the model's manifest says (confirmed fraud left out or not)."""
    tgt = target or sm.target
    frame, _label = apply_definition(read_table(path), tgt,
                                     include_fraud=not excludes_fraud(sm.manifest.get("label")))
    frame, maturity = matured_rows(frame, tgt, positive)
    ds = frame_to_dataset(frame, tgt, positive=positive, features=sm.feature_names,
                          categories=sm.categories)
    return ds, maturity


def evaluation_data_from_clickhouse(sm: ServingModel, client: Any, target: str | None = None,
                                    *, as_of: str | None = None,
                                    product: str | None = None) -> tuple[Dataset, Maturity]:
    """The model's features as logged (its spec version) with labels matured by ``as_of``,
    and how many were left out as not matured."""
    return load_with_maturity(
        client, target or sm.target, parse_as_of(as_of), product=product,
        feature_spec_version=sm.feature_spec_version or None, features=sm.feature_names,
        include_fraud=not excludes_fraud(sm.manifest.get("label")),
    )


def maturity_warning(maturity: Maturity | None, min_rows: int = MIN_EVAL_ROWS) -> str | None:
    """What to tell the user about labels that are not final: refused (DataError) when too
    few final ones remain, a warning naming how many were left out, or nothing."""
    if maturity is None:
        return None
    left_out = (f"{maturity.immature:,} loans with fewer than {DEFAULT_MONTHS} months on book "
                "and no default yet were left out (their default label is not final)")
    if maturity.matured < min_rows:
        raise DataError(f"only {maturity.matured:,} loans have a final label; {left_out}. An "
                        f"evaluation needs {min_rows:,}: use a later --as-of, or lower "
                        "--min-rows explicitly")
    return left_out if maturity.immature else None


@dataclass(frozen=True)
class Evaluation:
    """A model's figures on one data set (``figures``: `evaluate_predictions`' output)."""

    version: str
    data_name: str
    y: np.ndarray
    p: np.ndarray
    figures: dict[str, Any]

    @property
    def rows(self) -> int:
        return len(self.y)


def evaluate_model(sm: ServingModel, ds: Dataset, data_name: str,
                   cutoff: float | None = None) -> Evaluation:
    """Score ``ds`` and measure; ``cutoff`` defaults to the one chosen at training."""
    if len(set(ds.y.tolist())) < 2:
        raise DataError(f"{data_name}: only one class among {len(ds.y):,} rows; evaluate on "
                        "more or later data (--as-of)")
    p = sm.score_batch(ds.X.to_numpy(dtype="float64"))
    oracle_col = ORACLE_COLUMNS.get(ds.target)
    oracle = None
    if ds.extra is not None and oracle_col in ds.extra.columns:
        oracle = ds.extra[oracle_col].to_numpy(dtype="float64")
    figures = evaluate_predictions(
        ds.y, p, cutoff=cutoff if cutoff is not None else sm.manifest.get("cutoff", 0.5),
        psi_ref=sm.manifest.get("psi_reference"), oracle=oracle, time_ms=ds.time,
    )
    return Evaluation(sm.version, data_name, ds.y, p, figures)


def write_evaluation(out_dir: Path, sm: ServingModel, ev: Evaluation, data: str) -> Path:
    """``metrics.json`` (``data`` names the input) and ``report.html`` under ``out_dir``."""
    from models.report import render

    out_dir.mkdir(parents=True, exist_ok=True)
    dump_json({"version": ev.version, "data": data, "rows": ev.rows, **ev.figures},
              out_dir / "metrics.json")
    (out_dir / "report.html").write_text(
        render(f"Evaluation of {ev.version} on {ev.data_name}", sm.manifest, ev.figures,
               ev.y, ev.p)
    )
    return out_dir
