"""Seeker requests: validation of new-seeker profiles and the per-request arrays the ranker reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.api.catalogue import codes, planar_km
from recsys.api.requests import PROFILE_DEFAULTS, validate_profiles
from recsys.data.schema import EDUCATION_LEVELS, SCHEMAS

PROFILE_FIELDS = tuple(c for c in SCHEMAS["seekers"].columns if c not in PROFILE_DEFAULTS)
"""Seeker fields a profile gives when the ranker's seekers have every schema column (the seekers schema
without id, station and registration time); a ranker built on fewer columns asks for fewer
(:attr:`recsys.api.ranker.Ranker.profile_fields`)."""


def profiles_frame(profiles: Sequence[Mapping], now: pd.Timestamp,
                   required: Sequence[str] = PROFILE_FIELDS) -> pd.DataFrame:
    """A seekers table from profile mappings (:func:`recsys.api.requests.validate_profiles`)."""
    return validate_profiles(profiles, now, required=required)


@dataclass(frozen=True)
class SeekerRequests:
    """Arrays describing ``n`` seekers to rank (known seekers or validated profiles).

    ``vectors`` row ``i`` is seeker ``i``'s embedding followed by a 1 (it multiplies the job bias in
    :attr:`recsys.api.catalogue.Catalogue.scoring`); ``finite`` says whether its embedding and bias are
    finite.
    """

    vectors: np.ndarray  # (n, d + 1) float32
    finite: np.ndarray  # (n,) bool
    biases: np.ndarray  # (n,) float32
    east_km: np.ndarray
    north_km: np.ndarray
    max_commute_km: np.ndarray
    education: np.ndarray  # ordinal in EDUCATION_LEVELS
    age: np.ndarray
    reservation_wage: np.ndarray
    experience_years: np.ndarray  # NaN unknown
    skills: list[tuple[str, ...]]  # tuples of str: the garbage collector stops tracking them
    applied: list[np.ndarray]  # job ids each seeker already applied to

    @classmethod
    def from_table(cls, seekers: pd.DataFrame, embeddings: np.ndarray, biases: np.ndarray,
                   applied: list[np.ndarray]) -> SeekerRequests:
        """Requests of the seekers of ``seekers`` (row ``i`` has ``embeddings[i]``, ``biases[i]``, ``applied[i]``).

        Optional columns may be missing (or hold missing values): no ``lat``/``lon`` or
        ``max_commute_km`` turns the commute rule off for the seeker; unknown ``education`` / ``age`` are
        coded -1 (the requirement checks skip them); no ``skills`` / ``reservation_wage`` only shortens
        the reasons.
        """
        n = len(seekers)

        def column(name: str, fill: float) -> np.ndarray:
            if name not in seekers.columns:
                return np.full(n, fill, dtype=float)
            return seekers[name].astype("Float64").to_numpy(dtype=float, na_value=fill)

        east, north = planar_km(column("lat", np.nan), column("lon", np.nan))
        vectors = np.ones((len(embeddings), np.shape(embeddings)[1] + 1), dtype=np.float32)
        vectors[:, :-1] = embeddings
        biases = np.asarray(biases, dtype=np.float32)
        education = (codes(seekers["education"], EDUCATION_LEVELS) if "education" in seekers.columns
                     else np.full(n, -1, dtype=np.int8))
        skills = seekers["skills"].tolist() if "skills" in seekers.columns else [()] * n
        return cls(vectors=vectors, finite=np.isfinite(vectors).all(axis=1) & np.isfinite(biases),
                   biases=biases, east_km=east, north_km=north,
                   max_commute_km=column("max_commute_km", np.nan),
                   education=education, age=_ages(column("age", -1.0)),
                   reservation_wage=column("reservation_wage", np.nan),
                   experience_years=column("experience_years", np.nan),
                   skills=[tuple(s) if isinstance(s, (list, tuple, np.ndarray)) else () for s in skills],
                   applied=applied)

    def __len__(self) -> int:
        return len(self.biases)

    @property
    def embeddings(self) -> np.ndarray:
        """``(n, d)`` float32 embeddings (a view of :attr:`vectors`)."""
        return self.vectors[:, :-1]

    def take(self, rows: np.ndarray) -> SeekerRequests:
        """The requests at ``rows`` (fancy indexing on every field)."""
        return SeekerRequests(
            vectors=self.vectors[rows], finite=self.finite[rows], biases=self.biases[rows], east_km=self.east_km[rows],
            north_km=self.north_km[rows], max_commute_km=self.max_commute_km[rows],
            education=self.education[rows], age=self.age[rows], reservation_wage=self.reservation_wage[rows],
            experience_years=self.experience_years[rows], skills=[self.skills[r] for r in rows], applied=[self.applied[r] for r in rows])

    @staticmethod
    def concat(parts: list[SeekerRequests], order: np.ndarray) -> SeekerRequests:
        """Concatenate ``parts`` and reorder the result by ``order``."""
        joined = SeekerRequests(
            vectors=np.vstack([p.vectors for p in parts]),
            **{name: np.concatenate([getattr(p, name) for p in parts])
               for name in ("finite", "biases", "east_km", "north_km", "max_commute_km", "education", "age",
                            "reservation_wage", "experience_years")},
            skills=[s for p in parts for s in p.skills], applied=[a for p in parts for a in p.applied])
        return joined.take(order)


def _ages(ages: np.ndarray) -> np.ndarray:
    """Ages as int16 (-1 = unknown); values int16 cannot hold raise ValueError instead of wrapping around."""
    if ((ages < -1) | (ages > 150)).any():
        row = int(np.flatnonzero((ages < -1) | (ages > 150))[0])
        raise ValueError(f"seekers.age: {ages[row]!r} at row {row} is out of range [0, 150]")
    return ages.astype(np.int16)
