"""Recommenders behind one interface (:class:`recsys.models.base.Recommender`)."""

from recsys.models.base import (
    ModelFormatError,
    NonFiniteScoreError,
    NotFittedError,
    Recommender,
    UnsupportedSeekerError,
    top_k,
)
from recsys.models.content import Content
from recsys.models.ease import EASE
from recsys.models.knn import ItemKNN
from recsys.models.lightfm import LightFMCollaborative, LightFMHybrid
from recsys.models.nearest import MissingColumnsError, Nearest, NewestNearby
from recsys.models.popularity import Popularity
from recsys.models.popularity_prior import PopularityPrior
from recsys.models.random import RandomRecommender

__all__ = ["EASE", "Content", "ItemKNN", "LightFMCollaborative", "LightFMHybrid", "MissingColumnsError",
           "ModelFormatError", "Nearest", "NewestNearby", "NonFiniteScoreError", "NotFittedError", "Popularity",
           "PopularityPrior", "RandomRecommender", "Recommender", "UnsupportedSeekerError", "top_k"]
