"""The :class:`Ranker`: a fitted model's representations, the live catalogue, filters, reasons.

``rank()`` never calls the model's pair scorer: a request is one compiled pass over the jobs near the
seeker that checks the rules, scores the jobs that pass and keeps the best ``k``, then the reasons of
those ``k`` (see :mod:`recsys.api.scoring`). ``rank_many`` makes the same pass for every seeker of the
batch in one compiled call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
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
    JobFacts,
    Reason,
    Recommendation,
    describe,
    factor_contributions,
    feature_factors,
    top_reasons,
)
from recsys.api.scoring import Filters, top_k
from recsys.data.dataset import Dataset, IdMap
from recsys.data.schema import DISTRICTS, JOB_TYPES, SCHEMAS
from recsys.data.validate import TableValidationError, validate_table
from recsys.models.base import SEEN_EVENTS, Recommender

SeekerRef = str | Mapping[str, Any]


class Ranker:
    """Ranks the live job catalogue for known seekers (by id) and new seekers (by profile).

    Build one with :meth:`from_model` or :func:`recsys.api.load_ranker`. ``rank``/``rank_many`` are
    thread-safe; catalogue updates (``add_jobs``, ``remove_jobs``, ``expire``) build a new immutable
    :class:`~recsys.api.catalogue.Catalogue` and swap one reference, so a request sees one version.

    Parameters
    ----------
    model
        Fitted recommender with ``seeker_representations``, ``job_representations`` and the job
        feature layout (``item_embeddings_``, ``item_biases_``, ``job_feature_matrix()``,
        ``job_feature_names()``),
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
        self._nonfinite_rows = set(np.flatnonzero(~seeker_requests.finite).tolist())
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
        return cls(model, catalogue, seekers, requests, now, max_reasons=max_reasons).warm_up()

    def warm_up(self) -> Ranker:
        """Compile the ranking kernels now (or load them from numba's on-disk cache), so that the first
        request is not slow; returns ``self``. :meth:`from_model` and :func:`~recsys.api.load_ranker`
        call it. A no-op once the kernels are compiled in this process."""
        if len(self.seeker_ids) and len(self._catalogue):
            self.rank(self.seeker_ids.ids[0], k=1, max_commute_km=float("inf"), meets_requirements=False)
        return self

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
        requests, rows = self._requests([seeker])
        catalogue = self._catalogue  # one snapshot for the whole request
        positions, scores = top_k(catalogue, requests, rows, k, filters)
        return self._recommendations(catalogue, requests, rows, positions, scores, reasons)[0]

    def rank_many(self, seekers: Sequence[SeekerRef], k: int = 10, *, reasons: bool = True,
                  **filters: Any) -> list[list[Recommendation]]:
        """:meth:`rank` for many seekers at once; one list per seeker, in order.

        One compiled call ranks the whole batch; results equal :meth:`rank`'s exactly. ``reasons=False``
        skips the reasons (the wording is most of the cost of a large batch).
        """
        _check_k(k)
        if isinstance(seekers, (str, Mapping)):
            raise InvalidRequestError("rank_many expects a sequence of seeker ids or profiles; use rank() for one")
        request_filters = self._filters(**_filter_kwargs(filters))
        requests, rows = self._requests(list(seekers))
        catalogue = self._catalogue
        positions, scores = top_k(catalogue, requests, rows, k, request_filters)
        return self._recommendations(catalogue, requests, rows, positions, scores, reasons)

    def explain(self, seeker: SeekerRef, job_ids: Sequence[str]) -> pd.DataFrame:
        """Score and every factor's contribution for ``job_ids`` (catalogue jobs), one row per job.

        Columns: ``job_id``, ``score``, ``seeker_bias`` and one column per factor of
        :data:`recsys.api.reasons.FACTORS`; ``seeker_bias`` plus the factors equals ``score``.
        """
        catalogue = self._catalogue
        positions = _catalogue_positions(catalogue, job_ids)
        requests, rows = self._requests([seeker])
        embedding, bias = requests.embeddings[rows[0]], float(requests.biases[rows[0]])
        contributions = factor_contributions(catalogue.features, embedding, self._feature_embeddings,
                                             self._feature_biases, self._factors, rows=positions)
        scores = catalogue.embeddings[positions] @ embedding + catalogue.biases[positions]
        frame = pd.DataFrame(contributions, columns=list(FACTORS))
        frame.insert(0, "seeker_bias", bias)
        frame.insert(0, "score", scores.astype(np.float64) + bias)
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
        # representations from the same feature rows the reasons decompose (one featurization)
        features = _job_feature_matrix(self.model, jobs=jobs)
        embeddings, biases = features @ self._feature_embeddings, features @ self._feature_biases
        _check_finite(embeddings, biases, "new job representations")
        with self._update_lock:
            updated = self._catalogue.with_jobs(jobs, embeddings, biases, features)
            self._catalogue = updated
        return updated

    def remove_jobs(self, job_ids: Iterable[str]) -> Catalogue:
        """Remove filled or withdrawn postings; unknown ids raise :class:`UnknownJobError`."""
        job_ids = np.asarray(list(job_ids) if not isinstance(job_ids, str) else [job_ids], dtype=object)
        with self._update_lock:
            current = self._catalogue
            keep = np.ones(len(current), dtype=bool)
            keep[_catalogue_positions(current, job_ids)] = False
            updated = current.subset(keep)
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

    def _requests(self, seekers: list[SeekerRef]) -> tuple[SeekerRequests, np.ndarray]:
        """Arrays of the requested seekers: ``(requests, rows)``, seeker ``i`` is ``requests`` row ``rows[i]``.

        Known ids index the ranker's own arrays (no copy); ids and profiles may be mixed.
        """
        if not seekers:
            raise InvalidRequestError("no seekers given")
        is_id = [isinstance(s, str) for s in seekers]
        if all(is_id):
            rows = [self._seeker_row.get(s, -1) for s in seekers]
            if -1 in rows:
                raise UnknownSeekerError(f"unknown seeker id {seekers[rows.index(-1)]!r}; pass a profile mapping "
                                         f"with the seeker fields to rank a new seeker")
            if self._nonfinite_rows and not self._nonfinite_rows.isdisjoint(rows):
                raise NonFiniteScoreError("seeker representations contain NaN or infinite values; "
                                          "the model diverged or is corrupt")
            return self._known, np.array(rows, dtype=np.int64)
        is_id = np.asarray(is_id)
        parts, order_parts = [], []
        if is_id.any():
            known, rows = self._requests([s for s in seekers if isinstance(s, str)])
            parts.append(known.take(rows))
            order_parts.append(np.flatnonzero(is_id))
        frame = profiles_frame([s for s in seekers if not isinstance(s, str)], self._now)
        embeddings, biases = self.model.seeker_representations(seekers=frame)
        parts.append(SeekerRequests.from_table(frame, embeddings, biases, [np.empty(0, dtype=object)] * len(frame)))
        order_parts.append(np.flatnonzero(~is_id))
        requests = parts[0] if len(parts) == 1 else SeekerRequests.concat(parts, np.argsort(np.concatenate(order_parts)))
        if not requests.finite.all():
            raise NonFiniteScoreError("seeker representations contain NaN or infinite values; "
                                      "the model diverged or is corrupt")
        return requests, np.arange(len(seekers))

    # ------------------------------------------------------------------ reasons
    def _recommendations(self, catalogue: Catalogue, requests: SeekerRequests, rows: np.ndarray,
                         positions: np.ndarray, scores: np.ndarray, with_reasons: bool) -> list[list[Recommendation]]:
        """Recommendations of the seekers at ``rows`` of ``requests`` from their top positions ``(B, k)``.

        Positions -1 (fewer jobs passed) are dropped. Contributions, reasons and distances are computed for
        the whole batch at once (compiled); only the wording runs per job.
        """
        job_ids, position_rows, score_rows = catalogue.text["job_id"], positions.tolist(), scores.tolist()
        lengths = [row.index(-1) if row[-1] < 0 else len(row) for row in position_rows]  # -1 pads the end
        if not with_reasons:
            return [[Recommendation(job_ids[ps[i]], ss[i], i + 1, ()) for i in range(n)]
                    for ps, ss, n in zip(position_rows, score_rows, lengths, strict=True)]
        top_positions = [p for ps, n in zip(position_rows, lengths, strict=True) for p in ps[:n]]
        top = np.array(top_positions, dtype=np.int64)
        seeker_rows = np.repeat(rows, lengths)
        contributions = factor_contributions(catalogue.features, requests.vectors, self._feature_embeddings,
                                             self._feature_biases, self._factors, rows=top, seeker_of=seeker_rows)
        factors, shares = top_reasons(contributions, self.max_reasons)
        n_reasons = factors.shape[1]
        factors, shares = factors.ravel().tolist(), shares.ravel().tolist()  # flat: no list per job
        distance = np.hypot(catalogue.east_km[top] - requests.east_km[seeker_rows],
                            catalogue.north_km[top] - requests.north_km[seeker_rows]).tolist()
        wording, out, j = catalogue.wording, [], 0
        for row, score_row, n in zip(rows.tolist(), score_rows, lengths, strict=True):
            skills, wage = frozenset(requests.skills[row]), float(requests.reservation_wage[row])
            recommendations = []
            for rank in range(1, n + 1):
                position, km, reasons = top_positions[j], distance[j], []
                facts = JobFacts._make(wording[position])
                for i in range(j * n_reasons, (j + 1) * n_reasons):
                    if factors[i] < 0:  # -1 pads the end
                        break
                    code = FACTORS[factors[i]]
                    reasons.append(Reason(code, *describe(code, facts, km, skills, wage), shares[i]))
                recommendations.append(Recommendation(job_ids[position], score_row[rank - 1], rank, tuple(reasons)))
                j += 1
            out.append(recommendations)
        return out

    def with_catalogue(self, catalogue: Catalogue) -> Ranker:
        """A ranker sharing this one's model and seekers but serving ``catalogue`` (e.g. an old snapshot)."""
        return Ranker(self.model, catalogue, self.seekers, self._known, self._now, max_reasons=self.max_reasons)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the ranker (current catalogue) to directory ``path`` atomically; see :mod:`recsys.api.artifact`.

        A previous ranker at ``path`` is replaced; anything else there only with ``overwrite=True``
        (:class:`recsys.io.OutputExistsError` otherwise).
        """
        from recsys.api.artifact import save_ranker

        return save_ranker(self, path, overwrite=overwrite)

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
    """Boolean lookup over ``vocabulary`` codes: which values are allowed (``None``: all)."""
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


def _catalogue_positions(catalogue: Catalogue, job_ids: Sequence[str] | np.ndarray) -> np.ndarray:
    """Catalogue positions of ``job_ids``; an id not in the catalogue raises :class:`UnknownJobError`."""
    position_of = catalogue.position_of
    positions = [position_of.get(job_id, -1) for job_id in job_ids]
    if -1 in positions:
        missing = [job_id for job_id, p in zip(job_ids, positions, strict=True) if p < 0]
        raise UnknownJobError(f"job id {missing[0]!r} is not in the live catalogue "
                              f"({len(missing)} unknown of {len(job_ids)})")
    return np.array(positions, dtype=np.int64)


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
    return sp.csr_matrix(model.job_feature_matrix(jobs=jobs, rows=rows), dtype=np.float32)

