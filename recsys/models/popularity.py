"""Popularity baselines: global, per home district, and over a recent window."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data.dataset import Dataset
from recsys.models._common import datetime64, require_events
from recsys.models.base import Recommender

logger = logging.getLogger(__name__)

POPULARITY_MODES = ("global", "district", "recent")


class Popularity(Recommender):
    """Rank jobs by how many distinct training seekers produced ``event`` on them.

    Modes
    -----
    ``global``
        ``score[s, j]`` = number of distinct seekers with an ``event`` row on job ``j`` in training.
    ``district``
        Same count among seekers whose home ``district`` is seeker ``s``'s (a sparse product
        ``district one-hot @ seeker x job``); ties broken by the global count. Districts are whatever
        strings the seekers table holds. A seeker without a district (missing value) gets the global
        count; without a ``district`` column (or with only missing values) the model falls back to
        ``global`` for everyone, logs it and sets ``effective_mode_ = "global"``.
    ``recent``
        Same as ``global`` but counting only events in the last ``window_days`` days of training,
        i.e. ``ts > (last training interaction of any kind) - window_days``; ties broken by the all-time global count.

    Flags: serves warm and cold seekers (only the home district is needed). It does **not** serve
    new jobs: a job without training interactions has no count, so it is never recommended (rather
    than being ranked by an arbitrary tie-break). Jobs with interactions but no ``event`` score 0.

    Parameters
    ----------
    mode
        One of :data:`POPULARITY_MODES`.
    window_days
        Length of the ``recent`` window; ignored otherwise.
    event
        Funnel stage counted: any event of the dataset's funnel (``"apply"`` by default; ``"view"``,
        ``"click"``, ...). ``fit`` raises :class:`~recsys.models.base.NoTrainingEventsError` if the training
        data has none, rather than ranking by all-zero counts.

    Attributes
    ----------
    effective_mode_ : str
        The mode actually used (``mode``, or ``"global"`` when ``district`` has no district column).
    """

    serves_warm_seekers = True
    serves_cold_seekers = True
    serves_new_jobs = False

    def __init__(self, mode: str = "global", window_days: float = 14, event: str = "apply") -> None:
        self.mode = mode
        self.window_days = window_days
        self.event = event

    def _fit(self, dataset: Dataset) -> None:
        if self.mode not in POPULARITY_MODES:
            raise ValueError(f"mode must be one of {POPULARITY_MODES}, got {self.mode!r}")
        if not isinstance(self.event, str) or not self.event:
            raise ValueError(f"event must be an event name, got {self.event!r}")
        if not self.window_days > 0:
            raise ValueError(f"window_days must be positive, got {self.window_days!r}")
        require_events(self, dataset, [self.event])
        frame = dataset.interactions.loc[dataset.interactions["event"] == self.event]
        shape = (dataset.n_seekers, dataset.n_jobs)
        all_time = _distinct_counts(frame, shape)
        self.effective_mode_ = self.mode
        has_districts = "district" in dataset.seekers.columns and bool(dataset.seekers["district"].notna().any())
        if self.mode == "district" and not has_districts:
            logger.warning("Popularity(mode='district'): the seekers table has no district values; "
                           "ranking by global popularity for everyone")
            self.effective_mode_ = "global"
        if self.effective_mode_ == "global":
            self.table_ = all_time[None, :]
            self.seeker_group_ = np.zeros(dataset.n_seekers, dtype=np.int64)
            return
        tie_break = all_time / (all_time.max() + 1.0)  # < 1, so it only orders equal counts
        if self.mode == "recent":
            start = datetime64(dataset.interactions["ts"]).max() - np.timedelta64(pd.Timedelta(days=self.window_days))
            recent = _distinct_counts(frame.loc[datetime64(frame["ts"]) > start], shape)
            self.table_ = (recent + tie_break)[None, :]
            self.seeker_group_ = np.zeros(dataset.n_seekers, dtype=np.int64)
            return
        districts = dataset.seekers["district"]
        known = districts.notna().to_numpy()
        categories, known_codes = np.unique(districts[known].astype(str).to_numpy(dtype=object), return_inverse=True)
        n_groups = len(categories)
        codes = np.full(dataset.n_seekers, n_groups, dtype=np.int64)  # no district: the last row, global counts
        codes[known] = known_codes
        home = sp.csr_matrix((np.ones(dataset.n_seekers), (codes, np.arange(dataset.n_seekers))),
                             shape=(n_groups + 1, dataset.n_seekers))
        applied = _binary_matrix(frame, shape)
        table = np.asarray((home @ applied).todense(), dtype=np.float64)
        table[n_groups] = all_time
        self.table_ = table + tie_break
        self.seeker_group_ = codes

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return self.table_[np.ix_(self.seeker_group_[seeker_rows], job_rows)]

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"table": self.table_, "seeker_group": self.seeker_group_}, {"effective_mode": self.effective_mode_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.table_ = arrays["table"]
        self.seeker_group_ = arrays["seeker_group"]
        self.effective_mode_ = str(meta.get("effective_mode", self.mode))


def _binary_matrix(frame: pd.DataFrame, shape: tuple[int, int]) -> sp.csr_matrix:
    """Seeker x job 0/1 matrix: 1 where the pair has at least one row in ``frame``."""
    matrix = sp.csr_matrix((np.ones(len(frame)), (frame["seeker_row"].to_numpy(), frame["job_row"].to_numpy())),
                           shape=shape)
    matrix.data[:] = 1.0  # duplicates were summed; count each seeker once
    return matrix


def _distinct_counts(frame: pd.DataFrame, shape: tuple[int, int]) -> np.ndarray:
    """Number of distinct seekers per job in ``frame``."""
    return np.asarray(_binary_matrix(frame, shape).sum(axis=0), dtype=np.float64).ravel()
