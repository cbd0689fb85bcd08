"""Ranking API for the matching service: :class:`Ranker`, :func:`load_ranker`, :func:`rank`."""

from recsys.api.errors import (
    ArtifactError,
    InvalidProfileError,
    InvalidRequestError,
    NonFiniteScoreError,
    UnknownJobError,
    UnknownSeekerError,
)
from recsys.api.ranker import Ranker
from recsys.api.reasons import Reason, Recommendation
from recsys.api.service import load_ranker, rank

__all__ = ["ArtifactError", "InvalidProfileError", "InvalidRequestError", "NonFiniteScoreError", "Ranker",
           "Reason", "Recommendation", "UnknownJobError", "UnknownSeekerError", "load_ranker", "rank"]
