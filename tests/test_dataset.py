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


def test_missing_column_is_named() -> None:
    with pytest.raises(TableValidationError, match=r"jobs: missing column\(s\) \['vacancies'\]"):
        build(jobs=jobs_table().drop(columns=["vacancies"]))


def test_wrong_dtype_is_named() -> None:
    seekers = seekers_table().assign(age=lambda f: f["age"].astype(str))
    with pytest.raises(TableValidationError, match=r"seekers\.age: expected int"):
        build(seekers=seekers)
    interactions = interactions_table().assign(ts=lambda f: f["ts"].astype(str))
    with pytest.raises(TableValidationError, match=r"interactions\.ts: expected datetime"):
        build(interactions=interactions)
    with pytest.raises(TableValidationError, match=r"seekers\.district: value 'paris'.*index \[2\]"):
        build(seekers=seekers_table().assign(district=["tianhe", "tianhe", "paris", "haizhu", "baiyun"]))


def test_duplicate_ids_name_the_first_rows() -> None:
    jobs = jobs_table()
    jobs.loc[4, "job_id"] = "J1"
    with pytest.raises(TableValidationError, match=r"jobs\.job_id: duplicate id 'J1' \(1 row\(s\), first at index \[4\]\)"):
        build(jobs=jobs)


def test_unknown_seeker_or_job_in_interactions() -> None:
    interactions = interactions_table()
    interactions.loc[3, "seeker_id"] = "S99"
    with pytest.raises(TableValidationError, match=r"interactions\.seeker_id: unknown seeker 'S99'.*\[3\]"):
        build(interactions=interactions)
    interactions = interactions_table()
    interactions.loc[[5, 6], "job_id"] = "J99"
    with pytest.raises(TableValidationError, match=r"interactions\.job_id: unknown job 'J99' \(2 row\(s\), first at index \[5, 6\]\)"):
        build(interactions=interactions)


def test_timestamps_outside_the_posting_window() -> None:
    interactions = interactions_table()
    interactions.loc[2, "ts"] = pd.Timestamp("2025-02-01")  # before J0 was posted
    with pytest.raises(TableValidationError, match=r"interactions\.ts: outside .*index \[2\]"):
        build(interactions=interactions)
    jobs = jobs_table()
    jobs.loc[1, "expires_at"] = jobs.loc[1, "posted_at"]
    with pytest.raises(TableValidationError, match=r"jobs\.expires_at: not after posted_at.*index \[1\]"):
        build(jobs=jobs)


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
