"""``recsys-tune``: Optuna's TPE sampler over a search space declared in the config.

Each trial is a set of Hydra overrides (``model.no_components=48``, ``features=minimal``) composed
on top of the command's own overrides, so trials are type-checked like any command line and group
options can be searched. Trials are scored on a *validation* split (:func:`validation_split`): the
configured ``split`` applied to the test split's training data with its test window the last
``validation_days`` of the training period, models trained on what precedes it. Nothing of the test window
is read for selection; the best configuration is then re-fitted on the full training data and evaluated
once on the test split (reported separately as ``test_value``). One parent MLflow run, one nested run per trial; the best config is
written to ``best_config_path`` as YAML (``recsys-train`` accepts its ``overrides`` verbatim), with the
optimisation history plot ``optimization_history.png`` and every trial (``trials.csv``) beside it; all are logged
to the parent run.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import hydra
import optuna
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from recsys.cli import pipeline
from recsys.cli.schemas import TrainConfig, TuneConfig, register_configs
from recsys.evaluation import Split, SplitError
from recsys.io import atomic_file
from recsys.paths import config_dir
from recsys.progress import progress_enabled
from recsys.tracking import plots, runs
from recsys.tracking.optuna_storage import open_study
from recsys.tracking.session import tracked_run

register_configs()


def suggest(trial: optuna.Trial, name: str, dimension: DictConfig) -> Any:
    """Draw one value of ``dimension`` (``type`` float, int or categorical) for parameter ``name``."""
    kind = dimension.type
    if kind == "categorical":
        if not dimension.choices:
            raise pipeline.ConfigError(f"search_space.{name}: categorical needs non-empty choices")
        return trial.suggest_categorical(name, list(dimension.choices))
    if dimension.low is None or dimension.high is None or dimension.low >= dimension.high:
        raise pipeline.ConfigError(f"search_space.{name}: needs low < high, got low={dimension.low}, "
                                   f"high={dimension.high}")
    if kind == "float":
        return trial.suggest_float(name, dimension.low, dimension.high, log=dimension.log, step=dimension.step)
    if kind == "int":
        return trial.suggest_int(name, int(dimension.low), int(dimension.high), log=dimension.log,
                                 step=int(dimension.step or 1))
    raise pipeline.ConfigError(f"search_space.{name}.type: {kind!r} is not float, int or categorical")


def parse_metric(metric: str) -> tuple[str, int]:
    """``"ndcg@10"`` -> ``("ndcg", 10)``."""
    name, _, k = metric.partition("@")
    if not k.isdigit():
        raise pipeline.ConfigError(f"metric: expected '<name>@<k>' such as 'ndcg@10', got {metric!r}")
    return name, int(k)


def tune(cfg: DictConfig, base_overrides: list[str], config_name: str = "tune") -> optuna.Study:
    """Run the study described by ``cfg``; ``base_overrides`` are the command line's own overrides."""
    pipeline.check_config(cfg)
    metric, k = parse_metric(cfg.metric)
    if not cfg.search_space:
        raise pipeline.ConfigError("search_space: empty; declare at least one dimension")
    dataset = pipeline.load_dataset(cfg)
    test_split = pipeline.make_split(cfg, dataset)
    validation = validation_split(cfg, test_split)
    print(f"trials: validation window [{validation.cutoff}, {test_split.cutoff}) of the training period "
          f"({validation.n_test} seekers), models trained before {validation.cutoff}; test window from "
          f"{test_split.cutoff}: the best configuration only", flush=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=cfg.sampler_seed + cfg.worker, n_startup_trials=cfg.n_startup_trials)
    study = open_study(cfg.direction, sampler, cfg.storage, cfg.study_name)  # storage: workers share one study

    def compose_trial(overrides: list[str]) -> DictConfig:
        return hydra.compose(config_name=config_name, overrides=[*base_overrides, *overrides])

    def objective(trial: optuna.Trial) -> float:
        values = {dim.param: suggest(trial, dim.param, dim) for dim in cfg.search_space}
        overrides = [f"{name}={value}" for name, value in values.items()]
        trial.set_user_attr("overrides", overrides)
        trial_cfg = compose_trial(overrides)
        with tracked_run(cfg.tracking, run_name=f"trial {trial.number}", nested=True,
                         tags=pipeline.run_tags(cfg, "tune-trial", trial=trial.number)) as run:
            evaluated = pipeline.fit_and_evaluate(pipeline.build_model(trial_cfg.model), validation,
                                                  trial_cfg.eval, name=f"trial {trial.number}")
            value = evaluated.result.value(metric, k)
            if run is not None:
                runs.log_params_flat({"model": trial_cfg.model, "features": trial_cfg.features})
                runs.log_metrics({**runs.evaluation_metrics(evaluated.result),
                                  "fit_seconds": evaluated.fit_seconds})
        return value

    with tracked_run(cfg.tracking, run_name=f"tune {pipeline.model_label(cfg)}",
                     tags=pipeline.run_tags(cfg, "tune")) as parent:
        if parent is not None:
            runs.log_config(cfg)
            runs.log_dataset(validation.train.interactions, cfg.data_dir, name=Path(cfg.data_dir).name)
        study.optimize(objective, n_trials=cfg.n_trials, timeout=cfg.timeout_s, show_progress_bar=progress_enabled())
        best_overrides = study.best_trial.user_attrs["overrides"]
        best_cfg = compose_trial(best_overrides)
        final = pipeline.fit_and_evaluate(pipeline.build_model(best_cfg.model), test_split, best_cfg.eval,
                                          name="best")
        write_best_config(cfg.best_config_path, best_cfg, best_overrides, study, final.result.value(metric, k),
                          windows={"validation_cutoff": str(validation.cutoff), "test_cutoff": str(test_split.cutoff),
                                   "validation_days": float(cfg.validation_days)})
        history_path = history_plot_path(cfg.best_config_path)
        plots.save(plots.optimization_history(study, cfg.metric), str(history_path))
        trials = study.trials_dataframe(attrs=("number", "value", "params", "duration", "state"))
        with atomic_file(str(trials_path(cfg.best_config_path)), "w", overwrite=True, encoding="utf-8") as handle:
            trials.to_csv(handle, index=False)
        if parent is not None:
            import mlflow

            runs.log_metrics({f"best_validation.{cfg.metric}": study.best_value})
            runs.log_metrics(runs.evaluation_metrics(final.result), prefix="test.")
            mlflow.log_artifact(cfg.best_config_path)
            mlflow.log_artifact(str(history_path))
            mlflow.log_text(trials.to_csv(index=False), "trials.csv")
    rerun = [*train_overrides(base_overrides), *model_overrides(pipeline.model_label(cfg), best_cfg)]
    print_summary(cfg, study, trials, rerun, final.result.value(metric, k))
    print(pipeline.run_text(parent, cfg.tracking))
    return study


def validation_split(cfg: DictConfig, test_split: Split) -> Split:
    """The split trials are scored on: ``cfg.split`` applied to ``test_split.train`` (interactions before the
    test cutoff ``T`` only) with cutoff ``T - validation_days`` and ``test_end=T``, so its test window is the
    last ``validation_days`` of the training period and its models train on what precedes it.

    Raises :class:`~recsys.cli.pipeline.ConfigError` when the split has no time cutoff (leave-last-out:
    nothing to carve a window from), when its constructor takes no ``cutoff``/``test_end``, or when the
    window holds no test seeker.
    """
    if test_split.cutoff is None:
        raise pipeline.ConfigError(f"split={str(cfg.split._target_).rpartition('.')[2]}: tuning needs a time split "
                                   f"(rolling, temporal, cold_jobs, cold_seekers) to carve a validation window from its "
                                   f"training period")
    if cfg.validation_days <= 0:
        raise pipeline.ConfigError(f"validation_days: must be positive, got {cfg.validation_days}")
    split_fn = instantiate(cfg.split)
    try:
        validation = split_fn(test_split.train, cutoff=test_split.cutoff - pd.Timedelta(days=float(cfg.validation_days)),
                              last_days=None, test_end=test_split.cutoff)
    except TypeError as exc:
        raise pipeline.ConfigError(f"split={cfg.split._target_}: cannot carve a validation window with "
                                   f"a cutoff and test_end ({exc})") from exc
    except SplitError as exc:
        raise pipeline.ConfigError(f"validation_days={cfg.validation_days}: no validation split in the training "
                                   f"period ({exc})") from exc
    if validation.n_test == 0:
        raise pipeline.ConfigError(f"validation_days={cfg.validation_days}: the validation window holds no test "
                                   f"seeker; make it longer")
    # Structural guarantee, checked: trials see no interaction at or after the test cutoff.
    if len(validation.train.interactions) and validation.train.interactions["ts"].max() >= test_split.cutoff:
        raise AssertionError("validation training data reaches into the test window")
    return validation


def history_plot_path(best_config_path: str) -> Path:
    """Where the optimisation history plot goes: ``optimization_history.png`` beside the best config."""
    return Path(best_config_path).with_name("optimization_history.png")


def trials_path(best_config_path: str) -> Path:
    """Where every trial's number, validation value, parameters, duration and state go: ``trials.csv`` beside
    the best config (also logged to the parent run)."""
    return Path(best_config_path).with_name("trials.csv")


def train_overrides(overrides: list[str]) -> list[str]:
    """The overrides that also mean something to ``recsys-train`` (no tuning keys, experiment, model, features)."""
    tune_only = {f.name for f in fields(TuneConfig)} - {f.name for f in fields(TrainConfig)} | {
        "experiment", "model", "features"}
    return [o for o in overrides if o.lstrip("+~").split("=")[0].split(".")[0] not in tune_only]


def model_overrides(model_choice: str, cfg: DictConfig) -> list[str]:
    """Overrides that rebuild ``cfg``'s model exactly: its option, feature set and every explicit value."""
    values = [f"model.{key}={override_value(value)}" for key, value in cfg.model.items()
              if key != "_target_" and not OmegaConf.is_interpolation(cfg.model, key)]
    return [f"model={model_choice}", f"features={cfg.features.name}", *values]


def override_value(value: Any) -> str:
    """A config value in Hydra's override syntax (``null``, ``[a,b]``, ``{k:v}``)."""
    if value is None:
        return "null"
    if isinstance(value, DictConfig | dict):
        return "{" + ",".join(f"{key!s}:{override_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, ListConfig | list | tuple):
        return "[" + ",".join(override_value(item) for item in value) + "]"
    return str(value)


def write_best_config(path: str, best_cfg: DictConfig, overrides: list[str], study: optuna.Study,
                      test_value: float, windows: dict[str, Any] | None = None) -> None:
    """YAML with the best trial's overrides, its validation score, the test score of the re-fit on the full
    training data, the windows (``validation_cutoff``, ``test_cutoff``) and the full resolved config (atomic)."""
    payload = OmegaConf.create({
        "overrides": overrides, "validation_value": float(study.best_value), "test_value": float(test_value),
        "trial": study.best_trial.number, **(windows or {}),
        "config": OmegaConf.to_container(best_cfg, resolve=True),
    })
    with atomic_file(path, "w", overwrite=True, encoding="utf-8") as handle:
        handle.write(OmegaConf.to_yaml(payload))


def print_summary(cfg: DictConfig, study: optuna.Study, trials: pd.DataFrame, rerun: list[str],
                  test_value: float) -> None:
    """Top trials, the best scores and the ``recsys-train`` command that reproduces the best model."""
    print(trials.sort_values("value", ascending=cfg.direction == "minimize").head(5).to_string(index=False))
    print(f"\nbest trial {study.best_trial.number}: validation {cfg.metric} = {study.best_value:.4f} (last "
          f"{cfg.validation_days:g} days of training); re-fitted on all training data: test {cfg.metric} = "
          f"{test_value:.4f}")
    print(f"re-run: recsys-train {' '.join(rerun)}")
    print(f"best config: {cfg.best_config_path}\noptimisation history: {history_plot_path(cfg.best_config_path)}\n"
          f"trials: {trials_path(cfg.best_config_path)}")


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="tune")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns the best validation value."""
    overrides = list(HydraConfig.get().overrides.task)
    return tune(cfg, overrides).best_value


if __name__ == "__main__":
    main()
