"""Logging one run: resolved config, metrics, per-seeker table, dataset, timings.

Metric names follow MLflow's character rules, which forbid ``@``: ``hr@10`` is logged as ``hr_at_10``
(see :func:`metric_key`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from recsys.io import sha256_file

CONFIG_ARTIFACT = "config/config.yaml"
"""Where the resolved config of every run is stored; :func:`load_run_config` reads it back."""
PER_SEEKER_ARTIFACT = "per_seeker.parquet"
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value


def metric_key(name: str) -> str:
    """MLflow-safe metric name: ``hr@10`` -> ``hr_at_10``; other characters MLflow rejects become ``_``."""
    name = name.replace("@", "_at_")
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in name)


def flatten_config(cfg: DictConfig | Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Resolved config as ``{"model.alpha": "0.1", ...}``; lists become JSON strings.

    Values longer than MLflow's param limit are truncated (the full config is in the YAML artifact).
    """
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    prefix = prefix.rstrip(".")
    flat: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping) and node:
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        else:
            text = json.dumps(node, default=str) if isinstance(node, list | tuple | Mapping) else str(node)
            flat[path] = text[:MAX_PARAM_LENGTH]

    walk(container, prefix)
    return flat


def log_config(cfg: DictConfig) -> None:
    """Log the flattened resolved config as params and the resolved YAML as :data:`CONFIG_ARTIFACT`."""
    import mlflow

    mlflow.log_params(flatten_config(cfg))
    mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), CONFIG_ARTIFACT)


def log_params_flat(node: DictConfig | Mapping[str, Any], prefix: str = "") -> None:
    """Log one config node as flattened params (``prefix`` + dotted key)."""
    import mlflow

    mlflow.log_params(flatten_config(node, prefix))


def load_run_config(run_id: str, tracking_uri: str | None = None) -> DictConfig:
    """The resolved config a run logged (:func:`log_config`), ready to re-run it."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=CONFIG_ARTIFACT, dst_path=tmp,
                                                   tracking_uri=tracking_uri)
        cfg = OmegaConf.create(Path(path).read_text(encoding="utf-8"))
    if not isinstance(cfg, DictConfig):
        raise ValueError(f"run {run_id}: {CONFIG_ARTIFACT} is not a mapping")
    return cfg


def log_metrics(metrics: Mapping[str, float], prefix: str = "") -> dict[str, float]:
    """Log finite scalar metrics under MLflow-safe names; returns what was logged."""
    import mlflow

    logged = {metric_key(prefix + name): float(value) for name, value in metrics.items()
              if value is not None and np.isfinite(float(value))}
    if logged:
        mlflow.log_metrics(logged)
    return logged


def log_per_seeker(per_seeker: pd.DataFrame) -> None:
    """Per-seeker metrics as the Parquet artifact :data:`PER_SEEKER_ARTIFACT`."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / PER_SEEKER_ARTIFACT
        per_seeker.to_parquet(path, index=False)
        mlflow.log_artifact(str(path))


def tables_digest(data_dir: str | Path, tables: Iterable[str] = ("seekers", "jobs", "interactions")) -> str:
    """First 16 hex digits of the SHA-256 over the named Parquet tables' file digests."""
    import hashlib

    combined = hashlib.sha256()
    for name in tables:
        combined.update(f"{name}:{sha256_file(Path(data_dir) / f'{name}.parquet')};".encode())
    return combined.hexdigest()[:16]


def log_dataset(interactions: pd.DataFrame, data_dir: str | Path, name: str, context: str = "training") -> str:
    """Log the interactions table as an ``mlflow.data`` input whose digest covers all core tables.

    Returns the digest, which changes whenever any of seekers, jobs or interactions changes.
    """
    import mlflow

    digest = tables_digest(data_dir)
    columns = [c for c in ("seeker_id", "job_id", "ts", "event", "channel") if c in interactions.columns]
    from mlflow.data.pandas_dataset import from_pandas

    dataset = from_pandas(interactions[columns], source=_local_source(data_dir), name=name, digest=digest)
    try:
        mlflow.log_input(dataset, context=context)
    except mlflow.exceptions.MlflowException as exc:
        # An MLflow server on PostgreSQL checks for the dataset row, then inserts it: two jobs logging the same
        # tables at once race and one gets a unique violation. The row exists now; the retry only links it.
        if "duplicate key" not in str(exc) and "UNIQUE constraint" not in str(exc):
            raise
        mlflow.log_input(dataset, context=context)
    return digest


def evaluation_metrics(result: Any, headline_k: int = 10) -> dict[str, float]:
    """Flat metric dict of an ``EvaluationResult`` (names before :func:`metric_key`).

    * ``<metric>@<k>`` for every summary row (hr, precision, recall, ndcg, map, mrr, congestion,
      coverage, gini), with ``<metric>@<k>.ci_low`` / ``.ci_high`` for the bootstrap interval;
    * ``of_oracle.<metric>@<k>``: fraction of the oracle's value, when the oracle was evaluated;
    * ``slice.<slice>.<value>.<metric>@<headline_k>``: per seeker group, district, warm/cold seeker and
      old/new job.
    """
    metrics: dict[str, float] = {}
    for row in result.summary.itertuples(index=False):
        name = f"{row.metric}@{row.k}"
        metrics[name] = row.mean
        if np.isfinite(row.ci_low):
            metrics[f"{name}.ci_low"], metrics[f"{name}.ci_high"] = row.ci_low, row.ci_high
        if "of_oracle" in result.summary.columns:
            metrics[f"of_oracle.{name}"] = row.of_oracle
    slices = result.slices.loc[result.slices["k"] == headline_k]
    for row in slices.itertuples(index=False):
        metrics[f"slice.{row.slice}.{row.value}.{row.metric}@{row.k}"] = row.mean
    return metrics


def log_evaluation(result: Any, *, fit_seconds: float, score_seconds: float, headline_k: int = 10) -> dict[str, float]:
    """Log an ``EvaluationResult``: metrics, timings, per-seeker Parquet, HR@k curve, per-group bars."""
    import mlflow

    from recsys.tracking import plots

    logged = log_metrics({**evaluation_metrics(result, headline_k), "fit_seconds": fit_seconds,
                          "score_seconds": score_seconds})
    log_per_seeker(result.per_seeker)
    mlflow.log_dict({key: _jsonable(value) for key, value in result.split_info.items()}, "split.json")
    hr = result.summary.loc[result.summary["metric"] == "hr"].set_index("k")
    figures = {"hr_curve": plots.hr_curve(hr[["mean"]].rename(columns={"mean": result.model}),
                                          hr[["ci_low"]].rename(columns={"ci_low": result.model}),
                                          hr[["ci_high"]].rename(columns={"ci_high": result.model}))}
    groups = group_table({result.model: result}, k=headline_k)
    if not groups.empty:
        figures["hr_by_group"] = plots.group_bars(groups, metric=f"HR@{headline_k}")
    plots.log_figures(figures)
    return logged


def seed_run_name(model: str, data_seed: int, train_seed: int | None) -> str:
    """Name of one run of a comparison over seeds: ``lightfm_hybrid data1 train0`` (``train -`` without a
    training seed: a model without randomness, fitted once per dataset)."""
    return f"{model} data{data_seed} train{'-' if train_seed is None else train_seed}"


def log_seed_params(data_seed: int, train_seed: int | None) -> None:
    """Params ``data_seed`` and ``train_seed`` (``none`` for a model without randomness) of one run."""
    import mlflow

    mlflow.log_params({"data_seed": data_seed, "train_seed": "none" if train_seed is None else train_seed})


def seed_table_metrics(table: pd.DataFrame, metric: str) -> dict[str, float]:
    """Metrics of a seed table (:func:`recsys.evaluation.seeds.seed_table`) for the parent run:
    ``seeds.<model>.<metric>.{mean,sd,min,max,difference}`` and ``seeds.<model>.n_runs`` (before
    :func:`metric_key`)."""
    metrics: dict[str, float] = {}
    for row in table.to_dict("records"):
        for stat in ("mean", "sd", "min", "max", "difference"):
            metrics[f"seeds.{row['model']}.{metric}.{stat}"] = float(row[stat])
        metrics[f"seeds.{row['model']}.n_runs"] = float(row["n_runs"])
    return metrics


def log_seed_table(table: pd.DataFrame, metric: str, data_seeds: list[int], train_seeds: list[int]) -> dict[str, float]:
    """Log a seed table to the active (parent) run: :func:`seed_table_metrics` and the seed lists as tags."""
    import mlflow

    mlflow.set_tags({"recsys.data_seeds": json.dumps(data_seeds), "recsys.train_seeds": json.dumps(train_seeds)})
    return log_metrics(seed_table_metrics(table, metric))


def group_table(results: Mapping[str, Any], k: int = 10, metric: str = "hr") -> pd.DataFrame:
    """``metric@k`` per seeker group (rows) and model (columns) from the results' slices."""
    columns = {}
    for name, result in results.items():
        slices = result.slices
        rows = slices.loc[(slices["slice"] == "group") & (slices["metric"] == metric) & (slices["k"] == k)]
        columns[name] = rows.set_index("value")["mean"]
    return pd.DataFrame(columns)


def _local_source(path: str | Path) -> Any:
    """A local-directory dataset source (MLflow 3 registers its local source class twice, so resolving a
    plain path warns about an ambiguity that is not one)."""
    from mlflow.data.dataset_source_registry import get_registered_sources

    local: Any = next(source for source in get_registered_sources() if source._get_source_type() == "local")
    return local(str(Path(path).resolve()))


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
