"""Bad dataset directories: typed errors that name the file, table, column or key, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recsys.data import Dataset, TableValidationError
from tests.bad_input.conftest import assert_unchanged, snapshot
from tests.eval_tables import hand_dataset, interactions_table, jobs_table, seekers_table


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """The hand dataset written with :meth:`Dataset.save` (manifest with the funnel)."""
    return hand_dataset().save(tmp_path / "hand")


def test_save_and_load_round_trip(saved: Path) -> None:
    dataset, loaded = hand_dataset(), Dataset.load(saved)
    assert loaded.funnel == dataset.funnel
    assert (loaded.interaction_matrix() != dataset.interaction_matrix()).nnz == 0
    pd.testing.assert_frame_equal(loaded.interactions.drop(columns=["seeker_id", "job_id", "event"]),
                                  dataset.interactions.drop(columns=["seeker_id", "job_id", "event"]))
    assert loaded.interactions["seeker_id"].tolist() == dataset.interactions["seeker_id"].tolist()


def test_missing_core_file_and_directory(saved: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; generate it .* or import yours with `recsys-import`"):
        Dataset.load(saved.parent / "nowhere")
    (saved / "jobs.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="has no jobs.parquet"):
        Dataset.load(saved)


def test_corrupt_parquet_names_the_file(saved: Path) -> None:
    (saved / "interactions.parquet").write_bytes(b"not parquet")
    with pytest.raises(TableValidationError, match="interactions.parquet: cannot read Parquet file"):
        Dataset.load(saved)


def test_corrupt_manifest_or_funnel(saved: Path) -> None:
    manifest = saved / "manifest.json"
    payload = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**payload, "funnel": {"events": ["view", "view"]}}))
    with pytest.raises(TableValidationError, match="manifest.json: funnel: funnel events must be unique"):
        Dataset.load(saved)
    manifest.write_text("{not json")
    with pytest.raises(TableValidationError, match="manifest.json: cannot read"):
        Dataset.load(saved)


def test_events_outside_the_stored_funnel_are_listed(saved: Path) -> None:
    manifest = saved / "manifest.json"
    payload = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**payload, "funnel": {"events": ["view", "apply"]}}))
    with pytest.raises(TableValidationError) as caught:
        Dataset.load(saved)
    (problem,) = caught.value.problems
    assert (problem.where, problem.rule, problem.count) == ("interactions.event", "event", 2)
    assert "['hire', 'interview']" in problem.detail


def test_dangling_ids_on_disk_fall_back_to_a_full_report(saved: Path) -> None:
    """The fast Arrow path defers to validation, which names the rows, when an id is unknown."""
    frame = pd.read_parquet(saved / "interactions.parquet")
    frame.loc[[1, 4], "job_id"] = "J404"
    frame.loc[2, "seeker_id"] = "S404"
    frame.to_parquet(saved / "interactions.parquet")
    with pytest.raises(TableValidationError) as caught:
        Dataset.load(saved)
    assert [(p.where, p.rule, p.rows) for p in caught.value.problems] == [
        ("interactions.seeker_id", "reference", (2,)), ("interactions.job_id", "reference", (1, 4))]


def test_refuses_to_save_over_a_file(tmp_path: Path) -> None:
    target = tmp_path / "a_file"
    target.write_text("mine")
    with pytest.raises(ValueError, match="is a file"):
        hand_dataset().save(target)
    assert target.read_text() == "mine"


# ---------------------------------------------------------------------------------------------- trainings
def _trainings() -> pd.DataFrame:
    return pd.DataFrame({"enrolment_id": ["T1", "T2", "T3"], "seeker_id": ["S1", "S2", "S3"],
                         "skill": ["cooking", "welding", "forklift"],
                         "completed_at": pd.to_datetime(["2025-03-01", None, "2025-03-05"])})


def _dataset_with(trainings: object) -> Dataset:
    return Dataset(seekers_table(), jobs_table(), interactions_table(), {"trainings": trainings})  # type: ignore[dict-item]


def test_a_valid_trainings_table_is_kept_and_times_are_normalised() -> None:
    trainings = _trainings().assign(completed_at=["2025-03-01 10:00", None, "2025-03-05"])
    dataset = _dataset_with(trainings)
    assert dataset.extras["trainings"]["completed_at"].dtype == "datetime64[ns]"
    assert dataset.extras["trainings"]["completed_at"].isna().tolist() == [False, True, False]


def test_trainings_with_completed_and_end_get_completed_at() -> None:
    trainings = _trainings().drop(columns="completed_at").assign(
        completed=[True, False, True], end=pd.to_datetime(["2025-03-01", "2025-03-02", "2025-03-05"]))
    completed_at = _dataset_with(trainings).extras["trainings"]["completed_at"]
    assert completed_at.tolist()[::2] == [pd.Timestamp("2025-03-01"), pd.Timestamp("2025-03-05")]
    assert completed_at.isna().tolist() == [False, True, False]
    with pytest.raises(TableValidationError, match=r"trainings \[required\]: missing required column\(s\) \['completed_at'\]"):
        _dataset_with(trainings.assign(completed=["yes", "no", "yes"]))


@pytest.mark.parametrize("column", ["seeker_id", "skill", "completed_at"])
def test_trainings_without_a_minimal_column_name_it(column: str) -> None:
    with pytest.raises(TableValidationError) as caught:
        _dataset_with(_trainings().drop(columns=column))
    (problem,) = caught.value.problems
    assert (problem.where, problem.rule) == ("trainings", "required")
    assert repr(column) in problem.detail


def test_trainings_completed_at_that_is_not_a_time_names_the_row() -> None:
    with pytest.raises(TableValidationError) as caught:
        _dataset_with(_trainings().assign(completed_at=["2025-03-01", None, "next tuesday"]))
    (problem,) = caught.value.problems
    assert (problem.where, problem.rule, problem.rows) == ("trainings.completed_at", "type", (2,))
    assert "'next tuesday'" in problem.detail
    with pytest.raises(TableValidationError, match=r"trainings.completed_at \[type\]: expected datetimes"):
        _dataset_with(_trainings().assign(completed_at=[1.5, 2.0, 3.0]))


def test_trainings_of_an_unknown_seeker_name_the_row_and_the_id() -> None:
    with pytest.raises(TableValidationError) as caught:
        _dataset_with(_trainings().assign(seeker_id=["S1", "S404", "S3"]))
    (problem,) = caught.value.problems
    assert (problem.where, problem.rule, problem.rows) == ("trainings.seeker_id", "reference", (1,))
    assert "'S404'" in problem.detail


def test_bad_trainings_on_disk_are_refused_and_nothing_is_written(saved: Path) -> None:
    _trainings().assign(seeker_id=["S1", "S2", "S999"]).to_parquet(saved / "trainings.parquet")
    before = snapshot(saved)
    with pytest.raises(TableValidationError, match=r"trainings.seeker_id \[reference\]: unknown seeker 'S999'"):
        Dataset.load(saved)
    assert_unchanged(before, saved)
