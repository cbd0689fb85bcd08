"""Scoring core of the ranker: candidate ranges, business rules and an exact top-k with lazy rule checks.

A group of seekers (one seeker for ``rank()``, nearby seekers for ``rank_many()``) is served in three
vectorised steps:

1. score every job in the position ranges that can lie within the group's commute radius: one matrix
   product per range over :attr:`~recsys.api.catalogue.Catalogue.scoring` (bias folded in);
2. take about :func:`checked_count` best candidates of each seeker (:func:`best_candidates`: every
   candidate scoring at least a cut) and check the rules on those only;
3. keep the first ``k`` that pass, in score order (ties: lower catalogue position first).

Step 3 is exact: every unchecked candidate scores strictly below every checked one, so once ``k``
checked jobs pass, no unchecked job can enter the top ``k``. A seeker with fewer passing jobs is
checked again on 16 times more candidates, until all its candidates have been checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.api.catalogue import Catalogue
from recsys.api.errors import NonFiniteScoreError
from recsys.api.profile import SeekerRequests
from recsys.models.base import top_k

MIN_CHECKED = 256
CHECKED_PER_K = 32
"""First round: about ``max(CHECKED_PER_K * k, MIN_CHECKED)`` best candidates per seeker are checked."""
MORE_CHECKED = 16
"""Each further round checks this many times more candidates (until all are checked)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Business rules of one request (see :meth:`recsys.api.ranker.Ranker.rank`)."""

    now_ns: int
    max_commute_km: float | None  # None = each seeker's own limit
    job_types: np.ndarray | None  # bool lookup over JOB_TYPES codes, None = all
    districts: np.ndarray | None  # bool lookup over DISTRICTS codes, None = all
    meets_requirements: bool
    exclude_applied: bool


@dataclass(frozen=True, slots=True)
class SeekerRules:
    """Seeker-dependent rule inputs of a group of ``B`` seekers, as ``(B, 1)`` columns.

    ``radius_sq`` is the squared commute limit in km² (float32, ``inf`` for none); ``applied`` holds
    ``group_row * n_jobs + catalogue_position`` of the jobs each seeker applied to, sorted.
    """

    east: np.ndarray
    north: np.ndarray
    radius_sq: np.ndarray
    education: np.ndarray
    age: np.ndarray
    applied: np.ndarray

    @classmethod
    def build(cls, catalogue: Catalogue, requests: SeekerRequests, rows: np.ndarray, filters: Filters
              ) -> SeekerRules:
        """Rules of ``requests`` at ``rows`` (the group, in order) under ``filters``."""
        radius = (requests.max_commute_km[rows] if filters.max_commute_km is None
                  else np.full(len(rows), filters.max_commute_km))
        applied = np.empty(0, dtype=np.int64)
        if filters.exclude_applied:
            position_of, n_jobs = catalogue.position_of, len(catalogue)
            keys = [group_row * n_jobs + position_of[job_id]
                    for group_row, row in enumerate(rows.tolist())
                    for job_id in requests.applied[row] if job_id in position_of]
            applied = np.sort(np.asarray(keys, dtype=np.int64))
        return cls(east=requests.east_km[rows, None], north=requests.north_km[rows, None],
                   radius_sq=(np.asarray(radius, dtype=np.float64) ** 2).astype(np.float32)[:, None],
                   education=requests.education[rows, None], age=requests.age[rows, None], applied=applied)

    def max_radius(self) -> float:
        return float(np.sqrt(self.radius_sq.max(initial=0.0)))

    def take(self, group_rows: np.ndarray, n_jobs: int) -> SeekerRules:
        """The rules of the seekers at ``group_rows`` (increasing) of the group, as a new group."""
        new_row = np.full(len(self.east), -1, dtype=np.int64)
        new_row[group_rows] = np.arange(len(group_rows))
        row_of_applied = new_row[self.applied // n_jobs]
        kept = row_of_applied >= 0
        return SeekerRules(east=self.east[group_rows], north=self.north[group_rows],
                           radius_sq=self.radius_sq[group_rows], education=self.education[group_rows],
                           age=self.age[group_rows],
                           applied=row_of_applied[kept] * n_jobs + self.applied[kept] % n_jobs)


def rule_mask(catalogue: Catalogue, positions: np.ndarray, filters: Filters, seekers: SeekerRules) -> np.ndarray:
    """Whether each job at ``positions`` (``(B, n)``, row ``b`` for seeker ``b``) passes every rule.

    Rules: active at ``now`` (posted at or before, expires after); job type and district in the
    request's sets; straight-line distance from home within the commute limit (float32); education
    and age limits the seeker meets; not already applied to.
    """
    ok = catalogue.posted_ns[positions] <= filters.now_ns
    ok &= catalogue.expires_ns[positions] > filters.now_ns
    if filters.job_types is not None:
        ok &= filters.job_types[catalogue.job_type[positions]]
    if filters.districts is not None:
        ok &= filters.districts[catalogue.district[positions]]
    if np.isfinite(seekers.radius_sq).any():
        d_east = catalogue.east_km[positions] - seekers.east
        d_north = catalogue.north_km[positions] - seekers.north
        d_east *= d_east
        d_north *= d_north
        d_east += d_north
        ok &= d_east <= seekers.radius_sq
    if filters.meets_requirements:
        ok &= catalogue.min_education[positions] <= seekers.education
        ok &= catalogue.age_min[positions] <= seekers.age
        ok &= catalogue.age_max[positions] >= seekers.age
    if len(seekers.applied):
        keys = positions + np.arange(positions.shape[0])[:, None] * len(catalogue)
        ok &= ~np.isin(keys, seekers.applied)
    return ok


def range_scores(catalogue: Catalogue, vectors: np.ndarray, starts: np.ndarray, stops: np.ndarray,
                 scratch: np.ndarray | None = None) -> np.ndarray:
    """``(B, m)`` float32 scores (without seeker bias) of the jobs in the ranges, in position order.

    ``vectors`` are ``(B, d + 1)`` seeker embeddings with a trailing 1 (it multiplies the job bias).
    ``scratch``, a flat float32 array, holds the result when it is large enough (saves page faults when
    many groups are scored in a row).
    """
    shape = (len(vectors), int((stops - starts).sum()))
    if scratch is not None and scratch.size >= shape[0] * shape[1]:
        scores = scratch[:shape[0] * shape[1]].reshape(shape)
    else:
        scores = np.empty(shape, dtype=np.float32)
    column = 0
    for lo, hi in zip(starts.tolist(), stops.tolist(), strict=True):
        if len(vectors) == 1:  # matrix-vector product: BLAS gemv, no packing of the job block
            np.matmul(catalogue.scoring[lo:hi], vectors[0], out=scores[0, column:column + hi - lo])
        else:
            np.matmul(vectors, catalogue.scoring[lo:hi].T, out=scores[:, column:column + hi - lo])
        column += hi - lo
    return scores


def range_positions(starts: np.ndarray, stops: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Catalogue positions of score columns (any shape) of :func:`range_scores` over these ranges."""
    lengths = stops - starts
    first_column = np.cumsum(lengths) - lengths
    which = np.searchsorted(first_column, columns, side="right") - 1
    return starts[which] + (columns - first_column[which])


def checked_count(k: int) -> int:
    """About how many best candidates per seeker are checked against the rules (see module doc)."""
    return max(CHECKED_PER_K * k, MIN_CHECKED)


def best_candidates(scores: np.ndarray, n_best: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's best columns, best first (ties: lower column), and their scores; about ``n_best`` per row.

    Returns ``(B, width)`` arrays padded with column -1 and score ``-inf``. Every column left out of a
    row scores strictly less than every column returned for it. The cut is the score of rank about
    ``n_best`` in a strided sample of the row, which is cheaper than ``argpartition`` over the row.
    """
    n_rows, n_columns = scores.shape
    stride = max(1, min(n_columns // (2 * n_best), n_best // 8))
    sample = scores[:, ::stride]
    rank_in_sample = min(max(1, n_best // stride), sample.shape[1])
    cut = np.partition(sample, sample.shape[1] - rank_in_sample, axis=1)[:, -rank_in_sample, None]
    if n_rows == 1:  # one seeker (rank()): no row bookkeeping
        columns = np.flatnonzero(scores[0] >= cut[0])
        columns = columns[np.argsort(-scores[0, columns], kind="stable")]
        return columns[None, :], scores[0, columns][None, :]
    flat = np.flatnonzero(scores >= cut)  # row-major: columns increase within each row
    row = flat // n_columns
    counts = np.bincount(row, minlength=n_rows)
    slot = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
    columns = np.full((n_rows, int(counts.max())), -1, dtype=np.int64)
    values = np.full(columns.shape, -np.inf, dtype=np.float32)
    columns[row, slot] = flat - row * n_columns
    values[row, slot] = scores.ravel()[flat]
    order = np.argsort(-values, axis=1, kind="stable")  # stable: equal scores keep column order
    rows = np.arange(n_rows)[:, None]
    return columns[rows, order], values[rows, order]


def top_passing(catalogue: Catalogue, scores: np.ndarray, starts: np.ndarray, stops: np.ndarray, k: int,
                filters: Filters, seekers: SeekerRules) -> tuple[np.ndarray, np.ndarray]:
    """Catalogue positions ``(B, k)`` (-1 = fewer passed) and scores of each seeker's best passing jobs.

    ``scores`` are :func:`range_scores` over the ranges ``[starts, stops)``; ties go to the lower
    catalogue position. Raises :class:`NonFiniteScoreError` if a candidate's score is NaN or infinite.
    """
    n_rows, n_candidates = scores.shape
    top_positions = np.full((n_rows, k), -1, dtype=np.int64)
    top_values = np.full((n_rows, k), -np.inf, dtype=np.float32)
    if n_candidates == 0:
        return top_positions, top_values
    # seekers are checked when requested; float32 overflow of finite values would need values near 1e18
    if not catalogue.finite and not np.isfinite(scores).all():
        raise NonFiniteScoreError("non-finite job scores; the model representations are corrupt")
    pending, n_checked = np.arange(n_rows), checked_count(k)
    while len(pending):
        rows = pending if len(pending) < n_rows else slice(None)
        positions, values, checked_all = _top_of_checked(catalogue, scores[rows], starts, stops, k, filters,
                                                         seekers if len(pending) == n_rows
                                                         else seekers.take(pending, len(catalogue)), n_checked)
        top_positions[rows], top_values[rows] = positions, values
        # a seeker with fewer than k passing among its checked candidates is checked further
        pending = np.array([], dtype=np.int64) if checked_all else pending[positions[:, -1] < 0]
        n_checked *= MORE_CHECKED
    return top_positions, top_values


def _top_of_checked(catalogue: Catalogue, scores: np.ndarray, starts: np.ndarray, stops: np.ndarray, k: int,
                    filters: Filters, seekers: SeekerRules, n_checked: int
                    ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Best ``k`` passing positions and scores among about ``n_checked`` best candidates of each seeker.

    Also returns whether every candidate was checked (then the result is final even with fewer than k).
    """
    n_rows, n_candidates = scores.shape
    if n_candidates <= 2 * n_checked:  # check everything: one mask, then top-k of the passing scores
        positions = range_positions(starts, stops, np.arange(n_candidates))
        ok = rule_mask(catalogue, np.broadcast_to(positions, scores.shape), filters, seekers)
        columns, values = top_k(np.where(ok, scores, np.float32(-np.inf)), k)
        return np.where(columns >= 0, positions[columns], -1), values, True
    columns, values = best_candidates(scores, n_checked)
    positions = range_positions(starts, stops, np.maximum(columns, 0))
    ok = rule_mask(catalogue, positions, filters, seekers)
    ok &= columns >= 0
    top_positions = np.full((n_rows, k), -1, dtype=np.int64)
    top_values = np.full((n_rows, k), -np.inf, dtype=np.float32)
    if n_rows == 1:
        kept = np.flatnonzero(ok[0])[:k]
        top_positions[0, :len(kept)], top_values[0, :len(kept)] = positions[0, kept], values[0, kept]
        return top_positions, top_values, False
    rows = np.arange(n_rows)[:, None]
    kept = np.argsort(~ok, axis=1, kind="stable")[:, :k]  # passing first, still in score order
    kept_ok = ok[rows, kept]
    top_positions[:, :kept.shape[1]] = np.where(kept_ok, positions[rows, kept], -1)
    top_values[:, :kept.shape[1]] = np.where(kept_ok, values[rows, kept], np.float32(-np.inf))
    return top_positions, top_values, False
