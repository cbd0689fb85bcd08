"""Utility oracles: rank by the generator's ground-truth expected utility at each query's time.

A reference for "% of reference", not the best achievable list: data come from utility *and* the
generator's exposure and apply-choice model, which the utility oracle ignores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recsys.data.dataset import Dataset
from recsys.evaluation.ranked import RankedLists, rank_by_scores
from recsys.evaluation.splits import Split
from recsys.models.base import Recommender

ORACLE_PARTS = ("total", "observable", "latent")


class Oracle(Recommender):
    """Ranks jobs by ``GroundTruth.expected_utility``; a :class:`~recsys.evaluation.ranked.ListProducer`.

    :meth:`produce` ranks each query of a split by the utility at the query's time (which completed
    trainings count); :func:`~recsys.evaluation.evaluate.rank_split` and ``evaluate`` call it. As a
    :class:`~recsys.models.base.Recommender` (``score``, ``recommend``) it uses utilities at
    ``at=None`` (the generator's default). Serves every seeker and job. Never shown to models.

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

    def utility_at(self, seeker_rows: np.ndarray, times: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        """Utility of each seeker row at its own time (``datetime64``) for ``job_rows``."""
        self._check_fitted()
        return self.truth_.expected_utility(self.seeker_ids_.to_ids(seeker_rows), self.job_ids_.to_ids(job_rows),
                                            at=np.asarray(times, dtype="datetime64[ns]"), part=self.part)

    def produce(self, split: Split, k_max: int) -> RankedLists:
        """Each query's candidates ranked by utility at the query's time (top ``k_max``)."""
        self._check_fitted()
        if len(self.job_ids_) != split.train.n_jobs or not np.array_equal(self.job_ids_.ids, split.train.job_ids.ids):
            raise ValueError(f"{type(self).__name__} was fitted on other job rows than split {split.name!r}")
        return rank_by_scores(split, self.utility_at, k_max, name=type(self).__name__)

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return self.truth_.expected_utility(self.seeker_ids_.to_ids(seeker_rows),
                                            self.job_ids_.to_ids(job_rows), at=None, part=self.part)


class ObservableOracle(Oracle):
    """:class:`Oracle` on the observable part of utility (the ceiling of feature-based models)."""

    def __init__(self, truth: Any = None, part: str = "observable") -> None:
        super().__init__(truth, part)


class LatentOracle(Oracle):
    """:class:`Oracle` on the latent part of utility (what only behaviour can reveal)."""

    def __init__(self, truth: Any = None, part: str = "latent") -> None:
        super().__init__(truth, part)
