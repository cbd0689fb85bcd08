"""Completed trainings: a seeker's public skills as of a time.

The optional ``trainings`` table (:data:`recsys.data.schema.SCHEMAS`) lists enrolments with at least
``seeker_id``, ``skill`` and ``completed_at`` (missing: not completed). A completed training's skill
belongs to the seeker from ``completed_at`` on, so the skills *as of* ``t`` are the profile's
``skills`` plus the skills of the trainings completed strictly before ``t``::

    skills = skills_as_of(dataset.seekers, dataset.extras["trainings"], cutoff)

A model frozen at ``t`` (a split's cutoff) reads the skills as of ``t``, never a training completed at or
after it (:meth:`recsys.data.Dataset.seekers_as_of`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

TRAINING_COLUMNS = ("seeker_id", "skill", "completed_at")
"""Columns :func:`skills_as_of` reads (the minimal contract of the ``trainings`` table)."""


def completed_before(trainings: pd.DataFrame, at: Any) -> pd.DataFrame:
    """Rows of ``trainings`` completed strictly before ``at`` (not completed: missing ``completed_at``)."""
    missing = [c for c in TRAINING_COLUMNS if c not in trainings.columns]
    if missing:
        raise KeyError(f"trainings: missing column(s) {missing} (needs {list(TRAINING_COLUMNS)})")
    completed = pd.to_datetime(trainings["completed_at"]).to_numpy(dtype="datetime64[ns]")
    before = completed < np.datetime64(pd.Timestamp(at).as_unit("ns").to_datetime64())  # NaT compares False
    return trainings.loc[before & trainings["skill"].notna().to_numpy()]


def skills_as_of(seekers: pd.DataFrame, trainings: pd.DataFrame | None, at: Any) -> pd.Series:
    """Each seeker's skills as of ``at``: profile ``skills`` plus those of trainings completed before ``at``.

    Parameters
    ----------
    seekers
        Seekers table (``seeker_id`` and, if the profile has them, ``skills``: lists of strings).
    trainings
        Trainings table (``seeker_id``, ``skill``, ``completed_at``) or ``None`` (no table: the profile skills).
    at
        The time the skills are known at; a training completed exactly at ``at`` does not count yet.

    Returns
    -------
    Series
        Lists of strings aligned with ``seekers`` (same index): the profile's skills in their order, then
        each newly learnt skill once, in order of completion. A seeker without a ``skills`` value (or a table
        without the column) starts from no skills. Trainings of seekers not in ``seekers`` are ignored.
    """
    profile = seekers["skills"] if "skills" in seekers.columns else pd.Series([[]] * len(seekers), index=seekers.index,
                                                                            dtype=object)
    if trainings is None or len(trainings) == 0:
        return profile.copy()
    done = completed_before(trainings, at)
    rows = pd.Index(seekers["seeker_id"]).get_indexer(pd.Index(done["seeker_id"].astype(object)))
    unknown = rows < 0
    if unknown.any():
        logger.debug("skills_as_of: %d completed training(s) of seekers not in the table ignored", int(unknown.sum()))
    order = np.argsort(pd.to_datetime(done["completed_at"]).to_numpy(dtype="datetime64[ns]")[~unknown], kind="stable")
    learnt = pd.Series(done["skill"].astype(str).to_numpy(dtype=object)[~unknown][order], index=rows[~unknown][order])
    out = profile.copy()
    if learnt.empty:
        return out
    touched = np.unique(learnt.index.to_numpy())
    held = pd.Series(profile.iloc[touched].to_numpy(dtype=object), index=touched, dtype=object)
    held = held.where(held.map(lambda v: isinstance(v, list | tuple | np.ndarray)), None).explode().dropna()
    both = pd.concat([held, learnt])
    both = both[~pd.MultiIndex.from_arrays([both.index, both.to_numpy()]).duplicated()]
    merged = both.groupby(level=0, sort=True).agg(list)
    values = np.empty(len(merged), dtype=object)
    values[:] = merged.to_list()
    out.iloc[merged.index.to_numpy()] = values
    return out
