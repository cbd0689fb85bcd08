"""Property tests (hypothesis): any subset of the optional columns loads and splits, or raises the typed error.

Never an unhandled exception: the only outcomes are a working dataset, :class:`TableValidationError`
(bad data) or :class:`SplitError` (a split the data cannot support, e.g. ``cold_jobs`` without posting
dates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys.data import Dataset, TableValidationError
from recsys.data.schema import SCHEMAS
from recsys.evaluation.splits import (
    SplitError,
    cold_job_split,
    cold_seeker_split,
    leave_last_out_split,
    temporal_split,
)
from tests.eval_tables import CUTOFF, interactions_table, jobs_table, seekers_table

NOW = pd.Timestamp("2025-06-01")
SEEKER_OPTIONAL = sorted(SCHEMAS["seekers"].optional)
JOB_OPTIONAL = sorted(SCHEMAS["jobs"].optional)
INTERACTION_OPTIONAL = sorted(SCHEMAS["interactions"].optional)


def _split_all(dataset: Dataset) -> None:
    for make in (lambda: temporal_split(dataset, CUTOFF), lambda: leave_last_out_split(dataset),
                 lambda: cold_seeker_split(dataset, CUTOFF, share=0.5),
                 lambda: cold_job_split(dataset, CUTOFF), lambda: temporal_split(dataset, CUTOFF, relevant_event="view")):
        try:
            split = make()
        except SplitError:
            continue
        assert split.n_test > 0
        mask = split.candidate_mask(np.arange(split.n_test))
        assert mask[split.relevant.nonzero()].all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeker_cols=st.sets(st.sampled_from(SEEKER_OPTIONAL)), job_cols=st.sets(st.sampled_from(JOB_OPTIONAL)),
       inter_cols=st.sets(st.sampled_from(INTERACTION_OPTIONAL)), integer_ids=st.booleans())
def test_any_subset_of_optional_columns_loads_and_splits(seeker_cols, job_cols, inter_cols, integer_ids) -> None:
    seekers = seekers_table()[["seeker_id", *sorted(seeker_cols)]]
    jobs = jobs_table()[["job_id", *sorted(job_cols)]]
    interactions = interactions_table()[["seeker_id", "job_id", "ts", "event", *sorted(inter_cols)]]
    if integer_ids:
        seekers = seekers.assign(seeker_id=seekers["seeker_id"].str[1:].astype(int))
        interactions = interactions.assign(seeker_id=interactions["seeker_id"].str[1:].astype(int))
    try:
        dataset = Dataset.from_frames(seekers=seekers, jobs=jobs, interactions=interactions, now=NOW)
    except TableValidationError as exc:
        # the only way a subset of valid columns is refused: one coordinate without the other
        assert {p.rule for p in exc.problems} == {"pair"}
        assert any(("lat" in cols) != ("lon" in cols) for cols in (seeker_cols, job_cols))
        return
    info = dataset.describe()
    assert set(info["columns"]["seekers"]["present"]) == seeker_cols
    _split_all(dataset)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_corruption_raises_the_typed_error_or_loads(data) -> None:
    """Random values written into random cells: a Dataset or a TableValidationError, nothing else."""
    tables = {"seekers": seekers_table(), "jobs": jobs_table(), "interactions": interactions_table()}
    values = st.one_of(st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                       st.text(max_size=5), st.lists(st.text(max_size=3), max_size=2),
                       st.sampled_from(["unknown", "2025-03-05", "2025-03-05T10:00:00+08:00", "apply", "S1", "J2"]))
    for _ in range(data.draw(st.integers(1, 3))):
        table = data.draw(st.sampled_from(sorted(tables)))
        frame = tables[table].astype(object)
        column = data.draw(st.sampled_from(list(frame.columns)))
        row = data.draw(st.integers(0, len(frame) - 1))
        frame.at[row, column] = data.draw(values)
        tables[table] = frame.infer_objects()
    try:
        dataset = Dataset.from_frames(**tables, now=NOW)
    except TableValidationError as exc:
        assert exc.problems and all(p.table in tables for p in exc.problems)
        return
    _split_all(dataset)
