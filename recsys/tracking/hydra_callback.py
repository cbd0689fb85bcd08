"""One MLflow parent run per Hydra sweep, one nested child run per job.

:class:`MlflowSweepCallback` runs in the launching process. ``on_multirun_start`` creates the store,
the experiment and the parent run *before* any job starts (so parallel jobs never race on SQLite
schema creation) and publishes the parent run id in :data:`PARENT_RUN_ENV`, which local launchers
(basic, joblib) pass on to their jobs. Jobs on other machines (submitit, Ray) find the parent by its
``recsys.sweep_dir`` tag instead (:func:`find_parent_run`).

The parent ends ``FINISHED`` only if the sweep completed and every child run finished. When a job
fails, Hydra's sweeper raises and never calls ``on_multirun_end``; an ``atexit`` hook registered at the
start then marks the parent ``FAILED`` as the process exits (Hydra reports the error and exits), so no
sweep is left ``RUNNING``.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from recsys.tracking.store import TrackingTarget, prepare_store, resolve_target

PARENT_RUN_ENV = "RECSYS_MLFLOW_PARENT_RUN_ID"
SWEEP_DIR_TAG = "recsys.sweep_dir"
SWEEP_KEYS_TAG = "recsys.sweep_keys"
"""Comma-separated keys the sweep varies (``model,model.l2``); child runs are named after their values."""


def target_from_config(tracking: DictConfig) -> TrackingTarget:
    """:class:`TrackingTarget` of a ``tracking`` config node."""
    return resolve_target(tracking.uri, tracking.experiment, tracking.get("artifact_location"))


def find_parent_run(target: TrackingTarget, sweep_dir: str) -> str | None:
    """Run id of the sweep parent for ``sweep_dir``: from :data:`PARENT_RUN_ENV`, else by tag."""
    run_id = os.environ.get(PARENT_RUN_ENV)
    if run_id:
        return run_id
    import mlflow

    experiment = mlflow.MlflowClient(target.uri).get_experiment_by_name(target.experiment)
    if experiment is None:
        return None
    runs = mlflow.MlflowClient(target.uri).search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{SWEEP_DIR_TAG}` = '{sweep_dir}'", max_results=1)
    return runs[0].info.run_id if runs else None


def swept_keys(task_overrides: list[str]) -> list[str]:
    """Keys of the overrides that take several values (``model=a,b``, ``x=range(3)``, ``y=choice(1,2)``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(task_overrides)
    return [override.get_key_element().lstrip("+~") for override in parsed if override.is_sweep_override()]


def child_run_name(job_overrides: list[str], keys: list[str]) -> str:
    """``model=ease,model.l2=100``: a job's values of the swept ``keys`` (all its overrides if none)."""
    chosen = [o for o in job_overrides if o.split("=", 1)[0].lstrip("+~") in keys]
    return ",".join(chosen or job_overrides)


class MlflowSweepCallback(Callback):
    """Hydra callback: create the store and the parent run of a sweep; close the run when the sweep ends."""

    def __init__(self) -> None:
        self._run_id: str | None = None
        self._target: TrackingTarget | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        import mlflow

        if not config.get("tracking") or not config.tracking.get("enabled", True):
            return
        self._target = target_from_config(config.tracking)
        experiment_id = prepare_store(self._target)
        task_overrides = list(config.hydra.overrides.task)
        run = mlflow.MlflowClient(self._target.uri).create_run(
            experiment_id, run_name=f"sweep {config.hydra.job.name}: {' '.join(task_overrides)}"[:250],
            tags={SWEEP_DIR_TAG: str(config.hydra.sweep.dir), SWEEP_KEYS_TAG: ",".join(swept_keys(task_overrides)),
                  "recsys.kind": "sweep", "recsys.command": config.hydra.job.name})
        self._run_id = run.info.run_id
        os.environ[PARENT_RUN_ENV] = self._run_id
        atexit.register(self.close_parent)  # a failed job makes the sweeper raise past on_multirun_end

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.close_parent(sweep_completed=True)

    def close_parent(self, sweep_completed: bool = False) -> None:
        """Terminate the parent run (once): ``FAILED`` if the sweep did not complete or a child run did
        not finish, else ``FINISHED``; tag it with the numbers of child runs and failed ones."""
        import mlflow

        if self._run_id is None or self._target is None:
            return
        atexit.unregister(self.close_parent)
        client = mlflow.MlflowClient(self._target.uri)
        children = client.search_runs(
            [client.get_run(self._run_id).info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{self._run_id}'")
        failed = sum(child.info.status != "FINISHED" for child in children)
        client.set_tag(self._run_id, "recsys.n_jobs", str(len(children)))
        client.set_tag(self._run_id, "recsys.n_failed_jobs", str(failed))
        client.set_terminated(self._run_id, status="FINISHED" if sweep_completed and not failed else "FAILED")
        os.environ.pop(PARENT_RUN_ENV, None)
        self._run_id = None
