"""Seeker requests: validation of new-seeker profiles and the per-request arrays the ranker reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.api.catalogue import codes, planar_km
from recsys.api.errors import InvalidProfileError
from recsys.data.schema import EDUCATION_LEVELS, SCHEMAS
from recsys.data.validate import TableValidationError, validate_table

PROFILE_DEFAULTS = {"seeker_id": None, "station_id": "", "registered_at": None}
"""Seeker fields a profile may omit (``registered_at`` defaults to the request time)."""
PROFILE_FIELDS = tuple(c for c in SCHEMAS["seekers"].columns if c not in PROFILE_DEFAULTS)
"""Seeker fields a profile must give (the seekers schema without id, station and registration time)."""
RANGES = {"age": (14, 100), "max_commute_km": (0.0, None), "reservation_wage": (0.0, None),
          "experience_years": (0.0, None), "lat": (-90.0, 90.0), "lon": (-180.0, 180.0)}
"""Allowed (low, high) of numeric profile fields; ``max_commute_km`` must be strictly positive."""


def profiles_frame(profiles: Sequence[Mapping], now: pd.Timestamp) -> pd.DataFrame:
    """A seekers table from profile mappings; raises :class:`InvalidProfileError` naming the field."""
    records = []
    for i, profile in enumerate(profiles):
        where = f"profile {i}" if len(profiles) > 1 else "profile"
        if not isinstance(profile, Mapping):
            raise InvalidProfileError(f"{where}: expected a mapping of seeker fields or a seeker id, "
                                      f"got {type(profile).__name__}")
        missing = [f for f in PROFILE_FIELDS if f not in profile]
        if missing:
            raise InvalidProfileError(f"{where}: missing field(s) {missing}")
        record = {**PROFILE_DEFAULTS, **dict(profile)}
        record["seeker_id"] = str(record["seeker_id"]) if record["seeker_id"] is not None else f"<profile {i}>"
        record["registered_at"] = now if record["registered_at"] is None else record["registered_at"]
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    try:
        frame["registered_at"] = pd.to_datetime(frame["registered_at"])
        validate_table(frame, SCHEMAS["seekers"])
    except (TableValidationError, ValueError, TypeError) as exc:
        raise InvalidProfileError(f"invalid profile: {exc}".replace("seekers.", "field ")) from exc
    for field_name, (low, high) in RANGES.items():
        values = frame[field_name].to_numpy(dtype=float)
        bad = (values <= low) if field_name == "max_commute_km" else (values < low)
        if high is not None:
            bad |= values > high
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidProfileError(f"profile {i}: field {field_name}={values[i]!r} is out of range "
                                      f"[{low}, {high if high is not None else 'inf'}]")
    return frame


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
    skills: list[tuple[str, ...]]  # tuples of str: the garbage collector stops tracking them
    applied: list[np.ndarray]  # job ids each seeker already applied to

    @classmethod
    def from_table(cls, seekers: pd.DataFrame, embeddings: np.ndarray, biases: np.ndarray,
                   applied: list[np.ndarray]) -> SeekerRequests:
        east, north = planar_km(seekers["lat"].to_numpy(float), seekers["lon"].to_numpy(float))
        vectors = np.ones((len(embeddings), np.shape(embeddings)[1] + 1), dtype=np.float32)
        vectors[:, :-1] = embeddings
        biases = np.asarray(biases, dtype=np.float32)
        return cls(vectors=vectors, finite=np.isfinite(vectors).all(axis=1) & np.isfinite(biases),
                   biases=biases, east_km=east, north_km=north,
                   max_commute_km=seekers["max_commute_km"].to_numpy(float),
                   education=codes(seekers["education"], EDUCATION_LEVELS),
                   age=seekers["age"].to_numpy(np.int16),
                   reservation_wage=seekers["reservation_wage"].to_numpy(float),
                   skills=[tuple(s) for s in seekers["skills"]], applied=applied)

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
            skills=[self.skills[r] for r in rows], applied=[self.applied[r] for r in rows])

    @staticmethod
    def concat(parts: list[SeekerRequests], order: np.ndarray) -> SeekerRequests:
        """Concatenate ``parts`` and reorder the result by ``order``."""
        joined = SeekerRequests(
            vectors=np.vstack([p.vectors for p in parts]),
            **{name: np.concatenate([getattr(p, name) for p in parts])
               for name in ("finite", "biases", "east_km", "north_km", "max_commute_km", "education", "age",
                            "reservation_wage")},
            skills=[s for p in parts for s in p.skills], applied=[a for p in parts for a in p.applied])
        return joined.take(order)
