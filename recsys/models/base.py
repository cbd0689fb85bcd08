"""The one base class for recommenders: id mapping, candidate masks, warm/cold routing and top-k.

Subclasses implement two small hooks:

* ``_fit(dataset, interactions)`` learns from the training :class:`~recsys.data.Dataset`;
* ``_score(seeker_rows, job_rows)`` returns a dense ``(len(seeker_rows), len(job_rows))`` score block.

and, to be saved without pickle, ``_get_state() -> (arrays, meta)`` / ``_set_state(arrays, meta)``.
Hyperparameters are constructor arguments (scikit-learn convention), so Hydra can build any model
with ``_target_`` and :meth:`get_params` feeds MLflow and Optuna.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from recsys.data.dataset import Dataset, IdMap
from recsys.data.events import SEEN_EVENTS  # noqa: F401  (re-export: the default funnel's seen events)
from recsys.io import atomic_dir, sha256_file, write_json
from recsys.progress import progress

MODEL_FORMAT_VERSION = 1

ColdRule = Literal["raise", "popular"]


class CandidateBlock(NamedTuple):
    """Candidates of a batch of seekers, given only on the job columns that can hold any.

    ``columns``: ascending job rows; ``mask``: bool ``(batch, len(columns))``. Jobs outside
    ``columns`` are candidates for nobody in the batch. Equivalent to the dense mask with
    ``mask`` scattered into ``columns``, without building ``batch x n_jobs`` booleans.
    """

    columns: np.ndarray
    mask: np.ndarray


CandidateMaskFn = Callable[[np.ndarray], "np.ndarray | CandidateBlock"]


class NotFittedError(RuntimeError):
    """The model was used before :meth:`Recommender.fit`."""


class UnsupportedSeekerError(ValueError):
    """The model cannot score these seekers (e.g. a collaborative model asked about cold seekers)."""


class NonFiniteScoreError(ValueError):
    """A model produced NaN or infinite scores (e.g. diverged training)."""


class ModelFormatError(ValueError):
    """A saved model is missing, corrupt or from an incompatible format version."""


class NoTrainingEventsError(ValueError):
    """The training data has none of the events a model learns from (e.g. ``apply`` in a view-only log).

    ``needed``: the events the model was told to learn from; ``present``: the events in the data.
    Point the model at events the data has (``event_weights``, ``event`` or ``events``).
    """

    def __init__(self, model: str, needed: list[str], present: list[str]) -> None:
        self.model, self.needed, self.present = model, list(needed), list(present)
        super().__init__(f"{model} learns from events {self.needed}, but the training data has only "
                         f"{self.present or 'no events'}; set its event weights to events the data has")


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries of each row, best first.

    Entries equal to ``-inf`` are masked out and never returned: rows with fewer than ``k`` finite
    entries are padded with index ``-1`` and score ``-inf``. Ties are broken by the lower column index,
    so the result is deterministic.
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    n_rows, n_cols = scores.shape
    # Select each row's k best with a value partition (several times faster than argpartition),
    # then sort only those k.
    if n_cols > k:
        kth = np.partition(scores, n_cols - k, axis=1)[:, n_cols - k, None]
        keep = scores >= kth
        # More than k kept: ties with the k-th score (or a k-th score of -inf). Keep the entries above
        # it and the lowest tied columns, as many as the list has room for; never -inf.
        crowded = np.flatnonzero(np.count_nonzero(keep, axis=1) > k)
        if len(crowded):
            sub, sub_kth = scores[crowded], kth[crowded]
            above, tied = sub > sub_kth, (sub == sub_kth) & (sub_kth > -np.inf)
            room = k - np.count_nonzero(above, axis=1)
            keep[crowded] = above | (tied & (np.cumsum(tied, axis=1) <= room[:, None]))
    else:
        keep = scores > -np.inf
    rows, cols = np.divmod(np.flatnonzero(keep), n_cols)  # row-major: columns ascending within a row
    per_row = np.bincount(rows, minlength=n_rows)
    idx = np.full((n_rows, k), -1, dtype=np.int64)
    if (per_row == k).all():
        idx[:] = cols.reshape(n_rows, k)
    else:  # rows with fewer than k finite entries
        idx[rows, np.arange(len(rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)] = cols
    val = np.where(idx >= 0, np.take_along_axis(scores, np.maximum(idx, 0), axis=1), -np.inf)
    order = np.argsort(-val, axis=1, kind="stable")  # ties keep the lower column first; padding last
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(val, order, axis=1)


class Recommender(BaseEstimator):
    """Base class of every recommender.

    Class flags
    -----------
    serves_warm_seekers, serves_cold_seekers, serves_new_jobs : bool
        Which requests the model can answer. A *cold* seeker or *new* job has no interaction in the
        training data. Jobs the model cannot serve are never recommended (their score is ``-inf``).
        Seekers it cannot serve follow ``cold_seekers`` in :meth:`recommend`: ``"raise"`` raises
        :class:`UnsupportedSeekerError`; ``"popular"`` ranks by training popularity (applications).
    """

    serves_warm_seekers: ClassVar[bool] = True
    serves_cold_seekers: ClassVar[bool] = False
    serves_new_jobs: ClassVar[bool] = False

    # ------------------------------------------------------------------ public API
    def fit(self, dataset: Dataset) -> Recommender:
        """Learn from ``dataset`` (its interactions are the training data). Returns ``self``.

        "Seen" jobs (excluded by ``exclude_seen``) and warm seekers / jobs follow the dataset's funnel
        (:meth:`Dataset.seen_matrix`, :meth:`Dataset.warm_seekers`, :meth:`Dataset.warm_jobs`); the
        cold-seeker fallback ranks jobs by their number of seekers with a seen event.
        """
        seen = dataset.seen_matrix()
        self.seeker_ids_ = dataset.seeker_ids
        self.job_ids_ = dataset.job_ids
        self.seen_ = sp.csr_matrix(seen, dtype=np.float32)
        self.known_seekers_ = dataset.warm_seekers()
        self.known_jobs_ = dataset.warm_jobs()
        self.popularity_ = np.asarray(seen.getnnz(axis=0), dtype=np.float64)
        self._fit(dataset)
        return self

    def score(self, seeker_rows: np.ndarray | Sequence[int], job_rows: np.ndarray | Sequence[int] | None = None
              ) -> np.ndarray:
        """Dense score block ``(len(seeker_rows), len(job_rows))``; higher means recommend first.

        float32 scores from ``_score`` are kept as float32; other dtypes become float64.

        Rows are internal indices of the fitted dataset. Jobs the model cannot serve score ``-inf``.
        Raises :class:`NonFiniteScoreError` on NaN or ``+inf`` scores.
        """
        self._check_fitted()
        seeker_rows = np.asarray(seeker_rows, dtype=np.int64)
        job_rows = np.arange(len(self.job_ids_)) if job_rows is None else np.asarray(job_rows, dtype=np.int64)
        _check_rows(seeker_rows, len(self.seeker_ids_), "seeker")
        _check_rows(job_rows, len(self.job_ids_), "job")
        scores = np.asarray(self._score(seeker_rows, job_rows))
        if scores.dtype not in (np.float32, np.float64):  # float32 stays float32: half the memory traffic
            scores = scores.astype(np.float64)
        if scores.shape != (len(seeker_rows), len(job_rows)):
            raise AssertionError(f"{type(self).__name__}._score returned shape {scores.shape}")
        if not np.isfinite(scores).all() and (np.isnan(scores).any() or np.isposinf(scores).any()):
            raise NonFiniteScoreError(f"{type(self).__name__} produced non-finite scores; "
                                      f"training probably diverged (try a lower learning rate)")
        if not self.serves_new_jobs:
            scores[:, ~self.known_jobs_[job_rows]] = -np.inf
        return scores

    def recommend_rows(self, seeker_rows: np.ndarray, k: int, *, candidate_mask: CandidateMaskFn | None = None,
                       exclude_seen: bool = True, cold_seekers: ColdRule = "raise", batch_size: int = 1024
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` job rows and scores for each seeker row, over the full catalogue.

        Parameters
        ----------
        seeker_rows
            Internal seeker rows.
        k
            Length of each list; shorter candidate sets are padded with row ``-1`` / score ``-inf``.
        candidate_mask
            ``f(seeker_rows_batch) -> bool array (batch, n_jobs)`` or a :class:`CandidateBlock`; only
            ``True`` jobs may be recommended.
        exclude_seen
            Drop jobs the seeker applied to in the training data (the dataset funnel's ``seen_events``).
        cold_seekers
            What to do with seekers the model cannot serve (see the class docstring).
        batch_size
            Seekers scored per matrix product; bounds memory at ``batch_size x n_jobs`` floats.
        """
        self._check_fitted()
        seeker_rows = np.asarray(seeker_rows, dtype=np.int64)
        _check_rows(seeker_rows, len(self.seeker_ids_), "seeker")
        unsupported = self.unsupported_seekers(seeker_rows)
        if unsupported.any() and cold_seekers == "raise":
            first = self.seeker_ids_.to_ids(seeker_rows[unsupported][:1])[0]
            raise UnsupportedSeekerError(
                f"{type(self).__name__} cannot score {int(unsupported.sum())} seeker(s) without training "
                f"history (first: {first!r}); pass cold_seekers='popular' to fall back to popularity")
        if cold_seekers not in ("raise", "popular"):
            raise ValueError(f"cold_seekers must be 'raise' or 'popular', got {cold_seekers!r}")
        out_idx = np.full((len(seeker_rows), k), -1, dtype=np.int64)
        out_val = np.full((len(seeker_rows), k), -np.inf)
        starts = range(0, len(seeker_rows), batch_size)
        for start in progress(starts, f"{type(self).__name__} scoring", unit="batch", wanted=len(starts) > 4):
            batch = seeker_rows[start:start + batch_size]
            columns, allowed = self._batch_candidates(batch, candidate_mask, exclude_seen)
            if len(columns) == 0:
                continue
            scores = self._score_batch(batch, columns, unsupported[start:start + batch_size])
            if allowed is not None:
                scores[~allowed] = -np.inf
            idx, val = top_k(scores, k)
            out_idx[start:start + batch_size] = np.where(idx >= 0, columns[np.maximum(idx, 0)], -1)
            out_val[start:start + batch_size] = val
        return out_idx, out_val

    def _batch_candidates(self, batch: np.ndarray, candidate_mask: CandidateMaskFn | None, exclude_seen: bool
                          ) -> tuple[np.ndarray, np.ndarray | None]:
        """Job rows worth scoring for ``batch`` (ascending) and the allowed mask over them (``None``: all).

        Only jobs allowed for someone in the batch are kept: same lists (ties still go to the lower
        job row, as columns stay in order), far less work when candidates are a small share.
        """
        n_jobs = len(self.job_ids_)
        columns, allowed = np.arange(n_jobs), None
        if candidate_mask is not None:
            candidates = candidate_mask(batch)
            if isinstance(candidates, CandidateBlock):
                columns = np.asarray(candidates.columns, dtype=np.int64)
                allowed = np.array(candidates.mask, dtype=bool)  # a copy: we edit it
                if (np.diff(columns) <= 0).any() or (len(columns) and (columns[0] < 0 or columns[-1] >= n_jobs)):
                    raise ValueError(f"candidate block columns must be ascending job rows in [0, {n_jobs})")
                if allowed.shape != (len(batch), len(columns)):
                    raise ValueError(f"candidate block mask has shape {allowed.shape}, expected "
                                     f"{(len(batch), len(columns))} (batch x columns)")
            else:
                allowed = np.array(candidates, dtype=bool)  # a copy: we edit it
        if exclude_seen:
            allowed = np.ones((len(batch), n_jobs), dtype=bool) if allowed is None else allowed
            seen = self.seen_[batch]
            rows, jobs = np.repeat(np.arange(len(batch)), np.diff(seen.indptr)), seen.indices
            if len(columns) < n_jobs:
                position = np.full(n_jobs, -1, dtype=np.int64)
                position[columns] = np.arange(len(columns))
                jobs = position[jobs]
                rows, jobs = rows[jobs >= 0], jobs[jobs >= 0]
            allowed[rows, jobs] = False
        if allowed is not None:
            useful = allowed.any(axis=0)
            if not useful.all():
                columns, allowed = columns[useful], allowed[:, useful]
        return columns, allowed

    def _score_batch(self, batch: np.ndarray, job_rows: np.ndarray, cold: np.ndarray) -> np.ndarray:
        """Scores of ``batch`` x ``job_rows``; ``cold`` seekers get training popularity instead.

        The fallback ranks only jobs with training history: a job nobody interacted with has no
        popularity, so it is excluded (``-inf``) rather than filling short lists in catalogue order.
        """
        if not cold.any():
            return self.score(batch, job_rows)
        scores = np.empty((len(batch), len(job_rows)))
        if (~cold).any():
            scores[~cold] = self.score(batch[~cold], job_rows)
        scores[cold] = np.where(self.known_jobs_[job_rows], self.popularity_[job_rows], -np.inf)
        return scores

    def recommend(self, seekers: Sequence[str] | np.ndarray, k: int = 10, *,
                  candidates: Sequence[str] | np.ndarray | None = None, exclude_seen: bool = True,
                  cold_seekers: ColdRule = "raise") -> pd.DataFrame:
        """Top-``k`` jobs for each seeker id.

        Returns a DataFrame with columns ``seeker_id, job_id, score, rank`` (rank 1 is best), at most
        ``k`` rows per seeker; ``candidates`` restricts the jobs (external ids) for every seeker.
        """
        self._check_fitted()
        seeker_rows = self.seeker_ids_.to_rows(seekers, kind="seeker")
        mask_fn = None
        if candidates is not None:
            allowed = np.zeros(len(self.job_ids_), dtype=bool)
            allowed[self.job_ids_.to_rows(candidates, kind="job")] = True
            mask_fn = lambda batch: np.broadcast_to(allowed, (len(batch), len(allowed)))  # noqa: E731
        idx, val = self.recommend_rows(seeker_rows, k, candidate_mask=mask_fn, exclude_seen=exclude_seen,
                                       cold_seekers=cold_seekers)
        keep = idx >= 0
        return pd.DataFrame({
            "seeker_id": np.repeat(np.asarray(seekers, dtype=object), k)[keep.ravel()],
            "job_id": self.job_ids_.to_ids(idx[keep]),
            "score": val[keep],
            "rank": np.tile(np.arange(1, k + 1), len(seeker_rows))[keep.ravel()],
        })

    def unsupported_seekers(self, seeker_rows: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``seeker_rows`` this model cannot score."""
        known = self.known_seekers_[seeker_rows]
        ok = np.where(known, self.serves_warm_seekers, self.serves_cold_seekers)
        return ~ok

    # ------------------------------------------------------------------ persistence (no pickle)
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the fitted model to directory ``path`` as ``model.json`` + ``arrays.npz`` (atomic).

        A previous model at ``path`` is replaced; anything else there only with ``overwrite=True``
        (:class:`recsys.io.OutputExistsError` otherwise).
        """
        self._check_fitted()
        arrays, meta = self._get_state()
        arrays = {f"state.{name}": value for name, value in arrays.items()}
        arrays.update({
            "base.seeker_ids": self.seeker_ids_.ids.astype(str), "base.job_ids": self.job_ids_.ids.astype(str),
            "base.known_seekers": self.known_seekers_, "base.known_jobs": self.known_jobs_,
            "base.popularity": self.popularity_, "base.seen_indptr": self.seen_.indptr,
            "base.seen_indices": self.seen_.indices, "base.seen_data": self.seen_.data,
        })
        with atomic_dir(path, kind="model", overwrite=overwrite) as tmp:
            np.savez_compressed(tmp / "arrays.npz", **arrays)  # type: ignore[arg-type]  # numpy stub: allow_pickle
            write_json(tmp / "model.json", {
                "format_version": MODEL_FORMAT_VERSION,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "params": _jsonable(self.get_params(deep=False)),
                "state": meta,
                "arrays_sha256": sha256_file(tmp / "arrays.npz"),
            })
        return Path(path)

    @staticmethod
    def load(path: str | Path) -> Recommender:
        """Load a model written by :meth:`save`; raises :class:`ModelFormatError` naming the file and field.

        The artifact is data, never an instruction: the directory must hold exactly ``model.json`` and
        ``arrays.npz`` (regular files, no symlinks); the class is looked up in the explicit registry
        (:mod:`recsys.models.registry`) and its params are checked against the constructor before it is
        called; arrays are read without pickle and their shapes and dtypes checked against each other.
        """
        from recsys.models.registry import checked_params, model_class

        path = Path(path)
        meta_file, arrays_file = path / "model.json", path / "arrays.npz"
        _check_model_files(path)
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"{str(meta_file)!r} is corrupt: {exc}") from exc
        if not isinstance(meta, dict):
            raise ModelFormatError(f"{str(meta_file)!r}: expected a JSON object, got {type(meta).__name__}")
        if meta.get("format_version") != MODEL_FORMAT_VERSION:
            raise ModelFormatError(f"{str(meta_file)!r}: field 'format_version': model format version "
                                   f"{meta.get('format_version')!r} is not supported (this recsys reads version "
                                   f"{MODEL_FORMAT_VERSION})")
        unknown = sorted(set(meta) - _MODEL_META_FIELDS)
        if unknown:
            raise ModelFormatError(f"{str(meta_file)!r}: unknown field(s) {unknown}")
        cls = model_class(meta.get("class"), source=str(meta_file))
        params = checked_params(cls, meta.get("params"), source=str(meta_file))
        if not isinstance(meta.get("state"), dict):
            raise ModelFormatError(f"{str(meta_file)!r}: field 'state' must be an object")
        if sha256_file(arrays_file) != meta.get("arrays_sha256"):
            raise ModelFormatError(f"{str(arrays_file)!r} does not match its checksum (field 'arrays_sha256' of "
                                   f"model.json): corrupt, truncated or edited")
        try:
            with np.load(arrays_file, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # pickles raise ValueError here
            raise ModelFormatError(f"{str(arrays_file)!r} cannot be read without pickle: {exc}") from exc
        _check_base_arrays(arrays, str(arrays_file))
        model: Recommender = cls(**params)
        model.seeker_ids_ = IdMap(arrays["base.seeker_ids"].astype(object))
        model.job_ids_ = IdMap(arrays["base.job_ids"].astype(object))
        model.known_seekers_ = arrays["base.known_seekers"]
        model.known_jobs_ = arrays["base.known_jobs"]
        model.popularity_ = arrays["base.popularity"]
        model.seen_ = sp.csr_matrix((arrays["base.seen_data"], arrays["base.seen_indices"],
                                     arrays["base.seen_indptr"]),
                                    shape=(len(model.seeker_ids_), len(model.job_ids_)))
        state = {name[len("state."):]: value for name, value in arrays.items() if name.startswith("state.")}
        try:
            model._set_state(state, meta["state"])
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ModelFormatError(f"{str(path)!r}: the saved state of {cls.__name__} is incomplete or malformed "
                                   f"({type(exc).__name__}: {exc})") from exc
        return model

    # ------------------------------------------------------------------ hooks
    def _fit(self, dataset: Dataset) -> None:
        raise NotImplementedError

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Fitted arrays and JSON-able metadata beyond what the base class saves."""
        raise NotImplementedError(f"{type(self).__name__} does not support save()")

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support load()")

    def _check_fitted(self) -> None:
        if not hasattr(self, "seeker_ids_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(dataset) first")


_MODEL_META_FIELDS = {"format_version", "class", "params", "state", "arrays_sha256"}
_MODEL_FILES = ("arrays.npz", "model.json")


def _check_model_files(path: Path) -> None:
    """The model directory holds exactly :data:`_MODEL_FILES`, as regular files (no symlinks)."""
    if not path.is_dir() or path.is_symlink():
        raise ModelFormatError(f"{str(path)!r} is not a saved model (no model.json in a model directory)")
    present = sorted(p.name for p in path.iterdir())
    for name in _MODEL_FILES:
        file = path / name
        if name not in present:
            raise ModelFormatError(f"{str(path)!r} is not a saved model (no {name})")
        if file.is_symlink() or not file.is_file():
            raise ModelFormatError(f"{str(file)!r} must be a regular file inside the model directory (no symlinks)")
    extra = [name for name in present if name not in _MODEL_FILES]
    if extra:
        raise ModelFormatError(f"{str(path)!r} holds file(s) {extra} that a saved model does not list; "
                               f"refusing to load an artifact with unverified content")


def _check_base_arrays(arrays: dict[str, np.ndarray], source: str) -> None:
    """Shapes and dtypes of the base-class arrays agree with each other; raises :class:`ModelFormatError`."""
    expected = {"base.seeker_ids": "U", "base.job_ids": "U", "base.known_seekers": "b", "base.known_jobs": "b",
                "base.popularity": "f", "base.seen_indptr": "iu", "base.seen_indices": "iu", "base.seen_data": "f"}
    for name, kinds in expected.items():
        if name not in arrays:
            raise ModelFormatError(f"{source}: array {name!r} is missing")
        if arrays[name].ndim != 1 or arrays[name].dtype.kind not in kinds:
            raise ModelFormatError(f"{source}: array {name!r} must be 1-d of kind {kinds!r}, got "
                                   f"{arrays[name].dtype} {arrays[name].shape}")
    unknown = [name for name in arrays if not name.startswith(("base.", "state."))]
    if unknown:
        raise ModelFormatError(f"{source}: unexpected array(s) {unknown}")
    n_seekers, n_jobs = len(arrays["base.seeker_ids"]), len(arrays["base.job_ids"])
    for name, n in (("base.known_seekers", n_seekers), ("base.known_jobs", n_jobs), ("base.popularity", n_jobs)):
        if len(arrays[name]) != n:
            raise ModelFormatError(f"{source}: array {name!r} has {len(arrays[name])} entries, expected {n}")
    indptr, indices, data = arrays["base.seen_indptr"], arrays["base.seen_indices"], arrays["base.seen_data"]
    if (len(indptr) != n_seekers + 1 or (len(indptr) and (indptr[0] != 0 or indptr[-1] != len(indices)))
            or (np.diff(indptr) < 0).any() or len(data) != len(indices)
            or (len(indices) and (indices.min() < 0 or indices.max() >= n_jobs))):
        raise ModelFormatError(f"{source}: arrays 'base.seen_*' do not form a {n_seekers} x {n_jobs} CSR matrix")


def _check_rows(rows: np.ndarray, n: int, kind: str) -> None:
    if rows.ndim != 1:
        raise ValueError(f"{kind} rows must be one-dimensional, got shape {rows.shape}")
    if len(rows) and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(f"{kind} rows out of range [0, {n}): min {rows.min()}, max {rows.max()}")


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out
