"""Job recommendations for Guangzhou's public employment service.

``recsys.load_ranker(uri)`` and ``recsys.rank(seeker, k=10, **filters)`` are the serving entry points
(:mod:`recsys.api`); they are imported on first use so ``import recsys`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ranker", "rank"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from recsys.api import service

        return getattr(service, name)
    raise AttributeError(f"module 'recsys' has no attribute {name!r}")
