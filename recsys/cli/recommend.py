"""``recsys-recommend``: top-k lists for every known seeker (or a selection) of a saved ranker, as Parquet.

Examples::

    recsys-recommend ranker=models:/job-ranker@champion output=/data/recs/2024-06-01
    recsys-recommend ranker=outputs/train/<time>/ranker k=20 workers=2 reasons=true
    recsys-recommend ranker=... seekers=/data/seekers.csv 'filters={max_commute_km: 15}'

The ranker is resolved once (an MLflow URI is downloaded once, so every worker ranks with the same
model version even if the alias moves meanwhile); the seeker ids and filters are checked before anything
is written. Seekers are cut into chunks of ``chunk_size`` (which bounds each worker's memory); ``workers``
workers write one Parquet part per chunk (:meth:`recsys.api.Ranker.rank_many`: the same lists, reasons
and filters as the ranking API; without reasons :meth:`~recsys.api.Ranker.top_lists`, the same lists as
arrays). Without reasons the workers are threads sharing the loaded ranker (the compiled ranking releases
the GIL); with reasons, spawned processes that each load it once (``worker_kind`` chooses). Parts go to a
temporary sibling directory that replaces ``output`` only when every chunk succeeded
(:func:`recsys.io.atomic_dir`), so readers never see half a city.

Output: a directory readable as one table (``pandas.read_parquet(output)``) with columns ``seeker_id``,
``rank`` (1 = best), ``job_id``, ``score`` and, with ``reasons=true``, ``reasons`` (list of
``{code, text_zh, text_en, contribution}``); plus ``_recommendations.json``, the manifest naming the
ranker, the catalogue version and clock, ``k``, the filters and row counts. A seeker with fewer than
``k`` open jobs passing the filters has fewer rows (lists are never padded).

An existing ``output`` is replaced only if it is an earlier output of this command (it holds the
manifest) *and* ``overwrite=true``; anything else there is never touched (:class:`OutputExistsError`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from recsys.api import (
    InvalidRequestError,
    Ranker,
    Ranking,
    TopLists,
    UnknownSeekerError,
    load_ranker,
    validate_filters,
)
from recsys.api.requests import validate_k
from recsys.api.service import resolve_ranker_dir
from recsys.io import atomic_dir, write_json
from recsys.paths import config_dir

MANIFEST = "_recommendations.json"
FORMAT = "recsys.recommendations"
FORMAT_VERSION = 1
WORKER_KINDS = ("auto", "threads", "processes")

REASON_TYPE = pa.list_(pa.struct([("code", pa.string()), ("text_zh", pa.string()), ("text_en", pa.string()),
                                  ("contribution", pa.float32())]))


class OutputExistsError(FileExistsError):
    """``output`` exists and may not be replaced: it was not written by ``recsys-recommend`` (never
    replaced), or it was and ``overwrite`` is false."""


@dataclass
class RecommendConfig:
    """``recsys-recommend``: see the module docstring."""

    ranker: str = MISSING
    output: str = MISSING
    seekers: Any = None  # null: every known seeker; a list of ids; or a file (.txt one id a line, .csv/.parquet)
    k: int = 10
    reasons: bool = False
    filters: dict[str, Any] = field(default_factory=dict)  # Ranker.rank_many filters
    workers: int = 2
    worker_kind: str = "auto"  # threads | processes | auto (threads without reasons, processes with)
    chunk_size: int = 20_000
    overwrite: bool = False


ConfigStore.instance().store(name="recommend_schema", node=RecommendConfig)


@dataclass(frozen=True)
class Summary:
    """What one call wrote: ``output`` directory, seekers, rows (recommendations), parts, seconds."""

    output: Path
    n_seekers: int
    n_rows: int
    n_parts: int
    seconds: float

    @property
    def seekers_per_second(self) -> float:
        return self.n_seekers / self.seconds if self.seconds > 0 else float("inf")


# ---------------------------------------------------------------------- input
def read_seeker_ids(seekers: Any) -> list[str] | None:
    """The requested seeker ids: ``None`` (all), a list, or a file (``.parquet``/``.csv`` with a
    ``seeker_id`` column; any other file: one id a line)."""
    if seekers is None:
        return None
    if isinstance(seekers, str):
        path = Path(seekers)
        if not path.is_file():
            raise InvalidRequestError(f"seekers: {seekers!r} is not a file (give a list of ids, a file or null)")
        if path.suffix in (".parquet", ".csv"):
            table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
            if "seeker_id" not in table.columns:
                raise InvalidRequestError(f"seekers: {seekers!r} has no seeker_id column "
                                          f"(columns: {list(table.columns)[:20]})")
            return table["seeker_id"].astype(str).tolist()
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = list(seekers)
    bad = [s for s in ids if not isinstance(s, str)]
    if bad:
        raise InvalidRequestError(f"seekers: ids must be strings, got {bad[0]!r}")
    return ids


def check_seekers(ranker: Ranker, ids: list[str] | None) -> np.ndarray:
    """The ids to rank (object array): all known seekers, or ``ids`` after checking each is known once."""
    known = np.asarray(ranker.seeker_ids.ids, dtype=object)
    if ids is None:
        return known
    if not ids:
        raise InvalidRequestError("seekers: the selection is empty")
    requested = pd.Index(ids)
    duplicated = requested[requested.duplicated()]
    if len(duplicated):
        raise InvalidRequestError(f"seekers: id {duplicated[0]!r} is listed more than once")
    unknown = requested[pd.Index(known).get_indexer(requested) < 0]
    if len(unknown):
        raise UnknownSeekerError(f"seekers: {len(unknown)} unknown seeker id(s), e.g. {unknown[0]!r}; "
                                 f"recsys-recommend ranks the ranker's known seekers")
    return requested.to_numpy(dtype=object)


def check_output(output: Path, overwrite: bool) -> None:
    """Refuse (:class:`OutputExistsError`) to write over anything but an earlier output, and over that
    unless ``overwrite``."""
    if not output.exists():
        return
    ours = output.is_dir() and _is_manifest(output / MANIFEST)
    if not ours:
        raise OutputExistsError(f"output: {str(output)!r} exists and was not written by recsys-recommend "
                                f"(no {MANIFEST}); it is never replaced: choose another output")
    if not overwrite:
        raise OutputExistsError(f"output: {str(output)!r} holds earlier recommendations; pass overwrite=true "
                                f"to replace them")


def _is_manifest(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# ---------------------------------------------------------------------- output
def recommendations_table(seeker_ids: Sequence[str] | np.ndarray, rankings: Sequence[Ranking], *,
                          reasons: bool = False) -> pa.Table:
    """One row per recommendation: ``seeker_id``, ``rank``, ``job_id``, ``score`` (+ ``reasons``)."""
    lengths = np.fromiter(map(len, rankings), dtype=np.int64, count=len(rankings))
    flat = list(chain.from_iterable(rankings))
    n = len(flat)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    columns: dict[str, pa.Array] = {
        "seeker_id": pa.array(np.repeat(np.asarray(seeker_ids, dtype=object), lengths), type=pa.string()),
        "rank": pa.array((np.arange(n) - starts + 1).astype(np.int16)),
        "job_id": pa.array([r.job_id for r in flat], type=pa.string()),
        "score": pa.array(np.fromiter((r.score for r in flat), dtype=np.float32, count=n)),
    }
    if reasons:
        columns["reasons"] = pa.array([[reason._asdict() for reason in r.reasons] for r in flat], type=REASON_TYPE)
    return pa.table(columns)


def lists_table(seeker_ids: Sequence[str] | np.ndarray, lists: TopLists) -> pa.Table:
    """:func:`recommendations_table` (without reasons) of :meth:`Ranker.top_lists` arrays."""
    lengths = lists.lengths
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pa.table({
        "seeker_id": pa.array(np.asarray(seeker_ids, dtype=object), type=pa.string()).take(
            np.repeat(np.arange(len(lengths)), lengths)),
        "rank": pa.array((np.arange(len(lists.job_ids)) - starts + 1).astype(np.int16)),
        "job_id": pa.array(lists.job_ids, type=pa.string()),
        "score": pa.array(lists.scores.astype(np.float32, copy=False)),
    })


# ---------------------------------------------------------------------- workers
_worker_ranker: Ranker | None = None


def _load_worker_ranker(ranker_dir: str) -> None:
    """Process-pool initializer: one ranker per worker process, one BLAS thread (the pool is the parallelism)."""
    global _worker_ranker
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    _worker_ranker = load_ranker(ranker_dir, set_default=False)
    gc.freeze()  # the ranker lives as long as the worker: never rescan its objects


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a chunk's recommendation objects are made.

    A chunk makes ``chunk_size x k`` small objects, which trigger full collections that rescan every
    object of a large ranker (hundreds of thousands of seekers' id maps and lists): without the pause
    that was most of the ranking time (20,000 seekers of a 40,000-seeker ranker: 5.8 s with collections, 2.0 s
    without). The objects hold no cycles; reference counting frees them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class Chunk:
    """One unit of work: rank ``seeker_ids`` and write them to ``path``."""

    seeker_ids: np.ndarray
    path: str
    k: int
    reasons: bool
    filters: dict[str, Any]


def rank_chunk(chunk: Chunk, ranker: Ranker | None = None) -> int:
    """Rank one chunk (with ``ranker``, else the worker's) and write its Parquet part; returns its rows."""
    ranker = ranker or _worker_ranker
    if ranker is None:
        raise RuntimeError("rank_chunk: no ranker (the worker initializer did not run)")
    if chunk.reasons:
        with _collector_paused():
            rankings = ranker.rank_many(list(chunk.seeker_ids), chunk.k, reasons=True, **chunk.filters)
            table = recommendations_table(chunk.seeker_ids, rankings, reasons=True)
            del rankings
    else:  # flat arrays, no object per recommendation
        table = lists_table(chunk.seeker_ids, ranker.top_lists(chunk.seeker_ids, chunk.k, **chunk.filters))
    pq.write_table(table, chunk.path)
    return table.num_rows


def recommend(ranker: str | os.PathLike[str], output: str | os.PathLike[str], *, seekers: Any = None, k: int = 10,
              reasons: bool = False, filters: dict[str, Any] | None = None, workers: int = 2,
              chunk_size: int = 20_000, worker_kind: str = "auto", overwrite: bool = False) -> Summary:
    """Write the top-``k`` lists of ``seekers`` (default: every known seeker) to the directory ``output``.

    Parameters are the config keys of the command (module docstring). ``workers=1`` ranks in this
    process. ``worker_kind``: ``"threads"`` share this process's ranker (the compiled ranking and the
    Parquet writer release the GIL, so lists without reasons scale with threads and no worker loads a
    ranker of its own), ``"processes"`` are spawned interpreters that each load the ranker (the reasons'
    wording is Python, which threads would serialise); ``"auto"``: threads without reasons, processes with.
    Every input is checked before anything is written: an unknown or repeated seeker id, a bad ``k``,
    ``workers``, ``worker_kind`` or filter raise a subclass of :class:`~recsys.api.InvalidRequestError`, an output that may not
    be replaced :class:`OutputExistsError`.
    """
    started = time.perf_counter()
    filters = dict(filters or {})
    k = validate_k(k)
    for name, value, low in (("workers", workers, 1), ("chunk_size", chunk_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidRequestError(f"{name}: must be an integer >= {low}, got {value!r}")
    if worker_kind not in WORKER_KINDS:
        raise InvalidRequestError(f"worker_kind: must be one of {list(WORKER_KINDS)}, got {worker_kind!r}")
    output = Path(output).expanduser().resolve()
    check_output(output, overwrite)
    ranker_dir = resolve_ranker_dir(ranker)
    parent = load_ranker(ranker_dir, set_default=False)
    validate_filters(filters, timezone=parent.timezone)  # raises naming the field, before any work
    ids = check_seekers(parent, read_seeker_ids(seekers))
    n_chunks = max(1, -(-len(ids) // chunk_size))
    with atomic_dir(output, kind="recommendations") as tmp:  # check_output refused anything else
        chunks = [Chunk(part, str(tmp / f"part-{i:05d}.parquet"), k, bool(reasons), filters)
                  for i, part in enumerate(np.array_split(ids, n_chunks))]
        kind = worker_kind if worker_kind != "auto" else ("processes" if reasons else "threads")
        if workers == 1 or n_chunks == 1:
            rows = [rank_chunk(chunk, parent) for chunk in chunks]
        elif kind == "threads":
            # the compiled ranking and the Parquet writer release the GIL: threads share the loaded ranker
            with ThreadPoolExecutor(max_workers=min(workers, n_chunks)) as threads:
                rows = list(threads.map(lambda chunk: rank_chunk(chunk, parent), chunks))
        else:
            import multiprocessing

            # spawn: a clean interpreter per worker (no forked locks or numba/BLAS thread state)
            with ProcessPoolExecutor(max_workers=min(workers, n_chunks), mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_load_worker_ranker, initargs=(str(ranker_dir),)) as pool:
                rows = list(pool.map(rank_chunk, chunks))
        state = parent.state
        write_json(tmp / MANIFEST, {
            "format": FORMAT, "format_version": FORMAT_VERSION, "ranker": str(ranker),
            "ranker_dir": str(ranker_dir), "model": type(parent.model).__name__,
            "catalogue_version": state.version, "catalogue_jobs": len(state.catalogue), "now": str(state.now),
            "k": k, "reasons": bool(reasons), "filters": {key: str(v) for key, v in filters.items()},
            "n_seekers": int(len(ids)), "n_rows": int(sum(rows)),
            "parts": [Path(c.path).name for c in chunks], "columns": ["seeker_id", "rank", "job_id", "score",
                                                                      *(["reasons"] if reasons else [])],
        })
    return Summary(output, int(len(ids)), int(sum(rows)), len(chunks), time.perf_counter() - started)


def run(cfg: DictConfig) -> None:
    """Write the recommendations ``cfg`` describes and print where they went."""
    filters = OmegaConf.to_container(cfg.filters, resolve=True)
    seekers = cfg.seekers if cfg.seekers is None or isinstance(cfg.seekers, str) \
        else list(OmegaConf.to_container(cfg.seekers, resolve=True))  # type: ignore[arg-type]
    summary = recommend(cfg.ranker, cfg.output, seekers=seekers, k=cfg.k, reasons=cfg.reasons,
                        filters=filters, workers=cfg.workers, chunk_size=cfg.chunk_size,  # type: ignore[arg-type]
                        worker_kind=cfg.worker_kind, overwrite=cfg.overwrite)
    print(f"{summary.n_seekers:,} seekers, {summary.n_rows:,} recommendations in {summary.n_parts} part(s), "
          f"{summary.seconds:.1f} s ({summary.seekers_per_second:,.0f} seekers/s)\n"
          f"written to {summary.output} (read with pandas.read_parquet)")


def main() -> None:
    """Hydra entry point (``recsys-recommend``).

    The Hydra app is built here, not at import: worker processes import this module for
    :func:`rank_chunk` and must not need the configs (a spawned worker may import ``recsys`` from another
    copy of the code, e.g. an MLflow model's ``code/`` directory left on ``sys.path``)."""
    hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="recommend")(run)()


if __name__ == "__main__":
    main()
