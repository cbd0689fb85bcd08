"""MLflow pyfunc wrapper, so ``mlflow models serve -m models:/job-ranker@champion`` answers rankings.

The model is logged as *code* (``_pyfunc_entry.py``) plus the ranker directory as an artifact, so
nothing is pickled. Request rows are seeker ids (column ``seeker_id``) or profiles (the seeker fields),
with optional per-row ``k`` and filters (:data:`FILTER_FIELDS`, as :meth:`Ranker.rank` takes them); the
request-wide default ``k`` is a param (:data:`SIGNATURE`). The response has one row per recommended job.

The HTTP contract (``mlflow models serve``): a bad request gets status 400 and a JSON body whose
``message`` is one line naming the row and the field (``request row 2: k: must be a positive integer,
got 2.7``); no stack trace is ever sent to the client. A fault of the server (not of the request) is a
500 with a one-line message; its traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import ParamSchema, ParamSpec

from recsys.api.errors import InvalidFilterError, InvalidRequestError, InvalidValueError, NonFiniteScoreError
from recsys.api.objectives import as_objective
from recsys.api.profile import PROFILE_DEFAULTS, PROFILE_FIELDS
from recsys.api.ranker import Ranker
from recsys.api.requests import MAX_K, validate_filters, validate_k  # noqa: F401  (MAX_K: the served limit, re-exported)

ENTRY_POINT = Path(__file__).with_name("_pyfunc_entry.py")
PACKAGE_DIR = Path(__file__).resolve().parent.parent
"""The ``recsys`` package directory, logged with the model (``code_paths``), so it serves without recsys installed."""
OUTPUT_COLUMNS = ["request", "seeker_id", "rank", "job_id", "score", "reason_codes", "reasons_zh", "reasons_en"]
FILTER_FIELDS = ("now", "max_commute_km", "job_types", "districts", "meets_requirements", "exclude_applied")
"""Per-row filters of a request (:meth:`Ranker.rank`'s keyword arguments). In a profile row
``max_commute_km`` is the profile's own field, which is also its commute limit."""
OBJECTIVE_FIELDS = ("objective", "congestion")
"""Per-row ranking objective and congestion strength (:meth:`Ranker.rank`; :mod:`recsys.api.objectives`)."""
DEFAULT_K = 10
SIGNATURE = ModelSignature(inputs=None, params=ParamSchema([ParamSpec("k", "long", DEFAULT_K)]))
"""Served-model signature: the request-wide ``k`` param (a long). Rows carry no input schema on purpose:
MLflow drops columns a schema does not name, so a misspelt filter would be ignored in silence; rows are
validated by :meth:`RankerModel.predict` instead, which refuses unknown fields."""

_log = logging.getLogger(__name__)


class ServingError(MlflowException):
    """An error of the served model whose JSON ``message`` is one line (the HTTP status from ``error_code``)."""

    def __init__(self, message: str, error_code: int = INTERNAL_ERROR) -> None:
        self._reason = " ".join(message.split())  # one line
        super().__init__(self._reason, error_code=error_code)

    @property
    def message(self) -> str:
        return self._reason

    @message.setter
    def message(self, value: str) -> None:
        """Ignored: the scoring server prefixes the whole input frame; the client gets the reason only."""


class RequestRejected(ServingError):
    """A bad request: HTTP 400, message naming the row, the field and the rule."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


class RankerModel(PythonModel):
    """Pyfunc model serving a :class:`~recsys.api.ranker.Ranker` stored under artifact key ``ranker``."""

    def load_context(self, context: Any) -> None:
        from recsys.api.artifact import load_ranker_dir

        self.ranker: Ranker = load_ranker_dir(context.artifacts["ranker"])

    def predict(self, context, model_input, params=None):  # no hints: MLflow would turn them into a schema
        """Rankings for each request row: columns :data:`OUTPUT_COLUMNS` (reasons joined into one string).

        Raises :class:`RequestRejected` (HTTP 400) naming the row and field of a bad request, and an
        ``INTERNAL_ERROR`` :class:`~mlflow.exceptions.MlflowException` (HTTP 500, traceback logged on the
        server only) for anything else.
        """
        try:
            requests = _as_frame(model_input)
            default_k = _request_k((params or {}).get("k", DEFAULT_K), "params: k")
            rows = []
            for index, record in enumerate(requests.to_dict("records")):
                seeker, k, filters = _seeker_of({str(key): value for key, value in record.items()}, default_k, index)
                for rec in _rank(self.ranker, seeker, k, filters, index):
                    rows.append((index, seeker if isinstance(seeker, str) else seeker.get("seeker_id"), rec.rank,
                                 rec.job_id, rec.score, ",".join(r.code for r in rec.reasons),
                                 "；".join(r.text_zh for r in rec.reasons), "; ".join(r.text_en for r in rec.reasons)))
            return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
        except ServingError:
            raise
        except ValueError as exc:  # the typed errors of the request (InvalidRequestError, ...)
            if isinstance(exc, NonFiniteScoreError):  # the model, not the request, is broken
                raise _internal_error(exc) from None
            raise RequestRejected(str(exc)) from None
        except Exception as exc:
            raise _internal_error(exc) from None


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
                                           pip_requirements=requirements, signature=SIGNATURE)
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
    if isinstance(model_input, Mapping):
        model_input = [model_input]
    if isinstance(model_input, list):
        for index, item in enumerate(model_input):
            if not isinstance(item, (str, Mapping)):
                raise InvalidRequestError(f"request row {index}: expected a seeker id or an object of fields, "
                                          f"got {type(item).__name__}")
        return pd.DataFrame.from_records([{"seeker_id": x} if isinstance(x, str) else dict(x) for x in model_input])
    raise InvalidRequestError(f"expected a DataFrame or JSON records of seekers, got {type(model_input).__name__}")


def _seeker_of(record: dict[str, Any], default_k: int, index: int = 0
               ) -> tuple[str | dict[str, Any], int, dict[str, Any]]:
    """(seeker id or profile, k, filters) of request row ``index``; missing values (null/NaN) are dropped.

    Raises :class:`InvalidRequestError` naming the row and the field: unknown fields, a ``k`` that is
    not a positive integer (``2.7`` is refused, not truncated), filters of the wrong type.
    """
    where = f"request row {index}"
    present = {str(key): value for key, value in record.items() if not _missing(value)}
    known = {"k", *PROFILE_DEFAULTS, *PROFILE_FIELDS, *FILTER_FIELDS, *OBJECTIVE_FIELDS}
    unknown = sorted(set(present) - known)
    if unknown:
        raise InvalidRequestError(f"{where}: unknown field(s) {unknown}; known: seeker_id, k, the profile "
                                  f"fields, the filters {list(FILTER_FIELDS)} and {list(OBJECTIVE_FIELDS)}")
    k = _request_k(present.pop("k"), f"{where}: k", index) if "k" in present else default_k
    is_profile = any(field in present for field in PROFILE_FIELDS if field != "max_commute_km")
    filters = {name: _filter_value(present.pop(name))
               for name in (*FILTER_FIELDS, *OBJECTIVE_FIELDS)
               if name in present and not (is_profile and name == "max_commute_km")}
    if is_profile:
        return present, k, filters
    if "seeker_id" not in present:
        raise InvalidRequestError(f"{where}: needs a seeker_id or the profile fields")
    seeker_id = present["seeker_id"]
    if not isinstance(seeker_id, str):
        raise InvalidRequestError(f"{where}: seeker_id: expected a string, got {seeker_id!r}")
    return seeker_id, k, filters


def _rank(ranker: Ranker, seeker: str | dict[str, Any], k: int, filters: dict[str, Any], index: int) -> list[Any]:
    """Rank one request row: the filters are checked by the API's own request validation
    (:func:`~recsys.api.requests.validate_filters`, the rules of :meth:`Ranker.rank`), naming the row."""
    choice = {name: filters.pop(name) for name in OBJECTIVE_FIELDS if name in filters}
    checked = validate_filters(filters, timezone=ranker.timezone, row=index)
    try:
        objective = as_objective(choice.get("objective"), choice.get("congestion"))
    except InvalidValueError as exc:
        raise InvalidFilterError(exc.field, exc.rule, row=index, show_value=False) from None
    return ranker.rank_filtered([seeker], k, checked, objective=objective)[0]


def _request_k(value: Any, where: str, row: int | None = None) -> int:
    """``k`` from JSON: an integral float such as ``3.0`` counts as 3 (JSON does not tell them apart and
    pandas turns an integer column with gaps into floats); the rest is :func:`~recsys.api.requests.validate_k`
    (``2.7``, ``"3"`` or ``true`` refused, at most :data:`MAX_K`)."""
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        value = int(value)
    try:
        return validate_k(value, row=row)
    except InvalidValueError as exc:
        raise InvalidRequestError(f"{where}: {exc.rule}") from None


def _filter_value(value: Any) -> Any:
    """A filter value from JSON as plain Python (numpy scalars and arrays from pandas rows converted);
    its checks are :func:`~recsys.api.requests.validate_filters`'."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _internal_error(exc: BaseException) -> ServingError:
    _log.error("ranking failed on the server side", exc_info=exc)
    return ServingError(f"internal error of the ranking service ({type(exc).__name__}); see the server log")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and bool(np.isnan(value)))
