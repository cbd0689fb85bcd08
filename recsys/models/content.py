"""Content-based recommender: text similarity plus a structured match, weights learned from applications.

Every (seeker, job) pair is described by a few match features computed from the two profiles only,
so the model serves cold seekers and new postings:

==================  ================================================================================
text_skill_sim      cosine between the job's TF-IDF (Chinese title + description, char n-grams) and the
                    seeker's skill profile mapped into text space (mean TF-IDF of training jobs that
                    require each skill, summed over the seeker's skills)
text_history_sim    cosine between the job's TF-IDF and the seeker's applied jobs' TF-IDF (0 if none)
skill_overlap       share of the job's required skills the seeker has
log_commute_km      ``log(1 + haversine km)`` between seeker and job
beyond_commute      1 if the distance exceeds the seeker's ``max_commute_km``
wage_ratio          ``log(job monthly wage / reservation wage)`` clipped to [-1, 1]
below_reservation   1 if the job's monthly wage is below the reservation wage
type_fit            1 if the job type is among the seeker's desired job types
education_met       1 if the seeker's education meets the posting's minimum
age_met             1 if the seeker's age is within the posting's stated limits
same_district       1 if both are in the same district
group x schedule,   one weight per (seeker group flag, job schedule or job type) pair: who likes night
group x job_type    shifts or gig work is learned, not assumed
==================  ================================================================================

Weights come from a logistic regression (scikit-learn) of applied pairs against sampled pairs of the
same seeker and a job active at the time of the application but not applied to. The score is the
regression's decision function, computed per block of seekers x jobs with matrix products.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler, normalize

from recsys.data.dataset import Dataset
from recsys.data.schema import EDUCATION_LEVELS, JOB_TYPES, SCHEDULES, SEEKER_GROUPS
from recsys.features import JobFeatures, job_monthly_wage
from recsys.features.blocks import MultiLabelBlock
from recsys.models._common import check_number, csr_from_arrays, csr_to_arrays, split_state
from recsys.models.base import SEEN_EVENTS, Recommender

EARTH_RADIUS_KM = 6371.0
PAIR_FEATURES = ("text_skill_sim", "text_history_sim", "skill_overlap", "log_commute_km", "beyond_commute",
                 "wage_ratio", "below_reservation", "type_fit", "education_met", "age_met", "same_district")
CROSS_FEATURES = tuple(f"{g}x{v}" for g in SEEKER_GROUPS for v in (*SCHEDULES, *JOB_TYPES))


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km; arguments broadcast (e.g. ``(b, 1)`` against ``(1, n)``)."""
    lat1, lon1, lat2, lon2 = (np.radians(a) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


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
    """

    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, text_max_features: int | None = 2000, n_negatives: int = 8, max_positives: int = 50_000,
                 C: float = 1.0, random_state: int = 0, batch_size: int = 256) -> None:
        self.text_max_features = text_max_features
        self.n_negatives = n_negatives
        self.max_positives = max_positives
        self.C = C
        self.random_state = random_state
        self.batch_size = batch_size

    # ------------------------------------------------------------------ fitting
    def _fit(self, dataset: Dataset) -> None:
        check_number(self, "text_max_features", self.text_max_features, low=0, integer=True, allow_none=True)
        check_number(self, "n_negatives", self.n_negatives, low=0, integer=True)
        check_number(self, "max_positives", self.max_positives, low=0, integer=True)
        check_number(self, "C", self.C, low=0.0)
        check_number(self, "random_state", self.random_state, low=0, strict=False, integer=True)
        check_number(self, "batch_size", self.batch_size, low=0, integer=True)
        if len(dataset.interactions) == 0:
            raise ValueError("Content: the training dataset has no interactions")
        last_ts = dataset.interactions["ts"].max()
        past_jobs = dataset.jobs.loc[dataset.jobs["posted_at"] <= last_ts]
        self.text_features_ = JobFeatures(blocks=("text",), text_max_features=self.text_max_features).fit(
            past_jobs if len(past_jobs) else dataset.jobs)
        skills = MultiLabelBlock("skills", "skills").fit(pd.DataFrame(
            {"skills": list(dataset.jobs["skills"]) + list(dataset.seekers["skills"])}))
        self._profile_arrays(dataset.seekers, dataset.jobs, skills)

        applied = dataset.interaction_matrix(events=SEEN_EVENTS)
        past = dataset.jobs["posted_at"].to_numpy() <= np.datetime64(last_ts)
        # skill -> text: mean TF-IDF of the past jobs requiring each skill
        job_skills_past = sp.csr_matrix(self.job_skills_ * past[:, None])
        centroids = normalize(job_skills_past.T @ self.job_text_, norm="l2")
        self.skill_to_job_ = np.asarray((centroids @ self.job_text_.T).todense(), dtype=np.float32)
        self.skill_gram_ = np.asarray((centroids @ centroids.T).todense(), dtype=np.float32)
        self.history_text_ = sp.csr_matrix(normalize(applied @ self.job_text_, norm="l2"), dtype=np.float32)

        seeker_idx, job_idx, label = self._sample_pairs(dataset, applied)
        design = np.column_stack([column for _, column in self._terms(seeker_idx, job_idx, grid=False)])
        scaler = StandardScaler().fit(design)
        regression = LogisticRegression(C=self.C, max_iter=1000).fit(scaler.transform(design), label)
        coef = regression.coef_.ravel() / scaler.scale_
        self.coef_ = coef.astype(np.float64)
        self.intercept_ = float(regression.intercept_[0] - (coef * scaler.mean_).sum())
        self.feature_names_ = [*PAIR_FEATURES, *CROSS_FEATURES]
        self.n_training_pairs_ = int(len(label))

    def _profile_arrays(self, seekers: pd.DataFrame, jobs: pd.DataFrame, skills: MultiLabelBlock) -> None:
        education = {level: rank for rank, level in enumerate(EDUCATION_LEVELS)}
        self.seeker_skills_ = skills.transform(seekers).toarray()
        self.job_skills_ = skills.transform(jobs).toarray()
        self.job_text_ = self.text_features_.transform(jobs)
        self.seeker_numeric_ = np.column_stack([
            seekers["lat"].to_numpy(float), seekers["lon"].to_numpy(float),
            seekers["max_commute_km"].to_numpy(float), seekers["reservation_wage"].to_numpy(float),
            seekers["education"].map(education).to_numpy(float), seekers["age"].to_numpy(float)])
        self.seeker_district_ = seekers["district"].astype(str).to_numpy(object).astype(str)
        desired = MultiLabelBlock("desired_job_types", "desired_job_types").set_state({}, {"classes": list(JOB_TYPES)})
        self.seeker_desired_ = desired.transform(seekers).toarray()
        self.seeker_groups_ = seekers[list(SEEKER_GROUPS)].to_numpy(dtype=np.float32)
        self.job_numeric_ = np.column_stack([
            jobs["lat"].to_numpy(float), jobs["lon"].to_numpy(float), job_monthly_wage(jobs),
            jobs["min_education"].map(education).to_numpy(float),
            jobs["age_min"].to_numpy(dtype=float, na_value=np.nan), jobs["age_max"].to_numpy(dtype=float, na_value=np.nan)])
        self.job_district_ = jobs["district"].astype(str).to_numpy(object).astype(str)
        self.job_categories_ = np.column_stack(
            [jobs["schedule"].to_numpy(object) == s for s in SCHEDULES]
            + [jobs["job_type"].to_numpy(object) == t for t in JOB_TYPES]).astype(np.float32)

    def _sample_pairs(self, dataset: Dataset, applied: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Applied pairs (label 1) and, per applied pair, up to ``n_negatives`` jobs active at its time."""
        rng = np.random.default_rng(self.random_state)
        events = dataset.interactions.loc[dataset.interactions["event"].isin(SEEN_EVENTS)]
        first = events.drop_duplicates(["seeker_row", "job_row"], keep="first")
        if len(first) > self.max_positives:
            first = first.iloc[np.sort(rng.choice(len(first), self.max_positives, replace=False))]
        pos_seekers, pos_jobs = first["seeker_row"].to_numpy(), first["job_row"].to_numpy()
        ts = first["ts"].to_numpy()
        posted, expires = dataset.jobs["posted_at"].to_numpy(), dataset.jobs["expires_at"].to_numpy()
        order = np.argsort(posted, kind="stable")
        n_posted = np.searchsorted(posted[order], ts, side="right")  # jobs posted by ts: order[:n_posted]
        draws = self.n_negatives * 4
        candidates = order[np.minimum((rng.random((len(ts), draws)) * n_posted[:, None]).astype(np.int64),
                                      len(order) - 1)]
        valid = (expires[candidates] > ts[:, None]) & (n_posted[:, None] > 0)
        valid &= ~np.asarray(applied[np.repeat(pos_seekers, draws), candidates.ravel()]).reshape(valid.shape).astype(bool)
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

        Yields one array at a time (pairs: ``(n,)``; grid: ``(len(si), len(jj))``) to bound memory.
        """
        def dot(a: np.ndarray | sp.spmatrix, b: np.ndarray | sp.spmatrix) -> np.ndarray:
            if grid:
                out = a @ b.T
            elif sp.issparse(a):
                out = a.multiply(b).sum(axis=1)
            else:
                out = np.einsum("ij,ij->i", a, b)
            return np.asarray(out.todense() if sp.issparse(out) else out, dtype=np.float64).reshape(
                (len(si), len(jj)) if grid else (len(si),))

        def s(values: np.ndarray) -> np.ndarray:  # per-seeker values, gathered and shaped to broadcast
            return values[si][:, None] if grid else values[si]

        def j(values: np.ndarray) -> np.ndarray:
            return values[jj][None, :] if grid else values[jj]

        seeker_skills = self.seeker_skills_[si]
        profile_norm = np.sqrt(np.maximum(np.einsum("ik,kl,il->i", seeker_skills, self.skill_gram_, seeker_skills), 0))
        profile_norm = np.where(profile_norm > 0, profile_norm, 1.0)
        yield "text_skill_sim", dot(seeker_skills, self.skill_to_job_[:, jj].T) / (
            profile_norm[:, None] if grid else profile_norm)
        yield "text_history_sim", dot(self.history_text_[si], self.job_text_[jj])
        yield "skill_overlap", dot(seeker_skills, self.job_skills_[jj]) / j(np.maximum(self.job_skills_.sum(axis=1), 1.0))
        sn, jn = self.seeker_numeric_, self.job_numeric_
        km = haversine_km(s(sn[:, 0]), s(sn[:, 1]), j(jn[:, 0]), j(jn[:, 1]))
        yield "log_commute_km", np.log1p(km)
        yield "beyond_commute", (km > s(sn[:, 2])).astype(np.float64)
        ratio = j(jn[:, 2]) / s(np.maximum(sn[:, 3], 1.0))
        yield "wage_ratio", np.clip(np.log(np.maximum(ratio, 1e-9)), -1.0, 1.0)
        yield "below_reservation", (ratio < 1.0).astype(np.float64)
        yield "type_fit", dot(self.seeker_desired_[si], self.job_categories_[jj][:, len(SCHEDULES):])
        yield "education_met", (s(sn[:, 4]) >= j(jn[:, 3])).astype(np.float64)
        age = s(sn[:, 5])
        yield "age_met", (~(age < j(jn[:, 4])) & ~(age > j(jn[:, 5]))).astype(np.float64)
        yield "same_district", (s(self.seeker_district_) == j(self.job_district_)).astype(np.float64)
        if grid:  # collapsed below in _score through one bilinear product
            return
        groups, categories = self.seeker_groups_[si], self.job_categories_[jj]
        for g in range(groups.shape[1]):
            for c in range(categories.shape[1]):
                yield CROSS_FEATURES[g * categories.shape[1] + c], groups[:, g] * categories[:, c]

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        n_pair = len(PAIR_FEATURES)
        cross = self.coef_[n_pair:].reshape(len(SEEKER_GROUPS), -1)
        scores = np.empty((len(seeker_rows), len(job_rows)))
        for start in range(0, len(seeker_rows), self.batch_size):
            batch = seeker_rows[start:start + self.batch_size]
            block = (self.seeker_groups_[batch] @ cross) @ self.job_categories_[job_rows].T + self.intercept_
            for weight, (_, values) in zip(self.coef_[:n_pair], self._terms(batch, job_rows, grid=True), strict=True):
                block += weight * values
            scores[start:start + self.batch_size] = block
        return scores

    def feature_weights(self) -> pd.Series:
        """Learned weight of each match feature (per unit of the raw feature)."""
        return pd.Series(self.coef_, index=self.feature_names_, name="weight")

    # ------------------------------------------------------------------ persistence
    _ARRAYS = ("seeker_skills", "job_skills", "seeker_numeric", "seeker_desired", "seeker_groups", "job_numeric",
               "job_categories", "skill_to_job", "skill_gram", "coef")

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {name: getattr(self, f"{name}_") for name in self._ARRAYS}
        arrays.update(seeker_district=self.seeker_district_.astype(str), job_district=self.job_district_.astype(str))
        arrays.update(csr_to_arrays("job_text", self.job_text_))
        arrays.update(csr_to_arrays("history_text", self.history_text_))
        text_arrays, text_meta = self.text_features_.get_state()
        arrays.update({f"text_features.{k}": v for k, v in text_arrays.items()})
        return arrays, {"intercept": self.intercept_, "feature_names": self.feature_names_,
                        "n_training_pairs": self.n_training_pairs_, "text_features": text_meta}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        for name in self._ARRAYS:
            setattr(self, f"{name}_", arrays[name])
        self.seeker_district_, self.job_district_ = arrays["seeker_district"], arrays["job_district"]
        self.job_text_ = csr_from_arrays("job_text", arrays)
        self.history_text_ = csr_from_arrays("history_text", arrays)
        self.text_features_ = JobFeatures.from_state(split_state("text_features", arrays), meta["text_features"])
        self.intercept_, self.feature_names_ = float(meta["intercept"]), list(meta["feature_names"])
        self.n_training_pairs_ = int(meta["n_training_pairs"])

