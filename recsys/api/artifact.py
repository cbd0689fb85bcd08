"""Ranker artifacts by path: :func:`save_ranker` / :func:`load_ranker_dir` over :mod:`recsys.api.codec`.

Kept for callers of the earlier API; the format and its checks live in :mod:`recsys.api.codec`.
"""

from __future__ import annotations

from pathlib import Path

from recsys.api.codec import MANIFEST, RANKER_FORMAT_VERSION
from recsys.api.ranker import Ranker

__all__ = ["MANIFEST", "RANKER_FORMAT_VERSION", "load_ranker_dir", "save_ranker"]


def save_ranker(ranker: Ranker, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``ranker`` (its current state) to directory ``path``, atomically (:meth:`Ranker.save`)."""
    return ranker.save(path, overwrite=overwrite)


def load_ranker_dir(path: str | Path) -> Ranker:
    """Read a directory written by :func:`save_ranker`; raises :class:`~recsys.api.errors.ArtifactError`."""
    return Ranker.load(path)
