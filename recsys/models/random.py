"""A seeded random baseline: the floor every other model must beat."""

from __future__ import annotations

from typing import Any

import numpy as np

from recsys.data.dataset import Dataset
from recsys.models.base import Recommender

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective mix of 64-bit integers (wraps on overflow by design)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class RandomRecommender(Recommender):
    """Scores every (seeker, job) pair with an independent uniform number in ``[0, 1)``.

    The score of a pair is a hash of ``(seed, seeker row, job row)``, so it does not depend on how
    seekers are batched or which jobs are scored together: same seed, same rankings. Serves warm and
    cold seekers and new jobs alike (it uses no data).

    Parameters
    ----------
    seed
        Seed of the hash; different seeds give independent rankings.
    """

    serves_warm_seekers = True
    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _fit(self, dataset: Dataset) -> None:
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        n_jobs = np.uint64(len(self.job_ids_))
        salt = _splitmix64(np.array([self.seed], dtype=np.uint64))[0]
        pair = seeker_rows.astype(np.uint64)[:, None] * n_jobs + job_rows.astype(np.uint64)[None, :]
        bits = _splitmix64(pair ^ salt)
        return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        pass
