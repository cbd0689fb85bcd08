"""Starting the MLflow run of one command: a plain run, or a child of the sweep it belongs to."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig

from recsys.tracking.hydra_callback import SWEEP_KEYS_TAG, child_run_name, find_parent_run, target_from_config
from recsys.tracking.store import prepare_store


def hydra_job_context() -> tuple[bool, list[str], str]:
    """``(is_multirun_job, task_overrides, sweep_dir)`` of the running Hydra job (outside Hydra: no job)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return False, [], ""
    hydra_cfg = HydraConfig.get()
    is_multirun = hydra_cfg.mode == RunMode.MULTIRUN
    return is_multirun, list(hydra_cfg.overrides.task), str(hydra_cfg.sweep.dir) if is_multirun else ""


@contextlib.contextmanager
def tracked_run(tracking: DictConfig, run_name: str | None = None, tags: dict[str, Any] | None = None,
                nested: bool = False, resume_run_id: str | None = None) -> Iterator[Any]:
    """Start the run of a command; yields the active ``mlflow.ActiveRun``.

    Inside a Hydra multirun the run is a child of the sweep's parent run and is named after the job's
    values of the swept keys (``model=ease,model.l2=100``). ``nested=True`` makes it a child of the currently active
    run instead (tuning trials); ``resume_run_id`` reopens a finished run (nested under the active one,
    if any) to add to it. With ``tracking.enabled: false`` nothing is recorded and it yields ``None``.
    """
    import mlflow

    if not tracking.enabled:
        yield None
        return
    target = target_from_config(tracking)
    experiment_id = prepare_store(target)
    if resume_run_id is not None:
        with mlflow.start_run(run_id=resume_run_id, nested=mlflow.active_run() is not None) as run:
            yield run
        return
    is_multirun, job_overrides, sweep_dir = hydra_job_context()
    parent_run_id = None
    active = mlflow.active_run()
    if nested and active is not None:
        parent_run_id = active.info.run_id
    elif is_multirun:
        parent_run_id = find_parent_run(target, sweep_dir)
        if parent_run_id is not None:
            keys = mlflow.MlflowClient(target.uri).get_run(parent_run_id).data.tags.get(SWEEP_KEYS_TAG, "")
            run_name = child_run_name(job_overrides, keys.split(",")) if job_overrides else run_name
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, parent_run_id=parent_run_id,
                          nested=parent_run_id is not None, tags=tags) as run:
        yield run
