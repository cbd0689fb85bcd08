"""Recommenders behind one interface (:class:`recsys.models.base.Recommender`)."""

from recsys.models.base import (
    ModelFormatError,
    NonFiniteScoreError,
    NotFittedError,
    Recommender,
    UnsupportedSeekerError,
    top_k,
)
from recsys.models.popularity import Popularity
from recsys.models.random import RandomRecommender

__all__ = ["ModelFormatError", "NonFiniteScoreError", "NotFittedError", "Popularity", "RandomRecommender",
           "Recommender", "UnsupportedSeekerError", "top_k"]
