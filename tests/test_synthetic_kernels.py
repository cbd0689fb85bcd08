"""Fast kernels of the generator against their plain definitions (hand-made arrays, no generated data)."""

from __future__ import annotations

import numpy as np

from recsys.data.synthetic.behaviour import _inverse_cdf
from recsys.data.synthetic.config import UtilityWeights
from recsys.data.synthetic.geography import distance_km
from recsys.data.synthetic.utility import FLEXIBLE, JobArrays, SeekerArrays, UtilityTerms, latent_utility


def _arrays(rng: np.random.Generator, n: int, m: int, d: int = 4) -> tuple[SeekerArrays, JobArrays]:
    bits = lambda rows: rng.integers(0, 2 ** 62, (rows, 2), dtype=np.int64).astype(np.uint64)  # noqa: E731
    seekers = SeekerArrays(
        bits=bits(n), lat=23.1 + rng.normal(0, 0.1, n), lon=113.3 + rng.normal(0, 0.1, n),
        age=rng.integers(18, 61, n).astype(np.int16), education=rng.integers(0, 7, n).astype(np.int16),
        desired_types=rng.integers(1, 8, n).astype(np.int16), schedule=rng.integers(0, 5, n).astype(np.int16),
        reservation=rng.uniform(3000, 9000, n), max_commute=rng.uniform(3, 20, n), beta=rng.uniform(0.5, 2, n),
        latent=rng.normal(0, 1, (n, d)).astype(np.float32))
    has_age = rng.random(m) < 0.5
    jobs = JobArrays(
        bits=bits(m) & np.uint64(0x0F0F0F0F), lat=23.1 + rng.normal(0, 0.1, m), lon=113.3 + rng.normal(0, 0.1, m),
        wage=rng.uniform(2000, 15000, m), job_type=rng.integers(0, 3, m).astype(np.int16),
        schedule=rng.integers(0, 5, m).astype(np.int16), min_education=rng.integers(0, 7, m).astype(np.int16),
        age_min=np.where(has_age, 18, 0).astype(np.int16), age_max=np.where(has_age, 45, 200).astype(np.int16),
        attractiveness=rng.normal(0, 1, m), latent=rng.normal(0, 1, (m, d)).astype(np.float32))
    return seekers, jobs


def _reference_observable(s: SeekerArrays, j: JobArrays, w: UtilityWeights) -> np.ndarray:
    """The module docstring's definition, term by term in float64, for every (seeker, job) pair."""
    si, ji = np.arange(len(s.age))[:, None], np.arange(len(j.age_max))[None, :]
    held = np.bitwise_count(s.bits[si] & j.bits[ji]).sum(-1)
    required = np.maximum(np.bitwise_count(j.bits).sum(-1), 1)[ji]
    km = distance_km(s.lat[si], s.lon[si], j.lat[ji], j.lon[ji])
    gap = s.education[si].astype(int) - j.min_education[ji]
    age = s.age[si]
    return (w.skill * held / required - s.beta[si] * km / 10 - w.over_commute * np.maximum(km - s.max_commute[si], 0) / 5
            + w.wage * np.clip(np.log(j.wage[ji] / s.reservation[si]), -1, 1)
            - w.job_type * (((s.desired_types[si] >> j.job_type[ji]) & 1) == 0)
            + w.schedule * ((j.schedule[ji] == s.schedule[si]) + 0.5 * (j.schedule[ji] == FLEXIBLE))
            - w.education_under * np.maximum(-gap, 0) - w.education_over * np.maximum(gap - 2, 0)
            - w.age_limit * ((age < j.age_min[ji]) | (age > j.age_max[ji])) + w.employer * j.attractiveness[ji])


def test_utility_terms_match_the_definition() -> None:
    seekers, jobs = _arrays(np.random.default_rng(0), 40, 60)
    w = UtilityWeights()
    terms = UtilityTerms(seekers, jobs, w)
    expected = _reference_observable(seekers, jobs, w)
    si = np.arange(40)[:, None]
    dense = terms.observable(si, np.arange(60)[None, :], seekers.bits[si])
    np.testing.assert_allclose(dense, expected, atol=2e-4)
    listed = np.random.default_rng(1).integers(0, 60, (40, 7))
    per_row = terms.observable(si, listed, seekers.bits[si])
    np.testing.assert_allclose(per_row, np.take_along_axis(expected, listed, axis=1), atol=2e-4)


def test_latent_in_pool_dense_and_gathered_paths_agree_with_latent_utility() -> None:
    seekers, jobs = _arrays(np.random.default_rng(2), 30, 500)
    terms = UtilityTerms(seekers, jobs, UtilityWeights())
    rng = np.random.default_rng(3)
    for pool_size in (20, 400):  # 20 <= 6 * k: one dense product; 400 > 6 * k: gathered factors
        pool = np.sort(rng.choice(500, pool_size, replace=False))
        local = rng.integers(0, pool_size, (30, 10))
        got = terms.latent_in_pool(np.arange(30), pool, local)
        want = latent_utility(seekers, jobs, np.arange(30)[:, None], pool[local], UtilityWeights())
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_inverse_cdf_equals_binary_search_on_both_paths() -> None:
    rng = np.random.default_rng(4)
    weights = rng.exponential(1.0, 300) * (rng.random(300) < 0.7)  # zero weights: those jobs are never drawn
    cum = np.cumsum(weights)
    for shape in ((2, 50), (400, 100)):  # few draws: binary search only; many: guide table + fallback
        u = rng.random(shape)
        got = _inverse_cdf(cum, u)
        np.testing.assert_array_equal(got, np.minimum(np.searchsorted(cum, u * cum[-1], side="right"), 299))
        assert weights[got].min() > 0
