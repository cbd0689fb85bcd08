"""Shared helpers of the bad-input suite: "no existing file changed" snapshots and small fitted artifacts.

Every case asserts the typed error (or the documented safe result) *and* that nothing that existed
before the call was modified, deleted or replaced (:func:`snapshot` before, :func:`assert_unchanged` after).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from recsys.api import Ranker
from recsys.data.dataset import Dataset
from recsys.models import Popularity
from recsys.models.base import Recommender
from tests.toy_tables import toy_dataset

Snapshot = dict[str, tuple[str, int, str]]
"""Relative path -> (type, mtime_ns, sha256 or link target) of every entry under a directory."""


def snapshot(root: Path) -> Snapshot:
    """Type, mtime and content hash of every file, directory and symlink under ``root`` (not following links)."""
    root = Path(root)
    entries: Snapshot = {}
    if not os.path.lexists(root):
        return entries
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            relative = path.relative_to(root).as_posix()
            stat = path.lstat()
            if path.is_symlink():
                entries[relative] = ("link", stat.st_mtime_ns, os.readlink(path))
            elif path.is_dir():
                entries[relative] = ("dir", 0, "")
            else:
                entries[relative] = ("file", stat.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return entries


def assert_unchanged(before: Snapshot, root: Path, *, allow_new: bool = False) -> None:
    """Every entry of ``before`` is still under ``root`` with the same type, mtime and content.

    ``allow_new``: entries that did not exist before may have appeared (e.g. the output itself).
    """
    after = snapshot(root)
    changed = sorted(p for p in before if after.get(p) != before[p])
    assert not changed, f"existing entries changed or vanished under {root}: {changed[:10]}"
    if not allow_new:
        added = sorted(set(after) - set(before))
        assert not added, f"unexpected new entries under {root}: {added[:10]}"


def leftovers(parent: Path) -> list[str]:
    """Temporary or old siblings (``.<name>.tmp-*`` / ``.<name>.old-*``) left in ``parent``."""
    return sorted(p.name for p in Path(parent).iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def plant_foreign_dir(path: Path) -> Path:
    """A non-empty directory recsys did not write: user notes, a sub-folder and a decoy marker name."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "notes.txt").write_text("my notes\n", encoding="utf-8")
    (path / "sub").mkdir(exist_ok=True)
    (path / "sub" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def toy() -> Dataset:
    """A small toy dataset (40 seekers, 30 jobs)."""
    return toy_dataset(40, 30)


@pytest.fixture(scope="session")
def fitted_model(toy: Dataset) -> Recommender:
    """A fitted, saveable model (popularity: fast and deterministic)."""
    return Popularity().fit(toy)


@pytest.fixture(scope="session")
def toy_ranker(toy: Dataset) -> Ranker:
    """A small ranker over a LightFM hybrid (the servable kind)."""
    from recsys.models.lightfm import LightFMHybrid

    model = LightFMHybrid(no_components=8, epochs=3, random_state=0).fit(toy)
    return Ranker.from_model(model, toy)


Writer = Callable[..., Path]
