"""Baselines that serve new postings: Nearest, NewestNearby, PopularityPrior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.data.dataset import Dataset
from recsys.data.geo import distance_km
from recsys.models import MissingColumnsError, Nearest, NewestNearby, PopularityPrior, Recommender
from recsys.models._common import HyperparameterError
from recsys.models.base import NoTrainingEventsError
from tests.toy_tables import toy_dataset


@pytest.fixture(scope="module")
def toy() -> Dataset:
    return toy_dataset(n_seekers=30, n_jobs=20)


def _minimal(seekers: dict, jobs: dict, interactions: list[tuple[str, str, str, str]]) -> Dataset:
    """Tables as given (not validated: validation refuses partly missing coordinates, a model must not)."""
    frame = pd.DataFrame(interactions, columns=["seeker_id", "job_id", "ts", "event"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    return Dataset(pd.DataFrame(seekers), pd.DataFrame(jobs), frame, validate=False)


# ---------------------------------------------------------------------- Nearest
def test_nearest_ranks_by_home_job_distance(toy: Dataset) -> None:
    model = Nearest().fit(toy)
    seekers, jobs = toy.seekers, toy.jobs
    km = distance_km(seekers["lat"].to_numpy()[:, None], seekers["lon"].to_numpy()[:, None],
                     jobs["lat"].to_numpy()[None, :], jobs["lon"].to_numpy()[None, :])
    scores = model.score(np.arange(toy.n_seekers))
    np.testing.assert_allclose(-scores, km, rtol=1e-3, atol=1e-3)
    lists = model.recommend_rows(np.arange(5), 3, exclude_seen=False)[0]
    np.testing.assert_array_equal(lists, np.argsort(km[:5], axis=1, kind="stable")[:, :3])


def test_nearest_serves_new_postings_and_cold_seekers(toy: Dataset) -> None:
    early = toy.interactions["ts"] < toy.interactions["ts"].quantile(0.5)
    train = toy.with_interactions(early & (toy.interactions["seeker_row"] >= 5))  # seekers 0-4 are cold
    model = Nearest().fit(train)
    new_jobs = ~model.known_jobs_
    cold = np.flatnonzero(~model.known_seekers_)
    assert new_jobs.any() and len(cold)
    scores = model.score(cold)
    assert np.isfinite(scores[:, new_jobs]).all()
    assert len(model.recommend(toy.seekers["seeker_id"].to_numpy()[cold], k=3)) == 3 * len(cold)


def test_unlocated_jobs_come_last_and_missing_columns_raise_naming_them() -> None:
    seekers = {"seeker_id": ["a", "b"], "lat": [23.1, 23.2], "lon": [113.3, 113.3]}
    jobs = {"job_id": ["x", "y", "z"], "lat": [None, 23.2, 23.1], "lon": [None, 113.3, 113.3]}
    data = _minimal(seekers, jobs, [("a", "y", "2024-01-02", "apply")])
    order = Nearest().fit(data).recommend(["a", "b"], k=3, exclude_seen=False)
    assert order.groupby("seeker_id")["job_id"].apply(list).to_dict() == {"a": ["z", "y", "x"], "b": ["y", "z", "x"]}
    no_home = _minimal({"seeker_id": ["a"]}, jobs, [("a", "y", "2024-01-02", "apply")])
    with pytest.raises(MissingColumnsError, match=r"seekers\.lat.*seekers\.lon") as info:
        Nearest().fit(no_home)
    assert info.value.missing == ["seekers.lat", "seekers.lon"]
    blank = _minimal(seekers, {"job_id": ["x"], "lat": [None], "lon": [None]}, [("a", "x", "2024-01-02", "apply")])
    with pytest.raises(MissingColumnsError) as info:
        Nearest().fit(blank)
    assert info.value.missing == ["jobs.lat", "jobs.lon"]


# ---------------------------------------------------------------------- NewestNearby
def test_newest_nearby_orders_nearby_postings_by_date_then_the_rest_by_distance() -> None:
    seekers = {"seeker_id": ["a"], "lat": [23.1], "lon": [113.3], "max_commute_km": [5.0]}
    # km from a: near_old 1.1, near_new 3.3, near_new_far 4.4 (same minute as near_new), far 11.1, farther 22.2
    lat = [23.11, 23.13, 23.14, 23.2, 23.3]
    posted = ["2024-01-01", "2024-01-05", "2024-01-05", "2024-01-09", "2024-01-09"]
    jobs = {"job_id": ["near_old", "near_new", "near_new_far", "far", "farther"], "lat": lat, "lon": [113.3] * 5,
            "posted_at": pd.to_datetime(posted)}
    data = _minimal(seekers, jobs, [("a", "far", "2024-01-10", "apply")])
    lists = NewestNearby().fit(data).recommend(["a"], k=5, exclude_seen=False)
    assert lists["job_id"].tolist() == ["near_new", "near_new_far", "near_old", "far", "farther"]
    # a fixed radius for everybody overrides max_commute_km
    wide = NewestNearby(radius_km=15.0).fit(data).recommend(["a"], k=5, exclude_seen=False)
    assert wide["job_id"].tolist() == ["far", "near_new", "near_new_far", "near_old", "farther"]


def test_newest_nearby_default_radius_without_max_commute_and_typed_errors() -> None:
    seekers = {"seeker_id": ["a"], "lat": [23.1], "lon": [113.3]}
    jobs = {"job_id": ["near", "mid"], "lat": [23.11, 23.2], "lon": [113.3, 113.3],
            "posted_at": pd.to_datetime(["2024-01-01", "2024-01-05"])}
    data = _minimal(seekers, jobs, [("a", "near", "2024-01-10", "apply")])
    assert NewestNearby(default_radius_km=5.0).fit(data).recommend(["a"], k=2, exclude_seen=False)[
        "job_id"].tolist() == ["near", "mid"]
    assert NewestNearby(default_radius_km=20.0).fit(data).recommend(["a"], k=2, exclude_seen=False)[
        "job_id"].tolist() == ["mid", "near"]
    undated = _minimal(seekers, {k: v for k, v in jobs.items() if k != "posted_at"},
                       [("a", "near", "2024-01-10", "apply")])
    with pytest.raises(MissingColumnsError, match=r"jobs\.posted_at"):
        NewestNearby().fit(undated)
    with pytest.raises(HyperparameterError, match="radius_km"):
        NewestNearby(radius_km=-1.0).fit(data)


# ---------------------------------------------------------------------- PopularityPrior
def _market() -> Dataset:
    """Cook postings in tianhe are popular, cleaners anywhere are not; two new postings at the cut-off."""
    jobs = pd.DataFrame({
        "job_id": ["cook_t1", "cook_t2", "clean_t", "clean_h", "cook_h", "new_cook_t", "new_clean_h", "new_odd"],
        "occupation": ["cook", "cook", "cleaner", "cleaner", "cook", "cook", "cleaner", "driver"],
        "district": ["tianhe", "tianhe", "tianhe", "haizhu", "haizhu", "tianhe", "haizhu", "panyu"],
        "posted_at": pd.to_datetime(["2024-01-01"] * 5 + ["2024-01-31"] * 3),
    })
    applications = {"cook_t1": 12, "cook_t2": 8, "clean_t": 1, "clean_h": 0, "cook_h": 3}
    rows = [(f"s{job}{i}", job, f"2024-01-{2 + i % 20:02d}", "apply")
            for job, n in applications.items() for i in range(n)]
    rows.append(("s_last", "clean_h", "2024-01-31", "view"))
    seekers = pd.DataFrame({"seeker_id": sorted({r[0] for r in rows})})
    frame = pd.DataFrame(rows, columns=["seeker_id", "job_id", "ts", "event"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    return Dataset(seekers, jobs, frame)


def test_popularity_prior_gives_new_postings_their_cells_rate() -> None:
    data = _market()
    model = PopularityPrior(prior_days=7.0).fit(data)
    score = dict(zip(data.jobs["job_id"], model.score([0])[0], strict=True))
    assert np.isfinite(list(score.values())).all()  # every posting is served, new ones included
    # a new cook in tianhe gets the cook x tianhe cell rate, above a new cleaner in haizhu
    assert score["new_cook_t"] > score["new_clean_h"]
    # exposure: 29 days (first to last training event) for each old job, 0 for the new ones
    g = 24 / (5 * 29)
    occupation_cook = (23 + 7 * g) / (3 * 29 + 7)
    cell = (20 + 7 * occupation_cook) / (2 * 29 + 7)
    assert score["new_cook_t"] == pytest.approx(cell)
    # an occupation the training data never saw in a district it never saw: the global rate
    assert score["new_odd"] == pytest.approx(g)
    # a job with history: its own rate shrunk toward its cell
    cleaner = (1 + 7 * g) / (2 * 29 + 7)
    cell_clean_t = (1 + 7 * cleaner) / (29 + 7)
    assert score["clean_t"] == pytest.approx((1 + 7 * cell_clean_t) / (29 + 7))
    assert score["cook_t1"] > score["cook_t2"] > score["cook_h"]


def test_popularity_prior_needs_a_cell_column_and_its_event() -> None:
    data = _market()
    bare = Dataset(data.seekers, data.jobs[["job_id", "posted_at"]], data.interactions[["seeker_id", "job_id", "ts",
                                                                                       "event"]])
    with pytest.raises(MissingColumnsError, match=r"jobs\.occupation.*jobs\.district"):
        PopularityPrior().fit(bare)
    with pytest.raises(NoTrainingEventsError):
        PopularityPrior(event="hire").fit(data)
    # one cell column is enough
    district_only = Dataset(data.seekers, data.jobs.drop(columns="occupation"),
                            data.interactions[["seeker_id", "job_id", "ts", "event"]])
    assert PopularityPrior().fit(district_only).cell_columns_ == ["district"]


def test_popularity_prior_beats_popularity_on_new_postings_of_tiny(tiny_easy_data_dir: Path) -> None:
    from recsys.evaluation import evaluate, temporal_split
    from recsys.models import Popularity

    dataset = Dataset.load(tiny_easy_data_dir)  # easy: distance decides, so the distance baselines score too
    split = temporal_split(dataset, dataset.interactions["ts"].quantile(0.8))
    hr_new = {}
    for model in (Popularity(), PopularityPrior(), Nearest(), NewestNearby()):
        result = evaluate(model.fit(split.train), split, (10,), n_resamples=0)
        row = result.slices.query("slice == 'job' and value == 'new' and metric == 'hr' and k == 10")
        hr_new[type(model).__name__] = float(row["mean"].iloc[0])
    assert hr_new["Popularity"] == 0.0  # the strawman: new postings score -inf
    assert min(hr_new["PopularityPrior"], hr_new["Nearest"], hr_new["NewestNearby"]) > 0.1


# ---------------------------------------------------------------------- save / load
@pytest.mark.parametrize("make", [Nearest, NewestNearby, PopularityPrior])
def test_saved_baselines_score_identically(make: type[Recommender], toy: Dataset, tmp_path: Path) -> None:
    model = make().fit(toy)
    loaded = Recommender.load(model.save(tmp_path / make.__name__))
    assert type(loaded) is make
    rows = np.arange(toy.n_seekers)
    np.testing.assert_array_equal(loaded.score(rows), model.score(rows))
