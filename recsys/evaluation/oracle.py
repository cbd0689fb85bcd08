"""Oracle recommenders: rank by the generator's ground-truth expected utility (the ceiling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recsys.data.dataset import Dataset
from recsys.models.base import Recommender

ORACLE_PARTS = ("total", "observable", "latent")


class Oracle(Recommender):
    """Ranks jobs by ``GroundTruth.expected_utility`` at each seeker's test time.

    It is a :class:`~recsys.models.base.Recommender`, so it goes wherever a model goes; :func:`evaluate`
    calls :meth:`set_test_times` with the split's test times (without it, utilities are taken at
    ``at=None``, the generator's default). Serves every seeker and job. Never shown to models.

    Parameters
    ----------
    truth
        A ``GroundTruth``, or the generated data directory holding ``truth/``; ``None`` uses the
        directory the fitted dataset was loaded from.
    part
        ``"total"`` (default), ``"observable"`` (what features can explain) or ``"latent"``.
    """

    serves_warm_seekers = True
    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, truth: Any = None, part: str = "total") -> None:
        self.truth = truth
        self.part = part

    def _fit(self, dataset: Dataset) -> None:
        if self.part not in ORACLE_PARTS:
            raise ValueError(f"part must be one of {ORACLE_PARTS}, got {self.part!r}")
        truth = self.truth if self.truth is not None else dataset.source
        if truth is None:
            raise ValueError("Oracle needs truth= (a GroundTruth or a data directory): the dataset was "
                             "not loaded from a directory")
        if isinstance(truth, (str, Path)):
            from recsys.data.synthetic.truth import GroundTruth

            truth = GroundTruth.load(Path(truth))
        self.truth_ = truth
        self.test_time_ = np.full(dataset.n_seekers, np.datetime64("NaT"), dtype="datetime64[ns]")

    def set_test_times(self, seeker_rows: np.ndarray, times: np.ndarray) -> Oracle:
        """Score ``seeker_rows`` at ``times`` (``datetime64``) from now on. Returns ``self``."""
        self._check_fitted()
        self.test_time_[np.asarray(seeker_rows, dtype=np.int64)] = np.asarray(times, dtype="datetime64[ns]")
        return self

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        times = self.test_time_[seeker_rows]
        missing = np.isnat(times)
        if missing.all():
            at = None
        elif missing.any():
            raise ValueError(f"Oracle: {int(missing.sum())} seeker(s) in this batch have no test time while "
                             f"others do; call set_test_times for all of them")
        else:
            at = times
        return self.truth_.expected_utility(self.seeker_ids_.to_ids(seeker_rows),
                                            self.job_ids_.to_ids(job_rows), at=at, part=self.part)


class ObservableOracle(Oracle):
    """:class:`Oracle` on the observable part of utility (the ceiling of feature-based models)."""

    def __init__(self, truth: Any = None, part: str = "observable") -> None:
        super().__init__(truth, part)


class LatentOracle(Oracle):
    """:class:`Oracle` on the latent part of utility (what only behaviour can reveal)."""

    def __init__(self, truth: Any = None, part: str = "latent") -> None:
        super().__init__(truth, part)
