"""Popularity with a prior for postings without history: occupation x district cells, shrunk (empirical Bayes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset
from recsys.models._common import check_number, datetime64, require_events, time_column
from recsys.models.base import Recommender
from recsys.models.nearest import MissingColumnsError

_DAY = np.timedelta64(1, "D")


class PopularityPrior(Recommender):
    """Rank jobs by their expected rate of ``event`` per active day, with a prior for new postings.

    Definitions (training data only; ``T0``/``T1`` = first/last training interaction):

    * exposure ``d_j`` = days job ``j`` was active during training, ``[max(posted_at, T0), min(expires_at,
      T1))`` (absent dates: open ends, so without ``posted_at``/``expires_at`` every job has the whole span);
    * count ``c_j`` = distinct seekers with an ``event`` on ``j`` in training;
    * a group's rate, shrunk toward its parent's rate ``r_parent`` with ``k = prior_days`` days of
      pseudo-exposure: ``r = (sum c + k r_parent) / (sum d + k)``. Levels: global (pooled ``sum c / sum d``),
      occupation and district (parent: global), occupation x district cell (parent: the occupation's rate
      if the occupation has training exposure, else the district's, else global);
    * the prior ``p_j`` of job ``j`` is its cell's rate (only occupation or only district known: that
      level's rate; neither: global);
    * ``score[s, j] = (c_j + k p_j) / (d_j + k)``: a posting without history (``d_j = 0``) scores its prior,
      a long-running one mostly its own rate.

    The list is the same for every seeker (serves warm and cold seekers and new postings). Needs
    ``jobs.occupation`` or ``jobs.district`` (else :class:`~recsys.models.nearest.MissingColumnsError`);
    with one of them the cells are that column alone.

    Parameters
    ----------
    prior_days
        Pseudo-exposure ``k`` (days, > 0) of every shrinkage step; larger trusts the prior longer.
    event
        Funnel stage counted (``"apply"`` by default); ``fit`` raises ``NoTrainingEventsError`` if absent.

    Attributes
    ----------
    prior_ : ndarray
        ``p_j`` per job row. ``global_rate_`` : float, events per job-day in training.
    """

    serves_warm_seekers = True
    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, prior_days: float = 7.0, event: str = "apply") -> None:
        self.prior_days = prior_days
        self.event = event

    def _fit(self, dataset: Dataset) -> None:
        check_number(self, "prior_days", self.prior_days, low=0.0)
        if not isinstance(self.event, str) or not self.event:
            raise ValueError(f"event must be an event name, got {self.event!r}")
        cell_columns = [c for c in ("occupation", "district")
                        if c in dataset.jobs.columns and bool(dataset.jobs[c].notna().any())]
        if not cell_columns:
            raise MissingColumnsError(type(self).__name__, ["jobs.occupation", "jobs.district"],
                                      "the cells of the prior for postings without history; one is enough")
        require_events(self, dataset, [self.event])
        k = float(self.prior_days)
        events = dataset.interactions.loc[dataset.interactions["event"] == self.event]
        pairs = np.unique(events["job_row"].to_numpy(np.int64) * dataset.n_seekers
                          + events["seeker_row"].to_numpy(np.int64))
        counts = np.bincount(pairs // dataset.n_seekers, minlength=dataset.n_jobs).astype(np.float64)
        times = datetime64(dataset.interactions["ts"])
        start, end = times.min(), times.max()
        posted = np.maximum(time_column(dataset.jobs, "posted_at", "min"), start)
        expires = np.minimum(time_column(dataset.jobs, "expires_at", "max"), end)
        exposure = np.maximum((expires - posted) / _DAY, 0.0)
        global_rate = counts.sum() / max(exposure.sum(), 1e-9)

        def level(keys: pd.Series, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Shrunk rate of each job's group and whether the group had training exposure (missing key: parent)."""
            codes, _ = pd.factorize(keys, use_na_sentinel=True)
            known = codes >= 0
            n_groups = int(codes.max()) + 1 if known.any() else 0
            c = np.bincount(codes[known], weights=counts[known], minlength=n_groups)
            d = np.bincount(codes[known], weights=exposure[known], minlength=n_groups)
            p = np.bincount(codes[known], weights=parent[known], minlength=n_groups) / np.maximum(
                np.bincount(codes[known], minlength=n_groups), 1)  # a group's parent is shared by its jobs
            rate = np.where(known, ((c + k * p) / (d + k))[np.maximum(codes, 0)], parent)
            seen = np.where(known, (d > 0)[np.maximum(codes, 0)], False)
            return rate, seen

        everywhere = np.full(dataset.n_jobs, global_rate)
        jobs = dataset.jobs
        key = {c: jobs[c].astype("string") for c in cell_columns}
        prior = everywhere
        if len(cell_columns) == 2:
            occupation, occupation_seen = level(key["occupation"], everywhere)
            district, district_seen = level(key["district"], everywhere)
            cell_parent = np.where(occupation_seen, occupation, np.where(district_seen, district, global_rate))
            cell = key["occupation"] + "\x1f" + key["district"]  # missing if either is missing
            prior, _ = level(cell, cell_parent)
            # a job with only one of the two keys gets that level's rate
            only_occupation = key["occupation"].notna().to_numpy() & key["district"].isna().to_numpy()
            only_district = key["occupation"].isna().to_numpy() & key["district"].notna().to_numpy()
            prior = np.where(only_occupation, occupation, np.where(only_district, district, prior))
        else:
            prior, _ = level(key[cell_columns[0]], everywhere)
        self.cell_columns_ = cell_columns
        self.global_rate_ = float(global_rate)
        self.prior_ = prior.astype(np.float64)
        self.job_score_ = (counts + k * self.prior_) / (exposure + k)

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.job_score_[job_rows], (len(seeker_rows), len(job_rows))).copy()

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return ({"job_score": self.job_score_, "prior": self.prior_},
                {"cell_columns": self.cell_columns_, "global_rate": self.global_rate_})

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        for name in ("job_score", "prior"):
            if arrays[name].shape != (len(self.job_ids_),) or arrays[name].dtype.kind != "f":
                raise ValueError(f"state array {name!r} has shape {arrays[name].shape}, expected "
                                 f"({len(self.job_ids_)},) floats")
        self.job_score_, self.prior_ = arrays["job_score"], arrays["prior"]
        self.cell_columns_ = [str(c) for c in meta["cell_columns"]]
        self.global_rate_ = float(meta["global_rate"])
