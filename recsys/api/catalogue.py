"""The live job catalogue: an immutable snapshot of open postings, laid out for fast filtering.

A :class:`Catalogue` is never modified. :meth:`Catalogue.with_jobs` and :meth:`Catalogue.subset`
return a *new* snapshot; the :class:`~recsys.api.ranker.Ranker` swaps one
reference, so a concurrent ``rank()`` sees either the old or the new catalogue, never a mix.

Jobs are stored sorted by (vertical strip of the city, north coordinate): the jobs within a commute
radius then lie in a few contiguous slices (one per strip the radius overlaps, found with one
``searchsorted`` on :attr:`Catalogue.strip_key`), so a request scores only those slices instead of the
whole catalogue. Everything that does not depend on the seeker is computed here, once per version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.api.kernels import position_ranges, screening_arrays
from recsys.data.geo import planar_km
from recsys.data.schema import DISTRICTS, EDUCATION_LEVELS, JOB_TYPES, monthly_wage

STRIP_WIDTH_KM = 2.0
RANGE_SLACK_KM = 1e-3
"""Padding of range queries, so float32 rounding in the distance rule never drops a job at the edge."""
NO_AGE_MIN, NO_AGE_MAX = np.int16(-1), np.int16(np.iinfo(np.int16).max)

CATALOGUE_COLUMNS = ("job_id", "title", "occupation", "skills", "min_education", "age_min", "age_max",
                     "wage_min", "wage_max", "wage_unit", "job_type", "schedule", "district", "lat", "lon",
                     "posted_at", "expires_at")
"""Job columns the catalogue keeps (for filters, reasons and saving)."""
TEXT_COLUMNS = ("job_id", "title", "occupation", "skills", "schedule", "job_type")
"""Columns kept as object arrays too, so reasons are worded without pandas in the request path."""
WORDING_COLUMNS = ("title", "occupation", "skills", "schedule", "job_type")
"""Text columns of :attr:`Catalogue.wording` (followed by the monthly wage)."""


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
    scoring
        ``(n_jobs, d + 1)`` float32, C-contiguous: job embedding with the job bias as last column, so
        ``scoring @ [seeker_embedding, 1]`` is the score without the seeker's own bias (one matrix-vector
        product per request).
    finite
        Whether every value of ``scoring`` is finite (then, with a finite seeker, so is every score).
    embeddings, biases
        Read-only views of ``scoring``: ``score = embeddings @ seeker + bias`` (plus the seeker's bias).
    screen_basis, screen_head, screen_tail, screen_slack, bias
        What the ranking kernel screens candidates with (:func:`~recsys.api.kernels.screening_arrays`),
        and a contiguous copy of the biases.
    kernel_arrays, layout
        The ``jobs`` and ``layout`` arguments of :func:`recsys.api.kernels.top_k_passing`.
    features
        CSR ``(n_jobs, n_features)``: the model's weighted job-feature rows, for the reasons.
    east_km, north_km, job_type, min_education, age_min, age_max, district, posted_ns, expires_ns
        Filter columns as numpy arrays (codes index the tuples of :mod:`recsys.data.schema`; missing
        age limits are -1 / int16 max; times are int64 nanoseconds).
    strip_starts
        ``strip_starts[s]`` is the first position of strip ``s`` (strips are :data:`STRIP_WIDTH_KM` wide
        from ``strip_origin_km``); the last entry is ``n_jobs``.
    wording
        Per position, the Python values the reasons quote: :data:`WORDING_COLUMNS` and the monthly wage
        (the first fields of :class:`~recsys.api.reasons.JobFacts`).
    strip_key
        Sorted float64 key of each position: ``strip * strip_stride_km + (north_km - north_origin_km)``.
    """

    version: int
    table: pd.DataFrame
    scoring: np.ndarray = field(repr=False)
    finite: bool = field(repr=False)
    embeddings: np.ndarray = field(repr=False)
    biases: np.ndarray = field(repr=False)
    screen_basis: np.ndarray = field(repr=False)
    screen_head: np.ndarray = field(repr=False)
    screen_tail: np.ndarray = field(repr=False)
    screen_slack: np.ndarray = field(repr=False)
    bias: np.ndarray = field(repr=False)
    features: sp.csr_matrix = field(repr=False)
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
    strip_key: np.ndarray = field(repr=False)
    north_origin_km: float = field(repr=False)
    strip_stride_km: float = field(repr=False)
    positions: pd.Index = field(repr=False)
    text: dict[str, np.ndarray] = field(repr=False)
    wording: list[tuple] = field(repr=False)
    position_of: dict[str, int] = field(repr=False)
    kernel_arrays: tuple = field(repr=False)
    layout: tuple = field(repr=False)

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

        north_origin = float(north.min()) if len(north) else 0.0
        stride = float(north.max() - north_origin) + 2.0 if len(north) else 2.0
        strip_key = strip[order] * stride + (north[order].astype(np.float64) - north_origin)

        table = table.iloc[order].reset_index(drop=True)
        scoring = np.empty((len(order), embeddings.shape[1] + 1), dtype=np.float32)
        scoring[:, :-1] = embeddings[order]
        scoring[:, -1] = biases[order]
        age_min = table["age_min"].astype("Float64").fillna(NO_AGE_MIN).to_numpy(np.int16)
        age_max = table["age_max"].astype("Float64").fillna(NO_AGE_MAX).to_numpy(np.int16)
        screen = screening_arrays(scoring[:, :-1])
        mid_wage = (table["wage_min"].to_numpy(float) + table["wage_max"].to_numpy(float)) / 2
        arrays = {
            "scoring": scoring, "embeddings": scoring[:, :-1], "biases": scoring[:, -1],
            **dict(zip(("screen_basis", "screen_head", "screen_tail", "screen_slack"), screen, strict=True)),
            "bias": scoring[:, -1].copy(),
            "east_km": east[order], "north_km": north[order],
            "job_type": codes(table["job_type"], JOB_TYPES),
            "min_education": codes(table["min_education"], EDUCATION_LEVELS),
            "age_min": age_min, "age_max": age_max,
            "district": codes(table["district"], DISTRICTS),
            "posted_ns": _nanoseconds(table["posted_at"]), "expires_ns": _nanoseconds(table["expires_at"]),
            "monthly_wage": monthly_wage(mid_wage, table["wage_unit"].astype(str).to_numpy()).astype(np.float32),
            "strip_starts": starts.astype(np.int64), "strip_key": strip_key,
        }
        for array in arrays.values():
            array.setflags(write=False)
        features = sp.csr_matrix(features[order], dtype=np.float32)
        text = {c: table[c].to_numpy(object) for c in TEXT_COLUMNS}
        wording = list(zip(*(text[c].tolist() for c in WORDING_COLUMNS), arrays["monthly_wage"].tolist(), strict=True))
        kernel_arrays = tuple(arrays[name] for name in (
            "scoring", "screen_basis", "screen_head", "screen_tail", "screen_slack", "bias", "posted_ns", "expires_ns", "job_type", "district", "east_km",
            "north_km", "min_education", "age_min", "age_max"))
        layout = (arrays["strip_key"], n_strips, origin, STRIP_WIDTH_KM, stride, north_origin, RANGE_SLACK_KM)
        return cls(version=version, table=table, features=features, strip_origin_km=origin,
                   kernel_arrays=kernel_arrays, layout=layout,
                   finite=bool(np.isfinite(scoring).all()),
                   north_origin_km=north_origin, strip_stride_km=stride,
                   positions=pd.Index(table["job_id"].to_numpy(object)), text=text,
                   wording=wording, position_of={job_id: i for i, job_id in enumerate(text["job_id"])}, **arrays)

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

    def ranges_within(self, east_min: float, east_max: float, north_min: float, north_max: float,
                      radius_km: float) -> tuple[np.ndarray, np.ndarray]:
        """Position ranges ``[starts[i], stops[i])`` covering every job within ``radius_km`` of the box.

        A superset of the jobs within ``radius_km`` of a point of the box ``[east_min, east_max] x
        [north_min, north_max]``: in each strip the radius reaches, the north interval is widened by the
        circle's half-chord at the strip's nearest east edge. Ranges are in increasing position order,
        without empty ones; an infinite radius gives ``[0, n_jobs)``.
        """
        return position_ranges(*self.layout, east_min, east_max, north_min, north_max, radius_km)


def _nanoseconds(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).to_numpy("datetime64[ns]").astype(np.int64)

