"""Small helpers shared by the recommenders: hyperparameter checks and training matrices."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.data.dataset import Dataset
from recsys.data.schema import INTERACTION_EVENTS


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


def check_choice(model: object, name: str, value: Any, choices: Container[Any]) -> None:
    if value not in choices:
        raise HyperparameterError(f"{type(model).__name__}({name}={value!r}): expected one of {list(choices)}")


def check_event_weights(model: object, weights: Mapping[str, float] | None) -> None:
    if weights is None:
        return
    unknown = set(weights) - set(INTERACTION_EVENTS)
    if unknown:
        raise HyperparameterError(f"{type(model).__name__}(event_weights): unknown event(s) {sorted(unknown)}; "
                                  f"known: {list(INTERACTION_EVENTS)}")
    for event, weight in weights.items():
        check_number(model, f"event_weights[{event!r}]", weight, low=0.0, strict=False)
    if not any(float(w) > 0 for w in weights.values()):
        raise HyperparameterError(f"{type(model).__name__}(event_weights): at least one weight must be positive")


def weighted_interactions(dataset: Dataset, weights: Mapping[str, float] | None,
                          default: Mapping[str, float]) -> sp.csr_matrix:
    """Seeker x job CSR of the furthest funnel stage's weight (``weights`` or ``default``)."""
    return dataset.interaction_matrix(dict(default if weights is None else weights))


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
