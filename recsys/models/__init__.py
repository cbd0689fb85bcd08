"""Recommenders behind one interface (:class:`recsys.models.base.Recommender`)."""

from recsys.models.base import (
    ModelFormatError,
    NonFiniteScoreError,
    NotFittedError,
    Recommender,
    UnsupportedSeekerError,
    top_k,
)

__all__ = ["ModelFormatError", "NonFiniteScoreError", "NotFittedError", "Recommender",
           "UnsupportedSeekerError", "top_k"]
