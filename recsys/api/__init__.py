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

__all__ = ["ArtifactError", "InvalidProfileError", "InvalidRequestError", "NonFiniteScoreError", "Ranker",
           "Reason", "Recommendation", "UnknownJobError", "UnknownSeekerError"]
