"""Hiring-probability model: P(interview | apply) and P(hire | apply) from the employer side of the logs.

Among the applications of the training window, the label of an application is whether the same
(seeker, job) pair later reached ``interview`` / ``hire`` in the dataset's :class:`~recsys.data.events.EventFunnel`.
Each target is a scikit-learn :class:`~sklearn.ensemble.HistGradientBoostingClassifier` on seeker x job
features (:data:`FEATURES`, :func:`pair_features`), calibrated by Platt scaling (a logistic regression on
the trees' log-odds) on the latest
``calibration_share`` of the training window (fitted on the earlier part only, so the calibration data
is out of sample and later in time, like the data it will be used on). Platt rather than isotonic: a
calibration slice of a few hundred applications makes isotonic steps that reach exactly 0 or 1 (a reason
then told a seeker "about 100%"); two parameters are stable there and keep the trees' ranking.

Why ``HistGradientBoostingClassifier`` rather than LightGBM: no new dependency (scikit-learn is one
already), native missing values (a posting without age limits or wage, a seeker without a location),
and a few seconds on ``small``. Why not pickle/skops for saving: a fitted model is exported as plain
arrays (each tree's node table: feature, threshold, missing direction, children, leaf values), which
:func:`_raw_scores` evaluates with numpy/numba; the arrays are the whole model, so saving is ``.npz`` +
JSON with a format version, loading executes nothing, and the serving path needs no scikit-learn call
(whose per-call validation alone costs more than the ranking latency budget). Tests check that the
exported trees reproduce scikit-learn's probabilities.

Labels are censored near the end of the window: an application shortly before ``cutoff`` may be
interviewed or hired after it. Applications within ``label_horizon_days`` of the cutoff are therefore
left out of the fit.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset
from recsys.data.geo import planar_km
from recsys.data.schema import EDUCATION_LEVELS, monthly_wage

FEATURES = ("skill_share", "education_margin", "experience_years", "age_outside_limits", "distance_km",
            "posting_age_days", "applicants_per_vacancy", "wage_ratio", "vacancies")
"""Seeker x job features of an application, in column order:

* ``skill_share``: share of the job's listed skills the seeker holds (NaN: the job lists none);
* ``education_margin``: seeker's education level minus the job's minimum, in levels (NaN: either unknown);
* ``experience_years``: the seeker's experience;
* ``age_outside_limits``: years outside the posted age limits, 0 inside (NaN: no limits or unknown age);
* ``distance_km``: straight-line distance from home to the posting;
* ``posting_age_days``: days since the posting was published, at the time of the application;
* ``applicants_per_vacancy``: earlier applications to the posting (strictly before this one) per opening;
* ``wage_ratio``: the posting's monthly wage (mid-range) over the seeker's reservation wage;
* ``vacancies``: openings of the posting.
"""
TARGETS = ("interview", "hire")
"""Outcomes modelled, each as P(outcome | apply)."""
SKILL_WORDS = 4
"""Skills are hashed (crc32) into ``64 * SKILL_WORDS`` bits; the share counts shared bits, so two skills
colliding in one bit can overstate it slightly (rare with a few dozen skills per vocabulary)."""
FORMAT_VERSION = 1
NS_PER_DAY = 86_400 * 10**9


class NoEmployerOutcomesError(ValueError):
    """The dataset's funnel has no employer-side events (``interview`` / ``hire``) to learn from."""


class HiringModelError(ValueError):
    """A hiring model is unfitted, or its saved arrays are inconsistent."""


# ---------------------------------------------------------------------- features
def skill_bits(skills: Sequence[object]) -> np.ndarray:
    """``(n, SKILL_WORDS)`` uint64 bit sets of each entry's skills (a list/tuple/array of strings, else none)."""
    out = np.zeros((len(skills), SKILL_WORDS), dtype=np.uint64)
    for row, entry in enumerate(skills):
        if isinstance(entry, (list, tuple, np.ndarray)):
            for skill in entry:
                bit = zlib.crc32(str(skill).encode("utf-8")) % (64 * SKILL_WORDS)
                out[row, bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
    return out


@dataclass(frozen=True)
class SeekerSide:
    """Seeker columns of :func:`pair_features` (one row per seeker or per pair)."""

    skill_bits: np.ndarray  # (n, SKILL_WORDS) uint64
    education: np.ndarray  # ordinal in EDUCATION_LEVELS, -1 unknown
    experience_years: np.ndarray  # NaN unknown
    age: np.ndarray  # NaN unknown
    east_km: np.ndarray
    north_km: np.ndarray
    reservation_wage: np.ndarray  # monthly, NaN unknown

    @classmethod
    def from_table(cls, seekers: pd.DataFrame) -> SeekerSide:
        """From a seekers table; missing optional columns count as unknown."""
        n = len(seekers)
        east, north = planar_km(_column(seekers, "lat"), _column(seekers, "lon"))
        return cls(skill_bits=skill_bits(seekers["skills"].tolist() if "skills" in seekers else [()] * n),
                   education=_education(seekers, "education"), experience_years=_column(seekers, "experience_years"),
                   age=_column(seekers, "age"), east_km=np.asarray(east, float), north_km=np.asarray(north, float),
                   reservation_wage=_column(seekers, "reservation_wage"))


@dataclass(frozen=True)
class JobSide:
    """Job columns of :func:`pair_features` (one row per job or per pair)."""

    skill_bits: np.ndarray
    min_education: np.ndarray  # -1: none required
    age_min: np.ndarray  # NaN: no limit
    age_max: np.ndarray
    east_km: np.ndarray
    north_km: np.ndarray
    monthly_wage: np.ndarray
    posted_ns: np.ndarray  # int64; missing: int64 min (age counts as unknown)
    vacancies: np.ndarray  # float, >= 1

    @classmethod
    def from_table(cls, jobs: pd.DataFrame) -> JobSide:
        """From a jobs table; missing optional columns count as unknown (1 vacancy)."""
        n = len(jobs)
        east, north = planar_km(_column(jobs, "lat"), _column(jobs, "lon"))
        mid = (_column(jobs, "wage_min") + _column(jobs, "wage_max")) / 2
        unit = jobs["wage_unit"].astype(str).to_numpy() if "wage_unit" in jobs else np.full(n, "month")
        posted = (pd.to_datetime(jobs["posted_at"]) if "posted_at" in jobs else pd.Series(pd.NaT, index=jobs.index))
        posted_ns = np.where(posted.isna().to_numpy(), np.iinfo(np.int64).min,
                             posted.to_numpy("datetime64[ns]").astype(np.int64))
        vacancies = _column(jobs, "vacancies")
        return cls(skill_bits=skill_bits(jobs["skills"].tolist() if "skills" in jobs else [()] * n),
                   min_education=_education(jobs, "min_education"), age_min=_column(jobs, "age_min"),
                   age_max=_column(jobs, "age_max"), east_km=np.asarray(east, float), north_km=np.asarray(north, float),
                   monthly_wage=np.asarray(monthly_wage(mid, unit), float), posted_ns=posted_ns.astype(np.int64),
                   vacancies=np.where(np.isnan(vacancies), 1.0, np.maximum(vacancies, 1.0)))


def pair_features(seekers: SeekerSide, jobs: JobSide, seeker_rows: np.ndarray, job_rows: np.ndarray,
                  time_ns: np.ndarray | int, applicants: np.ndarray) -> np.ndarray:
    """``(P, len(FEATURES))`` float32 features of the pairs ``(seeker_rows[i], job_rows[i])`` at ``time_ns``.

    ``applicants[i]`` is how many applications the job had before (strictly) the pair's time. Used
    unchanged for fitting (pairs = applications) and serving (pairs = a seeker's candidate jobs; the
    ranker passes its catalogue's arrays, whose codes :func:`pair_feature_rows` also reads).
    """
    s, j = np.asarray(seeker_rows, np.int64), np.asarray(job_rows, np.int64)
    times = np.broadcast_to(np.asarray(time_ns, np.int64), s.shape)
    out = np.empty((len(s), len(FEATURES)), dtype=np.float32)
    pair_feature_rows(seekers.skill_bits, seekers.education, seekers.experience_years, seekers.age, seekers.east_km,
                      seekers.north_km, seekers.reservation_wage, jobs.skill_bits, jobs.min_education, jobs.age_min,
                      jobs.age_max, jobs.east_km, jobs.north_km, jobs.monthly_wage, jobs.posted_ns, jobs.vacancies,
                      s, j, np.ascontiguousarray(times), np.asarray(applicants, np.float64), out)
    return out


NO_AGE_LIMIT = 32767
"""An upper age limit at or above this counts as none (the catalogue codes a missing one as int16 max)."""


@numba.njit(nogil=True, cache=True)
def _popcount(x: np.uint64) -> int:
    count = 0
    while x:
        x &= x - np.uint64(1)
        count += 1
    return count


@numba.njit(nogil=True, cache=True)
def pair_feature_rows(seeker_bits: np.ndarray, education: np.ndarray, experience: np.ndarray, age: np.ndarray,
                      seeker_east: np.ndarray, seeker_north: np.ndarray, reservation_wage: np.ndarray,
                      job_bits: np.ndarray, min_education: np.ndarray, age_min: np.ndarray, age_max: np.ndarray,
                      job_east: np.ndarray, job_north: np.ndarray, monthly_wage: np.ndarray, posted_ns: np.ndarray,
                      vacancies: np.ndarray, seeker_rows: np.ndarray, job_rows: np.ndarray, time_ns: np.ndarray,
                      applicants: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[i]`` with the :data:`FEATURES` of pair ``i`` (see :func:`pair_features`).

    Codes read: education / minimum education < 0 unknown / none; age < 0 or NaN unknown; ``age_min`` < 0
    or NaN and ``age_max`` >= :data:`NO_AGE_LIMIT` or NaN mean no limit; ``posted_ns`` at or below
    int64 min + 1 unknown; vacancies below 1 count as 1.
    """
    unknown_time = np.iinfo(np.int64).min + 1
    for i in range(len(seeker_rows)):
        s, j = seeker_rows[i], job_rows[i]
        required, held = 0, 0
        for w in range(job_bits.shape[1]):
            required += _popcount(job_bits[j, w])
            held += _popcount(job_bits[j, w] & seeker_bits[s, w])
        out[i, 0] = held / required if required > 0 else np.nan
        e, m = float(education[s]), float(min_education[j])
        out[i, 1] = (e - m if m >= 0 else e + 1.0) if e >= 0 else np.nan
        out[i, 2] = experience[s]
        a, low, high = float(age[s]), float(age_min[j]), float(age_max[j])
        has_low, has_high = low >= 0, high < NO_AGE_LIMIT  # NaN compares False: no limit
        if not a >= 0 or not (has_low or has_high):
            out[i, 3] = np.nan
        else:
            outside = 0.0
            if has_low and low - a > outside:
                outside = low - a
            if has_high and a - high > outside:
                outside = a - high
            out[i, 3] = outside
        d_east = float(job_east[j]) - float(seeker_east[s])
        d_north = float(job_north[j]) - float(seeker_north[s])
        out[i, 4] = np.sqrt(d_east * d_east + d_north * d_north)
        posted = posted_ns[j]
        out[i, 5] = (time_ns[i] - posted) / NS_PER_DAY if posted > unknown_time else np.nan
        openings = max(float(vacancies[j]), 1.0)
        out[i, 6] = applicants[i] / openings
        wage = float(reservation_wage[s])
        out[i, 7] = float(monthly_wage[j]) / wage if wage > 0 else np.nan
        out[i, 8] = openings


def applications_before(job_rows: np.ndarray, times_ns: np.ndarray) -> np.ndarray:
    """For each application ``i`` (job ``job_rows[i]`` at ``times_ns[i]``), how many applications to the
    same job came strictly earlier (ties count as simultaneous, not earlier): causal by construction."""
    order = np.lexsort((times_ns, job_rows))
    job, time = job_rows[order], times_ns[order]
    starts = np.r_[0, np.flatnonzero(np.diff(job)) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(job)]))
    # first index in the group with the same time = number strictly earlier in the group
    same_time_start = np.r_[0, np.flatnonzero((np.diff(job) != 0) | (np.diff(time) != 0)) + 1]
    first_of_time = np.repeat(same_time_start, np.diff(np.r_[same_time_start, len(job)]))
    out = np.empty(len(job), dtype=np.int64)
    out[order] = first_of_time - group_start
    return out


# ---------------------------------------------------------------------- exported trees
@dataclass(frozen=True)
class TreeEnsemble:
    """A fitted binary ``HistGradientBoostingClassifier`` as arrays: ``raw = baseline + sum of leaf values``.

    Node ``i`` of the concatenated node table: ``feature``, ``threshold`` (go left when ``x <= threshold``),
    ``missing_left`` (where NaN goes), ``left`` / ``right`` (absolute node indices), ``is_leaf``, ``value``
    (leaf value, learning rate applied). ``roots`` holds the first node of each tree.
    """

    baseline: float
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray

    @classmethod
    def from_sklearn(cls, model: Any) -> TreeEnsemble:
        """Export a fitted binary ``HistGradientBoostingClassifier`` (numeric features only)."""
        tables: list[tuple[Any, int]] = []
        roots, offset = [], 0
        for predictors in model._predictors:  # one list per iteration; one predictor for a binary target
            nodes: Any = predictors[0].nodes  # structured array (sklearn's PREDICTOR_RECORD_DTYPE)
            if np.any(nodes["is_categorical"]):
                raise HiringModelError("categorical splits are not exported; features must be numeric")
            roots.append(offset)
            tables.append((nodes, offset))
            offset += len(nodes)
        joined: Any = np.concatenate([n for n, _ in tables])
        shift = np.concatenate([np.full(len(n), o, np.int64) for n, o in tables]) if tables else np.empty(0, np.int64)
        return cls(baseline=float(np.ravel(model._baseline_prediction)[0]), roots=np.asarray(roots, np.int64),
                   feature=joined["feature_idx"].astype(np.int64), threshold=joined["num_threshold"].astype(np.float64),
                   missing_left=joined["missing_go_to_left"].astype(np.bool_),
                   left=joined["left"].astype(np.int64) + shift, right=joined["right"].astype(np.int64) + shift,
                   is_leaf=joined["is_leaf"].astype(np.bool_), value=joined["value"].astype(np.float64))

    def raw(self, features: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds) of the rows of ``features``."""
        return _raw_scores(np.ascontiguousarray(features, dtype=np.float32), self.baseline, self.roots, self.feature,
                           self.threshold, self.missing_left, self.left, self.right, self.is_leaf, self.value)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        names = ("roots", "feature", "threshold", "missing_left", "left", "right", "is_leaf", "value")
        return {f"{prefix}{name}": getattr(self, name) for name in names} | {
            f"{prefix}baseline": np.asarray([self.baseline])}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> TreeEnsemble:
        try:
            fields = {name: np.asarray(arrays[f"{prefix}{name}"]) for name in
                      ("roots", "feature", "threshold", "missing_left", "left", "right", "is_leaf", "value")}
            baseline = float(np.asarray(arrays[f"{prefix}baseline"]).ravel()[0])
        except KeyError as exc:
            raise HiringModelError(f"hiring arrays: missing array {exc.args[0]!r}") from exc
        n = len(fields["feature"])
        if any(len(v) != n for k, v in fields.items() if k != "roots"):
            raise HiringModelError(f"hiring arrays {prefix}*: node arrays have different lengths")
        inner = ~fields["is_leaf"].astype(bool)
        for name in ("left", "right"):
            if inner.any() and not ((fields[name][inner] >= 0) & (fields[name][inner] < n)).all():
                raise HiringModelError(f"hiring arrays: {prefix}{name} points outside the node table")
        if len(fields["roots"]) and not ((fields["roots"] >= 0) & (fields["roots"] < n)).all():
            raise HiringModelError(f"hiring arrays: {prefix}roots points outside the node table")
        if inner.any() and not ((fields["feature"][inner] >= 0) & (fields["feature"][inner] < len(FEATURES))).all():
            raise HiringModelError(f"hiring arrays: {prefix}feature names a column outside FEATURES")
        if inner.any() and not ((fields["left"][inner] > np.flatnonzero(inner)).all()
                                and (fields["right"][inner] > np.flatnonzero(inner)).all()):
            raise HiringModelError(f"hiring arrays: {prefix}left/right must point forward (a tree, no cycles)")
        return cls(baseline=baseline, roots=fields["roots"].astype(np.int64), feature=fields["feature"].astype(np.int64),
                   threshold=fields["threshold"].astype(np.float64), missing_left=fields["missing_left"].astype(np.bool_),
                   left=fields["left"].astype(np.int64), right=fields["right"].astype(np.int64),
                   is_leaf=fields["is_leaf"].astype(np.bool_), value=fields["value"].astype(np.float64))


@numba.njit(nogil=True, cache=True)
def _raw_scores(x: np.ndarray, baseline: float, roots: np.ndarray, feature: np.ndarray, threshold: np.ndarray,
                missing_left: np.ndarray, left: np.ndarray, right: np.ndarray, is_leaf: np.ndarray,
                value: np.ndarray) -> np.ndarray:
    out = np.full(x.shape[0], baseline)
    for i in range(x.shape[0]):
        total = 0.0
        for root in roots:
            node = root
            while not is_leaf[node]:
                v = x[i, feature[node]]
                if np.isnan(v):
                    node = left[node] if missing_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            total += value[node]
        out[i] += total
    return out


@dataclass(frozen=True)
class Calibration:
    """Platt map from the trees' log-odds to a calibrated probability: ``sigmoid(slope * raw + intercept)``."""

    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return _sigmoid(self.slope * np.asarray(raw, float) + self.intercept)


# ---------------------------------------------------------------------- the model
class HiringModel:
    """P(interview | apply) and P(hire | apply) for seeker x job pairs.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Hyperparameters of each ``HistGradientBoostingClassifier`` (serving evaluates every tree for
        every candidate, so the defaults keep the ensembles small).
    calibration_share
        Latest share of the training window's applications held out to fit the Platt calibration.
    label_horizon_days
        Applications this close to the cutoff are left out (their outcome may come after it).
    random_state
        Seed of the boosting (and of nothing else: the split is by time).
    """

    def __init__(self, max_iter: int = 60, learning_rate: float = 0.1, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 40, l2_regularization: float = 1.0, calibration_share: float = 0.2,
                 label_horizon_days: float = 14.0, random_state: int = 0) -> None:
        if not 0.0 < calibration_share < 1.0:
            raise ValueError(f"calibration_share must be in (0, 1), got {calibration_share!r}")
        if label_horizon_days < 0:
            raise ValueError(f"label_horizon_days must be >= 0, got {label_horizon_days!r}")
        self.max_iter, self.learning_rate, self.max_leaf_nodes = max_iter, learning_rate, max_leaf_nodes
        self.min_samples_leaf, self.l2_regularization = min_samples_leaf, l2_regularization
        self.calibration_share, self.label_horizon_days, self.random_state = calibration_share, label_horizon_days, random_state
        self.trees_: dict[str, TreeEnsemble] = {}
        self.calibrations_: dict[str, Calibration] = {}
        self.cutoff_: pd.Timestamp | None = None
        self.n_applications_: int = 0

    def get_params(self) -> dict[str, Any]:
        return {"max_iter": self.max_iter, "learning_rate": self.learning_rate, "max_leaf_nodes": self.max_leaf_nodes,
                "min_samples_leaf": self.min_samples_leaf, "l2_regularization": self.l2_regularization,
                "calibration_share": self.calibration_share, "label_horizon_days": self.label_horizon_days,
                "random_state": self.random_state}

    # ------------------------------------------------------------------ fitting
    def fit(self, dataset: Dataset, cutoff: Any = None) -> HiringModel:
        """Fit on the applications at or before ``cutoff`` (default: the last interaction) and their
        outcomes at or before ``cutoff``; nothing after the cutoff is read."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression

        table = training_table(dataset, cutoff, label_horizon_days=self.label_horizon_days)
        features, times = table["features"], table["time_ns"]
        order = np.argsort(times, kind="stable")
        n_fit = int(round(len(order) * (1 - self.calibration_share)))
        fit_rows, calibration_rows = order[:n_fit], order[n_fit:]
        for target in TARGETS:
            labels = table[target]
            if labels[fit_rows].min() == labels[fit_rows].max() or len(calibration_rows) == 0:
                raise NoEmployerOutcomesError(
                    f"hiring model: the training applications have only one outcome for {target!r} "
                    f"({int(labels.sum())} of {len(labels)} reached it); need both to learn P({target} | apply)")
            booster = HistGradientBoostingClassifier(
                max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
                early_stopping=False, random_state=self.random_state)
            booster.fit(features[fit_rows], labels[fit_rows])
            trees = TreeEnsemble.from_sklearn(booster)
            platt = LogisticRegression(C=1e4).fit(trees.raw(features[calibration_rows])[:, None],
                                                  labels[calibration_rows])
            self.trees_[target] = trees
            self.calibrations_[target] = Calibration(float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        self.cutoff_, self.n_applications_ = table["cutoff"], len(times)
        return self

    # ------------------------------------------------------------------ prediction
    def predict_features(self, features: np.ndarray, target: str = "hire", *, calibrated: bool = True) -> np.ndarray:
        """P(``target`` | apply) of feature rows (:func:`pair_features`)."""
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        if target not in self.trees_:
            raise HiringModelError("the hiring model is not fitted")
        raw = self.trees_[target].raw(features)
        return self.calibrations_[target](raw) if calibrated else _sigmoid(raw)

    def predict(self, dataset: Dataset, seeker_ids: Sequence[str], job_ids: Sequence[str], times: Any,
                target: str = "hire") -> np.ndarray:
        """P(``target`` | apply) of applications ``(seeker_ids[i], job_ids[i])`` at ``times[i]``, counting the
        dataset's applications to each job strictly before that time."""
        seeker_rows = dataset.seeker_ids.to_rows(seeker_ids)
        job_rows = dataset.job_ids.to_rows(job_ids)
        time_ns = pd.to_datetime(pd.Series(times)).to_numpy("datetime64[ns]").astype(np.int64)
        applied = dataset.interactions[dataset.event_mask("apply")]
        a_job = applied["job_row"].to_numpy(np.int64)
        a_ns = applied["ts"].to_numpy("datetime64[ns]").astype(np.int64)
        # applications to the job strictly before each time: keys job * M + (rank of the time)
        distinct = np.unique(a_ns)
        span = len(distinct) + 1
        keys = np.sort(a_job * span + np.searchsorted(distinct, a_ns, side="left"))
        job_rows = np.asarray(job_rows, np.int64)
        counts = (np.searchsorted(keys, job_rows * span + np.searchsorted(distinct, time_ns, side="left"), side="left")
                  - np.searchsorted(keys, job_rows * span, side="left"))
        features = pair_features(SeekerSide.from_table(dataset.seekers), JobSide.from_table(dataset.jobs),
                                 seeker_rows, job_rows, time_ns, counts)
        return self.predict_features(features, target)

    # ------------------------------------------------------------------ persistence
    def to_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(meta, arrays)``: JSON-able description and the arrays of the fitted model."""
        if set(self.trees_) != set(TARGETS):
            raise HiringModelError("the hiring model is not fitted")
        arrays: dict[str, np.ndarray] = {}
        for target in TARGETS:
            arrays |= self.trees_[target].arrays(f"{target}_")
            calibration = self.calibrations_[target]
            arrays[f"{target}_calibration"] = np.asarray([calibration.slope, calibration.intercept])
        meta = {"format_version": FORMAT_VERSION, "kind": "recsys.models.hiring.HiringModel",
                "features": list(FEATURES), "targets": list(TARGETS), "params": self.get_params(),
                "cutoff": None if self.cutoff_ is None else self.cutoff_.isoformat(),
                "n_applications": self.n_applications_}
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> HiringModel:
        """Inverse of :meth:`to_arrays`; raises :class:`HiringModelError` naming what is wrong."""
        if not isinstance(meta, Mapping) or meta.get("kind") != "recsys.models.hiring.HiringModel":
            raise HiringModelError("hiring model: field 'kind' does not describe a recsys hiring model")
        if meta.get("format_version") != FORMAT_VERSION:
            raise HiringModelError(f"hiring model: field 'format_version' = {meta.get('format_version')!r} is not "
                                   f"supported (this recsys reads version {FORMAT_VERSION})")
        if list(meta.get("features", [])) != list(FEATURES):
            raise HiringModelError(f"hiring model: field 'features' = {meta.get('features')!r} differs from "
                                   f"this recsys's {list(FEATURES)}")
        params = meta.get("params")
        if not isinstance(params, Mapping):
            raise HiringModelError("hiring model: field 'params' must be an object")
        try:
            model = cls(**params)
        except TypeError as exc:
            raise HiringModelError(f"hiring model: field 'params': {exc}") from exc
        for target in TARGETS:
            model.trees_[target] = TreeEnsemble.from_arrays(arrays, f"{target}_")
            platt = np.asarray(arrays.get(f"{target}_calibration", np.empty(0)), float)
            if platt.shape != (2,) or not np.isfinite(platt).all():
                raise HiringModelError(f"hiring model: {target}_calibration must hold a finite slope and intercept")
            model.calibrations_[target] = Calibration(float(platt[0]), float(platt[1]))
        model.cutoff_ = None if meta.get("cutoff") is None else pd.Timestamp(meta["cutoff"])
        model.n_applications_ = int(meta.get("n_applications", 0))
        return model

    def save(self, path: str | Path) -> Path:
        """Write ``hiring.json`` and ``arrays.npz`` into directory ``path`` (created if needed)."""
        meta, arrays = self.to_arrays()
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "arrays.npz", **arrays)  # type: ignore[arg-type]  # numpy's stub misreads **kwargs
        (directory / "hiring.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, path: str | Path) -> HiringModel:
        """Read a directory written by :meth:`save` (arrays only; ``allow_pickle=False``)."""
        directory = Path(path)
        try:
            meta = json.loads((directory / "hiring.json").read_text(encoding="utf-8"))
            with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError) as exc:
            raise HiringModelError(f"cannot read hiring model {str(directory)!r}: {exc}") from exc
        return cls.from_arrays(meta, arrays)


# ---------------------------------------------------------------------- training data and report
def training_table(dataset: Dataset, cutoff: Any = None, *, label_horizon_days: float = 14.0) -> dict[str, Any]:
    """Applications at or before ``cutoff - label_horizon_days``, their features and outcomes by ``cutoff``.

    Returns ``features`` ``(n, len(FEATURES))``, ``interview`` / ``hire`` (0/1 int8), ``time_ns``,
    ``seeker_row``, ``job_row`` and ``cutoff``. Applicants-so-far counts use applications strictly before
    each one (all of them at or before the cutoff; none after). Raises :class:`NoEmployerOutcomesError`
    when the funnel lacks ``apply`` or an outcome event.
    """
    missing = [e for e in ("apply", *TARGETS) if e not in dataset.funnel.events]
    if missing:
        raise NoEmployerOutcomesError(
            f"hiring model: the dataset's funnel {list(dataset.funnel.events)} has no event(s) {missing}; "
            f"P(interview | apply) and P(hire | apply) need 'apply', 'interview' and 'hire' events")
    interactions = dataset.interactions
    ts = interactions["ts"].to_numpy("datetime64[ns]")
    cutoff_ts = pd.Timestamp(ts.max() if cutoff is None else cutoff)
    seen = ts <= np.datetime64(cutoff_ts.to_datetime64())
    window = interactions[seen]
    apply = window[window["event"].to_numpy() == "apply"]
    a_seeker = apply["seeker_row"].to_numpy(np.int64)
    a_job = apply["job_row"].to_numpy(np.int64)
    a_ns = apply["ts"].to_numpy("datetime64[ns]").astype(np.int64)
    before = applications_before(a_job, a_ns)
    horizon = cutoff_ts.value - int(label_horizon_days * NS_PER_DAY)
    keep = a_ns <= horizon
    pair_key = a_seeker * dataset.n_jobs + a_job
    labels = {}
    for target in TARGETS:
        reached = window[window["event"].to_numpy() == target]
        keys = reached["seeker_row"].to_numpy(np.int64) * dataset.n_jobs + reached["job_row"].to_numpy(np.int64)
        labels[target] = np.isin(pair_key, keys).astype(np.int8)[keep]
    if not keep.any():
        raise NoEmployerOutcomesError(f"hiring model: no application at or before {cutoff_ts} minus the "
                                      f"{label_horizon_days}-day label horizon")
    features = pair_features(SeekerSide.from_table(dataset.seekers), JobSide.from_table(dataset.jobs),
                             a_seeker[keep], a_job[keep], a_ns[keep], before[keep])
    return {"features": features, **labels, "time_ns": a_ns[keep], "seeker_row": a_seeker[keep],
            "job_row": a_job[keep], "cutoff": cutoff_ts}


def calibration_report(probabilities: np.ndarray, outcomes: np.ndarray, *, bins: int = 10) -> dict[str, Any]:
    """Brier score, log loss and a reliability table (equal-count bins of the predicted probability).

    Returns ``{"brier", "base_rate_brier", "log_loss", "n", "reliability"}``; ``reliability`` is a
    DataFrame with columns ``bin, n, mean_predicted, observed_rate``. ``base_rate_brier`` is the Brier
    score of predicting the observed rate for everyone (a calibrated model with no signal).
    """
    from sklearn.metrics import brier_score_loss, log_loss

    p, y = np.asarray(probabilities, float), np.asarray(outcomes, float)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": which, "p": p, "y": y}).groupby("bin").agg(
        n=("p", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")).reset_index()
    rate = float(y.mean()) if len(y) else float("nan")
    return {"brier": float(brier_score_loss(y, p)), "base_rate_brier": float(np.mean((y - rate) ** 2)),
            "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])), "n": int(len(y)),
            "reliability": frame}


def plot_reliability(report: Mapping[str, Any], path: str | Path, title: str = "") -> Path:
    """Save the reliability diagram of :func:`calibration_report` to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = report["reliability"]
    fig, ax = plt.subplots(figsize=(4, 4))
    high = float(max(table["mean_predicted"].max(), table["observed_rate"].max(), 1e-3))
    ax.plot([0, high], [0, high], color="grey", linestyle="--", linewidth=1)
    ax.plot(table["mean_predicted"], table["observed_rate"], marker="o")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title(f"{title} (Brier {report['brier']:.4f})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, float)))


def _column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns:
        return np.full(len(table), np.nan)
    return table[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _education(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns:
        return np.full(len(table), -1, dtype=np.int64)
    return pd.Index(EDUCATION_LEVELS).get_indexer(pd.Index(table[name].astype(object))).astype(np.int64)
