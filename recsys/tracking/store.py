"""Where runs go: the MLflow tracking URI, telemetry, and creating the store and experiment once.

One rule decides the store everywhere (commands, :func:`recsys.load_ranker`, ``mlflow models serve``
as the docs show it): ``MLFLOW_TRACKING_URI`` if set, else the project's store
``sqlite:///<recsys home>/mlflow.db`` with artifacts in ``<recsys home>/mlartifacts`` (see
:func:`recsys.paths.recsys_home`). ``python -m recsys.tracking`` prints the URI the rule gives.

Several processes opening one *fresh* SQLite file race on MLflow's schema creation and lock each
other out, so :func:`prepare_store` is called once, by the launching process, before any job starts
(the Hydra callback does this for sweeps). Jobs then only read and write rows, which SQLite serialises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from recsys.paths import recsys_home

TELEMETRY_ENV = "MLFLOW_DISABLE_TELEMETRY"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


class TrackingConfigError(ValueError):
    """The ``tracking`` config is unusable (e.g. a relative SQLite path)."""


@dataclass(frozen=True)
class TrackingTarget:
    """A resolved tracking destination.

    Attributes
    ----------
    uri
        MLflow tracking URI; SQLite URIs are absolute (``sqlite:////abs/path/mlflow.db``).
    experiment
        Experiment name.
    artifact_location
        Artifact root of a *new* experiment; ``None`` lets the server choose. Ignored for an
        experiment that already exists.
    """

    uri: str
    experiment: str
    artifact_location: str | None = None

    @property
    def sqlite_path(self) -> Path | None:
        """File of a SQLite store, ``None`` for any other backend."""
        if not self.uri.startswith("sqlite:///"):
            return None
        return Path(self.uri[len("sqlite:///"):])


def disable_telemetry() -> None:
    """Turn MLflow's usage telemetry (and its artifact progress bars) off unless the user set them."""
    os.environ.setdefault(TELEMETRY_ENV, "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def project_store_uri() -> str:
    """``sqlite:///<recsys home>/mlflow.db``: absolute, so it does not depend on the working directory."""
    return f"sqlite:///{recsys_home() / 'mlflow.db'}"


def default_uri() -> str:
    """The store of the one rule: ``MLFLOW_TRACKING_URI`` if set, else :func:`project_store_uri`."""
    return os.environ.get(TRACKING_URI_ENV) or project_store_uri()


def default_artifact_location() -> str | None:
    """Artifact root of new experiments in the default store: ``<recsys home>/mlartifacts`` for the
    project's SQLite store; ``None`` (the server or MLflow decides) when ``MLFLOW_TRACKING_URI`` is set."""
    return None if os.environ.get(TRACKING_URI_ENV) else str(recsys_home() / "mlartifacts")


def reading_uri() -> str:
    """The store a reader in this process uses: the URI given to ``mlflow.set_tracking_uri`` or
    ``MLFLOW_TRACKING_URI``, else the project's store (never MLflow's own ``./mlflow.db`` default)."""
    import mlflow
    from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

    return mlflow.get_tracking_uri() if is_tracking_uri_set() else project_store_uri()


def missing_store(uri: str) -> str | None:
    """Why ``uri`` cannot hold anything yet (a SQLite file that does not exist), else ``None``.

    Readers check this first: opening a missing SQLite store would create an empty ``mlflow.db``.
    """
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.is_file():
            return f"the SQLite store {uri} does not exist (no file {path})"
    return None


def resolve_target(uri: str | None, experiment: str, artifact_location: str | None = None) -> TrackingTarget:
    """Validate a tracking config and make it absolute.

    Raises :class:`TrackingConfigError` for a relative SQLite path or file store path, which would
    silently create a new store in whatever directory the command was started from.
    """
    uri = uri or default_uri()
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        if not Path(path).is_absolute():
            raise TrackingConfigError(f"tracking.uri: SQLite path {path!r} is relative (from tracking.uri or "
                                      f"{TRACKING_URI_ENV}); use an absolute path, e.g. "
                                      f"sqlite:///${{recsys_home:}}/mlflow.db")
    elif "://" not in uri:
        raise TrackingConfigError(f"tracking.uri: {uri!r} is not a URI (expected sqlite:///... or http(s)://...)")
    if not experiment:
        raise TrackingConfigError("tracking.experiment: must be a non-empty name")
    if artifact_location is not None and "://" not in artifact_location:
        if not Path(artifact_location).is_absolute():
            raise TrackingConfigError(f"tracking.artifact_location: {artifact_location!r} must be absolute")
        artifact_location = Path(artifact_location).as_uri()
    return TrackingTarget(uri, experiment, artifact_location)


def prepare_store(target: TrackingTarget) -> str:
    """Create the store (SQLite file and schema) and the experiment if missing; return the experiment id.

    Also points this process's MLflow at ``target`` (tracking and registry URI).
    """
    import mlflow

    disable_telemetry()
    if target.sqlite_path is not None:
        target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(target.uri)
    mlflow.set_registry_uri(target.uri)
    client = mlflow.MlflowClient(target.uri)
    experiment = client.get_experiment_by_name(target.experiment)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        experiment_id = experiment.experiment_id
    else:
        try:
            experiment_id = client.create_experiment(target.experiment,
                                                     artifact_location=target.artifact_location)
        except mlflow.exceptions.MlflowException:
            # another process created it between our lookup and our insert
            existing = client.get_experiment_by_name(target.experiment)
            if existing is None:
                raise
            experiment_id = existing.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
