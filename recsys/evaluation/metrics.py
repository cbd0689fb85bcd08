"""Ranking metrics as pure functions returning one value per seeker.

Every function takes

* ``ranked``: int array ``(n_seekers, L)`` of job rows, best first, padded with ``-1`` when fewer than
  ``L`` jobs were recommended;
* ``relevant``: CSR matrix ``(n_seekers, n_jobs)``; a job is relevant to seeker ``i`` when
  ``relevant[i, j] != 0`` (stored zeros do not count);
* ``k``: cut-off (default ``L``); only ``ranked[:, :k]`` is read. ``k`` may exceed ``L`` (the list is
  then shorter than ``k``, as when ``k`` exceeds the number of candidates).

Notation: ``hit[i, r] = 1`` if the job at rank ``r`` (0-based) is relevant to seeker ``i``;
``R_i`` = number of relevant jobs of seeker ``i``. Padding is never a hit.
Seekers with ``R_i = 0`` get ``NaN`` from every ranking metric: the metric is undefined for them, and
aggregates must leave them out (``np.nanmean``); splits never produce such seekers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp


def _check(ranked: np.ndarray, relevant: sp.spmatrix, k: int | None) -> tuple[np.ndarray, sp.csr_matrix, int]:
    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or not np.issubdtype(ranked.dtype, np.integer):
        raise ValueError(f"ranked must be a 2-d integer array, got shape {ranked.shape} dtype {ranked.dtype}")
    relevant = sp.csr_matrix(relevant, copy=True)
    relevant.eliminate_zeros()
    if relevant.shape[0] != ranked.shape[0]:
        raise ValueError(f"ranked has {ranked.shape[0]} rows but relevant has {relevant.shape[0]}")
    if ranked.size and (ranked.max() >= relevant.shape[1] or ranked.min() < -1):
        raise ValueError(f"ranked job rows must be in [-1, {relevant.shape[1]}), got "
                         f"[{ranked.min()}, {ranked.max()}]")
    k = ranked.shape[1] if k is None else int(k)
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    return ranked[:, :k], relevant, k


def hit_matrix(ranked: np.ndarray, relevant: sp.spmatrix) -> np.ndarray:
    """Boolean ``(n_seekers, L)``: is ``ranked[i, r]`` relevant to seeker ``i``? Padding is ``False``."""
    ranked, relevant, _ = _check(ranked, relevant, None)
    n_jobs = relevant.shape[1]
    if relevant.nnz == 0:
        return np.zeros(ranked.shape, dtype=bool)
    # Encode (seeker, job) pairs as one integer (ascending in CSR order) and binary-search the ranked ones.
    relevant.sort_indices()
    relevant_keys = np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr)) * n_jobs \
        + relevant.indices
    ranked_keys = np.arange(ranked.shape[0], dtype=np.int64)[:, None] * n_jobs + ranked
    found = relevant_keys[np.minimum(np.searchsorted(relevant_keys, ranked_keys), len(relevant_keys) - 1)]
    return (found == ranked_keys) & (ranked >= 0)


def _n_relevant(relevant: sp.csr_matrix) -> np.ndarray:
    """``R_i`` per seeker (``relevant`` has had its explicit zeros removed by :func:`_check`)."""
    return np.diff(relevant.indptr)


# Each ``_from_hits`` function takes ``hits`` = ``hit_matrix(...)[:, :k]``, ``R`` and ``k``; the public
# functions below pin the definitions and :func:`ranking_metrics` shares one hit matrix between them.
def _hr_from_hits(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    return hits.any(axis=1).astype(float)


def _precision_from_hits(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    return hits.sum(axis=1) / k


def _recall_from_hits(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    return hits.sum(axis=1) / np.maximum(n_rel, 1)


def _ndcg_from_hits(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = hits.astype(float) @ discounts[: hits.shape[1]]
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(n_rel, k)]
    return dcg / np.where(ideal > 0, ideal, 1.0)


def _ap_from_hits(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    hits = hits.astype(float)
    precision_at_r = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    return (hits * precision_at_r).sum(axis=1) / np.maximum(np.minimum(n_rel, k), 1)


def _rr_from_hits(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    return np.where(hits.any(axis=1), 1.0 / (np.argmax(hits, axis=1) + 1.0), 0.0)


def _metric(from_hits, ranked: np.ndarray, relevant: sp.spmatrix, k: int | None) -> np.ndarray:
    ranked, relevant, k = _check(ranked, relevant, k)
    n_rel = _n_relevant(relevant)
    return np.where(n_rel > 0, from_hits(hit_matrix(ranked, relevant), n_rel, k), np.nan)


def hit_rate(ranked: np.ndarray, relevant: sp.spmatrix, k: int | None = None) -> np.ndarray:
    """HR@k: 1 if at least one of the top ``k`` jobs is relevant, else 0 (never above 1)."""
    return _metric(_hr_from_hits, ranked, relevant, k)


def precision(ranked: np.ndarray, relevant: sp.spmatrix, k: int | None = None) -> np.ndarray:
    """Precision@k: (number of relevant jobs in the top ``k``) / ``k``.

    The denominator is ``k`` even when fewer than ``k`` jobs were recommended (as in LightFM).
    """
    return _metric(_precision_from_hits, ranked, relevant, k)


def recall(ranked: np.ndarray, relevant: sp.spmatrix, k: int | None = None) -> np.ndarray:
    """Recall@k: (number of relevant jobs in the top ``k``) / ``R_i`` (as in LightFM)."""
    return _metric(_recall_from_hits, ranked, relevant, k)


def ndcg(ranked: np.ndarray, relevant: sp.spmatrix, k: int | None = None) -> np.ndarray:
    """NDCG@k with binary gains: ``DCG / IDCG``.

    ``DCG = sum_{r<k} hit[i, r] / log2(r + 2)``; ``IDCG = sum_{r < min(k, R_i)} 1 / log2(r + 2)``, the
    DCG of a list with all relevant jobs first.
    """
    return _metric(_ndcg_from_hits, ranked, relevant, k)


def average_precision(ranked: np.ndarray, relevant: sp.spmatrix, k: int | None = None) -> np.ndarray:
    """AP@k (its mean over seekers is MAP@k).

    ``AP@k = sum_{r<k} hit[i, r] * precision@(r+1) / min(k, R_i)``.
    """
    return _metric(_ap_from_hits, ranked, relevant, k)


def reciprocal_rank(ranked: np.ndarray, relevant: sp.spmatrix, k: int | None = None) -> np.ndarray:
    """RR@k: ``1 / (r + 1)`` for the first relevant rank ``r < k``, 0 if none (its mean is MRR@k)."""
    return _metric(_rr_from_hits, ranked, relevant, k)


RANKING_METRICS = {"hr": hit_rate, "precision": precision, "recall": recall, "ndcg": ndcg,
                   "map": average_precision, "mrr": reciprocal_rank}
"""Short name -> per-seeker metric function (the names used in evaluation tables, e.g. ``hr@10``)."""

_FROM_HITS = {"hr": _hr_from_hits, "precision": _precision_from_hits, "recall": _recall_from_hits,
              "ndcg": _ndcg_from_hits, "map": _ap_from_hits, "mrr": _rr_from_hits}


def ranking_metrics(ranked: np.ndarray, relevant: sp.spmatrix, ks: Sequence[int],
                    names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``{"<name>@<k>": per-seeker values}`` for every metric name (default: all) and cut-off.

    Same values as calling each function of :data:`RANKING_METRICS`, with one shared hit matrix.
    """
    ranked, relevant, _ = _check(ranked, relevant, None)
    return metrics_from_hits(hit_matrix(ranked, relevant), _n_relevant(relevant), ks, names)


def metrics_from_hits(hits: np.ndarray, n_relevant: np.ndarray, ks: Sequence[int],
                      names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """:func:`ranking_metrics` from a precomputed :func:`hit_matrix` and ``R_i`` per seeker.

    Lets callers derive restricted relevance (e.g. new jobs only) by masking ``hits`` instead of
    searching the ranked lists again.
    """
    names = list(RANKING_METRICS) if names is None else list(names)
    unknown = set(names) - set(RANKING_METRICS)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {list(RANKING_METRICS)}")
    n_relevant = np.asarray(n_relevant)
    for k in ks:
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
    # Every metric is 0 on a row without a hit in its top max(ks): compute only the rows with one (often few).
    rows = np.flatnonzero(hits[:, :max(ks, default=1)].any(axis=1))
    row_hits, row_relevant = hits[rows], n_relevant[rows]
    no_hit = np.where(n_relevant > 0, 0.0, np.nan)
    out = {}
    for name in names:
        for k in ks:
            values = no_hit.copy()
            values[rows] = np.where(row_relevant > 0, _FROM_HITS[name](row_hits[:, :k], row_relevant, k), np.nan)
            out[f"{name}@{k}"] = values
    return out


# ---------------------------------------------------------------------- catalogue-level metrics
def recommendation_counts(ranked: np.ndarray, n_jobs: int, k: int | None = None) -> np.ndarray:
    """How many times each job row appears in the top ``k`` over all seekers (length ``n_jobs``)."""
    ranked = np.asarray(ranked)[:, :k]
    return np.bincount(ranked[ranked >= 0].ravel(), minlength=n_jobs)


def catalogue_coverage(ranked: np.ndarray, n_jobs: int, k: int | None = None,
                       eligible: np.ndarray | None = None) -> float:
    """Share of jobs recommended to at least one seeker in the top ``k``.

    The denominator is ``n_jobs``, or the number of ``True`` entries of ``eligible`` (e.g. jobs active
    during the test period) when given; only eligible recommended jobs count in the numerator.
    """
    shown = recommendation_counts(ranked, n_jobs, k) > 0
    if eligible is None:
        return float(shown.mean()) if n_jobs else float("nan")
    eligible = np.asarray(eligible, dtype=bool)
    return float(shown[eligible].mean()) if eligible.any() else float("nan")


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative ``counts``: 0 when all equal, ``1 - 1/n`` when one job takes all.

    ``G = sum_i (2 i - n - 1) x_(i) / (n sum x)`` with ``x_(1) <= ... <= x_(n)`` (``i`` 1-based).
    """
    x = np.sort(np.asarray(counts, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return float("nan")
    if (x < 0).any():
        raise ValueError("gini: counts must be non-negative")
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * x.sum()))


def exposure_gini(ranked: np.ndarray, n_jobs: int, k: int | None = None,
                  eligible: np.ndarray | None = None) -> float:
    """Exposure concentration: :func:`gini` of top-``k`` recommendation counts over (eligible) jobs."""
    counts = recommendation_counts(ranked, n_jobs, k)
    return gini(counts if eligible is None else counts[np.asarray(eligible, dtype=bool)])


def congestion_share(ranked: np.ndarray, oversubscribed: np.ndarray, k: int | None = None) -> np.ndarray:
    """Per seeker: share of the top-``k`` recommended jobs that are over-subscribed.

    ``oversubscribed`` is a boolean mask over job rows (see
    :func:`recsys.evaluation.evaluate.oversubscribed_jobs`: training applications >= vacancies). The
    denominator is the number of jobs actually recommended (padding excluded); ``NaN`` if none.
    """
    ranked = np.asarray(ranked)[:, :k]
    shown = ranked >= 0
    flagged = np.asarray(oversubscribed, dtype=bool)[np.where(shown, ranked, 0)] & shown
    n_shown = shown.sum(axis=1)
    return np.where(n_shown > 0, flagged.sum(axis=1) / np.maximum(n_shown, 1), np.nan)
