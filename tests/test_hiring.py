"""Hiring-probability model: causal features, exported trees, calibration, persistence, typed errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.data.dataset import Dataset
from recsys.data.events import EventFunnel
from recsys.models.hiring import (
    FEATURES,
    TARGETS,
    HiringModel,
    HiringModelError,
    NoEmployerOutcomesError,
    TreeEnsemble,
    applications_before,
    calibration_report,
    skill_bits,
    training_table,
)


@pytest.fixture(scope="module")
def dataset(tiny_easy_data_dir: Path) -> Dataset:
    # easy: on tiny, enough interviews and hires after the cutoff for the out-of-time checks (the realistic
    # world interviews about 4x fewer of its applications)
    return Dataset.load(tiny_easy_data_dir)


@pytest.fixture(scope="module")
def cutoff(dataset: Dataset) -> pd.Timestamp:
    return pd.Timestamp(dataset.interactions["ts"].quantile(0.8))


@pytest.fixture(scope="module")
def hiring(dataset: Dataset, cutoff: pd.Timestamp) -> HiringModel:
    return HiringModel(max_iter=30, random_state=0).fit(dataset, cutoff)


def test_applications_before_counts_strictly_earlier_ones_per_job() -> None:
    jobs = np.array([0, 0, 1, 0, 0, 1])
    times = np.array([5, 1, 3, 5, 9, 2])
    # job 0 at times 1, 5, 5, 9 -> 0 earlier, 1, 1 (ties are simultaneous), 3; job 1 at 2, 3 -> 0, 1
    assert applications_before(jobs, times).tolist() == [1, 0, 1, 1, 3, 0]


def test_skill_bits_share_counts_common_skills() -> None:
    bits = skill_bits([("weld", "drive"), ("drive",), (), None])
    assert np.bitwise_count(bits).sum(axis=1).tolist() == [2, 1, 0, 0]
    assert np.bitwise_count(bits[0] & bits[1]).sum() == 1


def test_training_table_reads_nothing_after_the_cutoff(dataset: Dataset, cutoff: pd.Timestamp) -> None:
    table = training_table(dataset, cutoff, label_horizon_days=0)
    assert table["features"].shape == (len(table["hire"]), len(FEATURES))
    assert (table["time_ns"] <= cutoff.value).all()
    # a later hire never labels an earlier application: cut the data at the cutoff and compare
    early = dataset.with_interactions(dataset.interactions["ts"] <= cutoff)
    again = training_table(early, cutoff, label_horizon_days=0)
    np.testing.assert_array_equal(table["hire"], again["hire"])
    np.testing.assert_array_equal(table["features"], again["features"])
    assert 0 < table["hire"].mean() <= table["interview"].mean()  # a hire follows an interview


def test_applicants_feature_is_causal(dataset: Dataset, cutoff: pd.Timestamp) -> None:
    table = training_table(dataset, cutoff, label_horizon_days=0)
    column = FEATURES.index("applicants_per_vacancy")
    vacancies = table["features"][:, FEATURES.index("vacancies")]
    counts = np.rint(table["features"][:, column] * vacancies).astype(int)
    job, time = table["job_row"], table["time_ns"]
    row = int(np.argmax(counts))  # the busiest application: recount its earlier ones by hand
    assert counts[row] == int(((job == job[row]) & (time < time[row])).sum())


def test_exported_trees_reproduce_sklearn(dataset: Dataset, cutoff: pd.Timestamp) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    table = training_table(dataset, cutoff)
    features = table["features"]
    booster = HistGradientBoostingClassifier(max_iter=15, max_leaf_nodes=7, early_stopping=False,
                                             random_state=0).fit(features, table["hire"])
    trees = TreeEnsemble.from_sklearn(booster)
    mine = 1 / (1 + np.exp(-trees.raw(features)))
    np.testing.assert_allclose(mine, booster.predict_proba(features)[:, 1], rtol=0, atol=1e-9)


def test_calibrated_model_beats_the_base_rate_out_of_time(dataset: Dataset, hiring: HiringModel,
                                                         cutoff: pd.Timestamp) -> None:
    later = training_table(dataset, None)
    fresh = later["time_ns"] > cutoff.value
    assert fresh.sum() > 50
    for target in TARGETS:
        probability = hiring.predict_features(later["features"][fresh], target)
        assert ((probability >= 0) & (probability <= 1)).all()
        report = calibration_report(probability, later[target][fresh])
        assert report["brier"] < report["base_rate_brier"], target
        assert report["reliability"]["n"].sum() == fresh.sum()
    interview = hiring.predict_features(later["features"][fresh], "interview")
    hire = hiring.predict_features(later["features"][fresh], "hire")
    assert hire.mean() < interview.mean()  # a hire needs an interview first


def test_predict_by_ids_matches_feature_rows(dataset: Dataset, hiring: HiringModel, cutoff: pd.Timestamp) -> None:
    table = training_table(dataset, cutoff)
    rows = np.arange(0, len(table["hire"]), max(len(table["hire"]) // 20, 1))
    seeker_ids = dataset.seeker_ids.to_ids(table["seeker_row"][rows])
    job_ids = dataset.job_ids.to_ids(table["job_row"][rows])
    times = pd.to_datetime(table["time_ns"][rows])
    early = dataset.with_interactions(dataset.interactions["ts"] <= cutoff)
    np.testing.assert_allclose(hiring.predict(early, seeker_ids, job_ids, times),
                               hiring.predict_features(table["features"][rows]), rtol=1e-12)


def test_save_load_round_trip_without_pickle(hiring: HiringModel, dataset: Dataset, tmp_path: Path) -> None:
    hiring.save(tmp_path / "hiring")
    with np.load(tmp_path / "hiring" / "arrays.npz", allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)
    loaded = HiringModel.load(tmp_path / "hiring")
    features = training_table(dataset, None)["features"][:200]
    for target in TARGETS:
        np.testing.assert_array_equal(loaded.predict_features(features, target),
                                      hiring.predict_features(features, target))
    meta, arrays = hiring.to_arrays()
    broken = dict(arrays)
    broken["hire_left"] = np.where(broken["hire_left"] > 0, 10**9, broken["hire_left"])
    with pytest.raises(HiringModelError, match="hire_left"):
        HiringModel.from_arrays(meta, broken)
    with pytest.raises(HiringModelError, match="format_version"):
        HiringModel.from_arrays({**meta, "format_version": 99}, arrays)


def test_data_without_employer_events_gets_a_typed_error(dataset: Dataset) -> None:
    clicks = dataset.interactions[dataset.interactions["event"].isin(["view", "apply"])].copy()
    clicks["event"] = clicks["event"].astype(str).map({"view": "click", "apply": "apply"})
    logs = Dataset.from_frames(seekers=dataset.seekers, jobs=dataset.jobs,
                               interactions=clicks[["seeker_id", "job_id", "ts", "event"]],
                               funnel=EventFunnel(("click", "apply")))
    with pytest.raises(NoEmployerOutcomesError, match="interview"):
        HiringModel().fit(logs)


def test_unfitted_model_refuses_to_predict() -> None:
    with pytest.raises(HiringModelError, match="not fitted"):
        HiringModel().predict_features(np.zeros((1, len(FEATURES)), np.float32))
