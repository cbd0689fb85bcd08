"""The live job catalogue: an immutable snapshot of open postings, laid out for fast filtering.

A :class:`Catalogue` is never modified. :meth:`Catalogue.with_jobs` and :meth:`Catalogue.subset`
return a *new* snapshot; the :class:`~recsys.api.ranker.Ranker` swaps one
reference, so a concurrent ``rank()`` sees either the old or the new catalogue, never a mix.

Jobs are stored sorted by (vertical strip of the city, north coordinate): the jobs within a commute
radius then lie in a few contiguous slices (one per strip the radius overlaps, found with one
``searchsorted`` on :attr:`Catalogue.strip_key`), so a request scores only those slices instead of the
whole catalogue. Everything that does not depend on the seeker is computed here, once per version.

Updates are incremental: :meth:`Catalogue.subset` and :meth:`Catalogue.with_jobs` gather the parent's
per-job arrays and derive columns only for the new jobs, which they merge into the parent's strip
layout (milliseconds for 50,000 jobs, where a rebuild takes hundreds). The result equals
:meth:`Catalogue.build` on the same jobs, except for the screening basis, which stays the parent's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.api._table_rows import TableRows
from recsys.api.kernels import position_ranges, screening_arrays
from recsys.data.geo import planar_km
from recsys.data.schema import EDUCATION_LEVELS, monthly_wage
from recsys.models.hiring import skill_bits

STRIP_WIDTH_KM = 2.0
LAYOUT_MARGIN_KM = 50.0
"""Room a built catalogue's strip layout leaves around its jobs, so that new postings nearby are merged
into it (milliseconds) rather than triggering a full rebuild."""
RANGE_SLACK_KM = 1e-3
"""Padding of range queries, so float32 rounding in the distance rule never drops a job at the edge."""
NO_AGE_MIN, NO_AGE_MAX = np.int16(-1), np.int16(np.iinfo(np.int16).max)

REQUIRED_COLUMNS = ("job_id",)
"""The only column a catalogue's jobs table must have; missing optional columns switch off exactly
the filters and reasons that need them (:data:`OPTIONAL_COLUMN_DEFAULTS`)."""
CATALOGUE_COLUMNS = ("job_id", "title", "occupation", "skills", "min_education", "age_min", "age_max",
                     "wage_min", "wage_max", "wage_unit", "job_type", "schedule", "district", "lat", "lon",
                     "posted_at", "expires_at", "vacancies")
"""Job columns the catalogue keeps (for filters, reasons and saving)."""
OPTIONAL_COLUMN_DEFAULTS: dict[str, object] = {
    "title": "", "occupation": "", "skills": (), "min_education": None, "age_min": None, "age_max": None,
    "wage_min": np.nan, "wage_max": np.nan, "wage_unit": "month", "job_type": None, "schedule": "",
    "district": None, "lat": np.nan, "lon": np.nan, "posted_at": pd.NaT, "expires_at": pd.NaT, "vacancies": 1.0}
"""What a missing optional column means: no coordinates (commute filter and distance figures off), no
job type / district (those filters never match the job), no education or age limits, no wage (no pay
figure), no ``posted_at`` / ``expires_at`` (always active)."""
CODED_COLUMNS = ("job_type", "district")
"""Open-vocabulary columns coded per catalogue (:attr:`Catalogue.vocabularies`): code 0 is "missing",
code ``i + 1`` is ``vocabularies[column][i]``."""
TEXT_COLUMNS = ("job_id",)
"""Columns kept as object arrays too, for the request path (the reasons' text is in ``wording``)."""
WORDING_COLUMNS = ("title", "occupation", "skills", "schedule", "job_type")
"""Text columns of :attr:`Catalogue.wording` (its :class:`~recsys.api.reasons.JobFacts`, then the monthly wage)."""
ROW_FIELDS = ("scoring", "screen_tail", "screen_slack", "east_km", "north_km", "job_type", "min_education", "age_min",
              "age_max", "district", "posted_ns", "expires_ns", "monthly_wage", "skill_bits", "vacancies",
              "applications")
"""Per-job array fields of :class:`Catalogue` with one row per position (``screen_head`` is coordinate-major)."""
KERNEL_FIELDS = ("scoring", "screen_basis", "screen_head", "screen_tail", "screen_slack", "bias", "posted_ns",
                 "expires_ns", "job_type", "district", "east_km", "north_km", "min_education", "age_min", "age_max")
"""The fields in :attr:`Catalogue.kernel_arrays`, in the order :func:`~recsys.api.kernels.top_k_passing` takes them."""


def codes(values: pd.Series | np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """int8 position of each value in ``vocabulary`` (-1 for values outside it)."""
    return _vocabulary_index(vocabulary).get_indexer(pd.Index(np.asarray(values, dtype=object))).astype(np.int8)


def open_codes(values: pd.Series | np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """int32 code of each value: ``1 + position`` in ``vocabulary``, 0 for missing or unlisted values."""
    return (pd.Index(vocabulary).get_indexer(pd.Index(np.asarray(values, dtype=object))) + 1).astype(np.int32)


def extend_vocabulary(vocabulary: tuple[str, ...], values: pd.Series | np.ndarray) -> tuple[str, ...]:
    """``vocabulary`` followed by the new string values of ``values`` (sorted), so old codes stay valid."""
    seen = set(vocabulary)
    new = sorted({v for v in np.asarray(values, dtype=object).tolist() if isinstance(v, str) and v and v not in seen})
    return vocabulary + tuple(new)


@cache
def _vocabulary_index(vocabulary: tuple[str, ...]) -> pd.Index:
    return pd.Index(vocabulary)


@dataclass(frozen=True, eq=False)
class Catalogue:
    """One immutable version of the live catalogue.

    Attributes
    ----------
    version
        Increases by one with every update of the ranker's catalogue.
    table
        Job metadata (:data:`CATALOGUE_COLUMNS`), row ``i`` is catalogue position ``i`` (an updated
        snapshot gathers it from its parent's table when it is first read).
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
        Filter columns as numpy arrays: job type and district codes over :attr:`vocabularies` (0 =
        missing); education ordinals of ``EDUCATION_LEVELS`` (-1 = none required); missing age limits
        are -1 / int16 max; times are int64 nanoseconds (missing: always active); coordinates NaN when
        a job has no location.
    skill_bits, vacancies, applications
        What the placement objectives read (:mod:`recsys.api.objectives`): hashed skill bit sets
        (:func:`recsys.models.hiring.skill_bits`), openings (float32, >= 1; 1 when not given) and the
        live count of applications received (:meth:`with_applications`; 0 for a new posting).
    vocabularies
        ``{"job_type": (...), "district": (...)}``: the values seen in this catalogue's lineage, in code
        order (open vocabularies; an update appends new values, so codes stay valid).
    has_locations
        Whether any job has coordinates (else the commute filter cannot apply).
    strip_starts
        ``strip_starts[s]`` is the first position of strip ``s`` (strips are :data:`STRIP_WIDTH_KM` wide
        from ``strip_origin_km``); the last entry is ``n_jobs``.
    wording
        Per position, the fields of the :class:`~recsys.api.reasons.JobFacts` the reasons quote, as a
        plain tuple of strings and a float (built once per job; unlike named tuples, the garbage
        collector stops tracking plain tuples, so 50,000 of them cost nothing at each collection).
    strip_key
        Sorted float64 key of each position: ``strip * strip_stride_km + (north_km - north_origin_km)``.
    """

    version: int
    _table: TableRows = field(repr=False)
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
    skill_bits: np.ndarray = field(repr=False)
    vacancies: np.ndarray = field(repr=False)
    applications: np.ndarray = field(repr=False)
    strip_origin_km: float = field(repr=False)
    strip_starts: np.ndarray = field(repr=False)
    strip_key: np.ndarray = field(repr=False)
    north_origin_km: float = field(repr=False)
    strip_stride_km: float = field(repr=False)
    text: dict[str, np.ndarray] = field(repr=False)
    wording: list[tuple] = field(repr=False)
    position_of: dict[str, int] = field(repr=False)
    kernel_arrays: tuple = field(repr=False)
    layout: tuple = field(repr=False)
    vocabularies: dict[str, tuple[str, ...]] = field(repr=False)
    has_locations: bool = field(repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, table: pd.DataFrame, embeddings: np.ndarray, biases: np.ndarray, features: sp.csr_matrix,
              *, version: int = 0) -> Catalogue:
        """Sort jobs spatially and precompute the filter columns (rows of the inputs are aligned).

        The strip layout covers these jobs with :data:`LAYOUT_MARGIN_KM` to spare on the west, south and
        north: strips start that far west of the westmost job, and the strip stride exceeds the north
        extent (margins included) by 2 km; later postings inside the margins are merged without a rebuild.
        """
        table = _catalogue_table(table)
        _check_aligned(table, embeddings, biases, features)
        east, north = planar_km(table["lat"].to_numpy(float), table["lon"].to_numpy(float))
        located = np.isfinite(east) & np.isfinite(north)
        origin = float(east[located].min()) - LAYOUT_MARGIN_KM if located.any() else 0.0
        north_origin = float(north[located].min()) - LAYOUT_MARGIN_KM if located.any() else 0.0
        east, north = _layout_coordinates(east, north, origin, north_origin)
        order = np.lexsort((north, _strip_of(east, origin)))
        stride = float(north.max() - north_origin) + LAYOUT_MARGIN_KM + 2.0 if len(north) else 2.0
        vocabularies = {c: extend_vocabulary((), table[c]) for c in CODED_COLUMNS}
        jobs, basis = _job_fields(table.iloc[order].reset_index(drop=True), embeddings[order], biases[order],
                                  features[order], vocabularies)
        jobs["table"] = TableRows((jobs["table"],))
        return cls._assemble(version, jobs, basis, origin, north_origin, stride, vocabularies)

    def with_jobs(self, table: pd.DataFrame, embeddings: np.ndarray, biases: np.ndarray,
                  features: sp.csr_matrix) -> Catalogue:
        """New snapshot with these jobs added (a job id already present is replaced).

        The new jobs are merged into this snapshot's strip layout by sort key; among equal keys the
        jobs already present come first, then the new ones in input order (the order :meth:`build`
        gives these jobs listed after the kept ones). Their screening coordinates use this snapshot's
        basis. A job outside the layout (west of its first strip or beyond its north extent) makes a
        full :meth:`build` instead.
        """
        table = _catalogue_table(table)
        _check_aligned(table, embeddings, biases, features)
        replaced = [p for p in map(self.position_of.get, table["job_id"].tolist()) if p is not None]
        kept = np.delete(np.arange(len(self)), replaced)
        east, north = _layout_coordinates(*planar_km(table["lat"].to_numpy(float), table["lon"].to_numpy(float)),
                                          self.strip_origin_km, self.north_origin_km)
        offset = north.astype(np.float64) - self.north_origin_km
        inside = (east - self.strip_origin_km >= 0) & (offset >= 0) & (offset <= self.strip_stride_km - 2.0)
        if len(self) == 0 or not inside.all():
            return Catalogue.build(
                pd.concat([self.table.iloc[kept], table], ignore_index=True),
                np.vstack([self.embeddings[kept], embeddings]), np.concatenate([self.biases[kept], biases]),
                sp.vstack([self.features[kept], features], format="csr"), version=self.version + 1)
        key = _strip_of(east, self.strip_origin_km) * self.strip_stride_km + offset
        order = np.argsort(key, kind="stable")
        new_at = np.searchsorted(self.strip_key[kept], key[order], side="right") + np.arange(len(order))
        source = np.empty(len(kept) + len(order), dtype=np.int64)  # rows of [this snapshot; new jobs]
        source[new_at] = len(self) + order
        old = np.ones(len(source), dtype=bool)
        old[new_at] = False
        source[old] = kept
        vocabularies = {c: extend_vocabulary(self.vocabularies[c], table[c]) for c in CODED_COLUMNS}
        new = _job_fields(table, embeddings, biases, features, vocabularies, basis=self.screen_basis)[0]
        finite = bool(np.isfinite(new["scoring"]).all()) if self.finite else None  # else recount
        return self._gathered(source, new, finite=finite, vocabularies=vocabularies)

    def with_applications(self, positions: np.ndarray, counts: np.ndarray, *, add: bool = True,
                          version: int | None = None) -> Catalogue:
        """New snapshot whose application counts at ``positions`` grow by ``counts`` (``add=False``: are
        set to them); everything else is shared with this snapshot. ``version`` defaults to the next one."""
        applications = self.applications.copy()
        if add:
            np.add.at(applications, positions, np.asarray(counts, dtype=np.float32))
        else:
            applications[positions] = np.asarray(counts, dtype=np.float32)
        applications.setflags(write=False)
        return replace(self, version=self.version + 1 if version is None else version, applications=applications)

    def subset(self, keep: np.ndarray) -> Catalogue:
        """New snapshot with only the jobs where ``keep`` is true (order and layout preserved)."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (len(self),):
            raise ValueError(f"keep must be a boolean mask of {len(self)} jobs, got shape {keep.shape}")
        if keep.all():  # nothing to drop: share the (read-only) arrays
            return replace(self, version=self.version + 1)
        return self._gathered(np.flatnonzero(keep), finite=True if self.finite else None)

    def _gathered(self, source: np.ndarray, new: dict | None = None, *, finite: bool | None = None,
                  vocabularies: dict[str, tuple[str, ...]] | None = None) -> Catalogue:
        """Next version, in this snapshot's layout, whose position ``i`` is row ``source[i]`` of this
        snapshot's positions followed by the new jobs (``new``: their :func:`_job_fields`)."""
        n = len(self)
        new_at = np.flatnonzero(source >= n)
        new_rows = source[new_at] - n
        rows = np.where(source >= n, 0, source) if len(new_at) else source

        def take(old: np.ndarray, added: np.ndarray | None, axis: int = 0) -> np.ndarray:
            out = np.take(old, rows, axis=axis)  # one gather; the few new rows are written over
            if len(new_at) and added is not None:
                np.moveaxis(out, axis, 0)[new_at] = np.moveaxis(added, axis, 0)[new_rows]
            return out

        added = new or {"text": {}}
        jobs: dict[str, Any] = {name: take(getattr(self, name), added.get(name)) for name in ROW_FIELDS}
        jobs["screen_head"] = take(self.screen_head, added.get("screen_head"), axis=1)
        jobs["text"] = {c: take(self.text[c], added["text"].get(c)) for c in TEXT_COLUMNS}
        jobs["wording"] = list(map(self.wording.__getitem__, rows.tolist()))
        features = self.features
        if new is not None:
            for at, row in zip(new_at.tolist(), new_rows.tolist(), strict=True):
                jobs["wording"][at] = new["wording"][row]
            features = sp.vstack([features, new["features"]], format="csr")
        jobs["features"] = sp.csr_matrix(features[source])
        jobs["table"] = self._table.take(source, None if new is None else new["table"])
        return Catalogue._assemble(self.version + 1, jobs, self.screen_basis, self.strip_origin_km,
                                   self.north_origin_km, self.strip_stride_km, vocabularies or self.vocabularies,
                                   finite=finite)

    @classmethod
    def _assemble(cls, version: int, jobs: dict, basis: np.ndarray, origin: float, north_origin: float,
                  stride: float, vocabularies: dict[str, tuple[str, ...]], *, finite: bool | None = None
                  ) -> Catalogue:
        """The snapshot of ``jobs`` (the fields of :func:`_job_fields`, in position order: sorted by strip
        key) in the strip layout ``(origin, north_origin, stride)``; ``finite`` is computed unless given."""
        east, north = _layout_coordinates(jobs["east_km"], jobs["north_km"], origin, north_origin)
        strip = _strip_of(east, origin)
        n_strips = int(strip[-1]) + 1 if len(strip) else 0
        scoring, text = jobs["scoring"], jobs["text"]
        arrays = {name: jobs[name] for name in ROW_FIELDS} | {
            "embeddings": scoring[:, :-1], "biases": scoring[:, -1], "bias": scoring[:, -1].copy(),
            "screen_basis": basis, "screen_head": jobs["screen_head"],
            "strip_starts": np.searchsorted(strip, np.arange(n_strips + 1)).astype(np.int64),
            "strip_key": strip * stride + (north.astype(np.float64) - north_origin),
        }
        for array in (*arrays.values(), *text.values()):
            array.setflags(write=False)
        kernel_arrays = tuple(arrays[name] for name in KERNEL_FIELDS)
        layout = (arrays["strip_key"], n_strips, origin, STRIP_WIDTH_KM, stride, north_origin, RANGE_SLACK_KM)
        return cls(version=version, _table=jobs["table"], features=jobs["features"], strip_origin_km=origin,
                   kernel_arrays=kernel_arrays, layout=layout,
                   finite=bool(np.isfinite(scoring).all()) if finite is None else finite,
                   north_origin_km=north_origin, strip_stride_km=stride, vocabularies=dict(vocabularies),
                   has_locations=bool(np.isfinite(jobs["east_km"]).any()),
                   text=text,
                   wording=jobs["wording"],
                   position_of=dict(zip(text["job_id"].tolist(), range(len(scoring)), strict=True)), **arrays)

    # ------------------------------------------------------------------ queries
    @cached_property
    def table(self) -> pd.DataFrame:
        # gathered on first read (only saving reads it); racing readers gather equal tables
        return self._table.frame()

    def __len__(self) -> int:
        return len(self.strip_key)

    @property
    def job_ids(self) -> np.ndarray:
        """Job id of each position (read-only object array)."""
        return self.text["job_id"]

    @cached_property
    def positions(self) -> pd.Index:
        """Index of the job ids: ``positions.get_indexer(ids)`` / ``isin`` (for single ids use ``position_of``)."""
        return pd.Index(self.text["job_id"])

    @cached_property
    def no_code_filter(self) -> dict[str, np.ndarray]:
        """All-true lookups over the codes of :data:`CODED_COLUMNS` (a request without that filter)."""
        return {c: np.ones(len(self.vocabularies[c]) + 1, dtype=bool) for c in CODED_COLUMNS}

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
        return position_ranges(*self.layout, east_min, east_max, north_min, north_max, radius_km)  # type: ignore[call-arg]  # numba


def _catalogue_table(table: pd.DataFrame) -> pd.DataFrame:
    """The catalogue columns of ``table``; missing optional ones are filled with what "missing" means."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"jobs table is missing column(s) {missing}")
    table = table.reset_index(drop=True)
    absent = [c for c in CATALOGUE_COLUMNS if c not in table.columns]
    if absent:
        table = table.copy()
        for column in absent:
            default = OPTIONAL_COLUMN_DEFAULTS[column]
            if column in ("age_min", "age_max"):
                table[column] = pd.array([pd.NA] * len(table), dtype="Int64")
            elif column in ("posted_at", "expires_at"):
                table[column] = pd.Series(pd.NaT, index=table.index, dtype="datetime64[ns]")
            elif isinstance(default, tuple):
                table[column] = pd.Series([[] for _ in range(len(table))], index=table.index, dtype=object)
            else:
                table[column] = pd.Series([default] * len(table), index=table.index,
                                          dtype=float if isinstance(default, float) else object)
    return table.loc[:, list(CATALOGUE_COLUMNS)]


def _check_aligned(table: pd.DataFrame, embeddings: np.ndarray, biases: np.ndarray, features: sp.spmatrix) -> None:
    n = len(table)
    if np.ndim(embeddings) != 2 or len(embeddings) != n or np.shape(biases) != (n,) or features.shape[0] != n:
        raise ValueError(f"catalogue inputs disagree: {n} jobs, embeddings {np.shape(embeddings)}, biases "
                         f"{np.shape(biases)}, feature rows {features.shape[0]}")


def _layout_coordinates(east: np.ndarray, north: np.ndarray, origin: float, north_origin: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates that place jobs in the strip layout: a job without a location (NaN) goes to the layout's
    south-west corner of real jobs (its own NaN coordinates still fail every finite commute limit)."""
    if np.isfinite(east).all() and np.isfinite(north).all():
        return east, north
    located = np.isfinite(east) & np.isfinite(north)
    return (np.where(located, east, np.float32(origin + LAYOUT_MARGIN_KM)).astype(np.float32),
            np.where(located, north, np.float32(north_origin + LAYOUT_MARGIN_KM)).astype(np.float32))


def _strip_of(east_km: np.ndarray, origin: float) -> np.ndarray:
    return np.floor((east_km - origin) / STRIP_WIDTH_KM).astype(np.int64)


def _job_fields(table: pd.DataFrame, embeddings: np.ndarray, biases: np.ndarray, features: sp.csr_matrix,
                vocabularies: dict[str, tuple[str, ...]], basis: np.ndarray | None = None) -> tuple[dict, np.ndarray]:
    """The per-job fields of a catalogue holding ``table``'s jobs in table order, and the screening basis.

    Keys are :data:`ROW_FIELDS`, ``screen_head``, ``features``, ``text``, ``wording`` and ``table``; the
    screening arrays use ``basis`` if given (else the principal directions of ``embeddings``).
    """
    scoring = np.empty((len(table), embeddings.shape[1] + 1), dtype=np.float32)
    scoring[:, :-1] = embeddings
    scoring[:, -1] = biases
    basis, head, tail, slack = screening_arrays(scoring[:, :-1], basis)
    east, north = planar_km(table["lat"].to_numpy(float), table["lon"].to_numpy(float))
    mid_wage = (table["wage_min"].to_numpy(float) + table["wage_max"].to_numpy(float)) / 2
    wage = monthly_wage(mid_wage, table["wage_unit"].astype(str).to_numpy()).astype(np.float32)
    text = {c: table[c].astype(object).to_numpy(object) for c in TEXT_COLUMNS}
    jobs = {
        "scoring": scoring, "screen_head": head, "screen_tail": tail, "screen_slack": slack,
        "east_km": east, "north_km": north,
        "job_type": open_codes(table["job_type"], vocabularies["job_type"]),
        "min_education": codes(table["min_education"], EDUCATION_LEVELS),
        "age_min": _int16(table["age_min"], NO_AGE_MIN, "age_min"),
        "age_max": _int16(table["age_max"], NO_AGE_MAX, "age_max"),
        "district": open_codes(table["district"], vocabularies["district"]),
        "posted_ns": _nanoseconds(table["posted_at"], NO_START_NS), "expires_ns": _nanoseconds(table["expires_at"], NO_END_NS),
        "monthly_wage": wage,
        "skill_bits": skill_bits(table["skills"].tolist()),
        "vacancies": np.maximum(table["vacancies"].astype("Float64").to_numpy(dtype=np.float32, na_value=1.0), 1.0),
        "applications": np.zeros(len(table), dtype=np.float32),
        "features": sp.csr_matrix(features, dtype=np.float32),
        "text": text,
        "wording": [(_text(title), _text(occupation), _skills(skills), _text(schedule), _text(job_type), monthly)
                    for title, occupation, skills, schedule, job_type, monthly
                    in zip(*(table[c].tolist() for c in WORDING_COLUMNS), wage.tolist(), strict=True)],
        "table": table,
    }
    return jobs, basis


NO_START_NS, NO_END_NS = np.iinfo(np.int64).min + 1, np.iinfo(np.int64).max
"""Nanosecond times standing for a missing ``posted_at`` / ``expires_at``: the job is always active."""


def _nanoseconds(values: pd.Series, missing: int) -> np.ndarray:
    stamps = pd.to_datetime(values)
    out = stamps.to_numpy("datetime64[ns]").astype(np.int64)
    return np.where(stamps.isna().to_numpy(), missing, out)


def _int16(values: pd.Series, missing: np.int16, column: str) -> np.ndarray:
    """Whole numbers in ``[0, 32766]`` as int16 (``missing`` where absent); anything else raises ValueError
    rather than wrapping around (40000 must not become -25536)."""
    numbers = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    present = ~np.isnan(numbers)
    bad = present & ((numbers < 0) | (numbers >= NO_AGE_MAX) | (numbers != np.round(numbers)))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"jobs.{column}: {numbers[row]!r} at row {row} is not a whole number in [0, {NO_AGE_MAX - 1}]")
    return np.where(present, numbers, missing).astype(np.int16)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _skills(value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(str(v) for v in value)
    return ()

