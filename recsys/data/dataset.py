"""The :class:`Dataset`: id maps, tables and the seeker x job interaction matrix.

A ``Dataset`` is built once from tables and read by everything else. Rows are fixed at construction:
splits restrict *interactions* but keep every seeker and job row, so a model fitted on a training
split can score seekers and postings that have no history (cold start) through their features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data.schema import CORE_TABLES, INTERACTION_EVENTS, SCHEMAS
from recsys.data.validate import TableValidationError, validate_tables

DEFAULT_EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "apply": 2.0, "interview": 3.0, "hire": 4.0}
"""Weight of each funnel stage in the interaction matrix (view < apply < interview < hire)."""


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
        object.__setattr__(self, "_index", pd.Index(ids))
        if not self._index.is_unique:
            raise ValueError("IdMap: ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._index

    def to_rows(self, external_ids: Sequence[str] | np.ndarray | pd.Series, *, strict: bool = True,
                kind: str = "id") -> np.ndarray:
        """Rows of ``external_ids``; unknown ids raise :class:`UnknownIdError` (or map to -1 if not strict)."""
        rows = self._index.get_indexer(np.asarray(external_ids, dtype=object))
        if strict and (rows < 0).any():
            unknown = np.asarray(external_ids, dtype=object)[rows < 0]
            raise UnknownIdError(f"unknown {kind} {unknown[0]!r} ({len(unknown)} unknown in all)")
        return rows

    def to_ids(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """External ids of ``rows``."""
        return self.ids[np.asarray(rows, dtype=np.int64)]


class Dataset:
    """Seekers, jobs and their interactions, with id maps and matrix views.

    Parameters
    ----------
    seekers, jobs, interactions
        Tables following :data:`recsys.data.schema.SCHEMAS`. Row ``i`` of ``seekers`` is seeker row ``i``.
    extras
        Optional further tables (employers, districts, events, trainings, service_points).
    validate
        Check schemas and references first (:func:`recsys.data.validate.validate_tables`).
    source
        Directory the tables came from, if any (kept for provenance).

    Attributes
    ----------
    seeker_ids, job_ids : IdMap
    interactions : DataFrame
        Sorted by ``ts``, with integer columns ``seeker_row`` and ``job_row`` added.
    """

    def __init__(self, seekers: pd.DataFrame, jobs: pd.DataFrame, interactions: pd.DataFrame,
                 extras: Mapping[str, pd.DataFrame] | None = None, *, validate: bool = True,
                 source: Path | None = None) -> None:
        if validate:
            validate_tables(seekers, jobs, interactions)
        self.seekers = seekers.reset_index(drop=True)
        self.jobs = jobs.reset_index(drop=True)
        self.seeker_ids = IdMap(self.seekers["seeker_id"].to_numpy())
        self.job_ids = IdMap(self.jobs["job_id"].to_numpy())
        self.extras = dict(extras or {})
        self.source = source
        if {"seeker_row", "job_row"}.issubset(interactions.columns):
            frame = interactions  # already aligned (built by with_interactions)
        else:
            frame = interactions.assign(
                seeker_row=self.seeker_ids.to_rows(interactions["seeker_id"], kind="seeker"),
                job_row=self.job_ids.to_rows(interactions["job_id"], kind="job"))
            frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
        self.interactions = frame

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, path: str | Path, *, validate: bool = True) -> Dataset:
        """Read ``<path>/{seekers,jobs,interactions}.parquet`` and any other schema tables present.

        The generator's ``truth/`` folder is never read here.
        """
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"dataset directory {str(path)!r} does not exist; generate it with "
                                    f"`recsys-generate data=<preset>`")
        tables: dict[str, pd.DataFrame] = {}
        for name in SCHEMAS:
            file = path / f"{name}.parquet"
            if file.exists():
                tables[name] = _read_parquet(file)
            elif name in CORE_TABLES:
                raise FileNotFoundError(f"dataset {str(path)!r} has no {name}.parquet")
        core = {name: tables.pop(name) for name in CORE_TABLES}
        return cls(core["seekers"], core["jobs"], core["interactions"], tables, validate=validate,
                   source=path)

    def with_interactions(self, mask: np.ndarray | pd.Series) -> Dataset:
        """Same seekers and jobs (same rows), keeping only interactions where ``mask`` is true."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self.interactions),):
            raise ValueError(f"mask has shape {mask.shape}, expected ({len(self.interactions)},)")
        return Dataset(self.seekers, self.jobs, self.interactions.loc[mask].reset_index(drop=True),
                       self.extras, validate=False, source=self.source)

    # ------------------------------------------------------------------ views
    @property
    def n_seekers(self) -> int:
        return len(self.seeker_ids)

    @property
    def n_jobs(self) -> int:
        return len(self.job_ids)

    def interaction_matrix(self, weights: Mapping[str, float] | None = None, *,
                           events: Sequence[str] | None = None, aggregate: str = "max") -> sp.csr_matrix:
        """Seeker x job CSR matrix of event weights.

        Parameters
        ----------
        weights
            Weight per event (default :data:`DEFAULT_EVENT_WEIGHTS`); events missing from it count 0.
        events
            Keep only these events (e.g. ``("apply", "interview", "hire")``).
        aggregate
            ``"max"``: a pair's weight is that of its furthest funnel stage (the funnel writes one row
            per stage, so summing would double count); ``"sum"``: add the weights of all its rows.
        """
        weights = dict(DEFAULT_EVENT_WEIGHTS if weights is None else weights)
        unknown = set(weights) - set(INTERACTION_EVENTS)
        if unknown:
            raise ValueError(f"weights: unknown event(s) {sorted(unknown)}; known: {list(INTERACTION_EVENTS)}")
        frame = self.interactions
        if events is not None:
            frame = frame.loc[frame["event"].isin(list(events))]
        values = frame["event"].map(weights).fillna(0.0).to_numpy(dtype=np.float32)
        rows, cols = frame["seeker_row"].to_numpy(), frame["job_row"].to_numpy()
        shape = (self.n_seekers, self.n_jobs)
        if aggregate == "sum":
            matrix = sp.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float32)
        elif aggregate == "max":
            pair = pd.DataFrame({"r": rows, "c": cols, "v": values}).groupby(["r", "c"], sort=False)["v"].max()
            matrix = sp.csr_matrix((pair.to_numpy(dtype=np.float32),
                                    (pair.index.get_level_values(0), pair.index.get_level_values(1))),
                                   shape=shape, dtype=np.float32)
        else:
            raise ValueError(f"aggregate must be 'max' or 'sum', got {aggregate!r}")
        matrix.eliminate_zeros()
        matrix.sort_indices()
        return matrix

    def active_jobs(self, at: np.datetime64 | pd.Timestamp) -> np.ndarray:
        """Boolean mask over job rows: posted at or before ``at`` and not yet expired."""
        at = np.datetime64(pd.Timestamp(at))
        return (self.jobs["posted_at"].to_numpy() <= at) & (self.jobs["expires_at"].to_numpy() > at)

    def seeker_groups(self) -> pd.DataFrame:
        """Boolean group flags per seeker row (``is_graduate``, ``is_4050``, ...)."""
        from recsys.data.schema import SEEKER_GROUPS

        return self.seekers[list(SEEKER_GROUPS)]

    def __repr__(self) -> str:
        return (f"Dataset(seekers={self.n_seekers}, jobs={self.n_jobs}, "
                f"interactions={len(self.interactions)}, source={str(self.source) if self.source else None})")


def _read_parquet(file: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise TableValidationError(f"{file.name}: cannot read Parquet file {str(file)!r}: {exc}") from exc
    # list columns come back as numpy arrays; convert to lists so users see plain Python values
    for column in frame.columns:
        if frame[column].dtype == object and len(frame) and isinstance(frame[column].iloc[0], np.ndarray):
            frame[column] = frame[column].map(list)
    return frame
