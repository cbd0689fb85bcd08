"""Scoring core of the ranker: the business rules of a request and each seeker's top ``k``.

Seekers (one for ``rank()``, a batch for ``rank_many()``) are served by one call of the compiled
:func:`recsys.api.kernels.top_k_passing`. For each seeker it visits only the catalogue position ranges
that can lie within the commute radius (:meth:`~recsys.api.catalogue.Catalogue.ranges_within`),
screens the jobs there with int8 copies of their embeddings, checks the rules on the jobs that could
enter the top ``k`` and scores those exactly (dot product of the job's ``[embedding, bias]`` with
``[seeker embedding, 1]``). The result is exact: it equals scoring every active job, masking the rules
and taking the top ``k``, with ties going to the lower catalogue position. A seeker gets the same jobs
and scores alone or in a batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.api.catalogue import Catalogue
from recsys.api.errors import NonFiniteScoreError
from recsys.api.kernels import top_k_passing
from recsys.api.profile import SeekerRequests


@dataclass(frozen=True, slots=True)
class Rules:
    """The business rules of one request in the catalogue's terms (built from a validated
    :class:`recsys.api.requests.Filters` by the ranker).

    ``job_types`` and ``districts`` are boolean lookups over the catalogue's codes (index 0 = missing,
    ``i + 1`` = ``catalogue.vocabularies[...][i]``; ``None``: no filter).
    """

    now_ns: int
    max_commute_km: float | None  # None = each seeker's own limit
    job_types: np.ndarray | None
    districts: np.ndarray | None
    meets_requirements: bool
    exclude_applied: bool


def top_k(catalogue: Catalogue, requests: SeekerRequests, rows: np.ndarray, k: int, filters: Rules
          ) -> tuple[np.ndarray, np.ndarray]:
    """Catalogue positions ``(B, k)`` (-1 = fewer passed) and scores of each seeker's best passing jobs.

    ``rows`` index ``requests``; scores include the seeker's bias. Raises :class:`NonFiniteScoreError`
    if the catalogue holds a non-finite representation (seekers are checked when they are requested).
    """
    positions, scores, _ = top_k_counted(catalogue, requests, rows, k, filters)
    return positions, scores


def top_k_counted(catalogue: Catalogue, requests: SeekerRequests, rows: np.ndarray, k: int, filters: Rules
                  ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """:func:`top_k` and ``(visited, scored)``: the (seeker, job) pairs within the seekers' position
    ranges, and those of them scored exactly (the others were ruled out by their screening bound)."""
    if not catalogue.finite:
        raise NonFiniteScoreError("non-finite job representations; the model representations are corrupt")
    seekers = (requests.vectors, requests.east_km, requests.north_km, requests.max_commute_km,
               requests.education, requests.age)
    check_codes = filters.job_types is not None or filters.districts is not None
    everything = catalogue.no_code_filter
    radius = math.nan if filters.max_commute_km is None else filters.max_commute_km
    if not catalogue.has_locations:
        radius = math.inf  # no job has coordinates: the commute rule is off
    rules = (filters.now_ns, check_codes,
             everything["job_type"] if filters.job_types is None else filters.job_types,
             everything["district"] if filters.districts is None else filters.districts,
             filters.meets_requirements, radius)
    positions = np.empty((len(rows), k), dtype=np.int64)
    scores = np.empty((len(rows), k), dtype=np.float32)
    counts = top_k_passing(catalogue.kernel_arrays, catalogue.layout, rules, seekers, rows,
                           *_applied_positions(catalogue, requests, rows, filters.exclude_applied), positions, scores)
    scores += requests.biases[rows, None]
    return positions, scores, counts


_NONE_APPLIED = np.empty(0, dtype=np.int64)
_VECTORISED_BATCH = 256
"""Batches of at least this many seekers look their applied jobs up at once (below, a dict per id is faster)."""


def _applied_positions(catalogue: Catalogue, requests: SeekerRequests, rows: np.ndarray, exclude: bool
                       ) -> tuple[np.ndarray, np.ndarray]:
    """CSR-style ``(offsets, positions)``: catalogue positions of the jobs each seeker applied to."""
    if not exclude:
        return np.zeros(len(rows) + 1, dtype=np.int64), _NONE_APPLIED
    position_of, applied = catalogue.position_of, requests.applied
    if len(rows) >= _VECTORISED_BATCH:  # one hash lookup in C for the batch, not one per id in Python
        lists = [applied[row] for row in rows.tolist()]
        counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        if not counts.any():
            return np.zeros(len(rows) + 1, dtype=np.int64), _NONE_APPLIED
        found = catalogue.positions.get_indexer(pd.Index(np.concatenate(lists)))
        kept = found >= 0
        per_row = np.bincount(np.repeat(np.arange(len(rows)), counts)[kept], minlength=len(rows))
        return np.concatenate(([0], np.cumsum(per_row))).astype(np.int64), found[kept].astype(np.int64)
    positions, offsets = [], [0]
    for row in rows.tolist():
        positions += [p for p in map(position_of.get, applied[row]) if p is not None]
        offsets.append(len(positions))
    return np.array(offsets, dtype=np.int64), np.array(positions, dtype=np.int64)
