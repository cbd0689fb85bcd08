"""EASE: embarrassingly shallow autoencoder (Steck 2019), closed form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.linalg

from recsys.data.dataset import Dataset
from recsys.models._common import (
    check_event_weights,
    check_number,
    csr_from_arrays,
    csr_to_arrays,
    weighted_interactions,
)
from recsys.models.base import Recommender


class EASE(Recommender):
    """Job x job linear model ``B`` with zero diagonal, fitted in closed form.

    With ``G = X^T X + l2 I`` over the jobs that have training interactions and ``P = G^{-1}``,
    ``B = I - P diag(1 / diag(P))`` (so ``B_jj = 0``) and ``score(u, j) = X[u] @ B[:, j]``.
    Serves warm seekers and jobs with training interactions only.

    Parameters
    ----------
    l2
        Ridge strength added to the Gram diagonal.
    event_weights
        Weight per funnel stage (default: the dataset's ``funnel.interaction_weights``); any event
        names of the dataset's funnel (e.g. ``{"click": 1.0, "bookmark": 2.0}``). ``fit`` raises
        :class:`~recsys.models.base.NoTrainingEventsError` if none of the positively weighted events
        occurs in the training data.
    """

    def __init__(self, l2: float = 250.0, event_weights: Mapping[str, float] | None = None) -> None:
        self.l2 = l2
        self.event_weights = event_weights

    def _fit(self, dataset: Dataset) -> None:
        check_number(self, "l2", self.l2, low=0.0)
        check_event_weights(self, self.event_weights)
        matrix = weighted_interactions(self, dataset, self.event_weights, dataset.funnel.interaction_weights)
        self.item_rows_ = np.flatnonzero(matrix.getnnz(axis=0) > 0)
        self.interactions_ = matrix[:, self.item_rows_].tocsr()
        gram = (self.interactions_.T @ self.interactions_).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        precision = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = -precision / np.diag(precision)[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights_ = weights.astype(np.float32)
        self.column_of_ = np.full(dataset.n_jobs, -1, dtype=np.int64)
        self.column_of_[self.item_rows_] = np.arange(len(self.item_rows_))

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        columns = self.column_of_[job_rows]
        scores = np.zeros((len(seeker_rows), len(job_rows)), dtype=np.float32)
        known = columns >= 0
        scores[:, known] = self.interactions_[seeker_rows] @ self.weights_[:, columns[known]]
        return scores  # unknown jobs are set to -inf by the base class

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"item_rows": self.item_rows_, "weights": self.weights_, "column_of": self.column_of_,
                **csr_to_arrays("interactions", self.interactions_)}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.item_rows_, self.weights_, self.column_of_ = arrays["item_rows"], arrays["weights"], arrays["column_of"]
        self.interactions_ = csr_from_arrays("interactions", arrays)
