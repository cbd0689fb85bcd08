"""Train/test splits that mirror how the service is used.

A :class:`Split` keeps every seeker and job row (``train`` is the full :class:`~recsys.data.Dataset`
with only training interactions) and says, for each test seeker:

* the *test time* ``t_s``: the time of the seeker's first relevant test event;
* the *candidates*: jobs active at ``t_s`` (``posted_at <= t_s < expires_at``; every job when
  ``active_only=False`` or when the data has no posting dates) that the seeker has not "seen" in training
  (the dataset funnel's :attr:`~recsys.data.events.EventFunnel.seen_events`: apply, interview or hire
  for the synthetic funnel);
* the *relevant* jobs: jobs with a relevant event in the seeker's test events, restricted to the
  candidates. Relevant pairs outside the candidates are dropped and counted. Any funnel event can
  define relevance (views included); the default is the funnel's ``default_relevant`` (``apply``).

Cold seekers / new jobs are those that are not warm in ``train`` (:meth:`~recsys.data.Dataset.warm_seekers`).

Splits are evaluated on *queries* (a seeker at a time). The one-time protocol above has one query
per test seeker; :func:`rolling_split` (the default protocol) has one per (seeker, time) with a
relevant test event, each ranked at its own time (see its docstring).

Constructors: :func:`rolling_split`, :func:`temporal_split` (one-time: each seeker at its first test
event), :func:`leave_last_out_split`, :func:`cold_seeker_split`, :func:`cold_job_split`, and
:meth:`Split.from_partition` for datasets that come with their own split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data.dataset import Dataset
from recsys.data.events import FunnelError
from recsys.models.base import CandidateBlock


def _csr_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entries of ``matrix[rows]`` as (position in ``rows``, column) arrays, without building the submatrix
    (scipy's fancy row indexing costs more than the gather itself on batch-sized selections)."""
    starts = matrix.indptr[rows]
    lengths = matrix.indptr[rows + 1] - starts
    position = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(int(lengths.sum())) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return position, matrix.indices[offsets]


class SplitError(ValueError):
    """A split cannot be built from these arguments and data."""


@dataclass(frozen=True, eq=False)
class Split:
    """One train/test split. Arrays indexed by *position* ``p`` refer to test seeker ``seeker_rows[p]``.

    Attributes
    ----------
    name
        ``"temporal"``, ``"leave_last_out"``, ``"cold_seekers"``, ``"cold_jobs"`` or ``"partition"``.
    train
        All seekers and jobs, training interactions only. Fit models on this. Time-based splits freeze it at
        ``cutoff`` (:attr:`~recsys.data.Dataset.as_of`: e.g. trainings completed before it are known).
    seeker_rows
        ``(n_test,)`` test seeker rows, ascending and unique.
    test_time
        ``(n_test,)`` ``datetime64[ns]``: each test seeker's first relevant test event time.
    relevant
        CSR ``(n_test, n_jobs)``, 1 where the job is relevant to the seeker and a candidate.
    seeker_is_cold
        ``(n_test,)``: the seeker is not warm in ``train`` (no training interaction of a warm event).
    job_is_new
        ``(n_jobs,)``: the job is not warm in ``train`` (every job posted at or after ``cutoff`` is new).
    relevant_event
        The event that defines relevance.
    cutoff
        ``T`` for time-based splits (train is ``ts < T``), ``None`` for leave-last-out.
    n_dropped_inactive, n_dropped_seen
        Relevant (seeker, job) pairs dropped because the job was not active at the seeker's test time,
        or because the seeker had already seen it (a seen event) in training.
    n_seekers_dropped
        Seekers with test events left with no relevant candidate (not in ``seeker_rows``).
    active_only
        Candidates must be active at the test time (``False`` makes every job a candidate; used to
        reproduce LightFM's own evaluation protocol).
    query_position, query_time, query_relevant
        Queries (a test seeker at a time; what a ranked list answers): test seeker position, time and
        CSR ``(n_queries, n_jobs)`` relevant jobs. Default: one query per test seeker at ``test_time``
        with ``relevant``. :func:`rolling_split` has one per (seeker, time) with a relevant event.
    query_seen
        CSR ``(n_queries, n_jobs)``: jobs the seeker reached (seen event) in the test window before the
        query's time, excluded from its candidates like training ones (``None``: none).
    drop_reasons
        Relevant test events (pairs for one-time splits) dropped, per reason.
    n_test_events
        Relevant test events before drops (rolling splits; ``None`` for the others).
    source
        The dataset the split was cut from (rolling splits; used to refit models during the test window).
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
    # None (default): one query per test seeker at its test time; filled in __post_init__
    query_position: np.ndarray = None  # type: ignore[assignment]
    query_time: np.ndarray = None  # type: ignore[assignment]
    query_relevant: sp.csr_matrix = None
    query_seen: sp.csr_matrix | None = None
    drop_reasons: dict[str, int] = None  # type: ignore[assignment]
    n_test_events: int | None = None
    source: Dataset | None = field(default=None, repr=False)
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
        if self.query_position is None:  # one query per test seeker, at its test time
            object.__setattr__(self, "query_position", np.arange(n_test, dtype=np.int64))
            object.__setattr__(self, "query_time", np.asarray(self.test_time, dtype="datetime64[ns]"))
            object.__setattr__(self, "query_relevant", self.relevant)
        if self.query_time is None or self.query_relevant is None or \
                len(self.query_time) != len(self.query_position) or \
                self.query_relevant.shape != (len(self.query_position), n_jobs):
            raise SplitError("query_time and query_relevant need one entry / row per query")
        if self.query_seen is not None and self.query_seen.shape != self.query_relevant.shape:
            raise SplitError(f"query_seen has shape {self.query_seen.shape}, expected {self.query_relevant.shape}")
        if self.drop_reasons is None:
            object.__setattr__(self, "drop_reasons", {"inactive_at_query_time": self.n_dropped_inactive,
                                                      "seen_before_query": self.n_dropped_seen})
        position = np.full(self.train.n_seekers, -1, dtype=np.int64)
        position[self.seeker_rows] = np.arange(n_test)
        object.__setattr__(self, "_position", position)
        object.__setattr__(self, "_seen", self.train.seen_matrix())
        # int64 nanoseconds: comparing them is several times faster than comparing datetime64 (NaT checks);
        # missing posting dates are open ends (always active)
        posted, expires = self.train.posting_window()
        object.__setattr__(self, "_posted", posted)
        object.__setattr__(self, "_expires", expires)

    @property
    def n_test(self) -> int:
        return len(self.seeker_rows)

    @property
    def n_queries(self) -> int:
        """Number of queries (ranked lists to produce): one per test seeker, or one per (seeker, time)."""
        return len(self.query_position)

    @property
    def query_seeker_rows(self) -> np.ndarray:
        """``(n_queries,)`` seeker row of each query."""
        return self.seeker_rows[self.query_position]

    @property
    def train_seen(self) -> sp.csr_matrix:
        """Seeker x job training matrix of the funnel's seen events (interaction weights; a copy)."""
        return self._seen.copy()

    def positions(self, seeker_rows: np.ndarray) -> np.ndarray:
        """Test positions of ``seeker_rows``; raises :class:`SplitError` for non-test seekers."""
        positions = self._position[np.asarray(seeker_rows, dtype=np.int64)]
        if (positions < 0).any():
            raise SplitError(f"seeker row {np.asarray(seeker_rows)[positions < 0][0]} is not a test seeker "
                             f"of split {self.name!r}")
        return positions

    def candidate_mask(self, positions: np.ndarray) -> np.ndarray:
        """Boolean ``(len(positions), n_jobs)``: jobs active at each seeker's test time, not seen."""
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
        column_of_job = np.full(n_jobs, -1, dtype=np.int64)
        column_of_job[columns] = np.arange(len(columns))
        rows, jobs = _csr_rows(self._seen, self.seeker_rows[positions])
        cols = column_of_job[jobs]
        mask[rows[cols >= 0], cols[cols >= 0]] = False
        return CandidateBlock(columns, mask)

    def query_candidates(self, queries: np.ndarray) -> CandidateBlock:
        """Candidates of ``queries`` (query indices) as a :class:`~recsys.models.base.CandidateBlock`.

        A job is a candidate of query ``q`` (seeker ``s`` at time ``t``) when it is active at ``t``
        (:meth:`~recsys.data.Dataset.active_jobs`; every job without posting dates or with
        ``active_only=False``) and ``s`` has no seen event for it before ``t`` (in training, and in the
        test window for rolling splits). Queries in time order make small blocks.
        """
        queries = np.asarray(queries, dtype=np.int64)
        n_jobs = self.train.n_jobs
        at = _as_ns(self.query_time[queries])
        if not self.active_only:
            columns = np.arange(n_jobs)
            mask = np.ones((len(queries), n_jobs), dtype=bool)
        else:
            window = (self._posted <= at.max()) & (self._expires > at.min()) if len(at) else np.zeros(n_jobs, bool)
            columns = np.flatnonzero(window)
            mask = (self._posted[columns] <= at[:, None]) & (self._expires[columns] > at[:, None])
        column_of_job = np.full(n_jobs, -1, dtype=np.int64)
        column_of_job[columns] = np.arange(len(columns))
        seen_blocks = [(self._seen, self.query_seeker_rows[queries])]
        if self.query_seen is not None:
            seen_blocks.append((self.query_seen, queries))
        for seen, seen_rows in seen_blocks:
            rows, jobs = _csr_rows(seen, seen_rows)
            cols = column_of_job[jobs]
            mask[rows[cols >= 0], cols[cols >= 0]] = False
        return CandidateBlock(columns, mask)

    def query_candidate_mask(self, queries: np.ndarray) -> np.ndarray:
        """Dense boolean ``(len(queries), n_jobs)`` form of :meth:`query_candidates`."""
        block = self.query_candidates(queries)
        mask = np.zeros((len(block.mask), self.train.n_jobs), dtype=bool)
        mask[:, block.columns] = block.mask
        return mask

    def jobs_active_during_test(self) -> np.ndarray:
        """Boolean ``(n_jobs,)``: jobs active at some time between the first and the last query time."""
        first, last = _as_ns(self.query_time.min()), _as_ns(self.query_time.max())
        return (self._posted <= last) & (self._expires > first)

    @cached_property
    def train_applicants(self) -> np.ndarray:
        """``(n_jobs,)``: distinct seekers with a seen event (applied) for each job in training (computed once)."""
        return applicants_per_job(self.train)

    def describe(self) -> dict[str, Any]:
        """Flat summary (sizes, drops per reason, cold-start shares) for logs and MLflow params.

        Cold-start shares, each with its own denominator:

        * ``share_relevant_new_jobs``: relevant (query, job) pairs whose job has no training history;
        * ``share_active_new_jobs``: jobs active at some time of the test window without training history;
        * ``share_cold_seekers``: test seekers without training history;
        * ``share_new_jobs_in_catalogue``: every job row (all postings of the data) without training history
          (what was once reported as ``share_new_jobs``; not the share a model faces).

        ``n_test_events`` counts distinct relevant test events before drops (rolling splits; relevant
        (seeker, job) pairs for one-time splits), ``share_test_events_kept`` the share kept.
        """
        relevant = self.query_relevant
        active = self.jobs_active_during_test()
        n_dropped = sum(self.drop_reasons.values())
        n_events = self.n_test_events if self.n_test_events is not None else int(self.relevant.nnz) + n_dropped
        n_kept = int(relevant.nnz) if self.n_test_events is not None else int(self.relevant.nnz)
        nan = float("nan")
        return {
            "split": self.name, "relevant_event": self.relevant_event,
            "cutoff": None if self.cutoff is None else str(self.cutoff), "active_only": self.active_only,
            "n_train_interactions": len(self.train.interactions), "n_test_seekers": self.n_test,
            "n_queries": self.n_queries, "n_relevant_pairs": int(relevant.nnz),
            "n_test_events": n_events, "share_test_events_kept": n_kept / n_events if n_events else nan,
            "n_dropped_inactive": self.n_dropped_inactive, "n_dropped_seen": self.n_dropped_seen,
            **{f"n_dropped_{reason}": count for reason, count in self.drop_reasons.items()
               if reason not in ("inactive_at_query_time", "seen_before_query")},
            "n_seekers_dropped": self.n_seekers_dropped,
            "share_relevant_new_jobs": float(np.mean(self.job_is_new[relevant.indices])) if relevant.nnz else nan,
            "share_active_new_jobs": float(np.mean(self.job_is_new[active])) if active.any() else nan,
            "share_cold_seekers": float(np.mean(self.seeker_is_cold)) if self.n_test else nan,
            "share_new_jobs_in_catalogue": float(np.mean(self.job_is_new)),
        }

    @classmethod
    def from_partition(cls, train: Dataset, test: Dataset | pd.DataFrame, *, relevant_event: str | None = None,
                       active_only: bool = True, name: str = "partition") -> Split:
        """A split from a partition the data came with (e.g. MovieLens-100k ``ua.base`` / ``ua.test``).

        Parameters
        ----------
        train
            The training dataset: every seeker and job row, training interactions only.
        test
            The test interactions: a :class:`~recsys.data.Dataset` over the same ids or a DataFrame with
            ``seeker_id, job_id, ts, event``. Every id must be in ``train``'s id maps.
        relevant_event
            Test event that defines relevance (default: the funnel's ``default_relevant``).
        active_only
            Candidates must be active at each seeker's test time (no effect without posting dates).
            ``False`` makes every job not seen in training a candidate, as most published protocols do.

        Test times are each seeker's first relevant test event; relevant pairs the seeker already saw in
        ``train`` or (with ``active_only``) whose job is inactive then are dropped and counted.
        """
        relevant_event = _check_event(train, relevant_event)
        frame = test.interactions if isinstance(test, Dataset) else test
        if not isinstance(frame, pd.DataFrame):
            raise SplitError(f"test must be a Dataset or a DataFrame of interactions, got {type(test).__name__}")
        missing = [c for c in ("seeker_id", "job_id", "ts", "event") if c not in frame.columns]
        if missing:
            raise SplitError(f"test interactions lack column(s) {missing}")
        seeker_rows = train.seeker_ids.to_rows(_id_strings(frame["seeker_id"]), strict=False)
        job_rows = train.job_ids.to_rows(_id_strings(frame["job_id"]), strict=False)
        for rows, kind, column in ((seeker_rows, "seeker", "seeker_id"), (job_rows, "job", "job_id")):
            if (rows < 0).any():
                raise SplitError(f"test interactions name {int((rows < 0).sum())} {kind}(s) not in train "
                                 f"(first: {frame[column].to_numpy()[rows < 0][0]!r}); build train over every "
                                 f"{kind} of the partition")
        try:
            ts = pd.to_datetime(frame["ts"]).to_numpy(dtype="datetime64[ns]")
        except (ValueError, TypeError) as exc:
            raise SplitError(f"test interactions: ts must be datetimes ({exc})") from exc
        events = pd.DataFrame({"seeker_row": seeker_rows, "job_row": job_rows, "ts": ts,
                               "event": np.asarray(frame["event"], dtype=object)})
        test_events = events.loc[events["event"] == relevant_event]
        return _make_split(name, train, None, test_events, relevant_event, None, active_only)


# ---------------------------------------------------------------------- constructors
def temporal_split(dataset: Dataset, cutoff: Any = None, *, last_days: float | None = None,
                   test_end: Any = None, relevant_event: str | None = None, active_only: bool = True) -> Split:
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
        Any event of the dataset's funnel (views included); default ``dataset.funnel.default_relevant``
        (``"apply"`` for the synthetic funnel).
    active_only
        Candidates must be active at the seeker's test time (default); ``False``: every job.
    """
    relevant_event = _check_event(dataset, relevant_event)
    cutoff, test_events = _test_window(dataset, cutoff, last_days, test_end, relevant_event)
    return _make_split("temporal", dataset, dataset.interactions["ts"] < cutoff, test_events,
                       relevant_event, cutoff, active_only)


def cold_job_split(dataset: Dataset, cutoff: Any = None, *, last_days: float | None = None,
                   test_end: Any = None, relevant_event: str | None = None, active_only: bool = True) -> Split:
    """Temporal split whose relevance is restricted to jobs posted at or after ``T`` (new postings).

    Candidates are still every active job, old or new: a model must rank the new ones first. Needs
    ``jobs.posted_at``.
    """
    if "posted_at" not in dataset.jobs.columns:
        raise SplitError("cold_jobs: needs jobs.posted_at to tell new postings from old ones; this dataset "
                         "has no posting dates (use temporal_split)")
    relevant_event = _check_event(dataset, relevant_event)
    cutoff, test_events = _test_window(dataset, cutoff, last_days, test_end, relevant_event)
    posted = dataset.posting_window()[0][test_events["job_row"].to_numpy()]
    test_events = test_events.loc[posted >= pd.Timestamp(cutoff).as_unit("ns").value]
    return _make_split("cold_jobs", dataset, dataset.interactions["ts"] < cutoff, test_events,
                       relevant_event, cutoff, active_only)


def cold_seeker_split(dataset: Dataset, cutoff: Any = None, *, last_days: float | None = None,
                      test_end: Any = None, share: float = 0.1, seed: int = 0,
                      relevant_event: str | None = None, active_only: bool = True) -> Split:
    """Temporal split testing only a held-out share of seekers, with their training history removed.

    ``round(share * m)`` seekers are drawn (seeded, without replacement) among the ``m`` seekers with
    a relevant test event; all their interactions before ``T`` are dropped from ``train``, so models
    see only their profile. The other seekers keep their history and are not tested.
    """
    if not 0 < share <= 1:
        raise SplitError(f"share must be in (0, 1], got {share!r}")
    relevant_event = _check_event(dataset, relevant_event)
    cutoff, test_events = _test_window(dataset, cutoff, last_days, test_end, relevant_event)
    eligible = np.unique(test_events["seeker_row"].to_numpy())
    n_held = max(1, round(share * len(eligible)))
    held_out = np.sort(np.random.default_rng(seed).choice(eligible, size=n_held, replace=False))
    in_held = np.isin(dataset.interactions["seeker_row"].to_numpy(), held_out)
    train_mask = (dataset.interactions["ts"] < cutoff).to_numpy() & ~in_held
    test_events = test_events.loc[np.isin(test_events["seeker_row"].to_numpy(), held_out)]
    return _make_split("cold_seekers", dataset, train_mask, test_events, relevant_event, cutoff, active_only)


def rolling_split(dataset: Dataset, cutoff: Any = None, *, last_days: float | None = None,
                  test_end: Any = None, relevant_event: str | None = None, active_only: bool = True) -> Split:
    """Every relevant test event ranked at its own time (the default protocol).

    Train on interactions before ``T``; each distinct (seeker, time) with a relevant event in
    ``[T, test_end)`` is a *query* ranked at that time. A query's candidates are the jobs active at its
    time (:meth:`~recsys.data.Dataset.active_jobs`; all jobs without posting dates or with
    ``active_only=False``) minus every job the seeker reached a seen event for
    (``funnel.seen_events``) strictly before it, in training *and* in earlier test events. Its relevant
    jobs are the jobs of its relevant events that are candidates; the others are dropped and counted
    per reason in :attr:`Split.drop_reasons` (``inactive_at_query_time``: the job was not active then;
    ``seen_before_query``: a repeat of a job the seeker had already reached). Queries of one seeker
    at one timestamp share one ranking.

    Models are frozen at ``T`` (or refitted with ``rank_split(..., refit_every=...)``). The headline
    metrics average each seeker's per-query metrics, then average over seekers (every seeker weighs
    the same, however many applications); per-query means are reported too.
    Parameters are as :func:`temporal_split`.
    """
    relevant_event = _check_event(dataset, relevant_event)
    cutoff, test_events = _test_window(dataset, cutoff, last_days, test_end, relevant_event)
    train = dataset.with_interactions((dataset.interactions["ts"] < cutoff).to_numpy(), as_of=cutoff)
    if test_events.empty:
        raise SplitError(f"rolling: no {relevant_event!r} events to test on")
    n_jobs = np.int64(dataset.n_jobs)
    seeker = test_events["seeker_row"].to_numpy(dtype=np.int64)
    job = test_events["job_row"].to_numpy(dtype=np.int64)
    at = _as_ns(test_events["ts"].to_numpy())
    # distinct (seeker, time, job) events; a repeated event at the same time counts once
    events = pd.DataFrame({"seeker": seeker, "at": at, "job": job}).drop_duplicates()
    seeker, at, job = (events[c].to_numpy() for c in ("seeker", "at", "job"))
    # first time each (seeker, job) pair reached a seen event, over all interactions
    interactions = dataset.interactions
    is_seen = dataset.event_mask(dataset.funnel.seen_events)
    seen_key = (interactions["seeker_row"].to_numpy(dtype=np.int64)[is_seen] * n_jobs
                + interactions["job_row"].to_numpy(dtype=np.int64)[is_seen])
    seen_at = _as_ns(interactions["ts"].to_numpy()[is_seen])
    first_seen = pd.Series(seen_at).groupby(seen_key).min()
    if active_only:
        posted, expires = dataset.posting_window()
        active = (posted[job] <= at) & (expires[job] > at)
    else:
        active = np.ones(len(job), dtype=bool)
    # reached before the event: the pair's first seen event is strictly earlier (int64 ns, exact)
    lookup = first_seen.index.get_indexer(seeker * n_jobs + job)
    seen_before = np.zeros(len(job), dtype=bool)
    found = lookup >= 0
    seen_before[found] = first_seen.to_numpy(dtype=np.int64)[lookup[found]] < at[found]
    keep = active & ~seen_before
    drop_reasons = {"inactive_at_query_time": int((~active).sum()),
                    "seen_before_query": int((active & seen_before).sum())}
    if not keep.any():
        raise SplitError(f"rolling: every {relevant_event!r} test event was dropped ({drop_reasons})")
    seeker, at, job = seeker[keep], at[keep], job[keep]
    # queries: distinct (seeker, time) in seeker-then-time order
    query_keys = pd.MultiIndex.from_arrays([seeker, at])
    query_code, query_index = pd.factorize(query_keys, sort=True)
    q_seeker = query_index.get_level_values(0).to_numpy(dtype=np.int64)
    q_at = query_index.get_level_values(1).to_numpy(dtype=np.int64)
    n_queries = len(q_seeker)
    query_relevant = sp.csr_matrix((np.ones(len(job), dtype=np.float32), (query_code, job)),
                                   shape=(n_queries, int(n_jobs)))
    query_relevant.sum_duplicates()
    query_relevant.data[:] = 1.0
    seeker_rows, query_position = np.unique(q_seeker, return_inverse=True)
    first_query = np.r_[0, np.flatnonzero(np.diff(query_position)) + 1]  # queries are seeker-then-time ordered
    test_time = q_at[first_query].view("datetime64[ns]")
    # test-window seen events before each query: join each query with its seeker's seen pairs since T
    recent = first_seen[first_seen.to_numpy() >= pd.Timestamp(cutoff).as_unit("ns").value]
    recent_seeker = recent.index.to_numpy(dtype=np.int64) // n_jobs
    recent_job = recent.index.to_numpy(dtype=np.int64) % n_jobs
    pairs = pd.DataFrame({"seeker": recent_seeker, "job": recent_job, "first": recent.to_numpy()}).merge(
        pd.DataFrame({"seeker": q_seeker, "query": np.arange(n_queries), "at": q_at}), on="seeker")
    pairs = pairs.loc[pairs["first"].to_numpy() < pairs["at"].to_numpy()]
    query_seen = sp.csr_matrix((np.ones(len(pairs), dtype=np.float32),
                                (pairs["query"].to_numpy(), pairs["job"].to_numpy())), shape=(n_queries, int(n_jobs)))
    seeker_relevant = sp.csr_matrix((np.ones(len(job), dtype=np.float32),
                                     (np.searchsorted(seeker_rows, seeker), job)), shape=(len(seeker_rows), int(n_jobs)))
    seeker_relevant.sum_duplicates()
    seeker_relevant.data[:] = 1.0
    all_seekers = np.unique(test_events["seeker_row"].to_numpy())
    return Split(
        name="rolling", train=train, seeker_rows=seeker_rows, test_time=test_time, relevant=seeker_relevant,
        seeker_is_cold=~train.warm_seekers()[seeker_rows], job_is_new=~train.warm_jobs(),
        relevant_event=relevant_event, cutoff=cutoff, n_dropped_inactive=drop_reasons["inactive_at_query_time"],
        n_dropped_seen=drop_reasons["seen_before_query"], n_seekers_dropped=int(len(all_seekers) - len(seeker_rows)),
        active_only=active_only, query_position=query_position.astype(np.int64),
        query_time=q_at.view("datetime64[ns]"), query_relevant=query_relevant, query_seen=query_seen,
        drop_reasons=drop_reasons, n_test_events=len(events), source=dataset,
    )


def leave_last_out_split(dataset: Dataset, *, relevant_event: str | None = None, active_only: bool = True) -> Split:
    """Hold out each seeker's last relevant event (time-ordered); seekers need at least two.

    For a test seeker with last relevant event at ``t``, every interaction of that seeker at or after
    ``t`` leaves ``train`` (relevant events exactly at ``t`` are all relevant). Other seekers'
    interactions after ``t`` stay in ``train``: leave-last-out leaks the global timeline, which is why
    :func:`temporal_split` is the default protocol.
    """
    relevant_event = _check_event(dataset, relevant_event)
    interactions = dataset.interactions
    is_relevant = dataset.event_mask(relevant_event)
    per_seeker = interactions.loc[is_relevant].groupby("seeker_row")["ts"].agg(["size", "max"])
    per_seeker = per_seeker.loc[per_seeker["size"] >= 2]
    if per_seeker.empty:
        raise SplitError(f"leave_last_out: no seeker has two or more {relevant_event!r} events")
    last = np.full(dataset.n_seekers, np.datetime64("NaT"), dtype="datetime64[ns]")
    last[per_seeker.index.to_numpy()] = per_seeker["max"].to_numpy()
    future = interactions["ts"].to_numpy() >= last[interactions["seeker_row"].to_numpy()]  # NaT: False
    test_events = interactions.loc[is_relevant & future]
    return _make_split("leave_last_out", dataset, ~future, test_events, relevant_event, None, active_only)


def applicants_per_job(dataset: Dataset) -> np.ndarray:
    """``(n_jobs,)``: distinct seekers with a seen event (``funnel.seen_events``: applied) for each job."""
    frame = dataset.interactions
    applied = dataset.event_mask(dataset.funnel.seen_events)
    pairs = np.sort(frame["seeker_row"].to_numpy(dtype=np.int64)[applied] * dataset.n_jobs
                    + frame["job_row"].to_numpy(dtype=np.int64)[applied])
    distinct = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs  # np.unique hashes: slower
    return np.bincount(distinct % dataset.n_jobs, minlength=dataset.n_jobs)


# ---------------------------------------------------------------------- internals
def _as_ns(times: np.ndarray) -> np.ndarray:
    """``datetime64`` values as int64 nanoseconds since the epoch."""
    return np.asarray(times, dtype="datetime64[ns]").view(np.int64)


def _id_strings(values: pd.Series) -> np.ndarray:
    """Ids as strings (integer ids of a test file cast like :meth:`Dataset.from_frames` does)."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype(str).to_numpy(dtype=object)
    return np.asarray(values, dtype=object)


def _check_event(dataset: Dataset, relevant_event: str | None) -> str:
    """The relevant event (default: the funnel's), checked against the dataset's funnel."""
    event = dataset.funnel.default_relevant if relevant_event is None else relevant_event
    try:
        return dataset.funnel.check(event, "relevant_event")
    except FunnelError as exc:
        raise SplitError(str(exc)) from exc


def _test_window(dataset: Dataset, cutoff: Any, last_days: float | None, test_end: Any,
                 relevant_event: str) -> tuple[pd.Timestamp, pd.DataFrame]:
    """Resolve ``T`` and return it with the relevant events in ``[T, test_end)``."""
    ts = dataset.interactions["ts"]
    if ts.empty:
        raise SplitError("the dataset has no interactions to split")
    if (cutoff is None) == (last_days is None):
        raise SplitError("give exactly one of cutoff (a date) or last_days (a number of days)")
    if cutoff is None:
        assert last_days is not None
        if not last_days > 0:
            raise SplitError(f"last_days must be positive, got {last_days!r}")
        cutoff = ts.max().floor("D") + pd.Timedelta(days=1) - pd.Timedelta(days=last_days)
    cutoff = pd.Timestamp(cutoff)
    if not ts.min() < cutoff <= ts.max():
        raise SplitError(f"cutoff {cutoff} leaves no training or no test interactions "
                         f"(interactions span {ts.min()} .. {ts.max()})")
    window = (ts >= cutoff).to_numpy() & dataset.event_mask(relevant_event)
    if test_end is not None:
        test_end = pd.Timestamp(test_end)
        if test_end <= cutoff:
            raise SplitError(f"test_end {test_end} must be after the cutoff {cutoff}")
        window &= (ts < test_end).to_numpy()
    return cutoff, dataset.interactions.loc[window]


def _make_split(name: str, dataset: Dataset, train_mask: np.ndarray | pd.Series | None, test_events: pd.DataFrame,
                relevant_event: str, cutoff: pd.Timestamp | None, active_only: bool = True) -> Split:
    """Restrict relevance to candidates, drop seekers left without any, and set the cold flags.

    ``train_mask``: interactions of ``dataset`` kept for training (``None``: ``dataset`` is the train set).
    """
    train = dataset if train_mask is None else dataset.with_interactions(np.asarray(train_mask, dtype=bool),
                                                                         as_of=cutoff)
    if test_events.empty:
        raise SplitError(f"{name}: no {relevant_event!r} events to test on")
    pairs = test_events.groupby(["seeker_row", "job_row"], sort=True)["ts"].min().reset_index()
    first_time = test_events.groupby("seeker_row")["ts"].min()
    at = _as_ns(first_time.loc[pairs["seeker_row"]].to_numpy())
    job_rows = pairs["job_row"].to_numpy()
    if active_only:
        posted, expires = dataset.posting_window()
        active = (posted[job_rows] <= at) & (expires[job_rows] > at)
    else:
        active = np.ones(len(job_rows), dtype=bool)
    seen = train.seen_matrix()
    already = np.asarray(seen[pairs["seeker_row"].to_numpy(), job_rows]).ravel() > 0
    keep = active & ~already
    kept = pairs.loc[keep]
    seeker_rows = np.unique(kept["seeker_row"].to_numpy())
    if len(seeker_rows) == 0:
        raise SplitError(f"{name}: every {relevant_event!r} test pair was dropped ({int((~active).sum())} job(s) "
                         f"not active at the test time, {int((active & already).sum())} already seen)")
    positions = np.searchsorted(seeker_rows, kept["seeker_row"].to_numpy())
    relevant = sp.csr_matrix((np.ones(len(kept), dtype=np.float32), (positions, kept["job_row"].to_numpy())),
                             shape=(len(seeker_rows), dataset.n_jobs))
    return Split(
        name=name, train=train, seeker_rows=seeker_rows,
        test_time=first_time.loc[seeker_rows].to_numpy(dtype="datetime64[ns]"), relevant=relevant,
        seeker_is_cold=~train.warm_seekers()[seeker_rows], job_is_new=~train.warm_jobs(),
        relevant_event=relevant_event, cutoff=cutoff,
        n_dropped_inactive=int((~active).sum()), n_dropped_seen=int((active & already).sum()),
        n_seekers_dropped=int(first_time.index.nunique() - len(seeker_rows)), active_only=active_only,
    )
