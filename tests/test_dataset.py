"""Dataset loading and validation: errors name the table, column and first offending rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.data.dataset import Dataset, IdMap, UnknownIdError
from recsys.data.validate import TableValidationError
from tests.eval_tables import hand_dataset, interactions_table, jobs_table, seekers_table


def build(seekers=None, jobs=None, interactions=None) -> Dataset:
    return Dataset(seekers_table() if seekers is None else seekers, jobs_table() if jobs is None else jobs,
                   interactions_table() if interactions is None else interactions)


def test_validation_errors_name_table_column_rule_and_rows() -> None:
    """One error lists every problem; each names table.column, the rule, the count and the first rows."""
    seekers = seekers_table().assign(age=lambda f: f["age"].astype(str))
    interactions = interactions_table()
    interactions.loc[[5, 6], "job_id"] = "J99"
    jobs = jobs_table().drop(columns=["job_id"])
    with pytest.raises(TableValidationError) as caught:
        build(seekers=seekers, jobs=jobs, interactions=interactions)
    assert [(p.where, p.rule) for p in caught.value.problems] == [
        ("seekers.age", "type"), ("jobs", "required")]
    message = str(caught.value)
    assert "seekers.age [type]: expected int numbers" in message and "jobs [required]: missing required column(s) ['job_id']" in message
    with pytest.raises(TableValidationError) as caught:
        build(interactions=interactions)
    (problem,) = caught.value.problems
    assert (problem.where, problem.rule, problem.count, problem.rows) == ("interactions.job_id", "reference", 2, (5, 6))
    assert str(problem) == ("interactions.job_id [reference]: unknown job 'J99' (not in jobs.job_id) "
                            "(2 row(s), first at index [5, 6])")


def test_optional_columns_may_be_absent() -> None:
    """Only the minimal contract is required: a dataset without any optional column loads."""
    dataset = build(seekers=seekers_table()[["seeker_id"]], jobs=jobs_table()[["job_id"]],
                    interactions=interactions_table()[["seeker_id", "job_id", "ts", "event"]])
    assert dataset.n_seekers == 5 and dataset.active_jobs("2020-01-01").all()  # no dates: always active
    info = dataset.describe()
    assert info["columns"]["jobs"]["present"] == [] and "posted_at" in info["columns"]["jobs"]["missing"]
    assert "commute filter" in info["disabled"] and "active-job candidates (posting windows)" in info["disabled"]
    assert info["enabled"] == {}


def test_id_maps() -> None:
    ids = IdMap(np.array(["b", "a", "c"]))
    np.testing.assert_array_equal(ids.to_rows(["c", "b"]), [2, 0])
    np.testing.assert_array_equal(ids.to_rows(["c", "zz"], strict=False), [2, -1])
    assert ids.to_ids([1, 2]).tolist() == ["a", "c"] and "a" in ids and len(ids) == 3
    with pytest.raises(UnknownIdError, match="unknown job 'zz'"):
        ids.to_rows(["zz"], kind="job")
    with pytest.raises(ValueError, match="unique"):
        IdMap(np.array(["a", "a"]))
    dataset = hand_dataset()
    first = dataset.interactions.iloc[0]
    assert dataset.seeker_ids.ids[first["seeker_row"]] == first["seeker_id"]
    assert dataset.job_ids.ids[first["job_row"]] == first["job_id"]
    assert dataset.interactions["ts"].is_monotonic_increasing


def test_interaction_matrix_weights_and_aggregation() -> None:
    dataset = hand_dataset()
    s0, j0 = dataset.seeker_ids.to_rows(["S0"])[0], dataset.job_ids.to_rows(["J0"])[0]
    # S0 -> J0: view (1), apply (2), interview (3) before T and hire (4) after
    assert dataset.interaction_matrix()[s0, j0] == 4.0  # max: furthest funnel stage
    assert dataset.interaction_matrix(aggregate="sum")[s0, j0] == 1 + 2 + 3 + 4
    custom = dataset.interaction_matrix({"apply": 1.0, "hire": 10.0}, aggregate="sum")
    assert custom[s0, j0] == 11.0
    applies = dataset.interaction_matrix(events=("apply",))
    assert (dataset.interactions["event"] == "apply").sum() == 11
    assert applies.nnz == 10  # S2 applied to J1 twice: one pair
    s2, j1 = dataset.seeker_ids.to_rows(["S2"])[0], dataset.job_ids.to_rows(["J1"])[0]
    assert applies[s2, j1] == 2.0
    assert dataset.interaction_matrix(events=("apply",), aggregate="sum")[s2, j1] == 4.0
    assert dataset.interaction_matrix(events=("view",))[s0].nnz == 1
    with pytest.raises(ValueError, match="unknown event"):
        dataset.interaction_matrix({"click": 1.0})
    with pytest.raises(ValueError, match="aggregate"):
        dataset.interaction_matrix(aggregate="mean")


def test_with_interactions_keeps_every_row() -> None:
    dataset = hand_dataset()
    train = dataset.with_interactions(dataset.interactions["ts"] < pd.Timestamp("2025-03-10"))
    assert (train.n_seekers, train.n_jobs) == (dataset.n_seekers, dataset.n_jobs)
    assert len(train.interactions) == 7
    assert train.interaction_matrix().shape == dataset.interaction_matrix().shape
    with pytest.raises(ValueError, match="mask has shape"):
        dataset.with_interactions(np.ones(3, dtype=bool))


def test_load_round_trip(tmp_path) -> None:
    dataset = hand_dataset()
    for name, table in (("seekers", dataset.seekers), ("jobs", dataset.jobs),
                        ("interactions", dataset.interactions.drop(columns=["seeker_row", "job_row"]))):
        table.to_parquet(tmp_path / f"{name}.parquet")
    loaded = Dataset.load(tmp_path)
    assert loaded.seekers["skills"].iloc[0] == ["cooking"]
    assert (loaded.interaction_matrix() != dataset.interaction_matrix()).nnz == 0
    (tmp_path / "jobs.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="jobs.parquet"):
        Dataset.load(tmp_path)


def test_rows_of_another_dataset_are_resolved_again() -> None:
    """Interactions carrying seeker_row/job_row from another dataset are re-resolved against these tables."""
    dataset = hand_dataset()
    reordered = dataset.seekers.iloc[::-1].reset_index(drop=True)
    again = Dataset(reordered, dataset.jobs, dataset.interactions)
    assert again.seeker_ids.ids.tolist() == ["S4", "S3", "S2", "S1", "S0"]
    np.testing.assert_array_equal(again.seeker_ids.to_ids(again.interactions["seeker_row"]),
                                  dataset.interactions["seeker_id"].astype(str))
    with pytest.raises(TableValidationError, match=r"interactions.seeker_id \[reference\]: unknown seeker 'S0'"):
        Dataset(dataset.seekers.iloc[1:], dataset.jobs, dataset.interactions)


def test_from_frames_casts_ids_and_parses_iso_times_and_saves(tmp_path) -> None:
    interactions = pd.DataFrame({
        "seeker_id": [7, 7, 14], "job_id": [1000, 1001, 1000],
        "ts": ["2024-03-02T09:00:00-06:00", "2024-03-02T09:30:00-06:00", "2024-03-03 15:00 UTC"],
        "event": ["view", "apply", "view"]})
    dataset = Dataset.from_frames(interactions=interactions, funnel=["view", "apply"], timezone="America/Chicago")
    assert dataset.seeker_ids.ids.tolist() == ["7", "14"] and dataset.job_ids.ids.tolist() == ["1000", "1001"]
    assert dataset.interactions["ts"].tolist() == [pd.Timestamp("2024-03-02 09:00"), pd.Timestamp("2024-03-02 09:30"),
                                                   pd.Timestamp("2024-03-03 09:00")]
    assert dataset.funnel.seen_events == ("apply",) and dataset.seen_matrix().nnz == 1
    loaded = Dataset.load(dataset.save(tmp_path / "ds"))
    assert loaded.funnel == dataset.funnel and loaded.timezone == "America/Chicago"
    assert loaded.interactions["ts"].tolist() == dataset.interactions["ts"].tolist()
    assert "3 interactions from 2024-03-02 09:00:00 to 2024-03-03 09:00:00 (America/Chicago)" in loaded.describe_text()


def test_job_events_close_postings_from_their_time_on(tmp_path) -> None:
    """A posting filled before its planned expiry is inactive from the closing on, never before it."""
    dataset = hand_dataset()
    job = dataset.jobs["job_id"].iloc[0]
    posted = dataset.jobs["posted_at"].iloc[0]
    planned = dataset.jobs["expires_at"].iloc[0]
    closed = posted + (planned - posted) / 2
    events = pd.DataFrame({"job_id": [job, job, "NOT-A-JOB"], "ts": [closed, planned, closed],
                           "event": ["filled", "expired", "filled"]})
    with_events = Dataset(dataset.seekers, dataset.jobs, dataset.interactions.drop(columns=["seeker_row", "job_row"]),
                          {"job_events": events}, funnel=dataset.funnel)
    before, after = closed - pd.Timedelta(seconds=1), closed
    assert dataset.active_jobs(after)[0] and with_events.active_jobs(before)[0]
    assert not with_events.active_jobs(after)[0]
    others = np.arange(1, dataset.n_jobs)
    np.testing.assert_array_equal(with_events.active_jobs(after)[others], dataset.active_jobs(after)[others])
    # the table round-trips through a dataset directory
    with_events.save(tmp_path / "d")
    assert not Dataset.load(tmp_path / "d").active_jobs(after)[0]
