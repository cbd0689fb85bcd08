"""Small helpers shared by the recommenders: hyperparameter checks and training matrices."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data.dataset import Dataset
from recsys.models.base import NoTrainingEventsError


class HyperparameterError(ValueError):
    """A model was constructed with an invalid hyperparameter (raised by ``fit``, before any work)."""


def check_number(model: object, name: str, value: Any, *, low: float | None = None, strict: bool = True,
                 integer: bool = False, allow_none: bool = False) -> None:
    """Raise :class:`HyperparameterError` unless ``value`` is a (positive / in-range) number."""
    where = f"{type(model).__name__}({name}={value!r})"
    if value is None and allow_none:
        return
    kind = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kind) or not np.isfinite(value):
        raise HyperparameterError(f"{where}: expected a finite {'integer' if integer else 'number'}")
    if low is not None and (value <= low if strict else value < low):
        raise HyperparameterError(f"{where}: must be {'>' if strict else '>='} {low}")


def check_choice(model: object, name: str, value: Any, choices: Collection[Any]) -> None:
    if value not in choices:
        raise HyperparameterError(f"{type(model).__name__}({name}={value!r}): expected one of {list(choices)}")


def check_event_weights(model: object, weights: Mapping[str, float] | None) -> None:
    """Weights must be non-negative numbers keyed by event name, at least one positive.

    Event names are not checked against a fixed list (each dataset declares its own funnel): an event
    absent from the training data is caught by :func:`require_events` at fit time.
    """
    if weights is None:
        return
    if not isinstance(weights, Mapping) or not all(isinstance(e, str) and e for e in weights):
        raise HyperparameterError(f"{type(model).__name__}(event_weights={weights!r}): expected a mapping "
                                  f"from event name to weight")
    for event, weight in weights.items():
        check_number(model, f"event_weights[{event!r}]", weight, low=0.0, strict=False)
    if not any(float(w) > 0 for w in weights.values()):
        raise HyperparameterError(f"{type(model).__name__}(event_weights): at least one weight must be positive")


def require_events(model: object, dataset: Dataset, events: Collection[str]) -> list[str]:
    """The ``events`` that occur in ``dataset``'s interactions; :class:`NoTrainingEventsError` if none does."""
    present = pd.unique(dataset.interactions["event"].astype(object))
    found = [e for e in events if e in set(present)]
    if not found:
        raise NoTrainingEventsError(type(model).__name__, sorted(events), sorted(str(e) for e in present))
    return found


def positive_events(weights: Mapping[str, float]) -> list[str]:
    """Events with a positive weight (the ones a model learns from)."""
    return [event for event, weight in weights.items() if float(weight) > 0]


def weighted_interactions(model: object, dataset: Dataset, weights: Mapping[str, float] | None,
                          default: Mapping[str, float]) -> sp.csr_matrix:
    """Seeker x job CSR of the furthest funnel stage's weight (``weights`` or ``default``).

    Raises :class:`NoTrainingEventsError` if no positively weighted event occurs in ``dataset``.
    Weighted events absent from the data are dropped before building the matrix.
    """
    weights = dict(default if weights is None else weights)
    found = require_events(model, dataset, positive_events(weights))
    return dataset.interaction_matrix({event: weights[event] for event in found})


def time_column(frame: pd.DataFrame, column: str, missing: str) -> np.ndarray:
    """``column`` as datetime64[ns]; absent column or missing values become ``missing`` ("min" or "max").

    Without ``posted_at`` every job has been posted since forever and without ``expires_at`` never
    expires; without ``registered_at`` every seeker has been registered since forever.
    """
    int64 = np.iinfo(np.int64)
    fill = np.datetime64(int64.min + 1 if missing == "min" else int64.max, "ns")  # int64.min is NaT
    if column not in frame.columns:
        return np.full(len(frame), fill)
    values = datetime64(frame[column])
    return np.where(np.isnat(values), fill, values)


def datetime64(values: pd.Series) -> np.ndarray:
    """Timestamps as naive ``datetime64[ns]``; timezone-aware ones are converted to UTC first.

    Every time a model compares (``ts``, ``posted_at``, ``expires_at``, ``registered_at``) goes through
    here, so tables that are all aware, or all naive in one zone, compare correctly.
    """
    times = pd.to_datetime(values)
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy(dtype="datetime64[ns]")


def last_event_time(dataset: Dataset) -> np.datetime64:
    """Time of the last training interaction (naive ``datetime64[ns]``, see :func:`datetime64`)."""
    return datetime64(dataset.interactions["ts"]).max()


def l1_normalize_blocks(matrix: sp.csr_matrix, starts: np.ndarray, share: float) -> sp.csr_matrix:
    """Scale each row of each column block to sum ``share / n_blocks`` (empty blocks stay empty).

    ``starts`` are the first columns of the blocks, ascending. Every block gets the same total weight
    whatever its number of non-zeros, so a 3-gram TF-IDF block does not drown a one-hot.
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    n_blocks = len(starts)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    block = np.searchsorted(starts, matrix.indices, side="right") - 1
    key = rows * n_blocks + block
    sums = np.bincount(key, weights=np.abs(matrix.data), minlength=matrix.shape[0] * n_blocks)
    with np.errstate(divide="ignore", invalid="ignore"):
        matrix.data = (matrix.data / sums[key] * (share / n_blocks)).astype(np.float32)
    matrix.data[~np.isfinite(matrix.data)] = 0.0
    matrix.eliminate_zeros()
    return matrix


def csr_to_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {f"{prefix}.data": matrix.data, f"{prefix}.indices": matrix.indices,
            f"{prefix}.indptr": matrix.indptr, f"{prefix}.shape": np.asarray(matrix.shape, dtype=np.int64)}


def csr_from_arrays(prefix: str, arrays: Mapping[str, np.ndarray]) -> sp.csr_matrix:
    return sp.csr_matrix((arrays[f"{prefix}.data"], arrays[f"{prefix}.indices"], arrays[f"{prefix}.indptr"]),
                         shape=tuple(int(n) for n in arrays[f"{prefix}.shape"]))


def split_state(prefix: str, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays whose names start with ``prefix.`` with the prefix removed."""
    return {k[len(prefix) + 1:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
