"""Typed errors of the ranking API: every bad request or artifact raises a subclass of ``ValueError``."""

from __future__ import annotations

from recsys.models.base import NonFiniteScoreError


class UnknownSeekerError(KeyError, ValueError):
    """A seeker id is not known to the ranker (pass a profile mapping to rank a new seeker)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownJobError(KeyError, ValueError):
    """A job id is not in the live catalogue."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidProfileError(ValueError):
    """A seeker profile has missing or invalid fields; the message names the field."""


class InvalidRequestError(ValueError):
    """A request argument is invalid (``k <= 0``, unknown filter, malformed job table, ...)."""


class ArtifactError(ValueError):
    """A saved ranker is missing, corrupt, truncated or from an unsupported format version."""


__all__ = ["ArtifactError", "InvalidProfileError", "InvalidRequestError", "NonFiniteScoreError",
           "UnknownJobError", "UnknownSeekerError"]
