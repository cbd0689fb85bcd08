"""The steps every command shares: load the data, split it, build a model, fit and evaluate it.

Each step reads one node of the composed config, so a command is a few lines of glue and the same
config always produces the same run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import get_class, instantiate
from omegaconf import DictConfig

from recsys.data.dataset import Dataset
from recsys.evaluation import EvaluationResult, Split, evaluate
from recsys.models.base import Recommender
from recsys.models.protocols import is_factor_model, missing_members


class ConfigError(ValueError):
    """A composed config is inconsistent in a way Hydra's type checks cannot see."""


@dataclass
class Evaluated:
    """A fitted model, its evaluation and how long each step took (wall clock, seconds)."""

    model: Recommender
    result: EvaluationResult
    fit_seconds: float
    score_seconds: float


def check_config(cfg: DictConfig) -> None:
    """Cross-field checks Hydra's type checks cannot do; run before any data is read."""
    if cfg.get("register") and not cfg.tracking.enabled:
        raise ConfigError("register=true needs tracking (tracking.enabled=true): the registry lives in MLflow")
    if cfg.get("register") and "model" in cfg and not servable(get_class(cfg.model._target_)):
        raise ConfigError(f"register=true: recsys.api.Ranker cannot serve {cfg.model._target_}: "
                          f"{unservable_reason(get_class(cfg.model._target_))} (use lightfm or lightfm_hybrid)")
    if "models" in cfg:
        unknown = [name for name in cfg.baselines if name not in cfg.models]
        if unknown:
            raise ConfigError(f"baselines: {unknown} are not among models {list(cfg.models)}")
        if "oracle" in cfg.models:
            raise ConfigError("models: the label 'oracle' is reserved for the ground-truth ceiling")


def load_dataset(cfg: DictConfig) -> Dataset:
    """The tables in ``cfg.data_dir`` (generate them first with ``recsys-generate data=<preset>``)."""
    data_dir = Path(cfg.data_dir)
    if not (data_dir / "interactions.parquet").exists():
        raise FileNotFoundError(f"data_dir {str(data_dir)!r} holds no generated tables; run "
                                f"`recsys-generate data={cfg.data.get('name', '<preset>')}` first")
    return Dataset.load(data_dir)


def make_split(cfg: DictConfig, dataset: Dataset) -> Split:
    """Instantiate ``cfg.split`` (a partial of a split constructor) on ``dataset``."""
    return instantiate(cfg.split)(dataset)


def build_model(model_cfg: DictConfig) -> Recommender:
    """Instantiate a model config (``_target_`` + hyperparameters) with plain Python containers."""
    model = instantiate(model_cfg, _convert_="all")
    if not isinstance(model, Recommender):
        raise ConfigError(f"model._target_={model_cfg._target_!r} is not a recsys Recommender")
    return model


def oracle_result(cfg: DictConfig, split: Split) -> EvaluationResult | None:
    """The ground-truth oracle on ``split`` when ``eval.oracle`` is on and the data has ``truth/``."""
    if not cfg.eval.oracle or not (Path(cfg.data_dir) / "truth").is_dir():
        return None
    from recsys.evaluation import Oracle

    oracle = Oracle(Path(cfg.data_dir)).fit(split.train)
    return evaluate(oracle, split, cfg.eval.ks, slice_metrics=("hr",), n_resamples=cfg.eval.bootstrap_samples,
                    seed=cfg.eval.seed, name="oracle")


def fit_and_evaluate(model: Recommender, split: Split, eval_cfg: DictConfig, *, name: str | None = None,
                     oracle: EvaluationResult | None = None) -> Evaluated:
    """Fit ``model`` on ``split.train`` and evaluate it over the full candidate catalogue."""
    start = time.perf_counter()
    model.fit(split.train)
    fitted = time.perf_counter()
    result = evaluate(model, split, eval_cfg.ks, oracle=oracle, n_resamples=eval_cfg.bootstrap_samples,
                      seed=eval_cfg.seed, name=name)
    return Evaluated(model, result, fitted - start, time.perf_counter() - fitted)


def run_tags(cfg: DictConfig, command: str, **extra: Any) -> dict[str, str]:
    """Tags that make runs easy to filter in the MLflow UI."""
    tags = {"recsys.command": command, "recsys.split": str(cfg.split._target_).rpartition(".")[2],
            "recsys.data_dir": str(cfg.data_dir)}
    if cfg.get("experiment"):
        tags["recsys.experiment"] = str(cfg.experiment)
    tags.update({key: str(value) for key, value in extra.items()})
    return tags


def model_label(cfg: DictConfig) -> str:
    """The model's config option (``lightfm_hybrid``) inside Hydra, else its class name."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("model")
        if choice:
            return str(choice)
    return str(cfg.model._target_).rpartition(".")[2]


def servable(model: Recommender | type) -> bool:
    """Can ``recsys.api.Ranker`` serve this model (instance or class)? Whether it satisfies
    :class:`recsys.models.protocols.FactorModel`; :func:`unservable_reason` says what is missing."""
    return is_factor_model(model)


def unservable_reason(model: Recommender | type) -> str:
    """Why ``recsys.api.Ranker`` cannot serve ``model`` (empty if it can)."""
    missing = missing_members(model)
    name = model.__name__ if isinstance(model, type) else type(model).__name__
    return f"{name} is not a FactorModel (missing {', '.join(missing)})" if missing else ""


def save_model(model: Recommender, dataset: Dataset, cfg: DictConfig, *, log: bool) -> Path:
    """Save a fitted model under ``cfg.output_dir`` and, with ``log``, to the active MLflow run.

    Servable models (:func:`servable`) become a serving ranker, ``<output_dir>/ranker``, logged as the
    MLflow pyfunc model ``ranker`` and, with ``cfg.register``, registered as
    ``tracking.registered_model_name`` with alias ``tracking.alias``. Other models are saved with
    :meth:`Recommender.save` to ``<output_dir>/model`` and logged as the artifact folder ``model``.
    """
    register = bool(cfg.get("register", False))
    if not servable(model):
        if register:
            raise ConfigError(f"register=true: recsys.api.Ranker cannot serve it: {unservable_reason(model)}")
        path = model.save(Path(cfg.output_dir) / "model")
        if log:
            import mlflow

            mlflow.log_artifacts(str(path), "model")
        return path
    from recsys.api import Ranker

    ranker = Ranker.from_model(model, dataset)
    path = ranker.save(Path(cfg.output_dir) / "ranker")
    if log:
        from recsys.api.pyfunc import log_ranker

        log_ranker(ranker, name="ranker",
                   registered_model_name=cfg.tracking.registered_model_name if register else None,
                   alias=cfg.tracking.alias if register else None)
    return path


HEADLINE_METRICS = (("hr", 5), ("hr", 10), ("hr", 20), ("ndcg", 10), ("recall", 10), ("mrr", 20),
                    ("coverage", 10))


def summary_text(label: str, evaluated: Evaluated) -> str:
    """A few lines for the console: headline metrics with 95% intervals and timings."""
    summary = evaluated.result.summary.set_index(["metric", "k"])
    lines = [f"{label} on {evaluated.result.split} ({evaluated.result.split_info.get('n_test_seekers')} test "
             f"seekers): fit {evaluated.fit_seconds:.1f}s, scoring {evaluated.score_seconds:.1f}s"]
    for metric, k in HEADLINE_METRICS:
        if (metric, k) not in summary.index:
            continue
        row = summary.loc[(metric, k)]
        interval = f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" if row["ci_low"] == row["ci_low"] else ""
        oracle = f"  ({row['of_oracle']:.0%} of oracle)" if "of_oracle" in row and row["of_oracle"] == row[
            "of_oracle"] else ""
        lines.append(f"  {f'{metric}@{k}':<12} {row['mean']:.3f}{interval}{oracle}")
    return "\n".join(lines)
