"""The :class:`Ranker`: a fitted model's representations, the live catalogue, filters, reasons.

``rank()`` never calls the model's pair scorer: a request is one float32 matrix-vector product over the
jobs near the seeker, cheap boolean masks, ``argpartition`` for the top k, and reasons for those k only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.api.catalogue import Catalogue
from recsys.api.errors import InvalidRequestError, NonFiniteScoreError, UnknownJobError, UnknownSeekerError
from recsys.api.profile import SeekerRequests, profiles_frame
from recsys.api.reasons import (
    FACTORS,
    Reason,
    Recommendation,
    describe,
    factor_contributions,
    feature_factors,
    pick_reasons,
)
from recsys.data.dataset import Dataset, IdMap
from recsys.data.schema import DISTRICTS, JOB_TYPES, SCHEMAS
from recsys.data.validate import TableValidationError, validate_table
from recsys.models.base import SEEN_EVENTS, Recommender, top_k

SeekerRef = str | Mapping[str, Any]
BATCH_SEEKERS = 128
"""Seekers scored together by :meth:`Ranker.rank_many` (bounds memory at batch x nearby jobs)."""


@dataclass(frozen=True)
class Filters:
    """Business rules of one request (see :meth:`Ranker.rank`)."""

    now_ns: int
    max_commute_km: float | None
    job_types: np.ndarray | None  # bool lookup over JOB_TYPES codes, None = all
    districts: np.ndarray | None  # bool lookup over DISTRICTS codes, None = all
    meets_requirements: bool
    exclude_applied: bool


class Ranker:
    """Ranks the live job catalogue for known seekers (by id) and new seekers (by profile).

    Build one with :meth:`from_model` or :func:`recsys.api.load_ranker`. ``rank``/``rank_many`` are
    thread-safe; catalogue updates (``add_jobs``, ``remove_jobs``, ``expire``) build a new immutable
    :class:`~recsys.api.catalogue.Catalogue` and swap one reference, so a request sees one version.

    Parameters
    ----------
    model
        Fitted recommender with ``seeker_representations``, ``job_representations`` and the job
        feature layout (``item_embeddings_``, ``item_biases_``, ``job_x_``, ``job_feature_names()``),
        e.g. :class:`~recsys.models.lightfm.LightFMHybrid`.
    catalogue
        The initial live catalogue.
    seekers
        Known seekers (seekers schema columns); row ``i`` is described by ``seeker_requests`` row ``i``.
    seeker_requests
        Representations, filter fields and applied jobs of the known seekers.
    now
        Reference time: requests without ``now`` rank the jobs active at this time; ``expire`` moves it.
    max_reasons
        Reasons given per recommended job.
    """

    def __init__(self, model: Recommender, catalogue: Catalogue, seekers: pd.DataFrame,
                 seeker_requests: SeekerRequests, now: pd.Timestamp, *, max_reasons: int = 3) -> None:
        self.model = model
        self.seekers = seekers.reset_index(drop=True)
        self.seeker_ids = IdMap(self.seekers["seeker_id"].to_numpy(object))
        self._seeker_row = {seeker_id: row for row, seeker_id in enumerate(self.seeker_ids.ids)}
        self.max_reasons = max_reasons
        self._known = seeker_requests
        self._feature_embeddings = np.ascontiguousarray(model.item_embeddings_, dtype=np.float32)
        self._feature_biases = np.asarray(model.item_biases_, dtype=np.float32)
        self._factors = feature_factors(_job_feature_names(model))
        self._catalogue = catalogue
        self._now = pd.Timestamp(now)
        self._update_lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model(cls, model: Recommender, dataset: Dataset, *, now: pd.Timestamp | str | None = None,
                   max_reasons: int = 3) -> Ranker:
        """Ranker over the jobs of ``dataset`` active at ``now`` (default: the latest interaction time).

        Known seekers are the dataset's seekers the model can represent; their applied jobs are the
        ``apply``/``interview``/``hire`` events up to ``now``.
        """
        now = pd.Timestamp(dataset.interactions["ts"].max() if now is None else now)
        job_rows = np.flatnonzero(dataset.active_jobs(now) & _representable(model, "job", dataset.n_jobs))
        embeddings, biases = model.job_representations(rows=job_rows)
        catalogue = Catalogue.build(dataset.jobs.iloc[job_rows], embeddings, biases,
                                    _job_feature_matrix(model, rows=job_rows))
        _check_finite(catalogue.embeddings, catalogue.biases, "job representations")

        seeker_rows = np.flatnonzero(_representable(model, "seeker", dataset.n_seekers))
        seeker_emb, seeker_bias = model.seeker_representations(rows=seeker_rows)
        past = dataset.with_interactions(dataset.interactions["ts"].to_numpy() <= np.datetime64(now))
        applied = past.interaction_matrix(events=SEEN_EVENTS)[seeker_rows]
        applied_ids = [dataset.job_ids.to_ids(applied.indices[applied.indptr[i]:applied.indptr[i + 1]])
                       for i in range(len(seeker_rows))]
        seekers = dataset.seekers.iloc[seeker_rows]
        requests = SeekerRequests.from_table(seekers, seeker_emb, seeker_bias, applied_ids)
        return cls(model, catalogue, seekers, requests, now, max_reasons=max_reasons)

    # ------------------------------------------------------------------ properties
    @property
    def catalogue(self) -> Catalogue:
        """The current catalogue snapshot (immutable)."""
        return self._catalogue

    @property
    def now(self) -> pd.Timestamp:
        """Reference time of requests that give no ``now``."""
        return self._now

    # ------------------------------------------------------------------ ranking
    def rank(self, seeker: SeekerRef, k: int = 10, *, now: Any = None, max_commute_km: float | None = None,
             job_types: Iterable[str] | None = None, districts: Iterable[str] | None = None,
             meets_requirements: bool = True, exclude_applied: bool = True, reasons: bool = True
             ) -> list[Recommendation]:
        """Top-``k`` open jobs for one seeker, best first.

        Parameters
        ----------
        seeker
            A known seeker id, or a profile mapping with the seeker fields
            (:data:`recsys.api.profile.PROFILE_FIELDS`); a profile is ranked from its features.
        k
            Number of jobs (fewer if fewer pass the filters; never padded).
        now
            Only jobs with ``posted_at <= now < expires_at`` (default: :attr:`now`).
        max_commute_km
            Straight-line distance limit from the seeker's home (default: the seeker's own
            ``max_commute_km``; ``float("inf")`` for none).
        job_types, districts
            Keep only these job types / districts (default: all).
        meets_requirements
            Keep only jobs whose minimum education and age limits the seeker meets.
        exclude_applied
            Drop jobs the seeker already applied to.
        reasons
            Attach the reasons (main score factors) of each job.
        """
        _check_k(k)
        filters = self._filters(now, max_commute_km, job_types, districts, meets_requirements, exclude_applied)
        requests = self._requests([seeker])
        catalogue = self._catalogue  # one snapshot for the whole request
        positions, scores = self._top_one(catalogue, requests, 0, k, filters)
        return self._recommendations(catalogue, requests, 0, positions, scores, reasons)

    def rank_many(self, seekers: Sequence[SeekerRef], k: int = 10, *, reasons: bool = True,
                  **filters: Any) -> list[list[Recommendation]]:
        """:meth:`rank` for many seekers at once (batched matrix products); one list per seeker."""
        _check_k(k)
        if isinstance(seekers, (str, Mapping)):
            raise InvalidRequestError("rank_many expects a sequence of seeker ids or profiles; use rank() for one")
        request_filters = self._filters(**_filter_kwargs(filters))
        requests = self._requests(list(seekers))
        catalogue = self._catalogue
        results: list[list[Recommendation]] = [[] for _ in range(len(requests))]
        for batch in _spatial_batches(requests, BATCH_SEEKERS):
            positions, scores = self._top_batch(catalogue, requests, batch, k, request_filters)
            for j, i in enumerate(batch):
                keep = positions[j] >= 0
                results[i] = self._recommendations(catalogue, requests, i, positions[j, keep],
                                                   scores[j, keep], reasons)
        return results

    def explain(self, seeker: SeekerRef, job_ids: Sequence[str]) -> pd.DataFrame:
        """Score and every factor's contribution for ``job_ids`` (catalogue jobs), one row per job.

        Columns: ``job_id``, ``score``, ``seeker_bias`` and one column per factor of
        :data:`recsys.api.reasons.FACTORS`; ``seeker_bias`` plus the factors equals ``score``.
        """
        catalogue = self._catalogue
        positions = _catalogue_positions(catalogue, job_ids)
        requests = self._requests([seeker])
        contributions = self._contributions(catalogue, requests.embeddings[0], positions)
        scores = catalogue.embeddings[positions] @ requests.embeddings[0] + catalogue.biases[positions]
        frame = pd.DataFrame(contributions, columns=list(FACTORS))
        frame.insert(0, "seeker_bias", float(requests.biases[0]))
        frame.insert(0, "score", scores.astype(np.float64) + float(requests.biases[0]))
        frame.insert(0, "job_id", catalogue.job_ids[positions])
        return frame

    # ------------------------------------------------------------------ live catalogue
    def add_jobs(self, jobs: pd.DataFrame) -> Catalogue:
        """Add (or replace) postings; each is ranked from its features at once. Returns the new snapshot."""
        try:
            validate_table(jobs, SCHEMAS["jobs"])
        except TableValidationError as exc:
            raise InvalidRequestError(f"add_jobs: {exc}") from exc
        if not getattr(self.model, "serves_new_jobs", False):
            raise InvalidRequestError(f"{type(self.model).__name__} cannot represent new postings; "
                                      f"use a hybrid model to add jobs without retraining")
        embeddings, biases = self.model.job_representations(jobs=jobs)
        _check_finite(embeddings, biases, "new job representations")
        features = _job_feature_matrix(self.model, jobs=jobs)
        with self._update_lock:
            updated = self._catalogue.with_jobs(jobs, embeddings, biases, features)
            self._catalogue = updated
        return updated

    def remove_jobs(self, job_ids: Iterable[str]) -> Catalogue:
        """Remove filled or withdrawn postings; unknown ids raise :class:`UnknownJobError`."""
        job_ids = np.asarray(list(job_ids) if not isinstance(job_ids, str) else [job_ids], dtype=object)
        with self._update_lock:
            current = self._catalogue
            _catalogue_positions(current, job_ids)
            updated = current.subset(~current.positions.isin(job_ids))
            self._catalogue = updated
        return updated

    def expire(self, now: Any) -> Catalogue:
        """Drop postings expired at ``now`` and make ``now`` the default request time."""
        now = _timestamp(now)
        with self._update_lock:
            current = self._catalogue
            updated = current.subset(current.expires_ns > now.value)
            self._catalogue, self._now = updated, now
        return updated

    # ------------------------------------------------------------------ request parsing
    def _filters(self, now: Any = None, max_commute_km: float | None = None,
                 job_types: Iterable[str] | None = None, districts: Iterable[str] | None = None,
                 meets_requirements: bool = True, exclude_applied: bool = True) -> Filters:
        now_ns = (self._now if now is None else _timestamp(now)).value
        if max_commute_km is not None:
            if isinstance(max_commute_km, bool) or not isinstance(max_commute_km, (int, float, np.number)) \
                    or not max_commute_km > 0:
                raise InvalidRequestError(f"max_commute_km must be a positive number, got {max_commute_km!r}")
            max_commute_km = float(max_commute_km)
        return Filters(now_ns=now_ns, max_commute_km=max_commute_km,
                       job_types=_lookup(job_types, JOB_TYPES, "job_types"),
                       districts=_lookup(districts, DISTRICTS, "districts"),
                       meets_requirements=bool(meets_requirements), exclude_applied=bool(exclude_applied))

    def _requests(self, seekers: list[SeekerRef]) -> SeekerRequests:
        """Arrays of the requested seekers, in order; ids and profiles may be mixed."""
        is_id = np.asarray([isinstance(s, str) for s in seekers], dtype=bool)
        parts, order_parts = [], []
        if is_id.any():
            ids = np.asarray([s for s in seekers if isinstance(s, str)], dtype=object)
            rows = np.asarray([self._seeker_row.get(i, -1) for i in ids], dtype=np.int64)
            if (rows < 0).any():
                raise UnknownSeekerError(f"unknown seeker id {ids[rows < 0][0]!r}; pass a profile mapping "
                                         f"with the seeker fields to rank a new seeker")
            parts.append(self._known.take(rows))
            order_parts.append(np.flatnonzero(is_id))
        if (~is_id).any():
            frame = profiles_frame([s for s in seekers if not isinstance(s, str)], self._now)
            embeddings, biases = self.model.seeker_representations(seekers=frame)
            parts.append(SeekerRequests.from_table(frame, embeddings, biases,
                                                   [np.empty(0, dtype=object)] * len(frame)))
            order_parts.append(np.flatnonzero(~is_id))
        if not parts:
            raise InvalidRequestError("no seekers given")
        requests = parts[0] if len(parts) == 1 else SeekerRequests.concat(parts, np.argsort(np.concatenate(order_parts)))
        _check_finite(requests.embeddings, requests.biases, "seeker representations")
        return requests

    # ------------------------------------------------------------------ scoring
    def _top_one(self, catalogue: Catalogue, requests: SeekerRequests, i: int, k: int, filters: Filters
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Catalogue positions and scores of seeker ``i``'s top ``k`` passing jobs."""
        east, north = float(requests.east_km[i]), float(requests.north_km[i])
        radius = _radius(filters, requests.max_commute_km[i])
        seeker = requests.embeddings[i]
        position_parts, score_parts = [], []
        for lo, hi in catalogue.slices_within(east, north, radius):
            ok = _job_mask(catalogue, lo, hi, filters)
            if np.isfinite(radius):
                d_east = catalogue.east_km[lo:hi] - np.float32(east)
                d_north = catalogue.north_km[lo:hi] - np.float32(north)
                ok &= d_east * d_east + d_north * d_north <= np.float32(radius * radius)
            if filters.meets_requirements:
                ok &= catalogue.min_education[lo:hi] <= requests.education[i]
                ok &= catalogue.age_min[lo:hi] <= requests.age[i]
                ok &= catalogue.age_max[lo:hi] >= requests.age[i]
            passing = np.flatnonzero(ok)
            if not len(passing):
                continue
            if 4 * len(passing) < hi - lo:  # few pass: gather them rather than score the whole slice
                rows = passing + lo
                score_parts.append(catalogue.embeddings[rows] @ seeker + catalogue.biases[rows])
            else:
                scores = catalogue.embeddings[lo:hi] @ seeker
                score_parts.append(scores[passing] + catalogue.biases[lo:hi][passing])
            position_parts.append(passing + lo)
        if not position_parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        positions, scores = np.concatenate(position_parts), np.concatenate(score_parts)
        if filters.exclude_applied and len(requests.applied[i]):
            applied = np.asarray([catalogue.position_of.get(j, -1) for j in requests.applied[i]], dtype=np.int64)
            scores[np.isin(positions, applied[applied >= 0])] = -np.inf
        if np.isnan(scores).any() or np.isposinf(scores).any():
            raise NonFiniteScoreError("non-finite scores for this seeker; the model representations are corrupt")
        idx, values = top_k(scores[None, :], k)
        keep = idx[0] >= 0
        return positions[idx[0, keep]], values[0, keep] + requests.biases[i]

    def _top_batch(self, catalogue: Catalogue, requests: SeekerRequests, batch: np.ndarray, k: int,
                   filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` positions ``(len(batch), k)`` (-1 = none) and scores of a batch of seekers."""
        east, north = requests.east_km[batch], requests.north_km[batch]
        radius = np.asarray([_radius(filters, r) for r in requests.max_commute_km[batch]])
        box_radius = float(radius.max())
        candidates = np.concatenate([np.arange(lo, hi) for lo, hi in catalogue.slices_within_box(
            float(east.min()), float(east.max()), float(north.min()), float(north.max()), box_radius)]
            or [np.empty(0, dtype=np.int64)])
        candidates = candidates[_job_mask(catalogue, 0, len(catalogue), filters)[candidates]]
        scores = requests.embeddings[batch] @ catalogue.embeddings[candidates].T
        scores += catalogue.biases[candidates]
        ok = np.ones(scores.shape, dtype=bool)
        if np.isfinite(box_radius):
            d_east = catalogue.east_km[candidates][None, :] - east[:, None]
            d_north = catalogue.north_km[candidates][None, :] - north[:, None]
            ok &= d_east * d_east + d_north * d_north <= (radius * radius).astype(np.float32)[:, None]
        if filters.meets_requirements:
            ok &= catalogue.min_education[candidates][None, :] <= requests.education[batch][:, None]
            age = requests.age[batch][:, None]
            ok &= (catalogue.age_min[candidates][None, :] <= age) & (catalogue.age_max[candidates][None, :] >= age)
        scores[~ok] = -np.inf
        if filters.exclude_applied:
            column_of = np.full(len(catalogue), -1, dtype=np.int64)
            column_of[candidates] = np.arange(len(candidates))
            for j, i in enumerate(batch):
                if len(requests.applied[i]):
                    applied = catalogue.positions.get_indexer(requests.applied[i])
                    columns = column_of[applied[applied >= 0]]
                    scores[j, columns[columns >= 0]] = -np.inf
        if np.isnan(scores).any() or np.isposinf(scores).any():
            raise NonFiniteScoreError("non-finite scores in rank_many; the model representations are corrupt")
        idx, values = top_k(scores, k)
        positions = np.where(idx >= 0, candidates[np.maximum(idx, 0)] if len(candidates) else -1, -1)
        return positions, values + requests.biases[batch][:, None]

    # ------------------------------------------------------------------ reasons
    def _contributions(self, catalogue: Catalogue, seeker: np.ndarray, positions: np.ndarray) -> np.ndarray:
        features = _csr_rows(catalogue.features, positions)
        return factor_contributions(features, seeker, self._feature_embeddings, self._feature_biases,
                                    self._factors)

    def _recommendations(self, catalogue: Catalogue, requests: SeekerRequests, i: int, positions: np.ndarray,
                         scores: np.ndarray, with_reasons: bool) -> list[Recommendation]:
        job_ids = catalogue.text["job_id"][positions]
        if not with_reasons:
            return [Recommendation(str(job_ids[r]), float(scores[r]), r + 1, []) for r in range(len(positions))]
        contributions = self._contributions(catalogue, requests.embeddings[i], positions)
        seeker = {"skills": requests.skills[i], "reservation_wage": float(requests.reservation_wage[i])}
        out = []
        for r, position in enumerate(positions):
            job = {name: values[position] for name, values in catalogue.text.items()}
            job["monthly_wage"] = float(catalogue.monthly_wage[position])
            job["distance_km"] = float(np.hypot(catalogue.east_km[position] - requests.east_km[i],
                                                catalogue.north_km[position] - requests.north_km[i]))
            reasons = []
            for factor in pick_reasons(contributions[r], self.max_reasons):
                text_zh, text_en = describe(FACTORS[factor], job, seeker)
                reasons.append(Reason(FACTORS[factor], text_zh, text_en, float(contributions[r, factor])))
            out.append(Recommendation(str(job_ids[r]), float(scores[r]), r + 1, reasons))
        return out

    def with_catalogue(self, catalogue: Catalogue) -> Ranker:
        """A ranker sharing this one's model and seekers but serving ``catalogue`` (e.g. an old snapshot)."""
        return Ranker(self.model, catalogue, self.seekers, self._known, self._now, max_reasons=self.max_reasons)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the ranker (current catalogue) to directory ``path`` atomically; see :mod:`recsys.api.artifact`."""
        from recsys.api.artifact import save_ranker

        return save_ranker(self, path)

    def __repr__(self) -> str:
        return (f"Ranker(model={type(self.model).__name__}, jobs={len(self._catalogue)}, "
                f"seekers={len(self.seeker_ids)}, now={self._now}, version={self._catalogue.version})")


# ---------------------------------------------------------------------- helpers
def _check_k(k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise InvalidRequestError(f"k must be a positive integer, got {k!r}")


def _timestamp(value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"now: cannot read {value!r} as a time") from exc
    if pd.isna(stamp):
        raise InvalidRequestError(f"now: {value!r} is not a time")
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _lookup(values: Iterable[str] | None, vocabulary: tuple[str, ...], name: str) -> np.ndarray | None:
    if values is None:
        return None
    values = [values] if isinstance(values, str) else list(values)
    unknown = [v for v in values if v not in vocabulary]
    if unknown:
        raise InvalidRequestError(f"{name}: unknown value(s) {unknown}; expected some of {list(vocabulary)}")
    return np.isin(np.asarray(vocabulary), values)


def _filter_kwargs(filters: dict[str, Any]) -> dict[str, Any]:
    allowed = {"now", "max_commute_km", "job_types", "districts", "meets_requirements", "exclude_applied"}
    unknown = sorted(set(filters) - allowed)
    if unknown:
        raise InvalidRequestError(f"unknown filter(s) {unknown}; known: {sorted(allowed)}")
    return filters


def _radius(filters: Filters, own_max_commute_km: float) -> float:
    return float(filters.max_commute_km if filters.max_commute_km is not None else own_max_commute_km)


def _job_mask(catalogue: Catalogue, lo: int, hi: int, filters: Filters) -> np.ndarray:
    """Seeker-independent rules over positions ``[lo, hi)``: active at ``now``, job type, district."""
    ok = catalogue.posted_ns[lo:hi] <= filters.now_ns
    ok &= catalogue.expires_ns[lo:hi] > filters.now_ns
    if filters.job_types is not None:
        ok &= filters.job_types[catalogue.job_type[lo:hi]]
    if filters.districts is not None:
        ok &= filters.districts[catalogue.district[lo:hi]]
    return ok


def _spatial_batches(requests: SeekerRequests, size: int) -> list[np.ndarray]:
    """Request indices in batches of seekers living close together (so their nearby jobs overlap)."""
    order = np.lexsort((requests.north_km, np.floor(requests.east_km / 4.0)))
    return [order[start:start + size] for start in range(0, len(order), size)]


def _catalogue_positions(catalogue: Catalogue, job_ids: Sequence[str] | np.ndarray) -> np.ndarray:
    job_ids = np.asarray(job_ids, dtype=object)
    positions = catalogue.positions.get_indexer(job_ids)
    if (positions < 0).any():
        missing = job_ids[positions < 0]
        raise UnknownJobError(f"job id {missing[0]!r} is not in the live catalogue "
                              f"({len(missing)} unknown of {len(job_ids)})")
    return positions


def _csr_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """``matrix[rows]`` for a few rows without scipy's fancy-indexing overhead."""
    starts, stops = matrix.indptr[rows], matrix.indptr[rows + 1]
    take = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)] or [np.empty(0, int)])
    indptr = np.concatenate([[0], np.cumsum(stops - starts)])
    return sp.csr_matrix((matrix.data[take], matrix.indices[take], indptr), shape=(len(rows), matrix.shape[1]))


def _check_finite(embeddings: np.ndarray, biases: np.ndarray, what: str) -> None:
    if not (np.isfinite(embeddings).all() and np.isfinite(biases).all()):
        raise NonFiniteScoreError(f"{what} contain NaN or infinite values; the model diverged or is corrupt")


def _representable(model: Recommender, kind: str, n: int) -> np.ndarray:
    """Rows of ``kind`` the model has a representation for (all of them for a hybrid model)."""
    serves_new = model.serves_new_jobs if kind == "job" else model.serves_cold_seekers
    identity = getattr(model, f"{kind}_identity_", None)
    if serves_new or identity is None:
        return np.ones(n, dtype=bool)
    return np.asarray(identity) >= 0


def _job_feature_names(model: Recommender) -> list[str]:
    if hasattr(model, "job_feature_names"):
        return list(model.job_feature_names())
    return [f"job_id={i}" for i in range(model.item_embeddings_.shape[0])]  # identities only


def _job_feature_matrix(model: Recommender, jobs: pd.DataFrame | None = None,
                        rows: np.ndarray | None = None) -> sp.csr_matrix:
    """The model's weighted job-feature rows (what ``job_feature_contributions`` multiplies)."""
    if jobs is not None:
        return sp.csr_matrix(model._job_rows_matrix(jobs), dtype=np.float32)
    return sp.csr_matrix(model.job_x_[rows], dtype=np.float32)

