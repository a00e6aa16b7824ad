"""What ``loanrisk train`` trains on: the source (a file or ClickHouse), which labels, and
the reject-inference design -- the options and the loading, apart from the command.

The label options (``--labels``, ``--include-fraud``) and the reject-inference ones
(``--reject-inference``, ``--cells``, ``--policy``) are defined here once, as options the
command declares, with the checks of their combinations.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from streams.cli.errors import USAGE, fail
from streams.settings import load_settings


class Source(StrEnum):
    file = "file"
    clickhouse = "clickhouse"


class Labels(StrEnum):
    """Which labels ``--source clickhouse`` trains on (models.label_sources)."""

    performance = "performance"
    review = "review+performance"


IncludeFraudOpt = typer.Option(
    False, "--include-fraud", help="label_default: count confirmed fraud as default "
    "(by default those rows are left out: a fraud loss is not a credit loss; the "
    "manifest records the definition).")
LabelsOpt = typer.Option(
    Labels.performance, help="clickhouse source: performance (servicing record), or "
    "review+performance (reviewers' CONFIRM_FRAUD / CLEAR_GENUINE as early fraud labels, "
    "final at once; needs --target label_fraud). The manifest records the source of "
    "every label (label_source).")
RejectInferenceOpt = typer.Option(
    "none", "--reject-inference", help="clickhouse source: none, or explore (the "
    "exploration cell's loans booked below the PD cutoff weighted by 1 / their logged "
    "probability of approval, the cell's share; recorded in the manifest).")
CellsOpt = typer.Option(None, help="--reject-inference: the cells file the decisions "
                        "were made with (default: LOANRISK_CELLS_FILE or the packaged "
                        "one).", exists=True, dir_okay=False)
PolicyOpt = typer.Option(None, help="--reject-inference: the policy whose PD cutoff "
                         "the explored loans were below (default: the packaged one).",
                         exists=True, dir_okay=False)


def training_data(source: Source, data: Path | None, target: str, time_col: str | None,
                  id_col: str | None, positive: str | None, exclude: list[str],
                  as_of: str | None, product: str | None,
                  ready: tuple[int, int], include_fraud: bool = False,
                  labels: str = "performance", explore: Any = None) -> tuple[Any, Any]:
    """The training Dataset and what the feature spec says of its columns (ClickHouse:
    refused below ``ready`` = the minimum matured applications and bads)."""
    from features.spec import FEATURE_SPEC
    from models.workflow import training_data_from_clickhouse, training_data_from_file

    if source is Source.clickhouse:
        from streams.clients import analytics_client

        return training_data_from_clickhouse(analytics_client(load_settings()), target,
                                             FEATURE_SPEC, as_of=as_of, product=product,
                                             min_matured=ready[0], min_bads=ready[1],
                                             include_fraud=include_fraud, labels=labels,
                                             explore=explore)
    if labels != "performance":
        fail("--labels applies to --source clickhouse (a file carries its own labels)", USAGE)
    if data is None:
        fail("pass --data FILE (CSV or Parquet) or --source clickhouse", USAGE)
    return training_data_from_file(data, target, spec_for(target, FEATURE_SPEC),
                                   time_col=time_col,
                                   id_col=id_col, positive=positive, exclude=exclude,
                                   include_fraud=include_fraud)


def explore_design(method: str, source: Source, cells: Path | None,
                   policy: Path | None) -> Any:
    """The exploration design (share, cutoffs, their versions) for --reject-inference."""
    if method == "none":
        return None
    if method != "explore":
        fail(f"--reject-inference {method!r}: training from ClickHouse applies explore (the "
             "only method whose correction is observed); `loanrisk reject-inference` measures "
             "ipw, parcel and fuzzy against it", USAGE)
    if source is not Source.clickhouse:
        fail("--reject-inference applies to --source clickhouse (logged decisions and cells)",
             USAGE)
    from decisions.cells import Cells
    from decisions.errors import PolicyError
    from decisions.policy import Policy
    from models.workflow import ExploreDesign

    try:
        c = Cells.from_yaml(cells or load_settings().cells_file or _default_cells())
        pol = Policy.from_yaml(policy) if policy else Policy.default()
    except PolicyError as exc:
        fail(str(exc))
    cut = {str(p): pp.pd.approve_below for p, pp in pol.products.items()}
    return ExploreDesign(c.exploration.share, c.version, cut, pol.version)


def _default_cells() -> Path:
    from decisions.cells import DEFAULT_CELLS_PATH

    return DEFAULT_CELLS_PATH


def spec_for(target: str, default: Any) -> Any:
    """The feature spec a target is trained on: the servicing scores (B-score, collection
    score) have their own (``features.observation.SPEC_FOR_TARGET``)."""
    from features.observation import SPEC_FOR_TARGET

    return SPEC_FOR_TARGET.get(target, default)
