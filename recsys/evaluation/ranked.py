"""Ranked lists: what a model, a ceiling, another library or a production log produces for a split.

Evaluation is two steps: *produce* ranked lists for the split's queries
(:func:`~recsys.evaluation.evaluate.rank_split`, or any :class:`ListProducer`), then *assess* them
(:func:`~recsys.evaluation.evaluate.assess`). A query is one test seeker at one time: one per test
seeker for the one-time protocol (``temporal_split``), one per (seeker, time) with a relevant event
for the rolling protocol (``rolling_split``).

:class:`RankedLists` is a small frozen container of arrays, saved as ``.npz`` (no pickle) or
exchanged as a long DataFrame (``seeker_id, ts, job_id, rank[, score]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from recsys.models.base import top_k

if TYPE_CHECKING:
    from recsys.evaluation.splits import Split

RANKED_FORMAT_VERSION = 1


class RankedListsError(ValueError):
    """Ranked lists are malformed or do not match the split they are assessed on."""


@dataclass(frozen=True, eq=False)
class RankedLists:
    """Top-``k_max`` job rows for queries of a split.

    Attributes
    ----------
    queries
        ``(n,)`` int64 query indices of the split (``0 <= q < split.n_queries``), unique.
    seeker_rows
        ``(n,)`` seeker row of each query.
    times
        ``(n,)`` ``datetime64[ns]`` time each list was produced for (``NaT``: not known).
    job_rows
        ``(n, k_max)`` int64 job rows, best first, padded with ``-1``.
    scores
        ``(n, k_max)`` float scores (``-inf`` at padding; ``NaN`` when the producer gives none).
    name
        Producer name (model class name unless given).
    fallback
        ``(n,)`` bool: the list came from the popularity fallback (model cannot serve the seeker).
    """

    queries: np.ndarray
    seeker_rows: np.ndarray
    times: np.ndarray
    job_rows: np.ndarray
    scores: np.ndarray
    name: str = "lists"
    fallback: np.ndarray | None = None

    def __post_init__(self) -> None:
        for attr, dtype in (("queries", np.int64), ("seeker_rows", np.int64), ("job_rows", np.int64),
                            ("scores", float), ("times", "datetime64[ns]")):
            object.__setattr__(self, attr, np.asarray(getattr(self, attr), dtype=dtype))
        n = len(self.queries)
        if self.queries.ndim != 1 or self.seeker_rows.shape != (n,) or self.times.shape != (n,):
            raise RankedListsError(f"queries, seeker_rows and times need shape ({n},), got {self.queries.shape}, "
                                   f"{self.seeker_rows.shape}, {self.times.shape}")
        if self.job_rows.ndim != 2 or self.job_rows.shape[0] != n or self.scores.shape != self.job_rows.shape:
            raise RankedListsError(f"job_rows and scores need shape ({n}, k_max), got {self.job_rows.shape} and "
                                   f"{self.scores.shape}")
        if len(np.unique(self.queries)) != n:
            raise RankedListsError("queries must be unique: one list per query")
        if self.job_rows.size and self.job_rows.min() < -1:
            raise RankedListsError(f"job_rows must be >= -1 (padding), got {self.job_rows.min()}")
        if self.fallback is None:
            object.__setattr__(self, "fallback", np.zeros(n, dtype=bool))
        else:
            object.__setattr__(self, "fallback", np.asarray(self.fallback, dtype=bool))
            if self.fallback_mask.shape != (n,):
                raise RankedListsError(f"fallback needs shape ({n},)")

    @property
    def n_queries(self) -> int:
        return len(self.queries)

    @property
    def fallback_mask(self) -> np.ndarray:
        """``(n,)`` bool: ``fallback`` (all ``False`` when the producer gave none)."""
        return np.zeros(len(self.queries), dtype=bool) if self.fallback is None else self.fallback

    @property
    def k_max(self) -> int:
        return self.job_rows.shape[1]

    def aligned(self, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """``(job_rows, fallback)`` in split query order, ``(split.n_queries, k_max)``.

        Queries without a list get an empty list (all ``-1``: a miss, never dropped). Raises
        :class:`RankedListsError` for query indices or seeker rows that do not match the split.
        """
        if self.n_queries and (self.queries.min() < 0 or self.queries.max() >= split.n_queries):
            raise RankedListsError(f"query indices must lie in [0, {split.n_queries}) for split {split.name!r}")
        if not np.array_equal(split.query_seeker_rows[self.queries], self.seeker_rows):
            raise RankedListsError(f"ranked lists {self.name!r} name other seekers than split {split.name!r} for "
                                   f"the same queries (lists produced on another split?)")
        if self.job_rows.size and self.job_rows.max() >= split.train.n_jobs:
            raise RankedListsError(f"job row {self.job_rows.max()} is outside the split's {split.train.n_jobs} jobs")
        job_rows = np.full((split.n_queries, self.k_max), -1, dtype=np.int64)
        job_rows[self.queries] = self.job_rows
        fallback = np.zeros(split.n_queries, dtype=bool)
        fallback[self.queries] = self.fallback_mask
        return job_rows, fallback

    # ------------------------------------------------------------------ exchange
    def to_frame(self, split: Split) -> pd.DataFrame:
        """Long table ``query, seeker_id, ts, job_id, rank, score`` (rank 1 is best; no padding rows)."""
        keep = self.job_rows >= 0
        n_per = keep.sum(axis=1)
        return pd.DataFrame({
            "query": np.repeat(self.queries, n_per),
            "seeker_id": split.train.seeker_ids.to_ids(np.repeat(self.seeker_rows, n_per)),
            "ts": np.repeat(self.times, n_per),
            "job_id": split.train.job_ids.to_ids(self.job_rows[keep]),
            "rank": np.nonzero(keep)[1] + 1,
            "score": self.scores[keep],
        })

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, split: Split, *, name: str = "lists") -> RankedLists:
        """Lists from a long table ``seeker_id, [ts,] job_id, rank`` (e.g. another library, production logs).

        With ``ts``, each (seeker, ts) list answers the split query of that seeker at that exact time;
        without it, a seeker's one list answers all its queries (lists of seekers without queries are
        ignored). Queries without a list count as misses.
        Rows for unknown seekers, jobs or (seeker, ts) pairs raise :class:`RankedListsError` naming them.
        Ties in ``rank`` keep the table order; an optional ``score`` column is kept.
        """
        missing = [c for c in ("seeker_id", "job_id", "rank") if c not in frame.columns]
        if missing:
            raise RankedListsError(f"ranked frame lacks column(s) {missing} (needs seeker_id, job_id, rank; ts optional)")
        train = split.train
        seeker_rows = train.seeker_ids.to_rows(np.asarray(frame["seeker_id"]).astype(str), strict=False)
        job_rows = train.job_ids.to_rows(np.asarray(frame["job_id"]).astype(str), strict=False)
        for rows, column in ((seeker_rows, "seeker_id"), (job_rows, "job_id")):
            if (rows < 0).any():
                raise RankedListsError(f"ranked frame: {int((rows < 0).sum())} row(s) with unknown {column} "
                                       f"(first: {frame[column].to_numpy()[rows < 0][0]!r})")
        rank = pd.to_numeric(frame["rank"], errors="coerce").to_numpy(dtype=float)
        if np.isnan(rank).any() or (rank < 1).any():
            raise RankedListsError("ranked frame: rank must be a number >= 1 on every row")
        query_seekers, query_times = split.query_seeker_rows, split.query_time
        if "ts" in frame.columns:
            ts = pd.to_datetime(frame["ts"]).to_numpy(dtype="datetime64[ns]").view(np.int64)
            key = pd.MultiIndex.from_arrays([query_seekers, query_times.view(np.int64)])
            query_of_row = key.get_indexer(pd.MultiIndex.from_arrays([seeker_rows, ts]))
            if (query_of_row < 0).any():
                bad = int(np.flatnonzero(query_of_row < 0)[0])
                raise RankedListsError(f"ranked frame row {bad}: no query of seeker {frame['seeker_id'].iloc[bad]!r} "
                                       f"at ts {frame['ts'].iloc[bad]} in split {split.name!r}")
            row_query, row_index = query_of_row, np.arange(len(frame))
        else:  # a seeker's list answers each of its queries
            order = np.argsort(query_seekers, kind="stable")
            start = np.searchsorted(query_seekers[order], seeker_rows, side="left")
            stop = np.searchsorted(query_seekers[order], seeker_rows, side="right")
            counts = stop - start
            row_index = np.repeat(np.arange(len(frame)), counts)
            within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            row_query = order[np.repeat(start, counts) + within]
        scores_in = frame["score"].to_numpy(dtype=float) if "score" in frame.columns else np.full(len(frame), np.nan)
        order = np.lexsort((np.arange(len(row_index)), rank[row_index], row_query))
        row_query, row_index = row_query[order], row_index[order]
        queries, first, counts = np.unique(row_query, return_index=True, return_counts=True)
        k_max = int(counts.max()) if len(counts) else 1
        slot = np.arange(len(row_query)) - np.repeat(first, counts)
        position = np.searchsorted(queries, row_query)
        out_jobs = np.full((len(queries), k_max), -1, dtype=np.int64)
        out_scores = np.full((len(queries), k_max), -np.inf)
        out_jobs[position, slot] = job_rows[row_index]
        out_scores[position, slot] = scores_in[row_index]
        return cls(queries, query_seekers[queries], query_times[queries], out_jobs, out_scores,
                   name=name)

    # ------------------------------------------------------------------ persistence (no pickle)
    def save(self, path: str | Path) -> Path:
        """Write to ``path`` (``.npz``) with a format version; returns the path."""
        path = Path(path)
        np.savez_compressed(path, format_version=np.int64(RANKED_FORMAT_VERSION), name=np.str_(self.name),
                            queries=self.queries, seeker_rows=self.seeker_rows, times=self.times.view(np.int64),
                            job_rows=self.job_rows, scores=self.scores, fallback=self.fallback_mask)
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> RankedLists:
        """Read lists written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as arrays:
            version = int(arrays["format_version"])
            if version != RANKED_FORMAT_VERSION:
                raise RankedListsError(f"{path}: ranked lists format {version}, this recsys reads "
                                       f"{RANKED_FORMAT_VERSION}")
            return cls(arrays["queries"], arrays["seeker_rows"], arrays["times"].view("datetime64[ns]"),
                       arrays["job_rows"], arrays["scores"], name=str(arrays["name"]), fallback=arrays["fallback"])


@runtime_checkable
class ListProducer(Protocol):
    """Anything that produces ranked lists for a split's queries: ceilings, foreign libraries, logs.

    ``produce(split, k_max)`` returns :class:`RankedLists` for (a subset of) ``split``'s queries, each
    at most ``k_max`` long, ranking only the query's candidates (:meth:`Split.query_candidates`) if it
    wants to be assessed like a model. :func:`rank_by_scores` does the candidate masking and top-k for
    producers that can score (seeker, time, job) triples.
    """

    def produce(self, split: Split, k_max: int) -> RankedLists: ...


ScoreAtTimes = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``f(seeker_rows, times, job_rows) -> (len(seeker_rows), len(job_rows))`` scores of each query's
seeker at the query's time (``datetime64[ns]``) for the given job rows."""


def rank_by_scores(split: Split, score: ScoreAtTimes, k_max: int, *, name: str = "lists",
                   batch_size: int = 512) -> RankedLists:
    """Rank every query's candidates by ``score`` at the query's time; top ``k_max`` per query.

    Queries are taken in time order, ``batch_size`` at a time; each batch is scored only on the jobs
    that are candidates of some query in it (:meth:`Split.query_candidates`), non-candidates get
    ``-inf``. Ties go to the lower job row.
    """
    if k_max < 1:
        raise ValueError(f"k_max must be positive, got {k_max}")
    by_time = np.argsort(split.query_time, kind="stable")
    job_rows = np.full((split.n_queries, k_max), -1, dtype=np.int64)
    scores = np.full((split.n_queries, k_max), -np.inf)
    seekers = split.query_seeker_rows
    for start in range(0, split.n_queries, batch_size):
        batch = by_time[start:start + batch_size]
        block = split.query_candidates(batch)
        useful = block.mask.any(axis=0)
        columns, allowed = block.columns[useful], block.mask[:, useful]
        if len(columns) == 0:
            continue
        values = np.asarray(score(seekers[batch], split.query_time[batch], columns), dtype=np.float64).copy()
        values[~allowed] = -np.inf
        idx, val = top_k(values, k_max)
        job_rows[batch] = np.where(idx >= 0, columns[np.maximum(idx, 0)], -1)
        scores[batch] = val
    return RankedLists(np.arange(split.n_queries), seekers, split.query_time, job_rows, scores,
                       name=name)
