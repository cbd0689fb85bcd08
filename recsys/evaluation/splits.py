"""Train/test splits that mirror how the service is used.

A :class:`Split` keeps every seeker and job row (``train`` is the full :class:`~recsys.data.Dataset`
with only training interactions) and says, for each test seeker:

* the *test time* ``t_s``: the time of the seeker's first relevant test event;
* the *candidates*: jobs active at ``t_s`` (``posted_at <= t_s < expires_at``) that the seeker has not
  applied to in training (apply, interview or hire; :data:`recsys.models.base.SEEN_EVENTS`);
* the *relevant* jobs: jobs with a relevant event (``apply`` by default) in the seeker's test events,
  restricted to the candidates. Relevant pairs outside the candidates are dropped and counted.

Four constructors: :func:`temporal_split`, :func:`leave_last_out_split`, :func:`cold_seeker_split`,
:func:`cold_job_split`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data.dataset import Dataset
from recsys.models.base import SEEN_EVENTS, CandidateBlock

RELEVANT_EVENTS = ("apply", "interview", "hire")
"""Events that may define relevance (views are too weak a signal)."""


class SplitError(ValueError):
    """A split cannot be built from these arguments and data."""


@dataclass(frozen=True, eq=False)
class Split:
    """One train/test split. Arrays indexed by *position* ``p`` refer to test seeker ``seeker_rows[p]``.

    Attributes
    ----------
    name
        ``"temporal"``, ``"leave_last_out"``, ``"cold_seekers"`` or ``"cold_jobs"``.
    train
        All seekers and jobs, training interactions only. Fit models on this.
    seeker_rows
        ``(n_test,)`` test seeker rows, ascending and unique.
    test_time
        ``(n_test,)`` ``datetime64[ns]``: each test seeker's first relevant test event time.
    relevant
        CSR ``(n_test, n_jobs)``, 1 where the job is relevant to the seeker and a candidate.
    seeker_is_cold
        ``(n_test,)``: the seeker has no training interaction of any kind.
    job_is_new
        ``(n_jobs,)``: the job has no training interaction of any kind (every job posted at or after
        ``cutoff`` is new).
    relevant_event
        The event that defines relevance.
    cutoff
        ``T`` for time-based splits (train is ``ts < T``), ``None`` for leave-last-out.
    n_dropped_inactive, n_dropped_seen
        Relevant (seeker, job) pairs dropped because the job was not active at the seeker's test time,
        or because the seeker had already applied to it in training.
    n_seekers_dropped
        Seekers with test events left with no relevant candidate (not in ``seeker_rows``).
    active_only
        Candidates must be active at the test time (``False`` makes every job a candidate; used to
        reproduce LightFM's own evaluation protocol).
    """

    name: str
    train: Dataset
    seeker_rows: np.ndarray
    test_time: np.ndarray
    relevant: sp.csr_matrix
    seeker_is_cold: np.ndarray
    job_is_new: np.ndarray
    relevant_event: str = "apply"
    cutoff: pd.Timestamp | None = None
    n_dropped_inactive: int = 0
    n_dropped_seen: int = 0
    n_seekers_dropped: int = 0
    active_only: bool = True
    _position: np.ndarray = field(init=False, repr=False)
    _seen: sp.csr_matrix = field(init=False, repr=False)
    _posted: np.ndarray = field(init=False, repr=False)
    _expires: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n_test, n_jobs = len(self.seeker_rows), self.train.n_jobs
        if self.relevant.shape != (n_test, n_jobs):
            raise SplitError(f"relevant has shape {self.relevant.shape}, expected {(n_test, n_jobs)}")
        if len(self.test_time) != n_test or len(self.seeker_is_cold) != n_test:
            raise SplitError("test_time and seeker_is_cold need one entry per test seeker")
        position = np.full(self.train.n_seekers, -1, dtype=np.int64)
        position[self.seeker_rows] = np.arange(n_test)
        object.__setattr__(self, "_position", position)
        object.__setattr__(self, "_seen", self.train.interaction_matrix(events=SEEN_EVENTS))
        # int64 nanoseconds: comparing them is several times faster than comparing datetime64 (NaT checks)
        for name, column in (("_posted", "posted_at"), ("_expires", "expires_at")):
            object.__setattr__(self, name, _as_ns(self.train.jobs[column].to_numpy()))

    @property
    def n_test(self) -> int:
        return len(self.seeker_rows)

    @property
    def train_seen(self) -> sp.csr_matrix:
        """Seeker x job training matrix of :data:`~recsys.models.base.SEEN_EVENTS` (default weights; a copy)."""
        return self._seen.copy()

    def positions(self, seeker_rows: np.ndarray) -> np.ndarray:
        """Test positions of ``seeker_rows``; raises :class:`SplitError` for non-test seekers."""
        positions = self._position[np.asarray(seeker_rows, dtype=np.int64)]
        if (positions < 0).any():
            raise SplitError(f"seeker row {np.asarray(seeker_rows)[positions < 0][0]} is not a test seeker "
                             f"of split {self.name!r}")
        return positions

    def candidate_mask(self, positions: np.ndarray) -> np.ndarray:
        """Boolean ``(len(positions), n_jobs)``: jobs active at each seeker's test time, not applied to."""
        block = self.candidate_block(positions)
        mask = np.zeros((len(block.mask), self.train.n_jobs), dtype=bool)
        mask[:, block.columns] = block.mask
        return mask

    def candidate_block(self, positions: np.ndarray) -> CandidateBlock:
        """:meth:`candidate_mask` on only the jobs active at some test time of ``positions``.

        With seekers ordered by test time, a batch's block is a small share of the catalogue, so
        :meth:`~recsys.models.base.Recommender.recommend_rows` scores and masks far fewer columns.
        """
        positions = np.asarray(positions, dtype=np.int64)
        n_jobs = self.train.n_jobs
        if not self.active_only:
            columns = np.arange(n_jobs)
            mask = np.ones((len(positions), n_jobs), dtype=bool)
        else:
            at = _as_ns(self.test_time[positions])
            window = (self._posted <= at.max()) & (self._expires > at.min()) if len(at) else np.zeros(n_jobs, bool)
            columns = np.flatnonzero(window)
            mask = (self._posted[columns] <= at[:, None]) & (self._expires[columns] > at[:, None])
        seen = self._seen[self.seeker_rows[positions]]
        column_of_job = np.full(n_jobs, -1, dtype=np.int64)
        column_of_job[columns] = np.arange(len(columns))
        rows, cols = np.repeat(np.arange(len(positions)), np.diff(seen.indptr)), column_of_job[seen.indices]
        mask[rows[cols >= 0], cols[cols >= 0]] = False
        return CandidateBlock(columns, mask)

    def jobs_active_during_test(self) -> np.ndarray:
        """Boolean ``(n_jobs,)``: jobs active at some time between the first and the last test time."""
        first, last = _as_ns(self.test_time.min()), _as_ns(self.test_time.max())
        return (self._posted <= last) & (self._expires > first)

    @cached_property
    def train_applicants(self) -> np.ndarray:
        """``(n_jobs,)``: distinct seekers who applied to each job in training (computed once)."""
        return applicants_per_job(self.train)

    def describe(self) -> dict[str, Any]:
        """Flat summary (sizes, drops, cold shares) for logs and MLflow params."""
        return {
            "split": self.name, "relevant_event": self.relevant_event,
            "cutoff": None if self.cutoff is None else str(self.cutoff),
            "n_train_interactions": len(self.train.interactions), "n_test_seekers": self.n_test,
            "n_relevant_pairs": int(self.relevant.nnz), "n_dropped_inactive": self.n_dropped_inactive,
            "n_dropped_seen": self.n_dropped_seen, "n_seekers_dropped": self.n_seekers_dropped,
            "share_cold_seekers": float(np.mean(self.seeker_is_cold)) if self.n_test else float("nan"),
            "share_new_jobs": float(np.mean(self.job_is_new)),
        }


# ---------------------------------------------------------------------- constructors
def temporal_split(dataset: Dataset, cutoff: Any = None, *, last_days: float | None = None,
                   test_end: Any = None, relevant_event: str = "apply") -> Split:
    """Train on interactions before ``T``, test on relevant events in ``[T, test_end)``.

    Parameters
    ----------
    cutoff
        ``T`` as a date(-time). Give either this or ``last_days``.
    last_days
        ``T`` = midnight after the day of the last interaction, minus ``last_days`` days.
    test_end
        Optional end (exclusive) of the test window; default: no end.
    relevant_event
        ``"apply"`` (default), ``"interview"`` or ``"hire"``.
    """
    cutoff, test_events = _test_window(dataset, cutoff, last_days, test_end, relevant_event)
    return _make_split("temporal", dataset, dataset.interactions["ts"] < cutoff, test_events,
                       relevant_event, cutoff)


def cold_job_split(dataset: Dataset, cutoff: Any = None, *, last_days: float | None = None,
                   test_end: Any = None, relevant_event: str = "apply") -> Split:
    """Temporal split whose relevance is restricted to jobs posted at or after ``T`` (new postings).

    Candidates are still every active job, old or new: a model must rank the new ones first.
    """
    cutoff, test_events = _test_window(dataset, cutoff, last_days, test_end, relevant_event)
    posted = dataset.jobs["posted_at"].to_numpy()[test_events["job_row"].to_numpy()]
    test_events = test_events.loc[posted >= np.datetime64(cutoff)]
    return _make_split("cold_jobs", dataset, dataset.interactions["ts"] < cutoff, test_events,
                       relevant_event, cutoff)


def cold_seeker_split(dataset: Dataset, cutoff: Any = None, *, last_days: float | None = None,
                      test_end: Any = None, share: float = 0.1, seed: int = 0,
                      relevant_event: str = "apply") -> Split:
    """Temporal split testing only a held-out share of seekers, with their training history removed.

    ``round(share * m)`` seekers are drawn (seeded, without replacement) among the ``m`` seekers with
    a relevant test event; all their interactions before ``T`` are dropped from ``train``, so models
    see only their profile. The other seekers keep their history and are not tested.
    """
    if not 0 < share <= 1:
        raise SplitError(f"share must be in (0, 1], got {share!r}")
    cutoff, test_events = _test_window(dataset, cutoff, last_days, test_end, relevant_event)
    eligible = np.unique(test_events["seeker_row"].to_numpy())
    n_held = max(1, round(share * len(eligible)))
    held_out = np.sort(np.random.default_rng(seed).choice(eligible, size=n_held, replace=False))
    in_held = np.isin(dataset.interactions["seeker_row"].to_numpy(), held_out)
    train_mask = (dataset.interactions["ts"] < cutoff).to_numpy() & ~in_held
    test_events = test_events.loc[np.isin(test_events["seeker_row"].to_numpy(), held_out)]
    return _make_split("cold_seekers", dataset, train_mask, test_events, relevant_event, cutoff)


def leave_last_out_split(dataset: Dataset, *, relevant_event: str = "apply") -> Split:
    """Hold out each seeker's last relevant event (time-ordered); seekers need at least two.

    For a test seeker with last relevant event at ``t``, every interaction of that seeker at or after
    ``t`` leaves ``train`` (relevant events exactly at ``t`` are all relevant). Other seekers'
    interactions after ``t`` stay in ``train``: leave-last-out leaks the global timeline, which is why
    :func:`temporal_split` is the default protocol.
    """
    _check_event(relevant_event)
    interactions = dataset.interactions
    is_relevant = (interactions["event"] == relevant_event).to_numpy()
    per_seeker = interactions.loc[is_relevant].groupby("seeker_row")["ts"].agg(["size", "max"])
    per_seeker = per_seeker.loc[per_seeker["size"] >= 2]
    if per_seeker.empty:
        raise SplitError(f"leave_last_out: no seeker has two or more {relevant_event!r} events")
    last = np.full(dataset.n_seekers, np.datetime64("NaT"), dtype="datetime64[ns]")
    last[per_seeker.index.to_numpy()] = per_seeker["max"].to_numpy()
    future = interactions["ts"].to_numpy() >= last[interactions["seeker_row"].to_numpy()]  # NaT: False
    test_events = interactions.loc[is_relevant & future]
    return _make_split("leave_last_out", dataset, ~future, test_events, relevant_event, None)


def applicants_per_job(dataset: Dataset) -> np.ndarray:
    """``(n_jobs,)``: distinct seekers with an ``apply`` event for each job of ``dataset``."""
    frame = dataset.interactions
    applied = (frame["event"] == "apply").to_numpy(dtype=bool)
    pairs = np.sort(frame["seeker_row"].to_numpy(dtype=np.int64)[applied] * dataset.n_jobs
                    + frame["job_row"].to_numpy(dtype=np.int64)[applied])
    distinct = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs  # np.unique hashes: slower
    return np.bincount(distinct % dataset.n_jobs, minlength=dataset.n_jobs)


# ---------------------------------------------------------------------- internals
def _as_ns(times: np.ndarray) -> np.ndarray:
    """``datetime64`` values as int64 nanoseconds since the epoch."""
    return np.asarray(times, dtype="datetime64[ns]").view(np.int64)


def _check_event(relevant_event: str) -> None:
    if relevant_event not in RELEVANT_EVENTS:
        raise SplitError(f"relevant_event must be one of {RELEVANT_EVENTS}, got {relevant_event!r}")


def _test_window(dataset: Dataset, cutoff: Any, last_days: float | None, test_end: Any,
                 relevant_event: str) -> tuple[pd.Timestamp, pd.DataFrame]:
    """Resolve ``T`` and return it with the relevant events in ``[T, test_end)``."""
    _check_event(relevant_event)
    ts = dataset.interactions["ts"]
    if ts.empty:
        raise SplitError("the dataset has no interactions to split")
    if (cutoff is None) == (last_days is None):
        raise SplitError("give exactly one of cutoff (a date) or last_days (a number of days)")
    if cutoff is None:
        if not last_days > 0:
            raise SplitError(f"last_days must be positive, got {last_days!r}")
        cutoff = ts.max().floor("D") + pd.Timedelta(days=1) - pd.Timedelta(days=last_days)
    cutoff = pd.Timestamp(cutoff)
    if not ts.min() < cutoff <= ts.max():
        raise SplitError(f"cutoff {cutoff} leaves no training or no test interactions "
                         f"(interactions span {ts.min()} .. {ts.max()})")
    window = (ts >= cutoff) & (dataset.interactions["event"] == relevant_event)
    if test_end is not None:
        test_end = pd.Timestamp(test_end)
        if test_end <= cutoff:
            raise SplitError(f"test_end {test_end} must be after the cutoff {cutoff}")
        window &= ts < test_end
    return cutoff, dataset.interactions.loc[window]


def _make_split(name: str, dataset: Dataset, train_mask: np.ndarray | pd.Series, test_events: pd.DataFrame,
                relevant_event: str, cutoff: pd.Timestamp | None) -> Split:
    """Restrict relevance to candidates, drop seekers left without any, and set the cold flags."""
    train = dataset.with_interactions(np.asarray(train_mask, dtype=bool))
    if test_events.empty:
        raise SplitError(f"{name}: no {relevant_event!r} events to test on")
    pairs = test_events.groupby(["seeker_row", "job_row"], sort=True)["ts"].min().reset_index()
    first_time = test_events.groupby("seeker_row")["ts"].min()
    at = first_time.loc[pairs["seeker_row"]].to_numpy()
    job_rows = pairs["job_row"].to_numpy()
    active = (dataset.jobs["posted_at"].to_numpy()[job_rows] <= at) & \
             (dataset.jobs["expires_at"].to_numpy()[job_rows] > at)
    seen = train.interaction_matrix(events=SEEN_EVENTS)
    already = np.asarray(seen[pairs["seeker_row"].to_numpy(), job_rows]).ravel() > 0
    keep = active & ~already
    kept = pairs.loc[keep]
    seeker_rows = np.unique(kept["seeker_row"].to_numpy())
    if len(seeker_rows) == 0:
        raise SplitError(f"{name}: every {relevant_event!r} test pair was dropped ({int((~active).sum())} job(s) "
                         f"not active at the test time, {int((active & already).sum())} already applied to)")
    positions = np.searchsorted(seeker_rows, kept["seeker_row"].to_numpy())
    relevant = sp.csr_matrix((np.ones(len(kept), dtype=np.float32), (positions, kept["job_row"].to_numpy())),
                             shape=(len(seeker_rows), dataset.n_jobs))
    any_event = train.interaction_matrix()
    return Split(
        name=name, train=train, seeker_rows=seeker_rows,
        test_time=first_time.loc[seeker_rows].to_numpy(dtype="datetime64[ns]"), relevant=relevant,
        seeker_is_cold=np.diff(any_event.indptr)[seeker_rows] == 0,
        job_is_new=np.asarray(any_event.getnnz(axis=0) == 0), relevant_event=relevant_event, cutoff=cutoff,
        n_dropped_inactive=int((~active).sum()), n_dropped_seen=int((active & already).sum()),
        n_seekers_dropped=int(first_time.index.nunique() - len(seeker_rows)),
    )
