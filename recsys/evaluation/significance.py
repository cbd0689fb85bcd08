"""Paired statistics over per-seeker metric vectors: bootstrap intervals, tests, Holm, effect sizes.

All functions take per-seeker values of the *same* seekers (paired samples) and ignore no values
silently: ``NaN`` inputs raise, so undefined metrics must be filtered before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

DEFAULT_RESAMPLES = 2000


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


def bootstrap_ci(values: np.ndarray, *, confidence: float = 0.95, n_resamples: int = DEFAULT_RESAMPLES,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``values`` (resampling seekers with replacement).

    Returns ``(nan, nan)`` for fewer than two values. Same seed, same interval.
    """
    values = _as_vector(values, "values")
    if len(values) < 2:
        return float("nan"), float("nan")
    if np.ptp(values) == 0:  # every resample has the same mean
        return float(values[0]), float(values[0])
    result = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                             method="percentile", vectorized=True, batch=200, random_state=seed)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


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
