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
from mlflow.types.schema import ParamSchema, ParamSpec

from recsys.api.errors import InvalidRequestError, NonFiniteScoreError
from recsys.api.profile import PROFILE_DEFAULTS, PROFILE_FIELDS
from recsys.api.ranker import Ranker

ENTRY_POINT = Path(__file__).with_name("_pyfunc_entry.py")
PIP_REQUIREMENTS = ["mlflow", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "rectools-lightfm"]
OUTPUT_COLUMNS = ["request", "seeker_id", "rank", "job_id", "score", "reason_codes", "reasons_zh", "reasons_en"]
FILTER_FIELDS = ("now", "max_commute_km", "job_types", "districts", "meets_requirements", "exclude_applied")
"""Per-row filters of a request (:meth:`Ranker.rank`'s keyword arguments). In a profile row
``max_commute_km`` is the profile's own field, which is also its commute limit."""
DEFAULT_K = 10
MAX_K = 1000
"""Largest ``k`` the served model accepts (larger requests would only allocate, never return more)."""
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
    def message(self) -> str:  # type: ignore[override]
        return self._reason

    @message.setter
    def message(self, value: str) -> None:
        """Ignored: the scoring server prefixes the whole input frame; the client gets the reason only."""


class RequestRejected(ServingError):
    """A bad request: HTTP 400, message naming the row, the field and the rule."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


class RankerModel(mlflow.pyfunc.PythonModel):
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
                seeker, k, filters = _seeker_of(record, default_k, index)
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


def log_ranker(ranker: Ranker, name: str = "ranker", registered_model_name: str | None = None,
               alias: str | None = None) -> Any:
    """Log ``ranker`` as an MLflow pyfunc model (in the active run, or a new one); returns the ModelInfo.

    With ``registered_model_name`` the model is registered, and ``alias`` (e.g. ``"champion"``) then
    points at the new version, so ``load_ranker("models:/<name>@<alias>")`` finds it.
    """
    import tempfile

    if alias is not None and registered_model_name is None:
        raise InvalidRequestError("alias needs registered_model_name")
    with tempfile.TemporaryDirectory(prefix="ranker-") as tmp:
        ranker_dir = ranker.save(Path(tmp) / "ranker")
        started = mlflow.active_run() is None
        if started:
            mlflow.start_run()
        try:
            info = mlflow.pyfunc.log_model(name=name, python_model=str(ENTRY_POINT),
                                           artifacts={"ranker": str(ranker_dir)},
                                           registered_model_name=registered_model_name,
                                           pip_requirements=PIP_REQUIREMENTS, signature=SIGNATURE)
        finally:
            if started:
                mlflow.end_run()
    if alias is not None:
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
    known = {"k", *PROFILE_DEFAULTS, *PROFILE_FIELDS, *FILTER_FIELDS}
    unknown = sorted(set(present) - known)
    if unknown:
        raise InvalidRequestError(f"{where}: unknown field(s) {unknown}; known: seeker_id, k, the profile "
                                  f"fields and the filters {list(FILTER_FIELDS)}")
    k = _request_k(present.pop("k"), f"{where}: k") if "k" in present else default_k
    is_profile = any(field in present for field in PROFILE_FIELDS if field != "max_commute_km")
    filters = {name: _filter_value(name, present.pop(name), where)
               for name in FILTER_FIELDS if name in present and not (is_profile and name == "max_commute_km")}
    if is_profile:
        return present, k, filters
    if "seeker_id" not in present:
        raise InvalidRequestError(f"{where}: needs a seeker_id or the profile fields")
    seeker_id = present["seeker_id"]
    if not isinstance(seeker_id, str):
        raise InvalidRequestError(f"{where}: seeker_id: expected a string, got {seeker_id!r}")
    return seeker_id, k, filters


def _rank(ranker: Ranker, seeker: str | dict[str, Any], k: int, filters: dict[str, Any], index: int) -> list[Any]:
    """``ranker.rank`` with the parsed row; its typed errors get the row's position in front.

    The one place to swap for the API's shared request validation once it exists.
    """
    try:
        return ranker.rank(seeker, k, **filters)
    except NonFiniteScoreError:
        raise
    except ValueError as exc:
        raise InvalidRequestError(f"request row {index}: {exc}") from exc


def _request_k(value: Any, where: str) -> int:
    """``k`` from JSON: an integer (an integral float such as ``3.0`` too, as JSON does not tell them
    apart and pandas turns an integer column with gaps into floats); ``2.7``, ``"3"`` or ``true`` refused."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidRequestError(f"{where}: must be a positive integer, got {value!r}")
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, (int, np.integer)) or value <= 0:
        raise InvalidRequestError(f"{where}: must be a positive integer, got {value!r}")
    if value > MAX_K:
        raise InvalidRequestError(f"{where}: at most {MAX_K}, got {value!r}")
    return int(value)


def _filter_value(name: str, value: Any, where: str) -> Any:
    """Type check of one filter from JSON (ranges and vocabularies are :meth:`Ranker.rank`'s)."""
    if name in ("meets_requirements", "exclude_applied"):
        if not isinstance(value, (bool, np.bool_)):
            raise InvalidRequestError(f"{where}: {name}: expected true or false, got {value!r}")
        return bool(value)
    if name == "now":
        if not isinstance(value, str):
            raise InvalidRequestError(f"{where}: now: expected an ISO 8601 time string, got {value!r}")
        return value
    if name == "max_commute_km":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise InvalidRequestError(f"{where}: max_commute_km: expected a positive number, got {value!r}")
        return float(value)
    values = [value] if isinstance(value, str) else value  # job_types, districts
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidRequestError(f"{where}: {name}: expected a list of strings, got {value!r}")
    return values


def _internal_error(exc: BaseException) -> ServingError:
    _log.error("ranking failed on the server side", exc_info=exc)
    return ServingError(f"internal error of the ranking service ({type(exc).__name__}); see the server log")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and bool(np.isnan(value)))
