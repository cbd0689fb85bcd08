"""Baselines that need no learning and serve every seeker and posting: distance from home, newest nearby.

Both read coordinates only (``seekers.lat/lon``, ``jobs.lat/lon``; :class:`NewestNearby` also
``jobs.posted_at``), so a posting published after training is ranked like any other. Without those
columns ``fit`` raises :class:`MissingColumnsError` naming them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset
from recsys.data.geo import planar_km
from recsys.models._common import check_number, datetime64
from recsys.models.base import Recommender

UNKNOWN_KM = 1.0e6
"""Distance given to a pair where either side has no coordinates: such jobs rank after every located one."""

_WITHIN_OFFSET = 1.0e12
"""Added to the scores of :class:`NewestNearby`'s jobs within the radius: above any job outside it."""


class MissingColumnsError(ValueError):
    """A model needs columns the training tables do not have (absent, or present with no value).

    ``model``: the model's class name; ``missing``: the columns as ``"table.column"``.
    """

    def __init__(self, model: str, missing: Sequence[str], why: str) -> None:
        self.model, self.missing = model, list(missing)
        super().__init__(f"{model} needs column(s) {self.missing} ({why}); the training tables have none of their "
                         f"values. Add them, or use a model that does not need them")


def require_columns(model: object, dataset: Dataset, columns: Sequence[str], why: str) -> None:
    """Raise :class:`MissingColumnsError` unless every ``"table.column"`` exists with at least one value."""
    frames = {"seekers": dataset.seekers, "jobs": dataset.jobs}
    missing = [name for name in columns
               if name.split(".")[1] not in frames[name.split(".")[0]].columns
               or not bool(frames[name.split(".")[0]][name.split(".")[1]].notna().any())]
    if missing:
        raise MissingColumnsError(type(model).__name__, missing, why)


def _planar(frame: pd.DataFrame) -> np.ndarray:
    """``(n, 2)`` float32 planar km (east, north); ``NaN`` where a coordinate is missing."""
    east, north = planar_km(frame["lat"].to_numpy(dtype=float, na_value=np.nan),
                            frame["lon"].to_numpy(dtype=float, na_value=np.nan))
    return np.column_stack([east, north])


def _distances(seeker_xy: np.ndarray, job_xy: np.ndarray) -> np.ndarray:
    """Home-job km ``(len(seeker_xy), len(job_xy))``, :data:`UNKNOWN_KM` where either side is unlocated."""
    dx = seeker_xy[:, None, 0] - job_xy[None, :, 0]
    dy = seeker_xy[:, None, 1] - job_xy[None, :, 1]
    km = np.sqrt(dx * dx + dy * dy)
    return np.where(np.isnan(km), np.float32(UNKNOWN_KM), km)


class Nearest(Recommender):
    """Rank jobs by distance from the seeker's home, nearest first: ``score[s, j] = -km(s, j)``.

    Distance is :func:`recsys.data.geo.planar_km` (the generator's and the ranker's). A seeker or job
    without coordinates (missing ``lat``/``lon``) is :data:`UNKNOWN_KM` from everything, so unlocated
    jobs come last (a seeker without a home gets every job tied, in catalogue order). No learning: it
    serves warm and cold seekers and new postings alike. ``fit`` raises :class:`MissingColumnsError`
    when ``seekers.lat/lon`` or ``jobs.lat/lon`` are absent or empty.
    """

    serves_warm_seekers = True
    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self) -> None:
        pass

    def _fit(self, dataset: Dataset) -> None:
        require_columns(self, dataset, ["seekers.lat", "seekers.lon", "jobs.lat", "jobs.lon"],
                        "home-job distance")
        self.seeker_xy_ = _planar(dataset.seekers)
        self.job_xy_ = _planar(dataset.jobs)

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return -_distances(self.seeker_xy_[seeker_rows], self.job_xy_[job_rows])

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"seeker_xy": self.seeker_xy_, "job_xy": self.job_xy_}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.seeker_xy_ = _checked_xy(arrays["seeker_xy"], len(self.seeker_ids_), "seeker_xy")
        self.job_xy_ = _checked_xy(arrays["job_xy"], len(self.job_ids_), "job_xy")


class NewestNearby(Recommender):
    """Recent postings near home: within the seeker's radius newest first, then the rest nearest first.

    Definition: a job is *nearby* when ``km(s, j) <= radius(s)``, with ``radius(s)`` = ``radius_km`` if
    given, else the seeker's ``max_commute_km`` (when the column exists and the value is present), else
    ``default_radius_km``. Nearby jobs come first, ordered by ``posted_at`` (newest first; a missing
    ``posted_at`` counts as the oldest), ties by distance; every other job follows, nearest first. The
    evaluation restricts candidates to the jobs active at the test time, so "newest" is among those.

    Needs ``seekers.lat/lon``, ``jobs.lat/lon`` and ``jobs.posted_at`` (else :class:`MissingColumnsError`).
    Serves every seeker and posting.

    Parameters
    ----------
    radius_km
        One radius for everybody (km, > 0); ``None`` (default) uses each seeker's ``max_commute_km``.
    default_radius_km
        Radius of seekers without ``max_commute_km`` (km, > 0).
    """

    serves_warm_seekers = True
    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, radius_km: float | None = None, default_radius_km: float = 10.0) -> None:
        self.radius_km = radius_km
        self.default_radius_km = default_radius_km

    def _fit(self, dataset: Dataset) -> None:
        check_number(self, "radius_km", self.radius_km, low=0.0, allow_none=True)
        check_number(self, "default_radius_km", self.default_radius_km, low=0.0)
        require_columns(self, dataset, ["seekers.lat", "seekers.lon", "jobs.lat", "jobs.lon", "jobs.posted_at"],
                        "distance from home and posting date")
        self.seeker_xy_ = _planar(dataset.seekers)
        self.job_xy_ = _planar(dataset.jobs)
        radius = np.full(dataset.n_seekers, float(self.default_radius_km))
        if self.radius_km is not None:
            radius[:] = float(self.radius_km)
        elif "max_commute_km" in dataset.seekers.columns:
            stated = dataset.seekers["max_commute_km"].to_numpy(dtype=float, na_value=np.nan)
            radius = np.where(np.isnan(stated), radius, stated)
        self.radius_ = radius
        posted = datetime64(dataset.jobs["posted_at"])
        minutes = (posted - posted[~np.isnat(posted)].min()) / np.timedelta64(1, "m")
        self.posted_minutes_ = np.where(np.isnat(posted), -1.0, minutes).astype(np.float64)

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        km = _distances(self.seeker_xy_[seeker_rows], self.job_xy_[job_rows]).astype(np.float64)
        nearby = km <= self.radius_[seeker_rows, None]
        # km / (1 + km) < 1: distance only orders postings published the same minute
        newest = _WITHIN_OFFSET + self.posted_minutes_[job_rows][None, :] - km / (1.0 + km)
        return np.where(nearby, newest, -km)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"seeker_xy": self.seeker_xy_, "job_xy": self.job_xy_, "radius": self.radius_,
                "posted_minutes": self.posted_minutes_}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.seeker_xy_ = _checked_xy(arrays["seeker_xy"], len(self.seeker_ids_), "seeker_xy")
        self.job_xy_ = _checked_xy(arrays["job_xy"], len(self.job_ids_), "job_xy")
        self.radius_ = _checked_vector(arrays["radius"], len(self.seeker_ids_), "radius")
        self.posted_minutes_ = _checked_vector(arrays["posted_minutes"], len(self.job_ids_), "posted_minutes")


def _checked_xy(xy: np.ndarray, n: int, name: str) -> np.ndarray:
    if xy.shape != (n, 2) or xy.dtype.kind != "f":
        raise ValueError(f"state array {name!r} has shape {xy.shape} / dtype {xy.dtype}, expected ({n}, 2) floats")
    return xy


def _checked_vector(values: np.ndarray, n: int, name: str) -> np.ndarray:
    if values.shape != (n,) or values.dtype.kind != "f":
        raise ValueError(f"state array {name!r} has shape {values.shape} / dtype {values.dtype}, "
                         f"expected ({n},) floats")
    return values
