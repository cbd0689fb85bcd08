"""Content-based recommender: text similarity plus a structured match, weights learned from applications.

Every (seeker, job) pair is described by a few match features computed from the two profiles only,
so the model serves cold seekers and new postings. Each term needs its input columns; a term whose
inputs are absent (or all null) in the training tables is left out (``skipped_terms_`` says why), and
missing values in a column that is present count as stated in the table:

==================  ==========================================================  ===============================
term                definition                                                  needs (seeker / job columns)
==================  ==========================================================  ===============================
text_skill_sim      cosine between the job's TF-IDF (title + description) and   skills / title or description
                    the seeker's skill profile mapped into text space (mean     (and skills, if any)
                    TF-IDF of training jobs that require each skill, summed
                    over the seeker's skills; when no posting lists skills,
                    the TF-IDF of the skill names themselves)
text_history_sim    cosine between the job's TF-IDF and the seeker's applied    - / title or description
                    jobs' TF-IDF (0 if none)
skill_overlap       share of the job's required skills the seeker has           skills / skills
log_commute_km      ``log(1 + haversine km)`` between seeker and job (unknown:  lat, lon / lat, lon
                    the training mean)
beyond_commute      1 if the distance exceeds the seeker's ``max_commute_km``   lat, lon, max_commute_km /
                    (unknown: 0)                                                lat, lon
wage_ratio          ``log(job monthly wage / reservation wage)`` clipped to     reservation_wage / wage_min or
                    [-1, 1] (unknown: the training mean)                        wage_max (wage_unit)
below_reservation   1 if the job's monthly wage is below the reservation wage   as wage_ratio
                    (unknown: 0)
type_fit            1 if the job type is among the seeker's desired job types   desired_job_types / job_type
education_met       1 unless the seeker's education is below the posting's      education / min_education
                    minimum (levels of :data:`recsys.data.schema.EDUCATION_LEVELS`;
                    other values count as unknown, and unknown as met)
age_met             1 unless the seeker's age is outside the posting's stated   age / age_min or age_max
                    limits (unknown: met)
same_district       1 if both are in the same district (any strings; unknown    district / district
                    never matches)
group x schedule,   one weight per (seeker group flag, job schedule or job      is_graduate, is_4050, ... /
group x job_type    type value) pair: who likes night shifts or gig work is     schedule, job_type
                    learned, not assumed; values are those in the data
==================  ==========================================================  ===============================

Weights come from a logistic regression (scikit-learn) of applied pairs against sampled pairs of the
same seeker and a job active at the time of the application but not applied to (without ``posted_at`` /
``expires_at`` every job counts as active). The score is the regression's decision function, computed
per block of seekers x jobs with matrix products.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler, normalize

from recsys.data.dataset import Dataset
from recsys.data.schema import EDUCATION_LEVELS, SEEKER_GROUPS
from recsys.features import JobFeatures, job_monthly_wage, seeker_profiles
from recsys.features.blocks import (
    TEXT_ANALYZERS,
    MissingInputError,
    MultiLabelBlock,
    NoUsableFeaturesError,
    TextBlock,
)
from recsys.models._common import (
    check_choice,
    check_number,
    csr_from_arrays,
    csr_to_arrays,
    datetime64,
    last_event_time,
    require_events,
    split_state,
    time_column,
)
from recsys.models.base import ModelFormatError, Recommender

logger = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0
PAIR_FEATURES = ("text_skill_sim", "text_history_sim", "skill_overlap", "log_commute_km", "beyond_commute",
                 "wage_ratio", "below_reservation", "type_fit", "education_met", "age_met", "same_district")
"""Every pair term, in design order (the usable ones are ``Content.terms_``)."""
IMPUTED_TERMS = ("log_commute_km", "wage_ratio")
"""Continuous terms whose unknown values (a missing coordinate or wage) take their training mean."""
CONTENT_STATE_VERSION = 2
"""Version of Content's saved state (2: terms chosen from the columns present, learned vocabularies)."""


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km; arguments broadcast (e.g. ``(b, 1)`` against ``(1, n)``)."""
    lat1, lon1, lat2, lon2 = (np.radians(a) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _l2_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (zero rows stay zero); an empty matrix as it is."""
    matrix = sp.csr_matrix(matrix)
    return matrix if 0 in matrix.shape else sp.csr_matrix(normalize(matrix, norm="l2"))


class Content(Recommender):
    """Profile match with learned weights; serves warm and cold seekers, old and new jobs.

    Parameters
    ----------
    text_max_features
        TF-IDF vocabulary size over job title + description.
    n_negatives
        Sampled non-applied active jobs per applied pair.
    max_positives
        Applied pairs used for training at most (sampled), bounding fit time.
    C
        Inverse L2 strength of the logistic regression.
    random_state
        Seed of the pair sampling (same seed, same weights).
    batch_size
        Seekers scored per block (memory ``~ 8 x batch_size x n_jobs`` bytes per feature).
    events
        Events that make a (seeker, job) pair a positive, and the seeker's history for
        ``text_history_sim`` (default ``None``: the dataset funnel's ``seen_events``, applications and
        later stages). Any events of the dataset's funnel, e.g. ``("click", "bookmark")``. ``fit``
        raises :class:`~recsys.models.base.NoTrainingEventsError` if the training data has none of them.
    text_analyzer
        Job-text analyser: ``"auto"`` (character n-grams for Chinese, word n-grams for Latin scripts),
        ``"char"`` or ``"word"``.
    completed_trainings
        Seeker skills include those of the trainings completed before the time the training data is frozen
        at (:func:`~recsys.features.seeker_profiles`; default ``False``: profile skills only). Without a
        ``trainings`` table it does nothing.

    Terms whose input columns are absent or all null are skipped (module docstring); if no term at all
    is usable (ids and events only), ``fit`` raises :class:`~recsys.features.blocks.NoUsableFeaturesError`
    (a subclass of :class:`~recsys.features.FeatureError`): use a collaborative model instead.

    Attributes
    ----------
    terms_ : list of str
        Pair terms used, in :data:`PAIR_FEATURES` order.
    skipped_terms_ : dict
        Term -> why it was left out (its input columns).
    feature_names_ : list of str
        ``terms_`` then the group x category crosses, one per coefficient.
    """

    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, text_max_features: int | None = 2000, n_negatives: int = 8, max_positives: int = 50_000,
                 C: float = 1.0, random_state: int = 0, batch_size: int = 256,
                 events: Sequence[str] | None = None, text_analyzer: str = "auto",
                 completed_trainings: bool = False) -> None:
        self.text_max_features = text_max_features
        self.n_negatives = n_negatives
        self.max_positives = max_positives
        self.C = C
        self.random_state = random_state
        self.batch_size = batch_size
        self.events = events
        self.text_analyzer = text_analyzer
        self.completed_trainings = completed_trainings

    # ------------------------------------------------------------------ fitting
    def _fit(self, dataset: Dataset) -> None:
        check_number(self, "text_max_features", self.text_max_features, low=0, integer=True, allow_none=True)
        check_number(self, "n_negatives", self.n_negatives, low=0, integer=True)
        check_number(self, "max_positives", self.max_positives, low=0, integer=True)
        check_number(self, "C", self.C, low=0.0)
        check_number(self, "random_state", self.random_state, low=0, strict=False, integer=True)
        check_number(self, "batch_size", self.batch_size, low=0, integer=True)
        check_choice(self, "text_analyzer", self.text_analyzer, TEXT_ANALYZERS)
        if len(dataset.interactions) == 0:
            raise ValueError("Content: the training dataset has no interactions")
        events = require_events(self, dataset, list(dataset.funnel.seen_events if self.events is None else self.events))
        seekers, jobs = seeker_profiles(dataset, self.completed_trainings), dataset.jobs
        last_ts = last_event_time(dataset)
        past = time_column(jobs, "posted_at", "min") <= last_ts
        self.text_features_ = JobFeatures(blocks=("text",), text_max_features=self.text_max_features,
                                          text_analyzer=self.text_analyzer).fit(jobs.loc[past] if past.any() else jobs)
        skill_lists = [frame["skills"] for frame in (jobs, seekers) if "skills" in frame.columns]
        skills = MultiLabelBlock("skills", "skills")
        try:
            skills.fit(pd.DataFrame({"skills": pd.concat(skill_lists, ignore_index=True) if skill_lists else []}))
        except MissingInputError:  # no skill anywhere: empty vocabulary, the skill terms are skipped
            skills.set_state({}, {"classes": []})
        self.skill_names_ = list(skills.classes)
        self._profile_arrays(seekers, jobs, skills)
        self._choose_terms(seekers, jobs)

        # seeker x job weight of the furthest positive stage (the dataset's default weights; 1 for events it
        # has none for): weighs the history text; its non-zeros are the pairs never sampled as negatives
        applied = dataset.interaction_matrix({e: float(dataset.funnel.weights.get(e, 1.0)) for e in events},
                                             events=events)
        # skill -> text: mean TF-IDF of the past jobs requiring each skill; if postings list no skills,
        # the TF-IDF of the skill's own name (matched against the job text)
        if self.job_skills_.any() or not self.skill_names_:
            job_skills_past = sp.csr_matrix(self.job_skills_ * past[:, None])
            centroids = _l2_rows(job_skills_past.T @ self.job_text_)
        elif self.text_features_.blocks_ and isinstance(text_block := self.text_features_.blocks_[0], TextBlock):
            centroids = _l2_rows(text_block.vectorize(self.skill_names_))
        else:  # no text: the text terms are skipped
            centroids = sp.csr_matrix((len(self.skill_names_), self.job_text_.shape[1]), dtype=np.float32)
        self.skill_to_job_ = np.asarray((centroids @ self.job_text_.T).todense(), dtype=np.float32)
        self.skill_gram_ = np.asarray((centroids @ centroids.T).todense(), dtype=np.float32)
        self.history_text_ = sp.csr_matrix(_l2_rows(applied @ self.job_text_), dtype=np.float32)

        seeker_idx, job_idx, label = self._sample_pairs(dataset, applied, events)
        self.fill_: dict[str, float] = {}
        columns = []
        for name, column in self._terms(seeker_idx, job_idx, grid=False):
            if name in IMPUTED_TERMS:
                known = np.isfinite(column)
                self.fill_[name] = float(column[known].mean()) if known.any() else 0.0
                column = np.where(known, column, self.fill_[name])
            columns.append(column)
        design = np.column_stack(columns)
        scaler = StandardScaler().fit(design)
        regression = LogisticRegression(C=self.C, max_iter=1000).fit(scaler.transform(design), label)
        coef = regression.coef_.ravel() / scaler.scale_
        self.coef_ = coef.astype(np.float64)
        self.intercept_ = float(regression.intercept_[0] - (coef * scaler.mean_).sum())
        self.feature_names_ = [*self.terms_, *self.cross_names_]
        self.n_training_pairs_ = int(len(label))

    def _profile_arrays(self, seekers: pd.DataFrame, jobs: pd.DataFrame, skills: MultiLabelBlock) -> None:
        """Per-row arrays the terms read; absent columns give NaN / zero columns."""
        education = {level: rank for rank, level in enumerate(EDUCATION_LEVELS) if level != "unknown"}

        def numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
            if column not in frame.columns:
                return np.full(len(frame), np.nan)
            return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

        def ranks(frame: pd.DataFrame, column: str) -> np.ndarray:
            if column not in frame.columns:
                return np.full(len(frame), np.nan)
            return frame[column].astype(object).map(education).to_numpy(dtype=float, na_value=np.nan)

        def lists(frame: pd.DataFrame, column: str, block: MultiLabelBlock) -> np.ndarray:
            if column not in frame.columns:
                return np.zeros((len(frame), len(block.classes)))
            return block.transform(frame).toarray()

        def values(frame: pd.DataFrame, column: str) -> pd.Series:
            if column not in frame.columns:
                return pd.Series(np.full(len(frame), None, dtype=object))
            return frame[column].astype(object).where(frame[column].notna(), None)

        self.seeker_skills_ = lists(seekers, "skills", skills)
        self.job_skills_ = lists(jobs, "skills", skills)
        self.job_text_ = self.text_features_.transform(jobs)
        self.seeker_numeric_ = np.column_stack([
            numeric(seekers, "lat"), numeric(seekers, "lon"), numeric(seekers, "max_commute_km"),
            numeric(seekers, "reservation_wage"), ranks(seekers, "education"), numeric(seekers, "age")])
        wage = (job_monthly_wage(jobs) if {"wage_min", "wage_max"} & set(jobs.columns)
                else np.full(len(jobs), np.nan))
        self.job_numeric_ = np.column_stack([
            numeric(jobs, "lat"), numeric(jobs, "lon"), wage, ranks(jobs, "min_education"),
            numeric(jobs, "age_min"), numeric(jobs, "age_max")])
        # districts as codes over the values of both tables; unknown: -1 (seekers) and -2 (jobs), never equal
        seeker_district, job_district = values(seekers, "district"), values(jobs, "district")
        known = pd.concat([seeker_district, job_district], ignore_index=True).dropna().astype(str)
        districts = pd.Index(np.unique(known.to_numpy(dtype=object)))
        self.district_names_ = [str(d) for d in districts]
        self.seeker_district_ = np.where(seeker_district.notna(), districts.get_indexer(
            seeker_district.fillna("").astype(str)), -1).astype(np.int64)
        self.job_district_ = np.where(job_district.notna(), districts.get_indexer(
            job_district.fillna("").astype(str)), -2).astype(np.int64)
        # open vocabularies: the schedule and job-type values of the postings, in sorted order
        schedule, job_type = values(jobs, "schedule"), values(jobs, "job_type")
        self.schedules_ = sorted({str(v) for v in schedule.dropna()})
        self.job_types_ = sorted({str(v) for v in job_type.dropna()})
        desired = MultiLabelBlock("desired_job_types", "desired_job_types").set_state({}, {"classes": self.job_types_})
        self.seeker_desired_ = lists(seekers, "desired_job_types", desired)
        self.groups_ = [g for g in SEEKER_GROUPS if g in seekers.columns and seekers[g].notna().any()]
        self.seeker_groups_ = np.column_stack(
            [seekers[g].fillna(False).to_numpy(dtype=np.float32) for g in self.groups_]
        ) if self.groups_ else np.zeros((len(seekers), 0), dtype=np.float32)
        categories = [*self.schedules_, *self.job_types_]
        indicators = ([schedule.astype(str).to_numpy(object) == v for v in self.schedules_]
                      + [job_type.astype(str).to_numpy(object) == v for v in self.job_types_])
        self.job_categories_ = (np.column_stack(indicators).astype(np.float32) if indicators
                                else np.zeros((len(jobs), 0), dtype=np.float32))
        self.cross_names_ = [f"{g}x{v}" for g in self.groups_ for v in categories]

    def _choose_terms(self, seekers: pd.DataFrame, jobs: pd.DataFrame) -> None:
        """Keep the pair terms whose inputs hold values (``terms_``); record the others (``skipped_terms_``)."""
        sn, jn = self.seeker_numeric_, self.job_numeric_

        def has(values: np.ndarray) -> bool:
            return bool(np.isfinite(values).any())

        text = self.text_features_.n_features_ > 0
        seeker_skills, job_skills = bool(self.seeker_skills_.any()), bool(self.job_skills_.any())
        coordinates = has(sn[:, 0]) and has(sn[:, 1]) and has(jn[:, 0]) and has(jn[:, 1])
        wage = has(sn[:, 3]) and has(jn[:, 2])
        needs = {
            "text_skill_sim": (text and seeker_skills, "seeker skills and job title/description"),
            "text_history_sim": (text, "job title/description"),
            "skill_overlap": (seeker_skills and job_skills, "seeker skills and job skills"),
            "log_commute_km": (coordinates, "seeker and job lat/lon"),
            "beyond_commute": (coordinates and has(sn[:, 2]), "seeker and job lat/lon, seeker max_commute_km"),
            "wage_ratio": (wage, "seeker reservation_wage and job wage_min/wage_max"),
            "below_reservation": (wage, "seeker reservation_wage and job wage_min/wage_max"),
            "type_fit": (bool(self.seeker_desired_.any()) and bool(self.job_types_),
                         "seeker desired_job_types and job job_type"),
            "education_met": (has(sn[:, 4]) and has(jn[:, 3]), "seeker education and job min_education"),
            "age_met": (has(sn[:, 5]) and (has(jn[:, 4]) or has(jn[:, 5])), "seeker age and job age_min/age_max"),
            "same_district": (bool((self.seeker_district_ >= 0).any() and (self.job_district_ >= 0).any()),
                              "seeker district and job district"),
        }
        self.terms_ = [name for name in PAIR_FEATURES if needs[name][0]]
        self.skipped_terms_ = {name: f"needs {needs[name][1]}" for name in PAIR_FEATURES if not needs[name][0]}
        if self.skipped_terms_:
            logger.warning("Content: skipped term(s) %s (input columns absent or all null)",
                           sorted(self.skipped_terms_))
        if not self.terms_ and not self.cross_names_:
            raise NoUsableFeaturesError(
                "Content: no match term is usable: the seekers and jobs tables have none of the profile columns "
                "it reads (skills, title/description, lat/lon, wages, job_type, education, age, district, group "
                "flags x schedule/job_type); use a collaborative model (Popularity, ItemKNN, EASE, LightFM)")

    def _sample_pairs(self, dataset: Dataset, applied: sp.csr_matrix, events: list[str]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Applied pairs (label 1) and, per applied pair, up to ``n_negatives`` jobs active at its time."""
        rng = np.random.default_rng(self.random_state)
        positives = dataset.interactions.loc[dataset.interactions["event"].isin(events)]
        first = positives.drop_duplicates(["seeker_row", "job_row"], keep="first")
        if len(first) > self.max_positives:
            first = first.iloc[np.sort(rng.choice(len(first), self.max_positives, replace=False))]
        pos_seekers, pos_jobs = first["seeker_row"].to_numpy(), first["job_row"].to_numpy()
        ts = datetime64(first["ts"])
        posted = time_column(dataset.jobs, "posted_at", "min")
        expires = time_column(dataset.jobs, "expires_at", "max")
        order = np.argsort(posted, kind="stable")
        n_posted = np.searchsorted(posted[order], ts, side="right")  # jobs posted by ts: order[:n_posted]
        draws = self.n_negatives * 4
        candidates = order[np.minimum((rng.random((len(ts), draws)) * n_posted[:, None]).astype(np.int64),
                                      len(order) - 1)]
        valid = (expires[candidates] > ts[:, None]) & (n_posted[:, None] > 0)
        already = applied[np.repeat(pos_seekers, draws), candidates.ravel()]
        valid &= ~np.asarray(already, dtype=bool).reshape(valid.shape)
        valid &= np.cumsum(valid, axis=1) <= self.n_negatives
        neg_rows, neg_cols = np.nonzero(valid)
        seeker_idx = np.concatenate([pos_seekers, pos_seekers[neg_rows]])
        job_idx = np.concatenate([pos_jobs, candidates[neg_rows, neg_cols]])
        label = np.concatenate([np.ones(len(pos_jobs)), np.zeros(len(neg_rows))])
        if label.min() == label.max():
            raise ValueError("Content: could not sample both applied and non-applied pairs from the training data")
        return seeker_idx, job_idx, label

    # ------------------------------------------------------------------ features of pairs / blocks
    def _terms(self, si: np.ndarray, jj: np.ndarray, grid: bool) -> Iterator[tuple[str, np.ndarray]]:
        """Match features of pairs (``grid=False``: ``si[k]`` with ``jj[k]``) or of the block ``si x jj``.

        Yields the terms of ``terms_`` one array at a time (pairs: ``(n,)``; grid: ``(len(si), len(jj))``)
        to bound memory, then (pairs only) the group x category crosses. Imputed terms
        (:data:`IMPUTED_TERMS`) may hold NaN for unknown inputs; the caller fills them.
        """
        terms = set(self.terms_)

        def dot(a: np.ndarray | sp.spmatrix, b: np.ndarray | sp.spmatrix) -> np.ndarray:
            if grid:
                out = a @ b.T
            elif sp.issparse(a):
                out = sp.csr_matrix(a).multiply(b).sum(axis=1)
            else:
                out = np.einsum("ij,ij->i", a, b)
            return np.asarray(out.todense() if sp.issparse(out) else out, dtype=np.float64).reshape(
                (len(si), len(jj)) if grid else (len(si),))

        def s(values: np.ndarray) -> np.ndarray:  # per-seeker values, gathered and shaped to broadcast
            return values[si][:, None] if grid else values[si]

        def j(values: np.ndarray) -> np.ndarray:
            return values[jj][None, :] if grid else values[jj]

        seeker_skills = self.seeker_skills_[si]
        if "text_skill_sim" in terms:
            profile_norm = np.sqrt(np.maximum(np.einsum("ik,kl,il->i", seeker_skills, self.skill_gram_,
                                                        seeker_skills), 0))
            profile_norm = np.where(profile_norm > 0, profile_norm, 1.0)
            yield "text_skill_sim", dot(seeker_skills, self.skill_to_job_[:, jj].T) / (
                profile_norm[:, None] if grid else profile_norm)
        if "text_history_sim" in terms:
            yield "text_history_sim", dot(self.history_text_[si], self.job_text_[jj])
        if "skill_overlap" in terms:
            yield "skill_overlap", dot(seeker_skills, self.job_skills_[jj]) / j(
                np.maximum(self.job_skills_.sum(axis=1), 1.0))
        sn, jn = self.seeker_numeric_, self.job_numeric_
        if "log_commute_km" in terms or "beyond_commute" in terms:
            km = haversine_km(s(sn[:, 0]), s(sn[:, 1]), j(jn[:, 0]), j(jn[:, 1]))
            if "log_commute_km" in terms:
                yield "log_commute_km", np.log1p(km)
            if "beyond_commute" in terms:
                yield "beyond_commute", (km > s(sn[:, 2])).astype(np.float64)
        if "wage_ratio" in terms:
            ratio = j(jn[:, 2]) / s(np.maximum(sn[:, 3], 1.0))
            yield "wage_ratio", np.clip(np.log(np.maximum(ratio, 1e-9)), -1.0, 1.0)
            yield "below_reservation", (ratio < 1.0).astype(np.float64)
        if "type_fit" in terms:
            yield "type_fit", dot(self.seeker_desired_[si], self.job_categories_[jj][:, len(self.schedules_):])
        if "education_met" in terms:
            yield "education_met", (~(s(sn[:, 4]) < j(jn[:, 3]))).astype(np.float64)
        if "age_met" in terms:
            age = s(sn[:, 5])
            yield "age_met", (~(age < j(jn[:, 4])) & ~(age > j(jn[:, 5]))).astype(np.float64)
        if "same_district" in terms:
            yield "same_district", (s(self.seeker_district_) == j(self.job_district_)).astype(np.float64)
        if grid:  # collapsed below in _score through one bilinear product
            return
        groups, categories = self.seeker_groups_[si], self.job_categories_[jj]
        for g in range(groups.shape[1]):
            for c in range(categories.shape[1]):
                yield self.cross_names_[g * categories.shape[1] + c], groups[:, g] * categories[:, c]

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        n_pair = len(self.terms_)
        cross = self.coef_[n_pair:].reshape(len(self.groups_), self.job_categories_.shape[1])
        scores = np.empty((len(seeker_rows), len(job_rows)))
        for start in range(0, len(seeker_rows), self.batch_size):
            batch = seeker_rows[start:start + self.batch_size]
            block = (self.seeker_groups_[batch] @ cross) @ self.job_categories_[job_rows].T + self.intercept_
            for weight, (name, values) in zip(self.coef_[:n_pair], self._terms(batch, job_rows, grid=True),
                                              strict=True):
                if name in self.fill_:
                    values = np.where(np.isfinite(values), values, self.fill_[name])
                block += weight * values
            scores[start:start + self.batch_size] = block
        return scores

    def feature_weights(self) -> pd.Series:
        """Learned weight of each match feature (per unit of the raw feature)."""
        return pd.Series(self.coef_, index=self.feature_names_, name="weight")

    # ------------------------------------------------------------------ persistence
    _ARRAYS = ("seeker_skills", "job_skills", "seeker_numeric", "seeker_desired", "seeker_groups", "job_numeric",
               "job_categories", "skill_to_job", "skill_gram", "coef", "seeker_district", "job_district")
    _META = ("terms", "skipped_terms", "fill", "schedules", "job_types", "groups", "cross_names", "district_names",
             "skill_names", "feature_names", "n_training_pairs")

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {name: getattr(self, f"{name}_") for name in self._ARRAYS}
        arrays.update(csr_to_arrays("job_text", self.job_text_))
        arrays.update(csr_to_arrays("history_text", self.history_text_))
        text_arrays, text_meta = self.text_features_.get_state()
        arrays.update({f"text_features.{k}": v for k, v in text_arrays.items()})
        meta = {name: getattr(self, f"{name}_") for name in self._META}
        return arrays, {**meta, "content_state_version": CONTENT_STATE_VERSION, "intercept": self.intercept_,
                        "text_features": text_meta}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        if meta.get("content_state_version") != CONTENT_STATE_VERSION:
            raise ModelFormatError(f"Content state version {meta.get('content_state_version')!r} is not supported "
                                   f"(this recsys reads version {CONTENT_STATE_VERSION}); refit the model")
        for name in self._ARRAYS:
            setattr(self, f"{name}_", arrays[name])
        for name in self._META:
            setattr(self, f"{name}_", meta[name])
        self.job_text_ = csr_from_arrays("job_text", arrays)
        self.history_text_ = csr_from_arrays("history_text", arrays)
        self.text_features_ = JobFeatures.from_state(split_state("text_features", arrays), meta["text_features"])
        self.intercept_ = float(meta["intercept"])
