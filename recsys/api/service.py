"""Module-level entry points: :func:`load_ranker` (local directory or MLflow URI) and :func:`rank`."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from recsys.api.artifact import MANIFEST, load_ranker_dir
from recsys.api.errors import ArtifactError, InvalidRequestError
from recsys.api.ranker import Ranker, Ranking, SeekerRef

_default_ranker: Ranker | None = None
_default_lock = threading.Lock()


def load_ranker(uri: str | Path, *, set_default: bool = True) -> Ranker:
    """Load a ranker from a local directory or an MLflow URI (``models:/job-ranker@champion``, ``runs:/...``).

    MLflow URIs are looked up in the store given to ``mlflow.set_tracking_uri`` or ``MLFLOW_TRACKING_URI``,
    else in the project's store (``sqlite:///<recsys home>/mlflow.db``, see :mod:`recsys.tracking.store`),
    whatever the working directory.

    The loaded ranker becomes the default of :func:`rank` unless ``set_default`` is false; its kernels are
    compiled before it is returned (:meth:`Ranker.warm_up`). A missing, corrupt or version-mismatched
    artifact raises :class:`~recsys.api.errors.ArtifactError`.
    """
    global _default_ranker
    ranker = load_ranker_dir(resolve_ranker_dir(uri)).warm_up()
    if set_default:
        with _default_lock:
            _default_ranker = ranker
    return ranker


def resolve_ranker_dir(uri: str | os.PathLike[str]) -> Path:
    """The local ranker directory of ``uri``, downloaded once if it is an MLflow URI.

    ``uri`` is a ranker directory, an MLflow pyfunc model directory holding one (``artifacts/<name>``), or an
    MLflow URI (``models:/job-ranker@champion``, ``runs:/...``) looked up as in :func:`load_ranker`. Resolving
    once and loading the directory in several processes gives them all the same model version, even if an
    alias moves meanwhile. Raises :class:`~recsys.api.errors.ArtifactError` when there is no ranker there.
    """
    local = Path(uri)
    if not local.exists():
        if ":/" not in str(uri):
            raise ArtifactError(f"no ranker at {str(uri)!r}: not a directory and not an MLflow URI")
        local = _download(str(uri))
    return _ranker_dir(local)


def rank(seeker: SeekerRef, k: int = 10, *, ranker: Ranker | None = None, **filters: Any) -> Ranking:
    """:meth:`Ranker.rank` on ``ranker`` or, by default, on the ranker last loaded by :func:`load_ranker`."""
    ranker = ranker or _default_ranker
    if ranker is None:
        raise InvalidRequestError("no ranker loaded: call recsys.load_ranker(uri) first or pass ranker=")
    return ranker.rank(seeker, k, **filters)


def _download(uri: str) -> Path:
    """Download an MLflow model URI from the store of the one rule (:mod:`recsys.tracking.store`).

    The store is the one given to ``mlflow.set_tracking_uri`` or ``MLFLOW_TRACKING_URI``, else the
    project's ``sqlite:///<recsys home>/mlflow.db``. A store that does not exist is reported, never
    created; every error names the store searched.
    """
    import mlflow

    from recsys.tracking.store import missing_store, reading_uri

    store = reading_uri()
    registry = os.environ.get("MLFLOW_REGISTRY_URI") or store
    where = f"store {store}" + (f", registry {registry}" if registry != store else "")
    rule = ("the store is the one given to mlflow.set_tracking_uri or MLFLOW_TRACKING_URI, else the project's "
            "store under RECSYS_HOME (else the checkout, else the current directory)")
    for candidate in {store, registry}:
        missing = missing_store(candidate)
        if missing is not None:
            raise ArtifactError(f"cannot load ranker {uri!r}: {missing}; {rule}")
    try:
        client = mlflow.MlflowClient(tracking_uri=store, registry_uri=registry)
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=_registered_location(uri, client),
                                                        tracking_uri=store, registry_uri=registry))
    except Exception as exc:  # MlflowException, OSError, ...: report the URI and store, not a stack of internals
        raise ArtifactError(f"cannot download ranker {uri!r} from the MLflow {where}: {exc}") from exc


def _registered_location(uri: str, client: Any) -> str:
    """Where a registered model version's files are (``models:/<name>@<alias>`` or ``models:/<name>/<version>``),
    looked up with ``client``; other URIs are returned as they are.

    MLflow resolves ``models:/`` names and aliases in the process-wide registry, whatever registry is passed
    to ``download_artifacts``, so the lookup is done here, in the store of the rule.
    """
    if not uri.startswith("models:/"):
        return uri
    name, _, rest = uri[len("models:/"):].partition("/")
    if "@" in name:
        name, alias = name.split("@", 1)
        version, sub_path = str(client.get_model_version_by_alias(name, alias).version), rest
    elif rest:
        version, _, sub_path = rest.partition("/")
    else:
        return uri  # a logged model id (models:/m-...): MLflow finds it through tracking_uri
    location = str(client.get_model_version_download_uri(name, version))
    return f"{location.rstrip('/')}/{sub_path}" if sub_path else location


def _ranker_dir(path: Path) -> Path:
    """``path`` itself, or the ranker directory inside an MLflow pyfunc model (``artifacts/<name>``)."""
    if (path / MANIFEST).is_file():
        return path
    found = sorted(path.glob(f"artifacts/*/{MANIFEST}"))
    if len(found) == 1:
        return found[0].parent
    raise ArtifactError(f"{str(path)!r} holds no ranker artifact ({MANIFEST} not found)")
