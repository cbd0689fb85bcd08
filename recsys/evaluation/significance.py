"""Paired statistics over per-seeker metric vectors: bootstrap intervals, tests, Holm, BH, effect sizes.

Functions take per-seeker values of the *same* seekers (paired samples). Only
:func:`bootstrap_mean_intervals` accepts ``NaN`` (as "absent"); the others raise on it, so undefined
metrics must be filtered first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

DEFAULT_RESAMPLES = 1000
"""Bootstrap resamples per interval by default (as ``configs/eval/default.yaml``). The Monte Carlo
error of a bound is then a small fraction of the interval's width (on ``small``, checked against
20,000 resamples); pass more for intervals on small slices that need more digits."""


def _as_vector(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError(f"{name} contains NaN; drop seekers with undefined metrics first")
    return values


def _pair(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-seeker differences ``values - reference``."""
    values, reference = _as_vector(values, "values"), _as_vector(reference, "reference")
    if values.shape != reference.shape:
        raise ValueError(f"paired samples differ in length: {len(values)} vs {len(reference)}")
    return values - reference


def bootstrap_mean_intervals(values: np.ndarray, *, confidence: float = 0.95,
                             n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0, chunk: int = 500
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap intervals for the mean of every column of ``values`` ``(n, m)``.

    Rows (seekers) are resampled with replacement, the *same* resamples for every column: resample
    ``b`` draws ``n`` rows uniformly and counts how often it drew each, ``c_b``, so one matrix product
    per chunk of resamples gives all ``m`` means ``c_b . v_j / c_b . present_j``
    (``scipy.stats.bootstrap`` would redo the resampling per statistic). ``NaN`` marks a row absent
    from that column (e.g. a seeker outside a slice): each resample's column mean is taken over the
    resampled rows present in it, and resamples with none are skipped. Columns with fewer than two
    values get ``NaN`` bounds. Returns ``(low, high)``, each of length ``m``. Same seed, same intervals.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    n, m = values.shape
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    if n == 0:
        return np.full(m, np.nan), np.full(m, np.nan)
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0).astype(np.float32)
    # Columns share few presence patterns (one per slice): count each pattern's resampled rows once.
    pattern_ids: dict[bytes, int] = {}
    pattern_of_column = np.array([pattern_ids.setdefault(present[:, j].tobytes(), len(pattern_ids))
                                  for j in range(m)], dtype=np.int64)
    first_column = np.unique(pattern_of_column, return_index=True)[1]
    patterns = present[:, first_column].astype(np.float32)
    # Rows of zeros add nothing to a sum: columns that are mostly zero (hit rates, slices) are summed
    # over the rows where any of them is non-zero only.
    nonzero = filled != 0
    sparse = nonzero.mean(axis=0) <= 0.25
    sparse_rows = np.flatnonzero(nonzero[:, sparse].any(axis=1))
    sparse_filled = filled[sparse_rows][:, sparse]
    dense_filled = np.hstack([filled[:, ~sparse], patterns])  # dense columns, then the denominators
    n_dense = int((~sparse).sum())
    rng = np.random.default_rng(seed)
    draw_type = np.uint16 if n <= 1 << 16 else np.uint32  # fewer random bits per draw is faster
    means = np.empty((n_resamples, m))
    for start in range(0, n_resamples, chunk):
        draws = rng.integers(0, n, size=(min(chunk, n_resamples - start), n), dtype=draw_type)
        counts = np.empty(draws.shape, dtype=np.float32)  # counts[b, i]: times row i is in resample b
        for b, row in enumerate(draws):  # row by row: no (chunk x n) int64 index array
            counts[b] = np.bincount(row, minlength=n)
        dense_sums = counts @ dense_filled
        block = means[start:start + len(draws)]
        block[:, sparse] = counts[:, sparse_rows] @ sparse_filled
        block[:, ~sparse] = dense_sums[:, :n_dense]
        with np.errstate(invalid="ignore", divide="ignore"):
            block /= dense_sums[:, n_dense + pattern_of_column]
    alpha = (1.0 - confidence) / 2.0
    enough = present.sum(axis=0) >= 2
    low, high = np.full(m, np.nan), np.full(m, np.nan)
    gaps = np.isnan(means).any(axis=0)  # np.nanquantile is slow: use it only where needed
    for columns, quantile in ((enough & ~gaps, np.quantile), (enough & gaps, np.nanquantile)):
        if columns.any():
            low[columns], high[columns] = quantile(means[:, columns], [alpha, 1.0 - alpha], axis=0)
    return low, high


def bootstrap_ci(values: np.ndarray, *, confidence: float = 0.95, n_resamples: int = DEFAULT_RESAMPLES,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``values`` (resampling seekers with replacement).

    Returns ``(nan, nan)`` for fewer than two values. Same seed, same interval.
    """
    low, high = bootstrap_mean_intervals(_as_vector(values, "values"), confidence=confidence,
                                         n_resamples=n_resamples, seed=seed)
    return float(low[0]), float(high[0])


def paired_bootstrap_ci(values: np.ndarray, reference: np.ndarray, *, confidence: float = 0.95,
                        n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for ``mean(values - reference)``, resampling seekers jointly."""
    return bootstrap_ci(_pair(values, reference), confidence=confidence, n_resamples=n_resamples, seed=seed)


def paired_test(values: np.ndarray, reference: np.ndarray, *, method: str = "t",
                n_resamples: int = 9999, seed: int = 0) -> float:
    """Two-sided p-value for ``mean(values - reference) = 0``.

    ``method="t"``: paired t-test (:func:`scipy.stats.ttest_rel`). ``method="randomization"``: paired
    randomization test flipping the sign of each seeker's difference (:func:`scipy.stats.permutation_test`
    with ``permutation_type="samples"``), seeded. Identical samples give p = 1.
    """
    diff = _pair(values, reference)
    if len(diff) < 2 or not diff.any():
        return 1.0
    if method == "t":
        if np.ptp(diff) == 0:  # constant non-zero difference: t is infinite
            return 0.0
        return float(stats.ttest_rel(values, reference).pvalue)
    if method == "randomization":
        result = stats.permutation_test((np.asarray(values, float), np.asarray(reference, float)),
                                        lambda a, b, axis: np.mean(a - b, axis=axis), vectorized=True,
                                        permutation_type="samples", n_resamples=n_resamples,
                                        alternative="two-sided", random_state=seed)
        return float(result.pvalue)
    raise ValueError(f"method must be 't' or 'randomization', got {method!r}")


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (controls the family-wise error rate).

    With ``p_(1) <= ... <= p_(m)``: ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``; returned in the
    input order. Reject hypothesis ``i`` at level ``alpha`` iff ``adj_i <= alpha``.
    """
    pvalues = _as_vector(pvalues, "pvalues")
    if ((pvalues < 0) | (pvalues > 1)).any():
        raise ValueError("pvalues must lie in [0, 1]")
    m = len(pvalues)
    order = np.argsort(pvalues, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * pvalues[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (controls the false discovery rate; for exploratory tables).

    :func:`scipy.stats.false_discovery_control` with ``method="bh"``; returned in the input order.
    Reject hypothesis ``i`` at FDR ``q`` iff ``adj_i <= q``.
    """
    pvalues = _as_vector(pvalues, "pvalues")
    if ((pvalues < 0) | (pvalues > 1)).any():
        raise ValueError("pvalues must lie in [0, 1]")
    if len(pvalues) == 0:
        return pvalues
    return np.asarray(stats.false_discovery_control(pvalues, method="bh"), dtype=float)


@dataclass(frozen=True)
class EffectSize:
    """Paired effect size of ``values - reference``.

    ``mean_difference`` is in metric units; ``cohens_d`` is ``mean(d) / std(d, ddof=1)`` (Cohen's
    d_z for paired samples), ``nan`` when the differences have no spread.
    """

    mean_difference: float
    cohens_d: float


def paired_effect_size(values: np.ndarray, reference: np.ndarray) -> EffectSize:
    """Mean difference and Cohen's d_z of paired samples."""
    diff = _pair(values, reference)
    mean = float(diff.mean()) if len(diff) else float("nan")
    spread = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
    return EffectSize(mean, mean / spread if spread > 0 else float("nan"))
