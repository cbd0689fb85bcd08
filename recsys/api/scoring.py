"""Scoring core of the ranker: candidate ranges, business rules and an exact top-k with lazy rule checks.

A group of seekers (one seeker for ``rank()``, nearby seekers for ``rank_many()``) is served in three
vectorised steps:

1. score every job in the position ranges that can lie within the group's commute radius: one matrix
   product per range over :attr:`~recsys.api.catalogue.Catalogue.scoring` (bias folded in);
2. take each seeker's :func:`checked_count` best candidates by score and check the rules on those only;
3. keep the first ``k`` that pass, in score order (ties: lower catalogue position first).

Step 3 is exact: every unchecked candidate scores at most the lowest checked score, so when the
``k``-th kept job scores strictly more, no unchecked job can enter the top ``k``. Otherwise (fewer than
``k`` checked jobs pass, or a tie at the cut) that seeker's rules are checked on all its candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.api.catalogue import Catalogue
from recsys.api.errors import NonFiniteScoreError
from recsys.api.profile import SeekerRequests
from recsys.models.base import top_k

MIN_CHECKED = 64
"""Candidates checked against the rules per seeker before falling back to checking all of them."""
CHECKED_PER_K = 8


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

    def row(self, group_row: int, n_jobs: int) -> SeekerRules:
        """The rules of one seeker of the group, as a group of one."""
        lo, hi = np.searchsorted(self.applied, [group_row * n_jobs, (group_row + 1) * n_jobs])
        one = slice(group_row, group_row + 1)
        return SeekerRules(east=self.east[one], north=self.north[one], radius_sq=self.radius_sq[one],
                           education=self.education[one], age=self.age[one],
                           applied=self.applied[lo:hi] - group_row * n_jobs)


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


def range_scores(catalogue: Catalogue, vectors: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """``(B, m)`` float32 scores (without seeker bias) of the jobs in the ranges, in position order.

    ``vectors`` are ``(B, d + 1)`` seeker embeddings with a trailing 1 (it multiplies the job bias).
    """
    lengths = stops - starts
    scores = np.empty((len(vectors), int(lengths.sum())), dtype=np.float32)
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
    """Candidates per seeker whose rules are checked before falling back to all (see module doc)."""
    return max(CHECKED_PER_K * k, MIN_CHECKED)


def top_passing(catalogue: Catalogue, scores: np.ndarray, starts: np.ndarray, stops: np.ndarray, k: int,
                filters: Filters, seekers: SeekerRules) -> tuple[np.ndarray, np.ndarray]:
    """Catalogue positions ``(B, k)`` (-1 = fewer passed) and scores of each seeker's best passing jobs.

    ``scores`` are :func:`range_scores` over the ranges ``[starts, stops)``; ties go to the lower
    catalogue position. Raises :class:`NonFiniteScoreError` if a candidate's score is NaN or infinite.
    """
    n_rows, n_candidates = scores.shape
    if n_candidates == 0:
        return np.full((n_rows, k), -1, dtype=np.int64), np.full((n_rows, k), -np.inf, dtype=np.float32)
    rows = np.arange(n_rows)[:, None]
    n_checked = min(n_candidates, checked_count(k))
    if n_checked < n_candidates:
        best = np.argpartition(scores, n_candidates - n_checked, axis=1)[:, n_candidates - n_checked:]
    else:
        best = np.broadcast_to(np.arange(n_candidates), (n_rows, n_candidates))
    best_scores = scores[rows, best]
    # partitioning puts NaN and +inf among the largest, so checking the best candidates is enough
    if not np.isfinite(best_scores).all():
        raise NonFiniteScoreError("non-finite job scores; the model representations are corrupt")
    order = np.lexsort((best, -best_scores), axis=1)
    columns, values = best[rows, order], best_scores[rows, order]
    positions = range_positions(starts, stops, columns)
    ok = rule_mask(catalogue, positions, filters, seekers)
    kept = np.argsort(~ok, axis=1, kind="stable")[:, :k]  # passing first, still in score order
    kept_ok = ok[rows, kept]
    top_positions = np.where(kept_ok, positions[rows, kept], -1)
    top_values = np.where(kept_ok, values[rows, kept], np.float32(-np.inf))
    if top_positions.shape[1] < k:  # fewer candidates than k: all were checked
        pad = ((0, 0), (0, k - top_positions.shape[1]))
        top_positions = np.pad(top_positions, pad, constant_values=-1)
        top_values = np.pad(top_values, pad, constant_values=-np.inf)
    elif n_checked < n_candidates:
        unsure = ~kept_ok[:, -1] | (top_values[:, -1] <= values[:, -1])
        for row in np.flatnonzero(unsure).tolist():
            top_positions[row], top_values[row] = _top_checking_all(
                catalogue, scores[row], starts, stops, k, filters, seekers.row(row, len(catalogue)))
    return top_positions, top_values


def _top_checking_all(catalogue: Catalogue, scores: np.ndarray, starts: np.ndarray, stops: np.ndarray, k: int,
                      filters: Filters, seeker: SeekerRules) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` positions (-1 = none) and scores of one seeker with the rules checked on every candidate."""
    positions = range_positions(starts, stops, np.arange(len(scores)))
    ok = rule_mask(catalogue, positions[None, :], filters, seeker)[0]
    columns, values = top_k(np.where(ok, scores, np.float32(-np.inf))[None, :], k)
    return np.where(columns[0] >= 0, positions[columns[0]], -1), values[0]
