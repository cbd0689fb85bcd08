"""The :class:`Dataset`: id maps, tables, the event funnel and the seeker x job interaction matrix.

A ``Dataset`` is built once from tables and read by everything else. Rows are fixed at construction:
splits restrict *interactions* but keep every seeker and job row, so a model fitted on a training
split can score seekers and postings that have no history (cold start) through their features.

Only ``seekers(seeker_id)``, ``jobs(job_id)`` and ``interactions(seeker_id, job_id, ts, event)`` are
required (:mod:`recsys.data.schema`); :meth:`Dataset.describe` says which optional columns are present
and what they switch on.

Memory: interactions hold ids as categoricals over the id maps (int32 codes), ``event`` as a categorical
over the funnel and ``seeker_row``/``job_row`` as int32: 4 x 4 bytes of ids and rows, 8 of time and 1
per categorical column (event, channel) per interaction; ``benchmarks/bench_load.py`` measures the load.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp

from recsys.data.events import DEFAULT_FUNNEL, EventFunnel, FunnelError
from recsys.data.schema import CAPABILITIES, CORE_TABLES, FORMAT_VERSION, SCHEMAS
from recsys.data.trainings import skills_as_of
from recsys.data.validate import TableValidationError, validate_tables, validate_trainings

logger = logging.getLogger(__name__)


MANIFEST = "manifest.json"


class UnknownIdError(KeyError, ValueError):
    """An external id is not in the id map."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class IdMap:
    """Bijection between external string ids and row indices ``0..n-1``."""

    ids: np.ndarray
    _index: pd.Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids, dtype=object)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "_index", pd.Index(ids, dtype=object))
        if not self._index.is_unique:
            raise ValueError("IdMap: ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._index

    @property
    def index(self) -> pd.Index:
        """The ids as a pandas Index (position = row)."""
        return self._index

    def to_rows(self, external_ids: Sequence[str] | np.ndarray | pd.Series, *, strict: bool = True,
                kind: str = "id") -> np.ndarray:
        """Rows of ``external_ids``; unknown ids raise :class:`UnknownIdError` (or map to -1 if not strict).

        A categorical Series is looked up through its categories only (fast for millions of rows).
        """
        if isinstance(external_ids, pd.Series) and isinstance(external_ids.dtype, pd.CategoricalDtype):
            lookup = np.append(self._index.get_indexer(external_ids.cat.categories), -1)
            rows = lookup[external_ids.cat.codes.to_numpy()]
        else:
            rows = self._index.get_indexer(pd.Index(np.asarray(external_ids, dtype=object)))
        if strict and (rows < 0).any():
            unknown = np.asarray(external_ids, dtype=object)[rows < 0]
            raise UnknownIdError(f"unknown {kind} {unknown[0]!r} ({len(unknown)} unknown in all)")
        return rows

    def to_ids(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """External ids of ``rows``."""
        return self.ids[np.asarray(rows, dtype=np.int64)]


def as_funnel(funnel: EventFunnel | Mapping[str, Any] | Sequence[str] | None) -> EventFunnel:
    """An :class:`EventFunnel` from itself, its dict form, a list of events, or ``None`` (the default)."""
    if funnel is None:
        return DEFAULT_FUNNEL
    if isinstance(funnel, EventFunnel):
        return funnel
    return EventFunnel.from_dict(funnel)  # type: ignore[arg-type]


class Dataset:
    """Seekers, jobs and their interactions, with id maps, the event funnel and matrix views.

    Parameters
    ----------
    seekers, jobs, interactions
        Tables following :data:`recsys.data.schema.SCHEMAS` (only the minimal contract is required).
        Row ``i`` of ``seekers`` is seeker row ``i``.
    extras
        Optional further tables (employers, districts, events, trainings, service_points, job_events).
        ``trainings`` is validated with the core tables (:func:`recsys.data.validate.validate_trainings`).
    funnel
        The dataset's ordered events and weights (default: the synthetic funnel
        ``view, apply, interview, hire``).
    timezone
        IANA name of the dataset's local time (e.g. ``"Asia/Shanghai"``). Timezone-aware inputs are
        converted to it and stored naive; without it they are refused.
    validate
        Check and normalise the tables first (:func:`recsys.data.validate.validate_tables`).
    source
        Directory the tables came from, if any (kept for provenance).
    as_of
        The time the dataset is frozen at (:attr:`as_of`); ``None``: just after its last interaction.

    Attributes
    ----------
    seeker_ids, job_ids : IdMap
    funnel : EventFunnel
    interactions : DataFrame
        Sorted by ``ts`` (stable). ``seeker_id`` and ``job_id`` are categoricals whose categories are
        the id maps' ids; ``event`` is a categorical over ``funnel.events``; int32 columns ``seeker_row``
        and ``job_row`` are added.
    as_of : Timestamp or None
        The time the dataset is frozen at: what happened strictly before it is known (a split's training set
        is frozen at the split's cutoff). ``None``: just after the last interaction (:meth:`frozen_at`).
    """

    def __init__(self, seekers: pd.DataFrame, jobs: pd.DataFrame, interactions: pd.DataFrame,
                 extras: Mapping[str, pd.DataFrame] | None = None, *,
                 funnel: EventFunnel | Mapping[str, Any] | Sequence[str] | None = None, timezone: str | None = None,
                 validate: bool = True, source: Path | None = None, now: Any = None, as_of: Any = None,
                 _rows_resolved: bool = False) -> None:
        try:
            self.funnel = as_funnel(funnel)
        except FunnelError as exc:
            raise TableValidationError(f"funnel: {exc}") from exc
        self.timezone = timezone
        aligned = {"seeker_row", "job_row"} <= set(getattr(interactions, "columns", ()))
        if validate and aligned and not _rows_resolved:
            # rows computed against other tables cannot be trusted: resolve the ids again
            interactions = interactions.drop(columns=["seeker_row", "job_row"])
            aligned = False
        if validate:
            rows = ((interactions["seeker_row"].to_numpy(), interactions["job_row"].to_numpy()) if aligned
                    else (None, None))
            seekers, jobs, interactions = validate_tables(
                seekers, jobs, interactions, funnel=self.funnel, timezone=timezone,
                now=None if now is None else pd.Timestamp(now), seeker_rows=rows[0], job_rows=rows[1])
        self.seekers = seekers.reset_index(drop=True)
        self.jobs = jobs.reset_index(drop=True)
        self.seeker_ids = IdMap(self.seekers["seeker_id"].to_numpy(dtype=object))
        self.job_ids = IdMap(self.jobs["job_id"].to_numpy(dtype=object))
        self.extras = dict(extras or {})
        if validate and "trainings" in self.extras:
            self.extras["trainings"] = validate_trainings(self.extras["trainings"], self.seekers, timezone=timezone)
        self.source = source
        self.as_of = None if as_of is None else pd.Timestamp(as_of)
        if (aligned and not validate and not _rows_resolved
                and isinstance(interactions["event"].dtype, pd.CategoricalDtype)):
            self.interactions = interactions  # already aligned (the caller vouches for it)
        else:
            self.interactions = self._align(interactions)

    def _align(self, interactions: pd.DataFrame) -> pd.DataFrame:
        """Compact, time-sorted interactions with categorical ids/events and int32 rows."""
        if {"seeker_row", "job_row"} <= set(interactions.columns):
            seeker_row = interactions["seeker_row"].to_numpy(dtype=np.int32)
            job_row = interactions["job_row"].to_numpy(dtype=np.int32)
        else:
            seeker_row = self.seeker_ids.to_rows(interactions["seeker_id"], kind="seeker").astype(np.int32)
            job_row = self.job_ids.to_rows(interactions["job_id"], kind="job").astype(np.int32)
        ts = interactions["ts"].to_numpy(dtype="datetime64[ns]")
        order = None
        if len(ts) > 1 and not (ts[1:] >= ts[:-1]).all():
            order = np.argsort(ts, kind="stable")
        columns: dict[str, Any] = {
            "seeker_id": pd.Categorical.from_codes(seeker_row, dtype=self._id_dtype(self.seeker_ids)),
            "job_id": pd.Categorical.from_codes(job_row, dtype=self._id_dtype(self.job_ids)),
            "ts": ts,
            "event": self._event_categorical(interactions["event"]),
        }
        for name in interactions.columns:
            if name not in columns and name not in ("seeker_row", "job_row"):
                values = interactions[name]
                if name == "channel" and not isinstance(values.dtype, pd.CategoricalDtype):
                    values = values.astype("category")
                columns[name] = values.to_numpy() if isinstance(values.dtype, np.dtype) else values.array
        columns["seeker_row"], columns["job_row"] = seeker_row, job_row
        frame = pd.DataFrame(columns, copy=False)
        if order is not None:
            frame = frame.take(order).reset_index(drop=True)
        return frame

    def _id_dtype(self, ids: IdMap) -> pd.CategoricalDtype:
        cache = self.__dict__.setdefault("_id_dtypes", {})
        key = id(ids)
        if key not in cache:
            cache[key] = pd.CategoricalDtype(pd.Index(ids.ids, dtype=object))
        return cache[key]

    def _event_categorical(self, events: pd.Series) -> pd.Categorical:
        dtype = pd.CategoricalDtype(list(self.funnel.events))
        if isinstance(events.dtype, pd.CategoricalDtype):
            if list(events.cat.categories) == list(self.funnel.events):
                return events.array
            return events.astype(object).astype(dtype).array
        return pd.Categorical(events, dtype=dtype)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(cls, *, seekers: pd.DataFrame | None = None, jobs: pd.DataFrame | None = None,
                    interactions: pd.DataFrame,
                    funnel: EventFunnel | Mapping[str, Any] | Sequence[str] | None = None,
                    timezone: str | None = None, extras: Mapping[str, pd.DataFrame] | None = None,
                    now: Any = None) -> Dataset:
        """Build a dataset from in-memory tables, normalising and validating them.

        Integer ids are cast to strings; ``ts`` (and other time columns) may be datetimes or ISO-8601
        strings, with an offset or a ``Z``/``UTC`` suffix if ``timezone`` is given (converted to it).
        ``seekers``/``jobs`` default to the ids found in ``interactions`` (no attributes).
        ``funnel`` defaults to the synthetic one; a list of events in funnel order is enough.

        Raises :class:`~recsys.data.validate.TableValidationError` listing every problem.
        """
        if not isinstance(interactions, pd.DataFrame):
            raise TableValidationError(f"interactions: expected a pandas DataFrame, got {type(interactions).__name__}")
        if seekers is None and "seeker_id" in interactions.columns:
            seekers = pd.DataFrame({"seeker_id": pd.unique(interactions["seeker_id"].dropna())})
        if jobs is None and "job_id" in interactions.columns:
            jobs = pd.DataFrame({"job_id": pd.unique(interactions["job_id"].dropna())})
        dataset = cls(seekers, jobs, interactions, extras, funnel=funnel, timezone=timezone,  # type: ignore[arg-type]
                      now=now)
        dataset._log_summary()
        return dataset

    @classmethod
    def load(cls, path: str | Path, *, validate: bool = True) -> Dataset:
        """Read ``<path>/{seekers,jobs,interactions}.parquet``, the other schema tables present and the
        funnel and timezone from ``manifest.json`` (defaults: synthetic funnel, naive times).

        The generator's ``truth/`` folder is never read here.
        """
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"dataset directory {str(path)!r} does not exist; generate it with "
                                    f"`recsys-generate data=<preset>` or import yours with `recsys-import`")
        manifest = read_manifest(path)
        funnel = manifest.get("funnel")
        timezone = manifest.get("timezone")
        for name in CORE_TABLES:
            if not (path / f"{name}.parquet").exists():
                raise FileNotFoundError(f"dataset {str(path)!r} has no {name}.parquet")
        extras = {name: _read_parquet(path / f"{name}.parquet") for name in SCHEMAS
                  if name not in CORE_TABLES and (path / f"{name}.parquet").exists()}
        seekers = _read_parquet(path / "seekers.parquet")
        jobs = _read_parquet(path / "jobs.parquet")
        try:
            funnel = as_funnel(funnel)
        except FunnelError as exc:
            raise TableValidationError(f"{MANIFEST}: funnel: {exc}") from exc
        interactions = _read_interactions(path / "interactions.parquet", seekers, jobs, funnel)
        dataset = cls(seekers, jobs, interactions, extras, funnel=funnel, timezone=timezone, validate=validate,
                      source=path, _rows_resolved=True)
        dataset._log_summary()
        return dataset

    def save(self, path: str | Path, *, meta: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
        """Write the dataset directory (Parquet tables + ``manifest.json`` with the funnel), atomically.

        A previous dataset at ``path`` is replaced; anything else there only with ``overwrite=True``
        (:class:`recsys.io.OutputExistsError` otherwise)."""
        from recsys.io import atomic_dir

        with atomic_dir(path, kind="dataset", overwrite=overwrite) as tmp:
            write_tables(tmp, self)
            manifest = {"format_version": FORMAT_VERSION, "funnel": self.funnel.to_dict(),
                        "timezone": self.timezone, "row_counts": {"seekers": self.n_seekers, "jobs": self.n_jobs,
                                                                  "interactions": len(self.interactions)},
                        **dict(meta or {})}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str),
                                        encoding="utf-8")
        return Path(path)

    def with_interactions(self, mask: np.ndarray | pd.Series, *, as_of: Any = None) -> Dataset:
        """Same seekers and jobs (same rows), keeping only interactions where ``mask`` is true.

        ``as_of``: the time the new dataset is frozen at (a split's cutoff); ``None``: just after its last
        kept interaction (never inherited, so a dataset cut from a later one cannot see the later facts).
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self.interactions),):
            raise ValueError(f"mask has shape {mask.shape}, expected ({len(self.interactions)},)")
        dataset = self._with(self.interactions.loc[mask].reset_index(drop=True))
        dataset.as_of = None if as_of is None else pd.Timestamp(as_of)
        return dataset

    def _with(self, interactions: pd.DataFrame) -> Dataset:
        """A shallow copy with other (already aligned) interactions: tables and id maps are shared."""
        dataset = object.__new__(Dataset)
        dataset.__dict__.update(self.__dict__)
        dataset.interactions = interactions
        return dataset

    # ------------------------------------------------------------------ views
    @property
    def n_seekers(self) -> int:
        return len(self.seeker_ids)

    @property
    def n_jobs(self) -> int:
        return len(self.job_ids)

    def event_mask(self, events: Sequence[str] | str) -> np.ndarray:
        """Boolean over interactions: the event is one of ``events`` (each checked against the funnel)."""
        events = [events] if isinstance(events, str) else list(events)
        for event in events:
            self.funnel.check(event)
        codes = self.interactions["event"].cat.codes.to_numpy()
        wanted = np.zeros(len(self.funnel.events) + 1, dtype=bool)
        wanted[[self.funnel.events.index(e) for e in events]] = True
        return wanted[codes]  # code -1 (missing) maps to the last entry: False

    def interaction_matrix(self, weights: Mapping[str, float] | None = None, *,
                           events: Sequence[str] | None = None, aggregate: str = "max") -> sp.csr_matrix:
        """Seeker x job CSR matrix of event weights.

        Parameters
        ----------
        weights
            Weight per event (default: ``funnel.interaction_weights``); funnel events missing from it
            count 0, names outside the funnel raise ``ValueError``.
        events
            Keep only these events (e.g. ``funnel.seen_events``).
        aggregate
            ``"max"``: a pair's weight is that of its furthest funnel stage (the funnel writes one row
            per stage, so summing would double count); ``"sum"``: add the weights of all its rows.
        """
        try:
            weights = self.funnel.check_weights(self.funnel.interaction_weights if weights is None else weights)
        except FunnelError as exc:
            raise ValueError(str(exc)) from exc
        if aggregate not in ("max", "sum"):
            raise ValueError(f"aggregate must be 'max' or 'sum', got {aggregate!r}")
        per_code = np.array([weights.get(e, 0.0) for e in self.funnel.events] + [0.0], dtype=np.float32)
        frame = self.interactions
        keep = per_code[frame["event"].cat.codes.to_numpy()] != 0
        if events is not None:
            keep &= self.event_mask(events)
        codes = frame["event"].cat.codes.to_numpy()[keep]
        values = per_code[codes]
        rows, cols = frame["seeker_row"].to_numpy()[keep], frame["job_row"].to_numpy()[keep]
        shape = (self.n_seekers, self.n_jobs)
        if aggregate == "sum":
            matrix = sp.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float32)
        else:
            # max per pair: one value sort of packed (pair, rank of the event's weight) keys, keep each
            # pair's last (largest) entry; several times faster than a groupby or a lexsort
            n_codes = len(per_code)
            rank = np.empty(n_codes, dtype=np.int64)
            rank[np.argsort(per_code, kind="stable")] = np.arange(n_codes)
            keys = (rows.astype(np.int64) * self.n_jobs + cols) * n_codes + rank[codes]
            keys.sort()
            pair, ranks = np.divmod(keys, n_codes)
            del keys
            last = np.r_[pair[1:] != pair[:-1], True] if len(pair) else np.zeros(0, dtype=bool)
            by_rank = per_code[np.argsort(per_code, kind="stable")]
            pair, values = pair[last], by_rank[ranks[last]]
            matrix = sp.csr_matrix((values, (pair // self.n_jobs, pair % self.n_jobs)), shape=shape,
                                   dtype=np.float32)
        matrix.eliminate_zeros()
        matrix.sort_indices()
        return matrix

    def seen_matrix(self) -> sp.csr_matrix:
        """Seeker x job CSR of the funnel's seen events (weights as in :meth:`interaction_matrix`).

        A non-zero means the job is "seen" (excluded by ``exclude_seen``)."""
        return self.interaction_matrix(events=self.funnel.seen_events)

    def warm_seekers(self) -> np.ndarray:
        """Boolean ``(n_seekers,)``: seekers with at least one interaction of ``funnel.warm_events``."""
        mask = self.event_mask(self.funnel.warm_events)
        return np.bincount(self.interactions["seeker_row"].to_numpy()[mask], minlength=self.n_seekers) > 0

    def warm_jobs(self) -> np.ndarray:
        """Boolean ``(n_jobs,)``: jobs with at least one interaction of ``funnel.warm_events``."""
        mask = self.event_mask(self.funnel.warm_events)
        return np.bincount(self.interactions["job_row"].to_numpy()[mask], minlength=self.n_jobs) > 0

    def posting_window(self) -> tuple[np.ndarray, np.ndarray]:
        """``(posted, expires)`` int64 nanoseconds per job; open ends (missing column or NaT) are the
        smallest / largest int64, so a job without them is always active.

        ``expires`` is the earlier of ``jobs.expires_at`` (the planned expiry) and the posting's first
        closing in the optional ``job_events`` table (filled or expired, with its time), so a posting
        filled early is not active after it closed. Asking whether a job is active at ``t`` compares this
        end with ``t``, so a closing after ``t`` never changes the answer at ``t`` (no leakage)."""
        low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
        out = []
        for column, fill in (("posted_at", low), ("expires_at", high)):
            if column in self.jobs.columns:
                values = self.jobs[column].to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
                values[values == np.iinfo(np.int64).min] = fill  # NaT
            else:
                values = np.full(self.n_jobs, fill, dtype=np.int64)
            out.append(values)
        closings = self.extras.get("job_events")
        if closings is not None and len(closings):
            rows = self.job_ids.to_rows(closings["job_id"], strict=False)
            ts = closings["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
            known = (rows >= 0) & (ts != np.iinfo(np.int64).min)
            np.minimum.at(out[1], rows[known], ts[known])
        return out[0], out[1]

    def active_jobs(self, at: np.datetime64 | pd.Timestamp) -> np.ndarray:
        """Boolean mask over job rows: posted at or before ``at`` and not yet expired.

        Without ``posted_at`` / ``expires_at`` (or where they are missing) a job is always active."""
        at_ns = pd.Timestamp(at).as_unit("ns").value
        posted, expires = self.posting_window()
        return (posted <= at_ns) & (expires > at_ns)

    def frozen_at(self) -> pd.Timestamp | None:
        """:attr:`as_of`, or 1 ns after the last interaction when it is not set (``None`` without interactions).

        Facts with a time strictly before it (completed trainings) are known to a model fitted on the dataset."""
        if self.as_of is not None:
            return self.as_of
        if self.interactions.empty:
            return None
        return pd.Timestamp(self.interactions["ts"].max()) + pd.Timedelta(1, "ns")

    def seekers_as_of(self, at: Any = None) -> pd.DataFrame:
        """The seekers table with ``skills`` as of ``at`` (default :meth:`frozen_at`): the profile's skills plus
        those of the trainings completed strictly before ``at`` (:func:`recsys.data.trainings.skills_as_of`).

        Without a ``trainings`` table (or without a time: no interactions and no ``as_of``) the seekers table as
        it is. A profile without ``skills`` gains the column (trained skills only)."""
        trainings = self.extras.get("trainings")
        at = self.frozen_at() if at is None else at
        if trainings is None or at is None:
            return self.seekers
        return self.seekers.assign(skills=skills_as_of(self.seekers, trainings, at))

    def seeker_groups(self) -> pd.DataFrame:
        """Boolean group flags per seeker row (``is_graduate``, ``is_4050``, ...) that the data has."""
        from recsys.data.schema import SEEKER_GROUPS

        return self.seekers[[g for g in SEEKER_GROUPS if g in self.seekers.columns]]

    def has_columns(self, table: str, *columns: str) -> bool:
        """Whether ``table`` (``seekers``, ``jobs`` or ``interactions``) has all ``columns``."""
        frame = {"seekers": self.seekers, "jobs": self.jobs, "interactions": self.interactions}[table]
        return all(c in frame.columns for c in columns)

    def describe(self) -> dict[str, Any]:
        """What the dataset holds and what its optional columns switch on.

        Returns a dict with ``rows`` (per table), ``time_range`` (first and last interaction),
        ``events`` (count per funnel event), ``funnel``, ``timezone``, ``columns`` (per table:
        ``present`` and ``missing`` optional columns) and ``enabled`` / ``disabled`` (what the present /
        missing optional columns switch on: :data:`recsys.data.schema.CAPABILITIES`, name -> needed columns).
        """
        ts = self.interactions["ts"]
        counts = self.interactions["event"].value_counts(sort=False)
        columns: dict[str, dict[str, list[str]]] = {}
        present_all: set[str] = set()
        for table, frame in (("seekers", self.seekers), ("jobs", self.jobs), ("interactions", self.interactions)):
            optional = SCHEMAS[table].optional
            present = [c for c in optional if c in frame.columns]
            columns[table] = {"present": present, "missing": [c for c in optional if c not in frame.columns]}
            present_all |= {f"{table}.{c}" for c in present}
        present_all |= {f"{name}.{c}" for name, frame in self.extras.items() if name in SCHEMAS for c in frame.columns}
        enabled = {c.name: c.needs for c in CAPABILITIES if c.enabled(present_all)}
        disabled = {c.name: c.needs for c in CAPABILITIES if not c.enabled(present_all)}
        return {
            "rows": {"seekers": self.n_seekers, "jobs": self.n_jobs, "interactions": len(self.interactions)},
            "time_range": (None, None) if ts.empty else (str(ts.iloc[0]), str(ts.iloc[-1])),
            "events": {str(e): int(counts.get(e, 0)) for e in self.funnel.events},
            "funnel": self.funnel.to_dict(), "timezone": self.timezone,
            "columns": columns, "enabled": enabled, "disabled": disabled,
        }

    def describe_text(self) -> str:
        """:meth:`describe` as a short human-readable report."""
        info = self.describe()
        rows, (first, last) = info["rows"], info["time_range"]
        lines = [f"{rows['seekers']:,} seekers, {rows['jobs']:,} jobs, {rows['interactions']:,} interactions "
                 f"from {first} to {last}" + (f" ({self.timezone})" if self.timezone else ""),
                 "events: " + ", ".join(f"{e} {n:,}" for e, n in info["events"].items())]
        for table, cols in info["columns"].items():
            lines.append(f"{table}: optional columns present {cols['present'] or 'none'}")
        if info["enabled"]:
            lines.append("on: " + ", ".join(info["enabled"]))
        if info["disabled"]:
            lines.append("off (missing columns):")
            lines += [f"  - {item}: needs {needs}" for item, needs in info["disabled"].items()]
        return "\n".join(lines)

    def _log_summary(self) -> None:
        logger.info("dataset %s:\n%s", self.source or "(in memory)", self.describe_text())

    def __repr__(self) -> str:
        return (f"Dataset(seekers={self.n_seekers}, jobs={self.n_jobs}, "
                f"interactions={len(self.interactions)}, source={str(self.source) if self.source else None})")


# ---------------------------------------------------------------------------------------------- files
def read_manifest(path: Path) -> dict[str, Any]:
    """``manifest.json`` of a dataset directory (``{}`` if there is none)."""
    file = Path(path) / MANIFEST
    if not file.is_file():
        return {}
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TableValidationError(f"{MANIFEST}: cannot read {str(file)!r}: {exc}") from exc
    return payload if isinstance(payload, dict) else {}


def write_tables(directory: Path, dataset: Dataset) -> None:
    """Write the dataset's tables as Parquet files into ``directory`` (no manifest)."""
    pq.write_table(pa.Table.from_pandas(dataset.seekers, preserve_index=False), directory / "seekers.parquet",
                   compression="zstd")
    pq.write_table(pa.Table.from_pandas(dataset.jobs, preserve_index=False), directory / "jobs.parquet",
                   compression="zstd")
    for name, frame in dataset.extras.items():
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), directory / f"{name}.parquet",
                       compression="zstd")
    frame = dataset.interactions.drop(columns=["seeker_row", "job_row"])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name in ("seeker_id", "job_id"):
        table = table.set_column(table.schema.get_field_index(name), name,
                                 table.column(name).cast(pa.string()))
    pq.write_table(table, directory / "interactions.parquet", compression="zstd", store_schema=False)


def _read_parquet(file: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise TableValidationError(f"{file.name}: cannot read Parquet file {str(file)!r}: {exc}") from exc
    # list columns come back as numpy arrays; convert to lists so users see plain Python values
    for column in frame.columns:
        if frame[column].dtype == object and len(frame) and isinstance(frame[column].iloc[0], np.ndarray):
            try:
                frame[column] = frame[column].map(np.ndarray.tolist)  # 3x faster than list(); no None here
            except TypeError:
                frame[column] = frame[column].map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v)
    return frame


def _read_interactions(file: Path, seekers: pd.DataFrame, jobs: pd.DataFrame, funnel: EventFunnel) -> pd.DataFrame:
    """Interactions with ids resolved to rows in Arrow, batch by batch, never as millions of Python strings.

    Memory stays near the final compact frame (int32 rows, int64 times, int8 event codes). Falls back to a
    plain read, so that validation can name the offending values, when anything is unusual: an unknown
    id or event, missing values, timezone-aware or non-timestamp times, unexpected columns.
    """
    try:
        parquet = pq.ParquetFile(file)
        schema = parquet.schema_arrow
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise TableValidationError(f"{file.name}: cannot read Parquet file {str(file)!r}: {exc}") from exc
    names = schema.names
    fast = ({"seeker_id", "job_id", "ts", "event"} <= set(names) and set(names) <= {*_FAST_COLUMNS}
            and "seeker_id" in seekers and "job_id" in jobs
            and pa.types.is_timestamp(schema.field("ts").type) and schema.field("ts").type.tz is None
            and all(pd.api.types.is_string_dtype(t[c].dtype) and t[c].notna().all()
                    for t, c in ((seekers, "seeker_id"), (jobs, "job_id"))))
    if fast:
        frame = _read_interactions_fast(file, names, seekers, jobs, funnel)
        if frame is not None:
            return frame
    return _read_parquet(file)


_FAST_COLUMNS = ("seeker_id", "job_id", "ts", "event", "channel")


def _string_chunks(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A plain string array (dictionary-encoded chunks decoded)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    return array


def _read_interactions_fast(file: Path, names: list[str], seekers: pd.DataFrame, jobs: pd.DataFrame,
                            funnel: EventFunnel) -> pd.DataFrame | None:
    parquet = pq.ParquetFile(file, read_dictionary=[c for c in ("event", "channel") if c in names])
    n = parquet.metadata.num_rows
    seeker_set = pa.array(seekers["seeker_id"].to_numpy(dtype=object), type=pa.string())
    job_set = pa.array(jobs["job_id"].to_numpy(dtype=object), type=pa.string())
    seeker_row, job_row = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32)
    ts, event = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int8)
    has_channel = "channel" in names
    channel = np.empty(n if has_channel else 0, dtype=np.int32)
    channels: dict[str, int] = {}
    event_index = {e: i for i, e in enumerate(funnel.events)}
    position = 0
    for batch in parquet.iter_batches(batch_size=1 << 21, columns=names):  # 2M rows: small transients
        m = batch.num_rows
        if any(batch.column(c).null_count for c in names):
            return None
        for column, value_set, out in (("seeker_id", seeker_set, seeker_row), ("job_id", job_set, job_row)):
            values = _string_chunks(batch.column(column))
            if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
                return None
            rows = pc.index_in(values.cast(pa.string()), value_set=value_set)
            if rows.null_count:
                return None
            out[position:position + m] = rows.to_numpy()
        ts[position:position + m] = batch.column("ts").cast(pa.timestamp("ns")).to_numpy().view(np.int64)
        for column, out, lookup_of in (("event", event, lambda v: event_index.get(v, -1)),
                                       ("channel", channel, lambda v: channels.setdefault(v, len(channels)))):
            if column == "channel" and not has_channel:
                continue
            values = batch.column(column)
            if not pa.types.is_dictionary(values.type):
                values = values.dictionary_encode()
            if not pa.types.is_string(values.type.value_type):
                return None
            lookup = np.array([lookup_of(v) for v in values.dictionary.to_pylist()] + [-1], dtype=np.int64)
            codes = lookup[values.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
            if (codes < 0).any():
                return None
            out[position:position + m] = codes
        position += m
    frame = pd.DataFrame({
        "seeker_id": pd.Categorical.from_codes(seeker_row, categories=pd.Index(seekers["seeker_id"], dtype=object)),
        "job_id": pd.Categorical.from_codes(job_row, categories=pd.Index(jobs["job_id"], dtype=object)),
        "ts": ts.view("datetime64[ns]"),
        "event": pd.Categorical.from_codes(event, dtype=pd.CategoricalDtype(list(funnel.events))),
    }, copy=False)
    if has_channel:
        frame["channel"] = pd.Categorical.from_codes(channel, dtype=pd.CategoricalDtype(list(channels)))
    frame["seeker_row"], frame["job_row"] = seeker_row, job_row
    return frame
