"""The :class:`Ranker`: a fitted model's representations, the live catalogue, filters, reasons.

``rank()`` never calls the model's pair scorer: a request is one compiled pass over the jobs near the
seeker that checks the rules, scores the jobs that pass and keeps the best ``k``, then the reasons of
those ``k`` (see :mod:`recsys.api.scoring`). ``rank_many`` makes the same pass for every seeker of the
batch in one compiled call.

The catalogue and the clock are published together as one immutable :class:`RankerState`; a request
reads the state once, and its result (a :class:`Ranking`) says which state version produced it.
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
from recsys.api.codec import RankerParts, read_ranker, write_ranker
from recsys.api.errors import (
    InvalidFilterError,
    InvalidRequestError,
    InvalidTimeError,
    NonFiniteScoreError,
    PlacementUnavailableError,
    UnknownJobError,
    UnknownSeekerError,
)
from recsys.api.kernels import placement_keys
from recsys.api.objectives import OBJECTIVE_CODES, ApplyCalibration, Objective, as_objective
from recsys.api.profile import PROFILE_FIELDS, SeekerRequests
from recsys.api.reasons import (
    FACTORS,
    PLACEMENT_FACTORS,
    JobFacts,
    Reason,
    Recommendation,
    describe,
    describe_placement,
    factor_contributions,
    feature_factors,
    top_reasons,
)
from recsys.api.requests import (
    DEFAULT_TIMEZONE,
    Filters,
    validate_filters,
    validate_jobs,
    validate_k,
    validate_profiles,
    validate_time,
)
from recsys.api.scoring import Rules, top_k
from recsys.data.dataset import Dataset, IdMap
from recsys.models.hiring import FEATURES as HIRING_FEATURES
from recsys.models.hiring import HiringModel, pair_feature_rows, skill_bits
from recsys.models.protocols import FactorModel, check_factor_model, check_factor_shapes

SeekerRef = str | Mapping[str, Any]
_DISTANCE = FACTORS.index("distance")


@dataclass(frozen=True, eq=False)
class RankerState:
    """One published state of a ranker: the catalogue and the clock, always swapped together.

    ``version`` is the catalogue's version; every update (``add_jobs``, ``remove_jobs``, ``expire``)
    publishes a new state with a higher version.
    """

    catalogue: Catalogue
    now: pd.Timestamp

    @property
    def version(self) -> int:
        return self.catalogue.version


_NO_PROBABILITY = np.empty(0)
"""Stands in for P(hire | apply) under ``objective="apply"`` (the kernel does not read it)."""

class Ranking(list):  # list[Recommendation]; subclassing the generic alias breaks pickling on 3.11
    """A seeker's recommendations (a plain list of :class:`Recommendation`, best first) and the state
    they were computed on: ``version`` (:attr:`RankerState.version`) and ``now`` (the request time).

    Compares equal to a list with the same recommendations.
    """

    def __init__(self, recommendations: Iterable[Recommendation] = (), *, version: int = -1,
                 now: pd.Timestamp | None = None) -> None:
        super().__init__(recommendations)
        self.version = version
        self.now = now


@dataclass(frozen=True, eq=False)
class TopLists:
    """Several seekers' top lists as flat arrays (:meth:`Ranker.top_lists`).

    Seeker ``i``'s list is the next ``lengths[i]`` entries of ``job_ids`` (object array of str) and
    ``scores`` (float32), best first; ``version`` and ``now`` as in :class:`Ranking`.
    """

    lengths: np.ndarray
    job_ids: np.ndarray
    scores: np.ndarray
    version: int
    now: pd.Timestamp


class Ranker:
    """Ranks the live job catalogue for known seekers (by id) and new seekers (by profile).

    Build one with :meth:`from_model` or :func:`recsys.api.load_ranker`. ``rank``/``rank_many`` are
    thread-safe; updates (``add_jobs``, ``remove_jobs``, ``expire``) build a new immutable
    :class:`RankerState` (catalogue and clock) and swap one reference, so a request sees one state.

    Parameters
    ----------
    model
        Fitted model satisfying :class:`~recsys.models.protocols.FactorModel` (e.g.
        :class:`~recsys.models.lightfm.LightFMHybrid`); anything else raises
        :class:`~recsys.models.protocols.UnservableModelError` naming what is missing.
    catalogue
        The initial live catalogue.
    seekers
        Known seekers (seekers schema columns); row ``i`` is described by ``seeker_requests`` row ``i``.
    seeker_requests
        Representations, filter fields and applied jobs of the known seekers.
    now
        Reference time: requests without ``now`` rank the jobs active at this time; ``expire`` moves it
        (never backwards).
    max_reasons
        Reasons given per recommended job (1 to ``len(FACTORS)``).
    timezone
        Timezone of naive times; times with an offset are converted to it.
    hiring, apply_calibration
        The hiring-probability model and the apply model's probability calibration the placement
        objectives need (:mod:`recsys.api.objectives`); without them only ``objective="apply"`` (with or
        without congestion) is served.
    """

    def __init__(self, model: FactorModel, catalogue: Catalogue, seekers: pd.DataFrame,
                 seeker_requests: SeekerRequests, now: Any, *, max_reasons: int = 3,
                 timezone: str = DEFAULT_TIMEZONE, hiring: HiringModel | None = None,
                 apply_calibration: ApplyCalibration | None = None) -> None:
        self.model = check_factor_model(model)
        if (hiring is None) != (apply_calibration is None):
            raise InvalidRequestError("hiring and apply_calibration go together: give both or neither")
        self.hiring, self.apply_calibration = hiring, apply_calibration
        self._known_skill_bits = skill_bits(seeker_requests.skills) if hiring is not None else np.empty((0, 0))
        if isinstance(max_reasons, bool) or not isinstance(max_reasons, (int, np.integer)) \
                or not 1 <= max_reasons <= len(FACTORS):
            raise InvalidRequestError(f"max_reasons must be an integer in [1, {len(FACTORS)}], got {max_reasons!r}")
        self.timezone = timezone
        self.seekers = seekers.reset_index(drop=True)
        self.seeker_ids = IdMap(self.seekers["seeker_id"].to_numpy(object))
        self._seeker_row = {seeker_id: row for row, seeker_id in enumerate(self.seeker_ids.ids)}
        self.max_reasons = int(max_reasons)
        self.profile_fields = tuple(f for f in PROFILE_FIELDS if f in self.seekers.columns)
        """Fields a profile must give: those of the known seekers' table (the model was fitted on them)."""
        self._known = seeker_requests
        self._nonfinite_rows = set(np.flatnonzero(~seeker_requests.finite).tolist())
        check_factor_shapes(self.model)
        embeddings, biases = self.model.feature_representations()
        self._feature_embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self._feature_biases = np.ascontiguousarray(biases, dtype=np.float32)
        self._factors = feature_factors(list(self.model.job_feature_names()))
        self._state = RankerState(catalogue, validate_time(now, "now", timezone=timezone))
        self._update_lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model(cls, model: FactorModel, dataset: Dataset, *, now: Any = None, max_reasons: int = 3,
                   timezone: str | None = None, hiring: HiringModel | None = None,
                   apply_calibration: ApplyCalibration | None = None) -> Ranker:
        """Ranker over the jobs of ``dataset`` active at ``now`` (default: the latest interaction time).

        Each posting's live application count starts at its ``apply`` events up to ``now``. ``hiring``
        (a fitted :class:`~recsys.models.hiring.HiringModel`) switches on the placement objectives; its
        ``apply_calibration`` defaults to :meth:`ApplyCalibration.fit` on the dataset up to ``now``.

        Known seekers are the dataset's seekers the model can represent; their applied jobs are the
        funnel's seen events (``apply``/``interview``/``hire`` for the synthetic funnel) up to ``now``.
        Jobs without ``posted_at`` / ``expires_at`` count as always active (:meth:`Dataset.active_jobs`).
        ``timezone`` defaults to the dataset's declared timezone, else :data:`DEFAULT_TIMEZONE`.
        """
        model = check_factor_model(model)
        timezone = timezone or dataset.timezone or DEFAULT_TIMEZONE
        now = validate_time(dataset.interactions["ts"].max() if now is None else now, "now", timezone=timezone)
        job_rows = np.flatnonzero(dataset.active_jobs(now) & model.representable_jobs())
        embeddings, biases = model.job_representations(rows=job_rows)
        catalogue = Catalogue.build(dataset.jobs.iloc[job_rows], embeddings, biases,
                                    _job_feature_matrix(model, rows=job_rows))
        _check_finite(catalogue.embeddings, catalogue.biases, "job representations")
        if "apply" in dataset.funnel.events:
            applied = dataset.interactions[dataset.event_mask("apply")
                                           & (dataset.interactions["ts"].to_numpy() <= np.datetime64(now))]
            counts = np.bincount(applied["job_row"].to_numpy(np.int64), minlength=dataset.n_jobs)[job_rows]
            positions = _catalogue_positions(catalogue, dataset.job_ids.to_ids(job_rows))
            catalogue = catalogue.with_applications(positions, counts, add=False, version=catalogue.version)
        if hiring is not None and apply_calibration is None:
            apply_calibration = ApplyCalibration.fit(model, dataset, now)

        seeker_rows = np.flatnonzero(model.representable_seekers())
        seeker_emb, seeker_bias = model.seeker_representations(rows=seeker_rows)
        past = dataset.with_interactions(dataset.interactions["ts"].to_numpy() <= np.datetime64(now))
        applied = past.seen_matrix()[seeker_rows]
        applied_ids = [dataset.job_ids.to_ids(applied.indices[applied.indptr[i]:applied.indptr[i + 1]])
                       for i in range(len(seeker_rows))]
        seekers = dataset.seekers.iloc[seeker_rows]
        requests = SeekerRequests.from_table(seekers, seeker_emb, seeker_bias, applied_ids)
        return cls(model, catalogue, seekers, requests, now, max_reasons=max_reasons,
                   timezone=timezone, hiring=hiring, apply_calibration=apply_calibration).warm_up()

    def warm_up(self) -> Ranker:
        """Compile the ranking kernels now (or load them from numba's on-disk cache), so that the first
        request is not slow; returns ``self``. :meth:`from_model` and :func:`~recsys.api.load_ranker`
        call it. A no-op once the kernels are compiled in this process."""
        if len(self.seeker_ids) and len(self._state.catalogue):
            self.rank(self.seeker_ids.ids[0], k=1, max_commute_km=float("inf"), meets_requirements=False)
            if self.hiring is not None:
                self.rank(self.seeker_ids.ids[0], k=1, max_commute_km=float("inf"), meets_requirements=False,
                          objective="surplus", congestion=1.0)
        return self

    # ------------------------------------------------------------------ properties
    @property
    def state(self) -> RankerState:
        """The current published state (catalogue and clock; immutable)."""
        return self._state

    @property
    def catalogue(self) -> Catalogue:
        """The current catalogue snapshot (immutable)."""
        return self._state.catalogue

    @property
    def now(self) -> pd.Timestamp:
        """Reference time of requests that give no ``now`` (naive, in :attr:`timezone`)."""
        return self._state.now

    @property
    def known_seekers(self) -> SeekerRequests:
        """Representations, filter fields and applied jobs of the known seekers (row ``i``: ``seekers`` row ``i``)."""
        return self._known

    # ------------------------------------------------------------------ ranking
    def rank(self, seeker: SeekerRef, k: int = 10, *, now: Any = None, max_commute_km: float | None = None,
             job_types: Iterable[str] | None = None, districts: Iterable[str] | None = None,
             meets_requirements: bool = True, exclude_applied: bool = True, reasons: bool = True,
             objective: str | Objective | Mapping[str, Any] | None = None, congestion: float | None = None
             ) -> Ranking:
        """Top-``k`` open jobs for one seeker, best first (a :class:`Ranking`: a list with the state version).

        Parameters
        ----------
        seeker
            A known seeker id, or a profile mapping with the seeker fields (:attr:`profile_fields`); a
            profile is ranked from its features. A profile whose ``seeker_id`` is a known seeker also
            excludes that seeker's applications (``exclude_applied``).
        k
            Number of jobs, 1 to :data:`recsys.api.requests.MAX_K` (fewer if fewer pass; never padded).
        now
            Only jobs with ``posted_at <= now < expires_at`` (default: :attr:`now`; an earlier time is
            refused: the catalogue no longer holds jobs that expired before the clock).
        max_commute_km
            Straight-line distance limit from the seeker's home (default: the seeker's own
            ``max_commute_km``; ``float("inf")`` for none). Refused when the postings or the seeker have
            no coordinates.
        job_types, districts
            Keep only these job types / districts (default: all); values must occur in the catalogue.
        meets_requirements
            Keep only jobs whose minimum education and age limits the seeker meets (unknown seeker
            education or age is not checked).
        exclude_applied
            Drop jobs the seeker already applied to.
        reasons
            Attach the reasons (main score factors) of each job.
        objective
            ``"apply"`` (default: how likely the seeker is to apply), ``"hire"`` or ``"surplus"``, or an
            :class:`~recsys.api.objectives.Objective` with its parameters (:mod:`recsys.api.objectives`
            defines each; ``hire`` and ``surplus`` need a ranker built with a hiring model, else
            :class:`~recsys.api.errors.PlacementUnavailableError`). The scores are then the objective's keys.
        congestion
            Strength of the congestion discount (overrides the objective's; default its own, 0 for a name).

        Every argument is checked by :mod:`recsys.api.requests`; a bad one raises a subclass of
        :class:`~recsys.api.errors.InvalidRequestError` naming the field.
        """
        k = validate_k(k)
        filters = validate_filters({"now": now, "max_commute_km": max_commute_km, "job_types": job_types,
                                    "districts": districts, "meets_requirements": meets_requirements,
                                    "exclude_applied": exclude_applied}, timezone=self.timezone)
        return self.rank_filtered([seeker], k, filters, reasons=reasons,
                                  objective=as_objective(objective, congestion))[0]

    def rank_many(self, seekers: Sequence[SeekerRef], k: int = 10, *, reasons: bool = True,
                  objective: str | Objective | Mapping[str, Any] | None = None, congestion: float | None = None,
                  **filters: Any) -> list[Ranking]:
        """:meth:`rank` for many seekers at once; one :class:`Ranking` per seeker, in order, all from
        one state.

        One compiled call ranks the whole batch; results equal :meth:`rank`'s exactly. ``reasons=False``
        skips the reasons (the wording is most of the cost of a large batch).
        """
        k = validate_k(k)
        if isinstance(seekers, (str, Mapping)) or not isinstance(seekers, (Sequence, np.ndarray)):
            raise InvalidRequestError("rank_many expects a sequence of seeker ids or profiles; use rank() for one")
        return self.rank_filtered(list(seekers), k, validate_filters(filters, timezone=self.timezone),
                                  reasons=reasons, objective=as_objective(objective, congestion))

    def rank_filtered(self, seekers: Sequence[SeekerRef], k: int, filters: Filters, *, reasons: bool = True,
                      state: RankerState | None = None, objective: Objective | None = None) -> list[Ranking]:
        """Rank ``seekers`` under already validated ``filters`` (:func:`~recsys.api.requests.validate_filters`)
        on one state (default: the current one). What :meth:`rank`, :meth:`rank_many` and the HTTP layer call."""
        if not isinstance(reasons, (bool, np.bool_)):
            raise InvalidFilterError("reasons", "must be a boolean", value=reasons)
        if not isinstance(filters, Filters):
            raise InvalidRequestError(f"filters must come from validate_filters(), got {type(filters).__name__}")
        objective = Objective() if objective is None else objective
        if not isinstance(objective, Objective):
            raise InvalidRequestError(f"objective must come from as_objective(), got {type(objective).__name__}")
        if objective.needs_hiring and self.hiring is None:
            raise PlacementUnavailableError(f"objective {objective.name!r} needs a hiring model; build the ranker "
                                            f"with Ranker.from_model(..., hiring=HiringModel().fit(dataset))")
        state = self._state if state is None else state  # one snapshot for the whole request
        requests, rows = self._requests(seekers)
        rules, now = self._rules(state, filters, requests, rows)
        k = validate_k(k)
        if objective.plain:
            positions, scores = top_k(state.catalogue, requests, rows, k, rules)
            lists = self._recommendations(state.catalogue, requests, rows, positions, scores, bool(reasons))
        else:
            candidates, candidate_scores = top_k(state.catalogue, requests, rows, max(k, objective.candidates), rules)
            positions, scores, terms = self._placement_rerank(state.catalogue, requests, rows, candidates,
                                                              candidate_scores, k, objective, now.value)
            lists = self._recommendations(state.catalogue, requests, rows, positions, scores, bool(reasons),
                                          placement=terms)
        return [Ranking(recs, version=state.version, now=now) for recs in lists]

    def top_lists(self, seekers: Sequence[SeekerRef] | np.ndarray, k: int = 10, **filters: Any) -> TopLists:
        """The top-``k`` lists of :meth:`rank_many` (``reasons=False``, apply objective) as flat arrays.

        The same jobs, order and scores as :meth:`rank_many`, without a :class:`Recommendation` object
        per job: what batch writers (``recsys-recommend``) need for millions of rows.
        """
        k = validate_k(k)
        if isinstance(seekers, (str, Mapping)) or not isinstance(seekers, (Sequence, np.ndarray)):
            raise InvalidRequestError("top_lists expects a sequence of seeker ids or profiles")
        valid = validate_filters(filters, timezone=self.timezone)
        state = self._state  # one snapshot for the whole request
        requests, rows = self._requests(list(seekers))
        rules, now = self._rules(state, valid, requests, rows)
        positions, scores = top_k(state.catalogue, requests, rows, k, rules)
        found = positions >= 0  # -1 pads the end of a short list
        return TopLists(lengths=found.sum(axis=1), job_ids=state.catalogue.job_ids[positions[found]],
                        scores=scores[found], version=state.version, now=now)

    def _placement_rerank(self, catalogue: Catalogue, requests: SeekerRequests, rows: np.ndarray,
                          candidates: np.ndarray, scores: np.ndarray, k: int, objective: Objective, now_ns: int
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Second stage: each seeker's candidates (the apply model's best, ``(B, N)``) ordered by the
        objective's key; returns the best ``k`` positions, keys and ``(B, k, 4)`` placement terms:
        hire term and congestion term relative to the seeker's candidates' mean, P(hire | apply),
        competitors per opening (NaN where not computed)."""
        valid = candidates >= 0
        counts = valid.sum(axis=1)
        flat = candidates[valid]
        pair_seeker = np.repeat(np.arange(len(rows)), counts)
        probability = _NO_PROBABILITY
        if objective.needs_hiring:
            assert self.hiring is not None
            bits = self._known_skill_bits if requests is self._known else skill_bits(requests.skills)
            features = np.empty((len(flat), len(HIRING_FEATURES)), dtype=np.float32)
            pair_feature_rows(bits, requests.education, requests.experience_years, requests.age, requests.east_km,
                              requests.north_km, requests.reservation_wage, catalogue.skill_bits,
                              catalogue.min_education, catalogue.age_min, catalogue.age_max, catalogue.east_km,
                              catalogue.north_km, catalogue.monthly_wage, catalogue.posted_ns, catalogue.vacancies,
                              rows[pair_seeker], flat,
                              np.full(len(flat), now_ns, dtype=np.int64), catalogue.applications[flat].astype(np.float64),
                              features)
            probability = self.hiring.predict_features(features, "hire")
        calibration = self.apply_calibration or ApplyCalibration()
        # one compiled pass: key, hire term, congestion term, competitors per opening (objective_keys' definition)
        pairs = np.empty((len(flat), 4))
        placement_keys(scores[valid], probability, flat, catalogue.applications, catalogue.vacancies,
                       catalogue.posted_ns, catalogue.expires_ns, now_ns, OBJECTIVE_CODES[objective.name],
                       objective.surplus_sigma, calibration.slope, calibration.intercept, objective.congestion,
                       objective.horizon_days, pairs)
        b, n = candidates.shape
        grid = np.full((b, n), -np.inf)
        grid[valid] = pairs[:, 0]
        order = np.argsort(-grid, axis=1, kind="stable")[:, :k]  # ties keep the apply model's order
        seeker = np.arange(b)[:, None]
        positions = np.where(valid[seeker, order], candidates[seeker, order], -1)
        top_keys = grid[seeker, order]
        pair_of = np.full((b, n), -1, dtype=np.int64)
        pair_of[valid] = np.arange(len(flat))
        chosen = pair_of[seeker, order]
        shown = chosen >= 0
        picked = chosen[shown]
        terms = np.full(chosen.shape + (4,), np.nan)
        for column in (1, 2):  # hire and congestion terms relative to the seeker's candidates' mean
            mean = np.bincount(pair_seeker, pairs[:, column], minlength=b) / np.maximum(counts, 1)
            terms[..., column - 1][shown] = pairs[picked, column] - mean[pair_seeker[picked]]
        if objective.needs_hiring:
            terms[..., 2][shown] = probability[picked]
        terms[..., 3][shown] = pairs[picked, 3]
        return positions, top_keys.astype(np.float32), terms

    def explain(self, seeker: SeekerRef, job_ids: Sequence[str]) -> pd.DataFrame:
        """Score and every factor's contribution for ``job_ids`` (catalogue jobs), one row per job.

        Columns: ``job_id``, ``score``, ``seeker_bias`` and one column per factor of
        :data:`recsys.api.reasons.FACTORS`; ``seeker_bias`` plus the factors equals ``score``.
        """
        catalogue = self._state.catalogue
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
        """Add (or replace) postings; each is ranked from its features at once. Returns the new snapshot.

        Every value is checked first (:func:`~recsys.api.requests.validate_jobs`; times with an offset
        are converted to :attr:`timezone`); only ``job_id`` is required.
        """
        jobs = validate_jobs(jobs, timezone=self.timezone)
        if not self.model.serves_new_jobs:
            raise InvalidRequestError(f"{type(self.model).__name__} cannot represent new postings; "
                                      f"use a hybrid model to add jobs without retraining")
        # representations from the same feature rows the reasons decompose (one featurization)
        features = _job_feature_matrix(self.model, jobs=jobs)
        if features.shape != (len(jobs), len(self._feature_biases)):
            raise InvalidRequestError(f"add_jobs: the model made feature rows of shape {features.shape} for "
                                      f"{len(jobs)} postings")
        embeddings, biases = features @ self._feature_embeddings, features @ self._feature_biases
        _check_finite(embeddings, biases, "new job representations")
        with self._update_lock:
            state = self._state
            updated = state.catalogue.with_jobs(jobs, embeddings, biases, features)
            self._state = RankerState(updated, state.now)
        return updated

    def record_applications(self, job_ids: Iterable[str] | str, counts: Iterable[int] | None = None) -> Catalogue:
        """Count new applications to postings (one each, or ``counts[i]`` for ``job_ids[i]``; a job may
        repeat); publishes a new state, so the congestion discount sees them from the next request on.

        Unknown ids raise :class:`UnknownJobError`; counts must be non-negative integers. Nothing changes
        on error.
        """
        ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
        bad = [j for j in ids if not isinstance(j, str)]
        if bad:
            raise InvalidRequestError(f"record_applications: job ids must be strings, got {bad[0]!r}")
        if counts is None:
            amounts = np.ones(len(ids), dtype=np.int64)
        else:
            raw = list(counts)
            if len(raw) != len(ids):
                raise InvalidFilterError("counts", f"must have one entry per job id ({len(ids)}), got {len(raw)}",
                                         show_value=False)
            for row, value in enumerate(raw):
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
                    raise InvalidFilterError("counts", "must be a non-negative integer", row=row, value=value)
            amounts = np.asarray(raw, dtype=np.int64)
        with self._update_lock:
            state = self._state
            positions = _catalogue_positions(state.catalogue, np.asarray(ids, dtype=object))
            updated = state.catalogue.with_applications(positions, amounts)
            self._state = RankerState(updated, state.now)
        return updated

    def remove_jobs(self, job_ids: Iterable[str]) -> Catalogue:
        """Remove filled or withdrawn postings; unknown ids raise :class:`UnknownJobError`."""
        ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
        bad = [j for j in ids if not isinstance(j, str)]
        if bad:
            raise InvalidRequestError(f"remove_jobs: job ids must be strings, got {bad[0]!r}")
        with self._update_lock:
            state = self._state
            keep = np.ones(len(state.catalogue), dtype=bool)
            keep[_catalogue_positions(state.catalogue, np.asarray(ids, dtype=object))] = False
            updated = state.catalogue.subset(keep)
            self._state = RankerState(updated, state.now)
        return updated

    def expire(self, now: Any) -> Catalogue:
        """Drop postings expired at ``now`` and make ``now`` the default request time.

        The clock never moves backwards: a ``now`` earlier than :attr:`now` raises
        :class:`~recsys.api.errors.InvalidTimeError` and changes nothing.
        """
        now = validate_time(now, "now", timezone=self.timezone)
        with self._update_lock:
            state = self._state
            if now < state.now:
                raise InvalidTimeError("now", f"is earlier than the ranker's clock {state.now}; the clock never "
                                       f"moves backwards", value=now)
            updated = state.catalogue.subset(state.catalogue.expires_ns > now.value)
            self._state = RankerState(updated, now)
        return updated

    # ------------------------------------------------------------------ request parsing
    def _rules(self, state: RankerState, filters: Filters, requests: SeekerRequests, rows: np.ndarray
               ) -> tuple[Rules, pd.Timestamp]:
        """The catalogue-level rules of validated ``filters`` on ``state``, and the request time."""
        catalogue = state.catalogue
        now = state.now if filters.now is None else filters.now
        if now < state.now:
            raise InvalidTimeError("now", f"is before the ranker's clock {state.now}: postings that expired before "
                                   f"it are no longer in the catalogue", value=filters.now)
        limit = filters.max_commute_km
        if limit is not None and limit != float("inf"):
            if not catalogue.has_locations:
                raise InvalidFilterError("max_commute_km", "no posting has coordinates (lat/lon), so the commute "
                                         "filter is off; omit it", value=limit)
            unlocated = np.isnan(requests.east_km[rows]) | np.isnan(requests.north_km[rows])
            if unlocated.any():
                raise InvalidFilterError("max_commute_km", "the seeker has no coordinates (lat/lon), so a "
                                         "commute limit cannot be applied", row=int(np.flatnonzero(unlocated)[0]),
                                         value=limit)
        return Rules(now_ns=now.value, max_commute_km=limit,
                     job_types=_lookup(filters.job_types, catalogue, "job_type", "job_types"),
                     districts=_lookup(filters.districts, catalogue, "district", "districts"),
                     meets_requirements=filters.meets_requirements,
                     exclude_applied=filters.exclude_applied), now

    def _requests(self, seekers: Sequence[SeekerRef]) -> tuple[SeekerRequests, np.ndarray]:
        """Arrays of the requested seekers: ``(requests, rows)``, seeker ``i`` is ``requests`` row ``rows[i]``.

        Known ids index the ranker's own arrays (no copy); ids and profiles may be mixed.
        """
        if not seekers:
            raise InvalidRequestError("no seekers given")
        is_id = np.array([isinstance(s, str) for s in seekers], dtype=bool)
        if is_id.all():
            known_rows = [self._seeker_row.get(s, -1) for s in seekers if isinstance(s, str)]
            if -1 in known_rows:
                raise UnknownSeekerError(f"unknown seeker id {seekers[known_rows.index(-1)]!r}; pass a profile "
                                         f"mapping with the seeker fields to rank a new seeker")
            if self._nonfinite_rows and not self._nonfinite_rows.isdisjoint(known_rows):
                raise NonFiniteScoreError("seeker representations contain NaN or infinite values; "
                                          "the model diverged or is corrupt")
            return self._known, np.array(known_rows, dtype=np.int64)
        parts: list[SeekerRequests] = []
        order_parts: list[np.ndarray] = []
        if is_id.any():
            known, id_rows = self._requests([s for s in seekers if isinstance(s, str)])
            parts.append(known.take(id_rows))
            order_parts.append(np.flatnonzero(is_id))
        frame = validate_profiles([s for s in seekers if not isinstance(s, str)], self._state.now,
                                  required=self.profile_fields, timezone=self.timezone)
        embeddings, biases = self.model.seeker_representations(seekers=frame)
        # a profile naming a known seeker carries that seeker's applications (never silently dropped)
        empty = np.empty(0, dtype=object)
        applied = [self._known.applied[self._seeker_row[sid]] if sid in self._seeker_row else empty
                   for sid in frame["seeker_id"].tolist()]
        parts.append(SeekerRequests.from_table(frame, embeddings, biases, applied))
        order_parts.append(np.flatnonzero(~is_id))
        requests = parts[0] if len(parts) == 1 else SeekerRequests.concat(parts, np.argsort(np.concatenate(order_parts)))
        if not requests.finite.all():
            raise NonFiniteScoreError("seeker representations contain NaN or infinite values; "
                                      "the model diverged or is corrupt")
        return requests, np.arange(len(seekers))

    # ------------------------------------------------------------------ reasons
    def _recommendations(self, catalogue: Catalogue, requests: SeekerRequests, rows: np.ndarray,
                         positions: np.ndarray, scores: np.ndarray, with_reasons: bool,
                         placement: np.ndarray | None = None) -> list[list[Recommendation]]:
        """Recommendations of the seekers at ``rows`` of ``requests`` from their top positions ``(B, k)``.

        Positions -1 (fewer jobs passed) are dropped. ``placement`` ``(B, k, 4)`` (from
        :meth:`_placement_rerank`) adds the placement reasons: a term of the objective's key
        (:data:`~recsys.api.reasons.PLACEMENT_FACTORS`) above the seeker's candidates' mean comes first,
        largest first, then the apply model's factors fill the remaining places. Contributions, reasons and distances are computed for
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
        distance = np.hypot(catalogue.east_km[top] - requests.east_km[seeker_rows],
                            catalogue.north_km[top] - requests.north_km[seeker_rows])
        unknown_distance = np.isnan(distance)
        if unknown_distance.any():  # no coordinates: no distance reason (it could not say how far)
            contributions[unknown_distance, _DISTANCE] = -np.inf
        factor_array, share_array = top_reasons(contributions, self.max_reasons)
        n_reasons = factor_array.shape[1]
        factors, shares = factor_array.ravel().tolist(), share_array.ravel().tolist()  # flat: no list per job
        distances = distance.tolist()
        extras = (placement.reshape(-1, placement.shape[-1])[(positions >= 0).ravel()].tolist()
                  if placement is not None else None)
        wording, out, j = catalogue.wording, [], 0
        for row, score_row, n in zip(rows.tolist(), score_rows, lengths, strict=True):
            skills, wage = frozenset(requests.skills[row]), float(requests.reservation_wage[row])
            recommendations = []
            for rank in range(1, n + 1):
                position, km, reasons = top_positions[j], distances[j], []
                facts = JobFacts._make(wording[position])
                if extras is not None:
                    hire_share, crowd_share, probability, crowding = extras[j]
                    terms_order = ((hire_share, 0), (crowd_share, 1)) if not crowd_share > hire_share \
                        else ((crowd_share, 1), (hire_share, 0))
                    for share, which in terms_order:  # largest first; NaN (term not computed) is never > 0
                        if share > 1e-9:
                            code = PLACEMENT_FACTORS[which]
                            reasons.append(Reason(code, *describe_placement(code, probability, crowding), share))
                for i in range(j * n_reasons, (j + 1) * n_reasons):
                    if factors[i] < 0 or len(reasons) >= n_reasons:  # -1 pads the end
                        break
                    code = FACTORS[factors[i]]
                    reasons.append(Reason(code, *describe(code, facts, km, skills, wage), shares[i]))
                recommendations.append(Recommendation(job_ids[position], score_row[rank - 1], rank, tuple(reasons)))
                j += 1
            out.append(recommendations)
        return out

    def with_catalogue(self, catalogue: Catalogue) -> Ranker:
        """A ranker sharing this one's model and seekers but serving ``catalogue`` (e.g. an old snapshot)."""
        return self.with_state(RankerState(catalogue, self._state.now))

    def with_state(self, state: RankerState) -> Ranker:
        """A ranker sharing this one's model and seekers but serving ``state`` (e.g. a state a result claims)."""
        return Ranker(self.model, state.catalogue, self.seekers, self._known, state.now,
                      max_reasons=self.max_reasons, timezone=self.timezone, hiring=self.hiring,
                      apply_calibration=self.apply_calibration)

    # ------------------------------------------------------------------ persistence
    def parts(self) -> RankerParts:
        """What :mod:`recsys.api.codec` saves: model, current state, known seekers and settings."""
        state = self._state
        return RankerParts(model=self.model, catalogue=state.catalogue, seekers=self.seekers,
                           requests=self._known, now=state.now, max_reasons=self.max_reasons,
                           timezone=self.timezone, hiring=self.hiring, apply_calibration=self.apply_calibration)

    @classmethod
    def from_parts(cls, parts: RankerParts) -> Ranker:
        """The ranker of ``parts`` (as read by :func:`recsys.api.codec.read_ranker`)."""
        return cls(parts.model, parts.catalogue, parts.seekers, parts.requests, parts.now,
                   max_reasons=parts.max_reasons, timezone=parts.timezone, hiring=parts.hiring,
                   apply_calibration=parts.apply_calibration)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the ranker (current state) to directory ``path`` atomically; see :mod:`recsys.api.codec`.

        A previous ranker at ``path`` is replaced; anything else there only with ``overwrite=True``
        (:class:`recsys.io.OutputExistsError` otherwise).
        """
        return write_ranker(self.parts(), path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> Ranker:
        """Read a ranker written by :meth:`save`; raises :class:`~recsys.api.errors.ArtifactError` on any problem."""
        return cls.from_parts(read_ranker(path))

    def __repr__(self) -> str:
        state = self._state
        return (f"Ranker(model={type(self.model).__name__}, jobs={len(state.catalogue)}, "
                f"seekers={len(self.seeker_ids)}, now={state.now}, version={state.version})")


# ---------------------------------------------------------------------- helpers
def _lookup(values: tuple[str, ...] | None, catalogue: Catalogue, column: str, field: str) -> np.ndarray | None:
    """Boolean lookup over the catalogue's codes of ``column`` (index 0 = missing): which are allowed."""
    if values is None:
        return None
    vocabulary = catalogue.vocabularies[column]
    unknown = [v for v in values if v not in vocabulary]
    if unknown:
        known = f"known: {list(vocabulary)[:50]}" if vocabulary else f"the postings have no {column} values"
        raise InvalidFilterError(field, f"{unknown[0]!r} is not a {column} of any posting in the catalogue ({known})",
                                 value=list(values))
    lookup = np.zeros(len(vocabulary) + 1, dtype=bool)
    lookup[1:] = np.isin(np.asarray(vocabulary, dtype=object), list(values))
    return lookup


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


def _job_feature_matrix(model: FactorModel, jobs: pd.DataFrame | None = None,
                        rows: np.ndarray | None = None) -> sp.csr_matrix:
    """The model's weighted job-feature rows (what the reasons decompose)."""
    return sp.csr_matrix(model.job_feature_matrix(jobs=jobs, rows=rows), dtype=np.float32)
