"""The live job catalogue: an immutable snapshot of open postings, laid out for fast filtering.

A :class:`Catalogue` is never modified. :meth:`Catalogue.with_jobs`, :meth:`Catalogue.without` and
:meth:`Catalogue.active_at` return a *new* snapshot; the :class:`~recsys.api.ranker.Ranker` swaps one
reference, so a concurrent ``rank()`` sees either the old or the new catalogue, never a mix.

Jobs are stored sorted by (vertical strip of the city, north coordinate): the jobs within a commute
radius then lie in a few contiguous slices (one per strip the radius overlaps), so a request scores only
those slices instead of the whole catalogue.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data.schema import DISTRICTS, EDUCATION_LEVELS, JOB_TYPES, monthly_wage

KM_PER_DEG_LAT = 111.0
ORIGIN_LAT, ORIGIN_LON = 23.1, 113.3  # Guangzhou; the projection is exact enough within one city
KM_PER_DEG_LON = KM_PER_DEG_LAT * float(np.cos(np.deg2rad(ORIGIN_LAT)))
STRIP_WIDTH_KM = 4.0
NO_AGE_MIN, NO_AGE_MAX = np.int16(-1), np.int16(np.iinfo(np.int16).max)

CATALOGUE_COLUMNS = ("job_id", "title", "occupation", "skills", "min_education", "age_min", "age_max",
                     "wage_min", "wage_max", "wage_unit", "job_type", "schedule", "district", "lat", "lon",
                     "posted_at", "expires_at")
"""Job columns the catalogue keeps (for filters, reasons and saving)."""
TEXT_COLUMNS = ("job_id", "title", "occupation", "skills", "schedule", "job_type")
"""Columns kept as object arrays too, so reasons are worded without pandas in the request path."""


def planar_km(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular projection to (east, north) kilometres from central Guangzhou, float32.

    Distances between projected points are straight-line commute distances in km (error well under 1%
    inside the city).
    """
    east = (np.asarray(lon, dtype=np.float64) - ORIGIN_LON) * KM_PER_DEG_LON
    north = (np.asarray(lat, dtype=np.float64) - ORIGIN_LAT) * KM_PER_DEG_LAT
    return east.astype(np.float32), north.astype(np.float32)


def codes(values: pd.Series | np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """int8 position of each value in ``vocabulary`` (-1 for values outside it)."""
    return pd.Index(vocabulary).get_indexer(np.asarray(values, dtype=object)).astype(np.int8)


@dataclass(frozen=True, eq=False)
class Catalogue:
    """One immutable version of the live catalogue.

    Attributes
    ----------
    version
        Increases by one with every update of the ranker's catalogue.
    table
        Job metadata (:data:`CATALOGUE_COLUMNS`), row ``i`` is catalogue position ``i``.
    embeddings, biases
        Job representations of the model, float32, C-contiguous: ``score = embeddings @ seeker + bias``
        (plus the seeker's own bias).
    features
        CSR ``(n_jobs, n_features)``: the model's weighted job-feature rows, for the reasons.
    east_km, north_km, job_type, min_education, age_min, age_max, district, posted_ns, expires_ns
        Filter columns as numpy arrays (codes index the tuples of :mod:`recsys.data.schema`; missing
        age limits are -1 / int16 max; times are int64 nanoseconds).
    strip_starts
        ``strip_starts[s]`` is the first position of strip ``s`` (strips are :data:`STRIP_WIDTH_KM` wide
        from ``strip_origin_km``); the last entry is ``n_jobs``.
    """

    version: int
    table: pd.DataFrame
    embeddings: np.ndarray
    biases: np.ndarray
    features: sp.csr_matrix
    east_km: np.ndarray = field(repr=False)
    north_km: np.ndarray = field(repr=False)
    job_type: np.ndarray = field(repr=False)
    min_education: np.ndarray = field(repr=False)
    age_min: np.ndarray = field(repr=False)
    age_max: np.ndarray = field(repr=False)
    district: np.ndarray = field(repr=False)
    posted_ns: np.ndarray = field(repr=False)
    expires_ns: np.ndarray = field(repr=False)
    monthly_wage: np.ndarray = field(repr=False)
    strip_origin_km: float = field(repr=False)
    strip_starts: np.ndarray = field(repr=False)
    positions: pd.Index = field(repr=False)
    text: dict[str, np.ndarray] = field(repr=False)
    position_of: dict[str, int] = field(repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, table: pd.DataFrame, embeddings: np.ndarray, biases: np.ndarray, features: sp.csr_matrix,
              *, version: int = 0) -> Catalogue:
        """Sort jobs spatially and precompute the filter columns (rows of the inputs are aligned)."""
        missing = [c for c in CATALOGUE_COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"jobs table is missing column(s) {missing}")
        table = table.loc[:, list(CATALOGUE_COLUMNS)].reset_index(drop=True)
        east, north = planar_km(table["lat"].to_numpy(float), table["lon"].to_numpy(float))
        origin = float(east.min()) if len(east) else 0.0
        strip = np.floor((east - origin) / STRIP_WIDTH_KM).astype(np.int64)
        order = np.lexsort((north, strip))
        n_strips = int(strip.max()) + 1 if len(strip) else 0
        starts = np.searchsorted(strip[order], np.arange(n_strips + 1))

        table = table.iloc[order].reset_index(drop=True)
        age_min = table["age_min"].astype("Float64").fillna(NO_AGE_MIN).to_numpy(np.int16)
        age_max = table["age_max"].astype("Float64").fillna(NO_AGE_MAX).to_numpy(np.int16)
        mid_wage = (table["wage_min"].to_numpy(float) + table["wage_max"].to_numpy(float)) / 2
        arrays = {
            "embeddings": np.ascontiguousarray(embeddings[order], dtype=np.float32),
            "biases": np.ascontiguousarray(biases[order], dtype=np.float32),
            "east_km": east[order], "north_km": north[order],
            "job_type": codes(table["job_type"], JOB_TYPES),
            "min_education": codes(table["min_education"], EDUCATION_LEVELS),
            "age_min": age_min, "age_max": age_max,
            "district": codes(table["district"], DISTRICTS),
            "posted_ns": _nanoseconds(table["posted_at"]), "expires_ns": _nanoseconds(table["expires_at"]),
            "monthly_wage": monthly_wage(mid_wage, table["wage_unit"].astype(str).to_numpy()).astype(np.float32),
            "strip_starts": starts.astype(np.int64),
        }
        for array in arrays.values():
            array.setflags(write=False)
        features = sp.csr_matrix(features[order], dtype=np.float32)
        text = {c: table[c].to_numpy(object) for c in TEXT_COLUMNS}
        return cls(version=version, table=table, features=features, strip_origin_km=origin,
                   positions=pd.Index(table["job_id"].to_numpy(object)), text=text,
                   position_of={job_id: i for i, job_id in enumerate(text["job_id"])}, **arrays)

    def with_jobs(self, table: pd.DataFrame, embeddings: np.ndarray, biases: np.ndarray,
                  features: sp.csr_matrix) -> Catalogue:
        """New snapshot with these jobs added (a job id already present is replaced)."""
        keep = ~self.positions.isin(table["job_id"])
        return Catalogue.build(
            pd.concat([self.table.loc[keep], table.loc[:, list(CATALOGUE_COLUMNS)]], ignore_index=True),
            np.vstack([self.embeddings[keep], embeddings]), np.concatenate([self.biases[keep], biases]),
            sp.vstack([self.features[np.flatnonzero(keep)], features], format="csr"), version=self.version + 1)

    def subset(self, keep: np.ndarray) -> Catalogue:
        """New snapshot with only the jobs where ``keep`` is true (order and layout preserved)."""
        rows = np.flatnonzero(keep)
        return Catalogue.build(self.table.iloc[rows], self.embeddings[rows], self.biases[rows],
                               self.features[rows], version=self.version + 1)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.table)

    @property
    def job_ids(self) -> np.ndarray:
        return self.positions.to_numpy()

    def active(self, now_ns: int) -> np.ndarray:
        """Boolean mask: posted at or before ``now`` and not yet expired."""
        return (self.posted_ns <= now_ns) & (self.expires_ns > now_ns)

    def slices_within(self, east: float, north: float, radius_km: float) -> Iterator[tuple[int, int]]:
        """Position ranges ``[start, stop)`` covering every job within ``radius_km`` (a superset).

        An infinite radius yields the whole catalogue.
        """
        return self.slices_within_box(east, east, north, north, radius_km)

    def slices_within_box(self, east_min: float, east_max: float, north_min: float, north_max: float,
                          radius_km: float) -> Iterator[tuple[int, int]]:
        """Position ranges covering every job within ``radius_km`` of the box (a superset)."""
        n_strips = len(self.strip_starts) - 1
        if not np.isfinite(radius_km):
            if len(self):
                yield 0, len(self)
            return
        first = max(int(np.floor((east_min - radius_km - self.strip_origin_km) / STRIP_WIDTH_KM)), 0)
        last = min(int(np.floor((east_max + radius_km - self.strip_origin_km) / STRIP_WIDTH_KM)), n_strips - 1)
        for strip in range(first, last + 1):
            start, stop = int(self.strip_starts[strip]), int(self.strip_starts[strip + 1])
            if start == stop:
                continue
            column = self.north_km[start:stop]
            lo = start + int(np.searchsorted(column, np.float32(north_min - radius_km), side="left"))
            hi = start + int(np.searchsorted(column, np.float32(north_max + radius_km), side="right"))
            if lo < hi:
                yield lo, hi


def _nanoseconds(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).to_numpy("datetime64[ns]").astype(np.int64)

