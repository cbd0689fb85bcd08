"""Typed errors of the ranking API: every bad request or artifact raises a subclass of ``ValueError``."""

from __future__ import annotations

from recsys.models.base import NonFiniteScoreError
from recsys.models.protocols import UnservableModelError


class UnknownSeekerError(KeyError, ValueError):
    """A seeker id is not known to the ranker (pass a profile mapping to rank a new seeker)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownJobError(KeyError, ValueError):
    """A job id is not in the live catalogue."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidRequestError(ValueError):
    """A request argument is invalid (``k <= 0``, unknown filter, malformed job table, ...)."""


class InvalidValueError(InvalidRequestError):
    """A value of a request breaks a rule; ``field``, ``row`` (``None`` for a single value) and ``rule``
    say which, and the message names all three."""

    def __init__(self, field: str, rule: str | None = None, *, row: int | None = None, value: object = None,
                 show_value: bool = True) -> None:
        if rule is None:  # one preformatted message (also how pickle rebuilds the error from its args)
            self.field, self.row, self.rule = "", row, field
            super().__init__(field)
            return
        self.field, self.row, self.rule = field, row, rule
        where = field if row is None else f"row {row}: {field}"
        shown = f" = {value!r}" if show_value else ""
        super().__init__(f"{where}{shown}: {rule}")


class InvalidKError(InvalidValueError):
    """``k`` is not an integer in ``[1, MAX_K]`` (:data:`recsys.api.requests.MAX_K`)."""


class InvalidFilterError(InvalidValueError):
    """A filter (``job_types``, ``districts``, ``max_commute_km``, ``meets_requirements``,
    ``exclude_applied``) is unknown or has a value of the wrong type or range."""


class InvalidTimeError(InvalidValueError):
    """A time (``now``, ``expire()``, a job's ``posted_at``/``expires_at``) is not a time, or would move the
    ranker's clock backwards."""


class InvalidProfileError(InvalidValueError):
    """A seeker profile has missing or invalid fields; the message names the field and the profile."""


class InvalidJobsError(InvalidValueError):
    """A postings table given to ``add_jobs`` has a missing column or a value that breaks a rule."""


class PlacementUnavailableError(InvalidRequestError):
    """A placement objective (``hire``, ``surplus``) was asked of a ranker built without a hiring model
    and an apply calibration (:meth:`recsys.api.ranker.Ranker.from_model` with ``hiring=...``)."""


class ArtifactError(ValueError):
    """A saved ranker is missing, corrupt, truncated or from an unsupported format version."""


__all__ = ["ArtifactError", "InvalidFilterError", "InvalidJobsError", "InvalidKError", "InvalidProfileError",
           "InvalidRequestError", "InvalidTimeError", "InvalidValueError", "NonFiniteScoreError",
           "PlacementUnavailableError", "UnknownJobError", "UnknownSeekerError", "UnservableModelError"]
