"""Structured-config schemas registered in Hydra's ConfigStore.

Every node of the command configs is typed, so a misspelt key or a value of the wrong type in an
override fails while Hydra composes the config, with Hydra's own message (``Key 'l2_reg' not in
'EASEConfig'``, ``Value 'abc' could not be converted to Float``), before any data is read.

Schemas of models and splits are derived from their constructors' signatures
(:func:`schema_from_signature`), so a hyperparameter added to a model is accepted by the configs
without a second declaration. A YAML option extends its schema with a defaults entry such as
``- /schema/model/EASE@_here_``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

MODEL_TARGETS: tuple[str, ...] = (
    "recsys.models.random.RandomRecommender",
    "recsys.models.popularity.Popularity",
    "recsys.models.popularity_prior.PopularityPrior",
    "recsys.models.nearest.Nearest",
    "recsys.models.nearest.NewestNearby",
    "recsys.models.lightfm.LightFMCollaborative",
    "recsys.models.lightfm.LightFMHybrid",
    "recsys.models.knn.ItemKNN",
    "recsys.models.ease.EASE",
    "recsys.models.content.Content",
)
"""Model classes that get a schema ``schema/model/<ClassName>``."""

SPLIT_TARGETS: tuple[str, ...] = (
    "recsys.evaluation.splits.temporal_split",
    "recsys.evaluation.splits.cold_seeker_split",
    "recsys.evaluation.splits.cold_job_split",
    "recsys.evaluation.splits.leave_last_out_split",
    "recsys.evaluation.splits.rolling_split",
)
"""Split constructors that get a schema ``schema/split/<function name>`` (built with ``_partial_``)."""


@dataclass
class FeaturesConfig:
    """Which feature blocks describe seekers and jobs (see ``recsys.features``).

    ``completed_trainings``: seeker skills include the trainings completed before the training cutoff
    (``recsys.features.seeker_profiles``; models ``content`` and ``lightfm_hybrid`` read it). Off by default.
    """

    name: str = MISSING
    seeker_blocks: list[str] = field(default_factory=list)
    job_blocks: list[str] = field(default_factory=list)
    completed_trainings: bool = False


@dataclass
class EvalConfig:
    """How models are evaluated.

    ``ks``: list lengths of HR@k, NDCG@k, ...; ``relevant_event``: funnel stage that counts as a hit;
    ``bootstrap_samples``: resamples of seekers for the 95% confidence intervals (the level is fixed:
    reports and logged metric names say 95%).
    """

    ks: list[int] = field(default_factory=lambda: [5, 10, 20])
    relevant_event: str = "apply"
    bootstrap_samples: int = 1000
    seed: int = 0
    oracle: bool = True


@dataclass
class TrackingConfig:
    """Where runs are recorded (``enabled: false`` records nothing)."""

    enabled: bool = True
    uri: str = MISSING
    experiment: str = "recsys"
    artifact_location: str | None = None
    registered_model_name: str = "job-ranker"
    alias: str = "champion"


@dataclass
class CommandConfig:
    """Keys common to every command."""

    data: Any = MISSING  # the generator's ``data`` group (validated by recsys.data.synthetic)
    data_dir: str = MISSING
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    split: Any = MISSING  # typed by schema/split/<constructor>
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    output_dir: str = MISSING
    experiment: Any = None  # name of the experiment overlay, if any


@dataclass
class TrainConfig(CommandConfig):
    """``recsys-train``: one model, one split."""

    model: Any = MISSING  # typed by schema/model/<ClassName>
    register: bool = False
    save_model: bool = True


@dataclass
class CompareConfig(CommandConfig):
    """``recsys-compare``: several models on one split.

    ``models`` maps a label to a model config; the best of ``baselines`` (by HR@10) is the reference
    the others are tested against. ``data_seeds`` / ``train_seeds`` (default: ``[seed]`` each, one run)
    repeat the comparison on the dataset of each data seed with each model fitted once per training seed.
    """

    models: dict[str, Any] = field(default_factory=dict)
    baselines: list[str] = field(default_factory=list)
    data_seeds: list[int] | None = None
    train_seeds: list[int] | None = None
    register: bool = False
    save_model: bool = True
    report_dir: str = MISSING


@dataclass
class SearchDimension:
    """One tuned setting: ``param`` is a Hydra override target (``model.no_components``, ``features``);
    ``type`` is ``float``, ``int`` or ``categorical``."""

    param: str = MISSING
    type: str = MISSING
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None


@dataclass
class TuneConfig(CommandConfig):
    """``recsys-tune``: Optuna TPE over the dimensions of ``search_space``."""

    model: Any = MISSING
    search_space: list[SearchDimension] = field(default_factory=list)
    n_trials: int = 20
    timeout_s: float | None = None
    metric: str = "ndcg@10"
    direction: str = "maximize"
    sampler_seed: int = 0
    n_startup_trials: int = 10  # TPE samples at random until this many trials are done (Optuna's default)
    validation_days: float = 30.0  # trials' test window: the last days of the training period
    best_config_path: str = MISSING
    storage: str | None = None  # Optuna RDB URL shared by several workers (recsys.tracking.optuna_storage)
    study_name: str | None = None
    worker: int = 0  # this worker's number: its sampler is seeded with sampler_seed + worker


def _omegaconf_type(annotation: Any, default: Any) -> Any:
    """``annotation`` if OmegaConf can type-check it with this default, else ``Any``."""
    probe_default = field(default_factory=lambda: list(default)) if isinstance(default, list | tuple) \
        else default
    try:
        probe = dataclasses.make_dataclass("Probe", [("value", annotation, probe_default)])
        OmegaConf.structured(probe)
    except Exception:  # OmegaConf raises several types for unsupported annotations
        return Any
    return annotation


def _list_factory(values: list[Any] | tuple[Any, ...]) -> Callable[[], list[Any]]:
    """A ``default_factory`` returning a fresh list of ``values`` (dataclasses forbid mutable defaults)."""
    return lambda: list(values)


def schema_from_signature(target: str, *, partial: bool = False, skip: tuple[str, ...] = ()) -> type:
    """Dataclass with ``_target_`` and one typed field per keyword parameter of ``target``.

    Parameters without a default are ``MISSING`` (Hydra reports them); types OmegaConf cannot check
    (``Literal``, unions, callables) become ``Any``.
    """
    module_name, _, attr = target.rpartition(".")
    obj: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    function = obj.__init__ if inspect.isclass(obj) else obj
    hints = typing.get_type_hints(function)
    fields: list[tuple[str, Any, Any]] = [("_target_", str, field(default=target))]
    if partial:
        fields.append(("_partial_", bool, field(default=True)))
    for param in inspect.signature(function).parameters.values():
        if param.name in ("self", *skip) or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = MISSING if param.default is inspect.Parameter.empty else param.default
        annotation = _omegaconf_type(hints.get(param.name, Any), default)
        if isinstance(default, list | tuple):
            spec = field(default_factory=_list_factory(default))
        else:
            spec = field(default=default)
        fields.append((param.name, annotation, spec))
    return dataclasses.make_dataclass(f"{attr}Config", fields)


def register_configs() -> None:
    """Register every schema in Hydra's ConfigStore (idempotent; call before composing)."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="compare_schema", node=CompareConfig)
    store.store(name="tune_schema", node=TuneConfig)
    for target in MODEL_TARGETS:
        store.store(group="schema/model", name=target.rpartition(".")[2], node=schema_from_signature(target))
    for target in SPLIT_TARGETS:
        store.store(group="schema/split", name=target.rpartition(".")[2],
                    node=schema_from_signature(target, partial=True, skip=("dataset",)))
