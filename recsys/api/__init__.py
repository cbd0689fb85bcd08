"""Ranking API for the matching service: :class:`Ranker`, :func:`load_ranker`, :func:`rank`."""

from recsys.api.errors import (
    ArtifactError,
    InvalidFilterError,
    InvalidJobsError,
    InvalidKError,
    InvalidProfileError,
    InvalidRequestError,
    InvalidTimeError,
    InvalidValueError,
    NonFiniteScoreError,
    UnknownJobError,
    UnknownSeekerError,
    UnservableModelError,
)
from recsys.api.ranker import Ranker, RankerState, Ranking, TopLists
from recsys.api.reasons import Reason, Recommendation
from recsys.api.requests import MAX_K, Filters, validate_filters, validate_k
from recsys.api.service import load_ranker, rank

__all__ = ["MAX_K", "ArtifactError", "Filters", "InvalidFilterError", "InvalidJobsError", "InvalidKError",
           "InvalidProfileError", "InvalidRequestError", "InvalidTimeError", "InvalidValueError",
           "NonFiniteScoreError", "Ranker", "RankerState", "Ranking", "Reason", "Recommendation", "TopLists",
           "UnknownJobError", "UnknownSeekerError", "UnservableModelError", "load_ranker", "rank",
           "validate_filters", "validate_k"]
