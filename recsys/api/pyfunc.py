"""MLflow pyfunc wrapper, so ``mlflow models serve -m models:/job-ranker@champion`` answers rankings.

The model is logged as *code* (``_pyfunc_entry.py``) plus the ranker directory as an artifact, so
nothing is pickled. Request rows are seeker ids (column ``seeker_id``) or profiles (the seeker fields),
with an optional ``k`` column; the response has one row per recommended job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from recsys.api.errors import InvalidRequestError
from recsys.api.profile import PROFILE_FIELDS
from recsys.api.ranker import Ranker

ENTRY_POINT = Path(__file__).with_name("_pyfunc_entry.py")
PACKAGE_DIR = Path(__file__).resolve().parent.parent
"""The ``recsys`` package directory, logged with the model (``code_paths``), so it serves without recsys installed."""
OUTPUT_COLUMNS = ["request", "seeker_id", "rank", "job_id", "score", "reason_codes", "reasons_zh", "reasons_en"]


class RankerModel(mlflow.pyfunc.PythonModel):
    """Pyfunc model serving a :class:`~recsys.api.ranker.Ranker` stored under artifact key ``ranker``."""

    def load_context(self, context: Any) -> None:
        from recsys.api.artifact import load_ranker_dir

        self.ranker: Ranker = load_ranker_dir(context.artifacts["ranker"])

    def predict(self, context, model_input, params=None):  # no hints: MLflow would turn them into a schema
        """Rankings for each request row: columns :data:`OUTPUT_COLUMNS` (reasons joined into one string)."""
        requests = _as_frame(model_input)
        default_k = int((params or {}).get("k", 10))
        rows = []
        for index, record in enumerate(requests.to_dict("records")):
            seeker, k = _seeker_of(record, default_k)
            for rec in self.ranker.rank(seeker, k):
                rows.append((index, seeker if isinstance(seeker, str) else seeker.get("seeker_id"), rec.rank,
                             rec.job_id, rec.score, ",".join(r.code for r in rec.reasons),
                             "；".join(r.text_zh for r in rec.reasons), "; ".join(r.text_en for r in rec.reasons)))
        return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)


def pip_requirements() -> list[str]:
    """The runtime requirements of the installed ``recsys`` distribution, pinned to the versions installed here.

    Derived from the package metadata (``pyproject.toml`` ``dependencies``, extras left out), so the served
    model's ``requirements.txt`` lists every import of the bundled code (numba, hydra, ...) at the versions it
    was logged with. Raises ``RuntimeError`` when recsys is not installed (no metadata to read).
    """
    from importlib import metadata

    from packaging.requirements import Requirement

    try:
        declared = metadata.requires("recsys") or []
    except metadata.PackageNotFoundError as exc:
        raise RuntimeError("recsys is not installed (pip install -e .): its requirements come from the package "
                           "metadata") from exc
    pinned = []
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an optional extra (dev)
        pinned.append(f"{requirement.name}=={metadata.version(requirement.name)}")
    return sorted(pinned, key=str.lower)


def log_ranker(ranker: Ranker, name: str = "ranker", registered_model_name: str | None = None,
               alias: str | None = None) -> Any:
    """Log ``ranker`` as an MLflow pyfunc model (in the active run, or a new one); returns the ModelInfo.

    With ``registered_model_name`` the model is registered, and ``alias`` (e.g. ``"champion"``) then
    points at the new version, so ``load_ranker("models:/<name>@<alias>")`` finds it.

    The model is self-contained: the ``recsys`` code travels in its ``code/`` folder (MLflow
    ``code_paths``, put first on ``sys.path`` when the model loads, so it wins over another installed
    recsys) and its ``requirements.txt`` is :func:`pip_requirements`, so a fresh environment made from
    that file can ``mlflow models serve`` it.
    """
    import shutil
    import tempfile

    if alias is not None and registered_model_name is None:
        raise InvalidRequestError("alias needs registered_model_name")
    requirements = pip_requirements()
    with tempfile.TemporaryDirectory(prefix="ranker-") as tmp:
        ranker_dir = ranker.save(Path(tmp) / "ranker")
        # the package's code only: no caches, no packaged configs (serving does not read them)
        caches = shutil.ignore_patterns("__pycache__", "*.pyc")
        code = shutil.copytree(PACKAGE_DIR, Path(tmp) / "code" / "recsys", ignore=lambda folder, names: {
            *caches(folder, names), *(["configs"] if Path(folder) == PACKAGE_DIR else [])})
        started = mlflow.active_run() is None
        if started:
            mlflow.start_run()
        try:
            info = mlflow.pyfunc.log_model(name=name, python_model=str(ENTRY_POINT),
                                           artifacts={"ranker": str(ranker_dir)}, code_paths=[str(code)],
                                           registered_model_name=registered_model_name,
                                           pip_requirements=requirements)
        finally:
            if started:
                mlflow.end_run()
    if alias is not None and registered_model_name is not None:
        mlflow.MlflowClient().set_registered_model_alias(registered_model_name, alias,
                                                         info.registered_model_version)
    return info


def _as_frame(model_input: Any) -> pd.DataFrame:
    if isinstance(model_input, pd.DataFrame):
        return model_input
    if isinstance(model_input, dict):
        model_input = [model_input]
    if isinstance(model_input, list):
        return pd.DataFrame.from_records([{"seeker_id": x} if isinstance(x, str) else x for x in model_input])
    raise InvalidRequestError(f"expected a DataFrame or JSON records of seekers, got {type(model_input).__name__}")


def _seeker_of(record: dict[str, Any], default_k: int) -> tuple[str | dict[str, Any], int]:
    """(seeker id or profile, k) of one request row; missing values (NaN) are dropped."""
    present = {key: value for key, value in record.items() if not _missing(value)}
    k = int(present.pop("k", default_k))
    if any(field in present for field in PROFILE_FIELDS):
        return present, k
    if "seeker_id" not in present:
        raise InvalidRequestError("each request row needs a seeker_id or the profile fields")
    return str(present["seeker_id"]), k


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
