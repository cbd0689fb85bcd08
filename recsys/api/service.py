"""Module-level entry points: :func:`load_ranker` (local directory or MLflow URI) and :func:`rank`."""

from __future__ import annotations

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

    The loaded ranker becomes the default of :func:`rank` unless ``set_default`` is false; its kernels are
    compiled before it is returned (:meth:`Ranker.warm_up`). A missing, corrupt or version-mismatched
    artifact raises :class:`~recsys.api.errors.ArtifactError`.
    """
    global _default_ranker
    local = Path(uri)
    if not local.exists():
        if ":/" not in str(uri):
            raise ArtifactError(f"no ranker at {str(uri)!r}: not a directory and not an MLflow URI")
        local = _download(str(uri))
    ranker = load_ranker_dir(_ranker_dir(local)).warm_up()
    if set_default:
        with _default_lock:
            _default_ranker = ranker
    return ranker


def rank(seeker: SeekerRef, k: int = 10, *, ranker: Ranker | None = None, **filters: Any) -> Ranking:
    """:meth:`Ranker.rank` on ``ranker`` or, by default, on the ranker last loaded by :func:`load_ranker`."""
    ranker = ranker or _default_ranker
    if ranker is None:
        raise InvalidRequestError("no ranker loaded: call recsys.load_ranker(uri) first or pass ranker=")
    return ranker.rank(seeker, k, **filters)


def _download(uri: str) -> Path:
    import mlflow

    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except Exception as exc:  # MlflowException, OSError, ...: report the URI, not a stack of internals
        raise ArtifactError(f"cannot download ranker from {uri!r}: {exc}") from exc


def _ranker_dir(path: Path) -> Path:
    """``path`` itself, or the ranker directory inside an MLflow pyfunc model (``artifacts/<name>``)."""
    if (path / MANIFEST).is_file():
        return path
    found = sorted(path.glob(f"artifacts/*/{MANIFEST}"))
    if len(found) == 1:
        return found[0].parent
    raise ArtifactError(f"{str(path)!r} holds no ranker artifact ({MANIFEST} not found)")
