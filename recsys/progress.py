"""Progress bars for long steps (generation by day, LightFM epochs, evaluation batches).

Bars go to stderr and only when it is a terminal, so logs, pipes and CI output stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled(wanted: bool = True) -> bool:
    """``wanted`` and stderr is an interactive terminal."""
    return bool(wanted) and sys.stderr.isatty()


def progress(iterable: Iterable[T], desc: str, *, total: int | None = None, unit: str = "it",
             wanted: bool = True) -> Iterator[T]:
    """``iterable`` wrapped in a tqdm bar (removed when done) if :func:`progress_enabled`, else as is."""
    if not progress_enabled(wanted):
        yield from iterable
        return
    yield from tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr)
