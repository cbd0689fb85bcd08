"""Item-based k-nearest neighbours with shrunk cosine similarity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.data.dataset import Dataset
from recsys.models._common import (
    check_event_weights,
    check_number,
    csr_from_arrays,
    csr_to_arrays,
    weighted_interactions,
)
from recsys.models.base import Recommender


class ItemKNN(Recommender):
    """Score a job by its similarity to the jobs the seeker interacted with.

    ``sim(i, j) = x_i . x_j / (||x_i|| ||x_j|| + shrinkage)`` over the job columns ``x`` of the
    seeker x job matrix of event weights; each job keeps its ``n_neighbors`` most similar jobs.
    ``score(u, j) = sum_i X[u, i] * sim(i, j)`` over the neighbours ``i`` of ``j``.
    Serves warm seekers and jobs with training interactions only.

    Parameters
    ----------
    n_neighbors
        Neighbours kept per job.
    shrinkage
        Added to the cosine denominator; damps similarities supported by few co-interactions.
    event_weights
        Weight per funnel stage (default: the dataset's ``funnel.interaction_weights``); any event
        names of the dataset's funnel (e.g. ``{"click": 1.0, "bookmark": 2.0}``). ``fit`` raises
        :class:`~recsys.models.base.NoTrainingEventsError` if none of the positively weighted events
        occurs in the training data.
    """

    def __init__(self, n_neighbors: int = 100, shrinkage: float = 10.0,
                 event_weights: Mapping[str, float] | None = None) -> None:
        self.n_neighbors = n_neighbors
        self.shrinkage = shrinkage
        self.event_weights = event_weights

    def _fit(self, dataset: Dataset) -> None:
        check_number(self, "n_neighbors", self.n_neighbors, low=0, integer=True)
        check_number(self, "shrinkage", self.shrinkage, low=0.0, strict=False)
        check_event_weights(self, self.event_weights)
        self.interactions_ = weighted_interactions(self, dataset, self.event_weights, dataset.funnel.interaction_weights)
        x = self.interactions_.tocsc()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        gram = (x.T @ x).tocoo()
        off_diagonal = gram.row != gram.col
        rows, cols = gram.row[off_diagonal], gram.col[off_diagonal]
        sims = gram.data[off_diagonal] / (norms[rows] * norms[cols] + self.shrinkage)
        # keep the n_neighbors largest sims of each target job (column); ties by lower job row
        order = np.lexsort((rows, -sims, cols))
        rows, cols, sims = rows[order], cols[order], sims[order]
        first = np.searchsorted(cols, cols, side="left")
        keep = (np.arange(len(cols)) - first) < self.n_neighbors
        self.similarity_ = sp.csr_matrix((sims[keep].astype(np.float32), (rows[keep], cols[keep])),
                                         shape=gram.shape)

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return (self.interactions_[seeker_rows] @ self.similarity_[:, job_rows]).toarray()

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {**csr_to_arrays("interactions", self.interactions_),
                **csr_to_arrays("similarity", self.similarity_)}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.interactions_ = csr_from_arrays("interactions", arrays)
        self.similarity_ = csr_from_arrays("similarity", arrays)
