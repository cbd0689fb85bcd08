"""``recsys-train``: fit one model on one split, evaluate it, log the run to MLflow, save the ranker.

Examples::

    recsys-train model=ease split=cold_jobs
    recsys-train -m model=popularity,ease,lightfm_hybrid          # one parent run, one child per job
    recsys-train -m hydra/launcher=joblib model.no_components=32,64   # parallel local jobs
    recsys-train model=lightfm_hybrid register=true               # registers job-ranker@champion
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from recsys.cli import pipeline
from recsys.cli.schemas import register_configs
from recsys.paths import config_dir
from recsys.tracking import runs
from recsys.tracking.session import tracked_run

register_configs()


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one training job described by ``cfg``; returns its metrics (``hr@10``, ``ndcg@10``, ...)."""
    pipeline.check_config(cfg)
    dataset = pipeline.load_dataset(cfg)
    split = pipeline.make_split(cfg, dataset)
    model = pipeline.build_model(cfg.model)
    label = pipeline.model_label(cfg)
    print(f"training {label} on {split.name} ({cfg.data_dir})", flush=True)
    with tracked_run(cfg.tracking, run_name=label, tags=pipeline.run_tags(cfg, "train", model=label)) as run:
        if run is not None:
            runs.log_config(cfg)
            runs.log_dataset(split.train.interactions, cfg.data_dir, name=Path(cfg.data_dir).name)
        oracle = pipeline.oracle_result(cfg, split)
        evaluated = pipeline.fit_and_evaluate(model, split, cfg.eval, name=label, oracle=oracle)
        metrics = runs.evaluation_metrics(evaluated.result)
        if run is not None:
            runs.log_evaluation(evaluated.result, fit_seconds=evaluated.fit_seconds,
                                score_seconds=evaluated.score_seconds)
        if cfg.save_model or cfg.register:
            pipeline.save_model(evaluated.model, dataset, cfg, log=run is not None)
    print(pipeline.summary_text(pipeline.job_label(label, run), evaluated))
    print(pipeline.run_text(run, cfg.tracking))
    return metrics


def rerun(run_id: str, tracking_uri: str | None = None, **overrides: Any) -> dict[str, float]:
    """Re-run a logged ``recsys-train`` run from the config it logged; returns the new metrics.

    ``overrides`` replace dotted keys first (e.g. ``output_dir=...``, ``**{"tracking.enabled": False}``).
    ``tracking_uri`` defaults to the store of the one rule (:func:`recsys.tracking.store.reading_uri`).
    Raises :class:`DataChangedError` if the tables in ``data_dir`` differ from those the run logged.
    """
    import mlflow

    from recsys.tracking.store import reading_uri

    tracking_uri = tracking_uri or reading_uri()
    cfg = runs.load_run_config(run_id, tracking_uri)
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value, force_add=False)
    inputs = mlflow.MlflowClient(tracking_uri).get_run(run_id).inputs
    logged = inputs.dataset_inputs if inputs is not None else []
    current = runs.tables_digest(cfg.data_dir)
    if logged and logged[0].dataset.digest != current:
        raise DataChangedError(f"data_dir {cfg.data_dir!r} has digest {current}, but run {run_id} was trained "
                               f"on {logged[0].dataset.digest}; regenerate the data with the logged data.* config")
    return train(cfg)


class DataChangedError(ValueError):
    """The tables a run was trained on are not the ones in its ``data_dir`` any more."""


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns HR@10 (the value a sweeper would optimise)."""
    return train(cfg)["hr@10"]


if __name__ == "__main__":
    main()
