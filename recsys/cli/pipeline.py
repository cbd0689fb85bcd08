"""The steps every command shares: load the data, split it, build a model, fit and evaluate it.

Each step reads one node of the composed config, so a command is a few lines of glue and the same
config always produces the same run.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from recsys.data.dataset import Dataset
from recsys.evaluation import EvaluationResult, Split, evaluate
from recsys.models.base import Recommender
from recsys.models.protocols import is_factor_model, missing_members
from recsys.progress import progress_enabled


class ConfigError(ValueError):
    """A composed config is inconsistent in a way Hydra's type checks cannot see."""


@dataclass
class Evaluated:
    """A fitted model, its evaluation and how long each step took (wall clock and this process's CPU
    time over all its threads, seconds)."""

    model: Recommender
    result: EvaluationResult
    fit_seconds: float
    score_seconds: float
    fit_cpu_seconds: float = float("nan")
    score_cpu_seconds: float = float("nan")


class StageTimes:
    """Wall clock, CPU time and peak memory of a command's stages, in the order they ran.

    ``with times.stage("load"): ...`` adds a row; :meth:`write` saves them as ``timings.csv`` (columns
    ``stage``, ``wall_s``, ``cpu_s`` (this process, all threads), ``peak_rss_gb`` (the process's peak
    resident memory so far), ``load_1min`` (the machine's 1-minute load average when the stage began)).
    With ``progress_dir`` the file there is rewritten after every stage, so a long run can be followed
    (and a stopped one still says how far it got).
    """

    def __init__(self, progress_dir: str | Path | None = None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.progress_dir = progress_dir

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        load, wall, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
        yield
        self.add(name, time.perf_counter() - wall, time.process_time() - cpu, load)

    def add(self, name: str, wall_s: float, cpu_s: float, load_1min: float = float("nan")) -> None:
        self.rows.append({"stage": name, "wall_s": round(wall_s, 3), "cpu_s": round(cpu_s, 3),
                          "peak_rss_gb": round(peak_rss_gb(), 3), "load_1min": round(load_1min, 2)})
        if self.progress_dir is not None:
            self.write(self.progress_dir)

    def write(self, directory: str | Path) -> Path:
        import pandas as pd

        from recsys.io import atomic_file

        path = Path(directory) / "timings.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pd.DataFrame(self.rows, columns=["stage", "wall_s", "cpu_s", "peak_rss_gb", "load_1min"])
        with atomic_file(path, overwrite=True) as handle:  # the file this run rewrites after every stage
            table.to_csv(handle, index=False)
        return path


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, GB (``ru_maxrss``; 0 where unavailable)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


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
        reserved = [label for label in REFERENCE_LABELS if label in cfg.models]
        if reserved:
            raise ConfigError(f"models: the labels {list(REFERENCE_LABELS)} are reserved for the ground-truth "
                              f"reference, got {reserved}")


class DataConflictError(ConfigError):
    """A data directory holds a dataset generated with another seed or data config than the command's."""


def _differences(found: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """What differs between two generator fingerprints, as readable items (``seed 7 (expected 0)``)."""
    items = []
    if found.get("seed") != expected["seed"]:
        items.append(f"seed {found.get('seed')!r} (expected {expected['seed']!r})")
    config, wanted = found.get("data_config") or {}, expected["data_config"]
    changed = sorted(key for key in {*config, *wanted} if config.get(key) != wanted.get(key))
    if changed:
        items.append(f"data config keys {changed}" + (f" (preset {config.get('preset')!r}, expected "
                                                      f"{wanted.get('preset')!r})" if "preset" in changed else ""))
    return items


def ensure_data(cfg: DictConfig, *, replace: bool = False, progress: bool | None = None) -> Path:
    """Make ``cfg.data_dir`` hold the dataset that ``cfg.data`` and ``cfg.seed`` generate; return the directory.

    * no tables there: generate them (saying so, with a progress bar on a terminal);
    * a dataset this generator wrote with the same seed and data config: use it;
    * the same seed and config from an older generator version: regenerate it (saying why);
    * another seed or data config: raise :class:`DataConflictError` naming the difference, unless
      ``replace`` (``recsys-generate overwrite=true``); the default directory encodes preset, world and seed
      (``data/synthetic/small-realistic-seed0``), so this only happens for explicit directories or ``data.*``
      overrides;
    * tables without a generator manifest (your own data): use them as they are.

    ``progress`` (default: when stderr is a terminal) shows the generator's bar of simulated days.
    """
    from recsys.data.synthetic.generate import GENERATOR_VERSION, fingerprint, generate

    data_dir = Path(cfg.data_dir).expanduser().resolve()
    data: dict[str, Any] = OmegaConf.to_container(cfg.data, resolve=True)  # type: ignore[assignment]
    spec = {"data": data, "seed": cfg.seed, "out_dir": str(data_dir), "overwrite": replace,
            "progress": progress_enabled() if progress is None else progress}
    manifest_path = data_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else None
    preset = data.get("preset", "?")
    if manifest is None:
        if (data_dir / "interactions.parquet").exists():
            return data_dir  # tables that did not come from the generator: use them as they are
        if data_dir.is_dir() and any(data_dir.iterdir()) and not replace:
            raise DataConflictError(f"data_dir {str(data_dir)!r} is not empty and holds no dataset (no "
                                    f"interactions.parquet, no manifest.json); choose another directory, or "
                                    f"replace its contents with overwrite=true")
        reason = "no dataset there" if not (data_dir.is_dir() and any(data_dir.iterdir())) else \
            "replacing what is there (overwrite=true)"
    else:
        expected = fingerprint(data, int(cfg.seed))
        found = manifest.get("fingerprint") or {}
        differences = _differences(found, expected) if found else []
        if differences and not replace:
            raise DataConflictError(
                f"data_dir {str(data_dir)!r} holds a dataset generated with another {'; '.join(differences)}; "
                f"nothing was replaced. Pass the data.* and seed it was made with, or another data_dir / out_dir "
                f"(the default, data/synthetic/<preset>-<world>-seed<seed>, never holds another world or seed)")
        if not differences and found.get("generator_version") == GENERATOR_VERSION:
            print(f"data: {data_dir} ({preset!r}, seed {cfg.seed}, up to date)", flush=True)
            return data_dir
        reason = ("it was generated with another seed or data config (" + "; ".join(differences) + ")"
                  if differences else f"it was written by generator version {found.get('generator_version')!r}, "
                                      f"this is version {GENERATOR_VERSION}")
    print(f"generating the {preset!r} dataset (seed {cfg.seed}) into {data_dir}: {reason} ...", flush=True)
    generate(spec)
    return data_dir


def load_dataset(cfg: DictConfig) -> Dataset:
    """The tables in ``cfg.data_dir``, generated first if missing (:func:`ensure_data`)."""
    return Dataset.load(ensure_data(cfg))


def make_split(cfg: DictConfig, dataset: Dataset) -> Split:
    """Instantiate ``cfg.split`` (a partial of a split constructor) on ``dataset``."""
    return instantiate(cfg.split)(dataset)


def build_model(model_cfg: DictConfig) -> Recommender:
    """Instantiate a model config (``_target_`` + hyperparameters) with plain Python containers."""
    model = instantiate(model_cfg, _convert_="all")
    if not isinstance(model, Recommender):
        raise ConfigError(f"model._target_={model_cfg._target_!r} is not a recsys Recommender")
    return model


SEED_PARAMETERS = ("random_state", "seed")
"""Constructor parameters that seed a model's randomness, by name (the first one a model has is used)."""


def seed_parameter(model_cfg: DictConfig) -> str | None:
    """The constructor parameter of ``model_cfg._target_`` that seeds it (:data:`SEED_PARAMETERS`), or ``None``
    for models without randomness (they are fitted once per dataset whatever the training seeds)."""
    parameters = inspect.signature(get_class(model_cfg._target_)).parameters
    return next((name for name in SEED_PARAMETERS if name in parameters), None)


def with_model_seed(model_cfg: DictConfig, train_seed: int | None) -> DictConfig:
    """A copy of ``model_cfg`` whose seed parameter (:func:`seed_parameter`) is ``train_seed``; unchanged for
    ``None`` or a model without one. The copy is resolved first, so ``random_state: ${seed}`` is replaced."""
    name = seed_parameter(model_cfg)
    copy = OmegaConf.create(OmegaConf.to_container(model_cfg, resolve=True))
    assert isinstance(copy, DictConfig)
    if name is not None and train_seed is not None:
        copy[name] = int(train_seed)
    return copy


def with_data_seed(cfg: DictConfig, data_seed: int) -> DictConfig:
    """A copy of ``cfg`` with ``seed = data_seed``: its ``data_dir`` (``data/synthetic/<preset>-<world>-seed<seed>``
    by default), the generator's seed and every ``${seed}`` of the split follow. Models keep ``cfg.seed``
    unless given a training seed (:func:`with_model_seed`)."""
    copy = cfg.copy()
    with open_dict(copy):
        copy.seed = int(data_seed)
    return copy


def seed_lists(cfg: DictConfig) -> tuple[list[int], list[int]]:
    """``(data_seeds, train_seeds)``: the config's lists, each ``[cfg.seed]`` when not given (one run, as
    without them). Raises :class:`ConfigError` for empty or repeated lists, or data seeds that would share
    one ``data_dir`` (an explicit ``data_dir`` holds one dataset: leave it to its default)."""
    lists = []
    for key in ("data_seeds", "train_seeds"):
        values = cfg.get(key)
        seeds = [int(cfg.seed)] if values is None else [int(value) for value in values]
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ConfigError(f"{key}: expected distinct non-negative integers such as [0,1,2], got {seeds}")
        lists.append(seeds)
    data_seeds, train_seeds = lists
    if len(data_seeds) > 1:
        dirs = [str(with_data_seed(cfg, seed).data_dir) for seed in data_seeds]
        if len(set(dirs)) < len(dirs):
            raise ConfigError(f"data_seeds={data_seeds}: every data seed needs its own data_dir, but data_dir is "
                              f"{dirs[0]!r} for all of them; leave data_dir at its default (data.dir, which "
                              f"encodes the seed) or pass one data seed")
    return data_seeds, train_seeds


REFERENCE_LABELS = ("ceiling", "oracle")
"""Labels of the ground-truth reference row: the exposure-aware ceiling, or the utility oracle where the
ceiling cannot be built (data from a generator version without the parameters it needs)."""


def oracle_result(cfg: DictConfig, split: Split) -> EvaluationResult | None:
    """The ground-truth reference on ``split`` when ``eval.oracle`` is on and the data has ``truth/``.

    The reference is the best achievable: :class:`~recsys.evaluation.ExposureCeiling` (utility plus the
    generator's own exposure and apply model, labelled ``ceiling``); where it cannot be built, the utility
    :class:`~recsys.evaluation.Oracle` (labelled ``oracle``). "% of ceiling" columns refer to it.
    """
    if not cfg.eval.oracle or not (Path(cfg.data_dir) / "truth").is_dir():
        return None
    from recsys.evaluation import ExposureCeiling, Oracle

    options = dict(slice_metrics=("hr",), n_resamples=cfg.eval.bootstrap_samples, seed=cfg.eval.seed)
    try:
        ceiling = ExposureCeiling(Path(cfg.data_dir)).fit(split.train)
        return evaluate(ceiling, split, cfg.eval.ks, name="ceiling", **options)
    except (ValueError, KeyError) as exc:
        logging.getLogger(__name__).warning("exposure ceiling unavailable (%s); using the utility oracle", exc)
    oracle = Oracle(Path(cfg.data_dir)).fit(split.train)
    return evaluate(oracle, split, cfg.eval.ks, name="oracle", **options)


def fit_and_evaluate(model: Recommender, split: Split, eval_cfg: DictConfig, *, name: str | None = None,
                     oracle: EvaluationResult | None = None) -> Evaluated:
    """Fit ``model`` on ``split.train`` and evaluate it over the full candidate catalogue."""
    start, start_cpu = time.perf_counter(), time.process_time()
    model.fit(split.train)
    fitted, fitted_cpu = time.perf_counter(), time.process_time()
    result = evaluate(model, split, eval_cfg.ks, oracle=oracle, n_resamples=eval_cfg.bootstrap_samples,
                      seed=eval_cfg.seed, name=name)
    return Evaluated(model, result, fitted - start, time.perf_counter() - fitted, fitted_cpu - start_cpu,
                     time.process_time() - fitted_cpu)


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
        print(f"model saved to {path}")
        if log:
            import mlflow

            mlflow.log_artifacts(str(path), "model")
            print("  logged as the artifact folder 'model' of the run")
        return path
    from recsys.api import Ranker

    ranker = Ranker.from_model(model, dataset)
    path = ranker.save(Path(cfg.output_dir) / "ranker")
    print(f"ranker saved to {path}  (recsys.load_ranker({str(path)!r}))")
    if log:
        from recsys.api.pyfunc import log_ranker

        info = log_ranker(ranker, name="ranker",
                          registered_model_name=cfg.tracking.registered_model_name if register else None,
                          alias=cfg.tracking.alias if register else None)
        print(f"  logged as MLflow model {info.model_uri}")
        if register:
            print(f"  registered as models:/{cfg.tracking.registered_model_name}@{cfg.tracking.alias} "
                  f"(version {info.registered_model_version})")
    return path


def run_text(run: Any, tracking: DictConfig) -> str:
    """Where an MLflow run went: experiment, run id, store URI and the command that opens the UI."""
    if run is None:
        return "MLflow: tracking disabled (tracking.enabled=false), nothing recorded"
    uri = str(tracking.uri)
    return (f"MLflow: experiment {str(tracking.experiment)!r}, run {run.info.run_id} "
            f"({run.info.run_name})\n  store {uri}\n  open the UI: mlflow ui --backend-store-uri {uri}")


def job_label(label: str, run: Any = None) -> str:
    """``label``; in a Hydra sweep prefixed with the job's number and values of the swept keys, as its MLflow
    child run is named (``job 1 (model.window_days=21): popularity``)."""
    from recsys.tracking.session import hydra_job_context

    is_multirun, _, _ = hydra_job_context()
    if not is_multirun:
        return label
    from hydra.core.hydra_config import HydraConfig

    job = HydraConfig.get().job
    values = run.info.run_name if run is not None else job.override_dirname
    return f"job {job.num} ({values}): {label}"


HEADLINE_METRICS = (("hr", 5), ("hr", 10), ("hr", 20), ("ndcg", 10), ("recall", 10), ("mrr", 20),
                    ("coverage", 10))


def summary_text(label: str, evaluated: Evaluated) -> str:
    """A few lines for the console: headline metrics with 95% intervals and timings."""
    summary = {(str(r["metric"]), int(r["k"])): r for r in evaluated.result.summary.to_dict("records")}
    lines = [f"{label} on {evaluated.result.split} ({evaluated.result.split_info.get('n_test_seekers')} test "
             f"seekers): fit {evaluated.fit_seconds:.1f}s, scoring {evaluated.score_seconds:.1f}s"]
    for metric, k in HEADLINE_METRICS:
        if (metric, k) not in summary:
            continue
        row = summary[(metric, k)]
        interval = f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" if row["ci_low"] == row["ci_low"] else ""
        oracle = f"  ({row['of_oracle']:.0%} of oracle)" if "of_oracle" in row and row["of_oracle"] == row[
            "of_oracle"] else ""
        lines.append(f"  {f'{metric}@{k}':<12} {row['mean']:.3f}{interval}{oracle}")
    return "\n".join(lines)
