"""Bad input where it enters the ranking API: k, filters, times, profiles, new postings.

Each case asserts the typed error (a subclass of InvalidRequestError naming field and rule) and that the
ranker's published state did not change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.api import (
    MAX_K,
    InvalidFilterError,
    InvalidJobsError,
    InvalidKError,
    InvalidProfileError,
    InvalidRequestError,
    InvalidTimeError,
    InvalidValueError,
    Ranker,
    validate_filters,
    validate_k,
)
from recsys.api.profile import PROFILE_FIELDS
from recsys.data.dataset import Dataset
from recsys.models import LightFMHybrid

OPEN = {"max_commute_km": float("inf"), "meets_requirements": False, "exclude_applied": False}


@pytest.fixture(scope="module")
def fitted(tiny_data_dir: Path) -> tuple[LightFMHybrid, Dataset]:
    dataset = Dataset.load(tiny_data_dir)
    return LightFMHybrid(no_components=8, epochs=2, random_state=0).fit(dataset), dataset


@pytest.fixture()
def ranker(fitted) -> Ranker:
    model, dataset = fitted
    return Ranker.from_model(model, dataset)


@pytest.fixture()
def seeker_id(fitted) -> str:
    return str(fitted[1].seekers["seeker_id"][0])


def profile_of(dataset: Dataset, row: int) -> dict:
    record = dataset.seekers.iloc[row].to_dict()
    return {field: record[field] for field in PROFILE_FIELDS}


def postings(dataset: Dataset, ranker: Ranker, n: int = 3, tag: str = "NEW") -> pd.DataFrame:
    jobs = dataset.jobs.loc[dataset.jobs["job_id"].isin(ranker.catalogue.job_ids)].head(n).copy()
    jobs["job_id"] = [f"{tag}-{i}" for i in range(len(jobs))]
    return jobs.reset_index(drop=True)


# ---------------------------------------------------------------------- k
@pytest.mark.parametrize("k", [0, -1, 2.7, 3.0, True, False, "5", None, MAX_K + 1, 10**20, np.float64(2), [3]],
                         ids=repr)
def test_bad_k_is_refused(ranker: Ranker, seeker_id: str, k) -> None:
    version = ranker.state.version
    with pytest.raises(InvalidKError) as caught:
        ranker.rank(seeker_id, k=k)
    assert caught.value.field == "k" and "k" in str(caught.value)
    with pytest.raises(InvalidKError):
        ranker.rank_many([seeker_id], k=k)
    assert ranker.state.version == version


def test_good_k_values_are_accepted(ranker: Ranker, seeker_id: str) -> None:
    assert validate_k(np.int64(3)) == 3 and validate_k(MAX_K) == MAX_K
    assert len(ranker.rank(seeker_id, k=np.int32(4), **OPEN)) == 4


# ---------------------------------------------------------------------- filters
BAD_FILTERS = [
    ("exclude_applied", "false"), ("exclude_applied", "true"), ("exclude_applied", 0), ("exclude_applied", 1),
    ("meets_requirements", "no"), ("meets_requirements", 1.0), ("max_commute_km", "5"),
    ("max_commute_km", True), ("max_commute_km", -1), ("max_commute_km", 0), ("max_commute_km", float("nan")),
    ("max_commute_km", [5]), ("job_types", []), ("job_types", [""]), ("job_types", [1]),
    ("job_types", {"full_time": 1}), ("job_types", 7), ("districts", 42), ("districts", [None]),
]


@pytest.mark.parametrize(("field", "value"), BAD_FILTERS, ids=[f"{f}={v!r}" for f, v in BAD_FILTERS])
def test_bad_filter_values_are_refused(ranker: Ranker, seeker_id: str, field: str, value) -> None:
    version = ranker.state.version
    with pytest.raises(InvalidFilterError) as caught:
        ranker.rank(seeker_id, **{field: value})
    assert caught.value.field == field and field in str(caught.value)
    with pytest.raises(InvalidFilterError):
        validate_filters({field: value}, row=4)
    assert ranker.state.version == version


@pytest.mark.parametrize(("field", "value"), [("job_types", ["astronaut"]), ("districts", ["mars"]),
                                              ("districts", "Manhattan")])
def test_filter_values_no_posting_has_are_refused(ranker: Ranker, seeker_id: str, field: str, value) -> None:
    with pytest.raises(InvalidFilterError, match=field):
        ranker.rank(seeker_id, **{field: value})


def test_unknown_filter_and_row_are_named() -> None:
    with pytest.raises(InvalidFilterError, match="row 3: colour") as caught:
        validate_filters({"colour": "red"}, row=3)
    assert caught.value.row == 3
    with pytest.raises(InvalidFilterError, match="reasons"):
        validate_filters({"reasons": "no"})


def test_validated_filters_keep_their_meaning() -> None:
    filters = validate_filters({"job_types": "gig", "exclude_applied": np.bool_(False), "max_commute_km": 5})
    assert filters.job_types == ("gig",) and filters.exclude_applied is False and filters.max_commute_km == 5.0
    assert validate_filters(None) == validate_filters({})


# ---------------------------------------------------------------------- times
BAD_TIMES = [12345, 12345.0, True, "12345", "yesterday", "not a time", "2024-13-45", pd.NaT, [2024, 1, 1]]


@pytest.mark.parametrize("now", BAD_TIMES, ids=repr)
def test_bad_now_is_refused(ranker: Ranker, seeker_id: str, now) -> None:
    version, clock = ranker.state.version, ranker.now
    with pytest.raises(InvalidTimeError, match="now"):
        ranker.rank(seeker_id, now=now)
    with pytest.raises(InvalidTimeError, match="now"):
        ranker.expire(now)
    assert ranker.state.version == version and ranker.now == clock


def test_the_clock_never_moves_backwards(ranker: Ranker, seeker_id: str) -> None:
    state = ranker.state
    with pytest.raises(InvalidTimeError, match="backwards"):
        ranker.expire(ranker.now - pd.Timedelta(days=365))
    assert ranker.state is state
    with pytest.raises(InvalidTimeError, match="before the ranker's clock"):
        ranker.rank(seeker_id, now=ranker.now - pd.Timedelta(hours=1))
    ranker.expire(ranker.now)  # the same time is fine
    assert ranker.now == state.now


def test_times_with_an_offset_are_converted_to_the_ranker_timezone(ranker: Ranker, seeker_id: str) -> None:
    local = ranker.now + pd.Timedelta(hours=2)
    as_utc = (local.tz_localize(ranker.timezone).tz_convert("UTC")).isoformat()
    assert as_utc.endswith("+00:00")
    got = ranker.rank(seeker_id, k=10, now=as_utc, **OPEN)
    assert got == ranker.rank(seeker_id, k=10, now=local, **OPEN)
    assert got.now == local
    # an aware time before the clock is refused like a naive one
    with pytest.raises(InvalidTimeError):
        ranker.rank(seeker_id, now=(ranker.now - pd.Timedelta(hours=1)).tz_localize(ranker.timezone).isoformat())


# ---------------------------------------------------------------------- profiles
BAD_PROFILES = [
    ("age", 40000, "age"), ("age", -1, "age"), ("age", 30.5, "whole number"), ("age", True, "number"),
    ("age", "30", "number"), ("lat", 200.0, "lat"), ("lon", -500.0, "lon"), ("lat", float("nan"), "finite"),
    ("reservation_wage", -5.0, "reservation_wage"), ("max_commute_km", 0.0, "max_commute_km"),
    ("experience_years", float("inf"), "finite"), ("is_graduate", "false", "boolean"), ("is_graduate", 1, "boolean"),
    ("skills", "welding", "list of strings"), ("skills", [1, 2], "list of strings"), ("education", "phd", "education"),
    ("registered_at", 12345, "registered_at"), ("colour", "red", "unknown field"), ("age", None, "missing field"),
]


@pytest.mark.parametrize(("field", "value", "pattern"), BAD_PROFILES,
                         ids=[f"{f}={v!r}" for f, v, _ in BAD_PROFILES])
def test_bad_profile_values_are_refused(ranker: Ranker, fitted, field: str, value, pattern: str) -> None:
    _, dataset = fitted
    profile = profile_of(dataset, 1)
    if value is None:
        del profile[field]
    else:
        profile[field] = value
    with pytest.raises(InvalidProfileError, match=pattern) as caught:
        ranker.rank_many([dataset.seekers["seeker_id"][0], profile], k=3)
    assert caught.value.row == 0 and field in str(caught.value)
    assert isinstance(caught.value, InvalidRequestError)


def test_profile_needs_both_coordinates_and_a_mapping(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    profile = profile_of(dataset, 2)
    del profile["lon"]
    with pytest.raises(InvalidProfileError):
        ranker.rank(profile)
    with pytest.raises(InvalidProfileError, match="mapping"):
        ranker.rank_many([["S1"]])


def test_profile_with_a_known_seeker_id_keeps_that_seekers_applications(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    known = ranker.known_seekers
    row = next(i for i, applied in enumerate(known.applied)
               if len(set(applied) & set(ranker.catalogue.job_ids)) > 0)
    seeker_id = str(ranker.seeker_ids.ids[row])
    applied = set(known.applied[row]) & set(ranker.catalogue.job_ids)
    profile = {**profile_of(dataset, int(dataset.seeker_ids.to_rows([seeker_id])[0])), "seeker_id": seeker_id}
    with_history = ranker.rank(profile, k=len(ranker.catalogue), max_commute_km=float("inf"),
                               meets_requirements=False)
    assert not applied & {r.job_id for r in with_history}
    anonymous = ranker.rank({k: v for k, v in profile.items() if k != "seeker_id"}, k=len(ranker.catalogue),
                            max_commute_km=float("inf"), meets_requirements=False)
    assert applied <= {r.job_id for r in anonymous}, "the anonymous profile should see those jobs"


# ---------------------------------------------------------------------- add_jobs
def _set(column: str, value):
    def edit(jobs: pd.DataFrame) -> pd.DataFrame:
        jobs[column] = pd.Series([value] * len(jobs), dtype=object) if not np.isscalar(value) or isinstance(
            value, str) else value
        return jobs
    return edit


BAD_JOBS = {
    "not a frame": (lambda jobs: jobs.to_dict("records"), "jobs"),
    "no job_id": (lambda jobs: jobs.drop(columns="job_id"), "job_id"),
    "empty": (lambda jobs: jobs.iloc[:0], "jobs"),
    "duplicate ids": (lambda jobs: jobs.assign(job_id="DUP"), "job_id"),
    "empty id": (lambda jobs: jobs.assign(job_id=["", "a", "b"]), "job_id"),
    "integer id": (lambda jobs: jobs.assign(job_id=[1, 2, 3]), "job_id"),
    "latitude 200": (lambda jobs: jobs.assign(lat=200.0), "lat"),
    "lat without lon": (lambda jobs: jobs.drop(columns="lon"), "lat, lon"),
    "negative wage": (lambda jobs: jobs.assign(wage_min=-1.0), "wage_min"),
    "wage_min above wage_max": (lambda jobs: jobs.assign(wage_min=jobs["wage_max"] + 1), "wage_min, wage_max"),
    "age_max 40000": (lambda jobs: jobs.assign(age_max=40000), "age_max"),
    "age_min above age_max": (lambda jobs: jobs.assign(age_min=50, age_max=20), "age_min, age_max"),
    "fractional age": (lambda jobs: jobs.assign(age_min=30.5), "whole number"),
    "age as text": (lambda jobs: jobs.assign(age_min="30"), "age_min"),
    "infinite wage": (lambda jobs: jobs.assign(wage_max=float("inf")), "wage_max"),
    "expires before posted": (lambda jobs: jobs.assign(expires_at=jobs["posted_at"] - pd.Timedelta(days=1)),
                              "expires_at"),
    "posted_at a number": (lambda jobs: jobs.assign(posted_at=12345), "posted_at"),
    "posted_at text": (lambda jobs: jobs.assign(posted_at="soon"), "posted_at"),
    "skills a string": (lambda jobs: jobs.assign(skills="welding"), "skills"),
    "vacancies zero": (lambda jobs: jobs.assign(vacancies=0), "vacancies"),
    "unknown education": (lambda jobs: jobs.assign(min_education="phd"), "min_education"),
    "unknown wage unit": (lambda jobs: jobs.assign(wage_unit="week"), "wage_unit"),
    "title a number": (lambda jobs: jobs.assign(title=5), "title"),
}


@pytest.mark.parametrize("case", list(BAD_JOBS))
def test_bad_postings_are_refused_before_anything_changes(ranker: Ranker, fitted, case: str) -> None:
    _, dataset = fitted
    edit, field = BAD_JOBS[case]
    state = ranker.state
    with pytest.raises(InvalidJobsError) as caught:
        ranker.add_jobs(edit(postings(dataset, ranker)))
    assert field in str(caught.value)
    assert isinstance(caught.value, InvalidValueError)
    assert ranker.state is state


def test_posting_times_with_offsets_are_converted(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    jobs = postings(dataset, ranker, 2, "TZ")
    local = ranker.now + pd.Timedelta(hours=3)
    jobs["posted_at"] = local.tz_localize(ranker.timezone).tz_convert("UTC")
    jobs["expires_at"] = (local + pd.Timedelta(days=30)).tz_localize(ranker.timezone).tz_convert("UTC")
    catalogue = ranker.add_jobs(jobs)
    position = catalogue.position_of["TZ-0"]
    assert catalogue.posted_ns[position] == local.value
    seeker = ranker.seeker_ids.ids[0]
    assert "TZ-0" not in {r.job_id for r in ranker.rank(seeker, k=len(catalogue), **OPEN)}  # not yet open
    opened = ranker.rank(seeker, k=len(catalogue), now=local, **OPEN)
    assert {"TZ-0", "TZ-1"} <= {r.job_id for r in opened}


def test_remove_jobs_needs_string_ids(ranker: Ranker) -> None:
    state = ranker.state
    with pytest.raises(InvalidRequestError, match="strings"):
        ranker.remove_jobs([1, 2])
    assert ranker.state is state


def test_commute_limit_without_coordinates_is_refused_not_ignored(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    profile = profile_of(dataset, 3)
    del profile["lat"], profile["lon"]
    got = ranker.rank(profile, k=5, meets_requirements=False)  # own limit: off without a home location
    assert len(got) == 5
    with pytest.raises(InvalidFilterError, match="max_commute_km"):
        ranker.rank(profile, k=5, max_commute_km=10.0)
    assert len(ranker.rank(profile, k=5, max_commute_km=float("inf"), meets_requirements=False)) == 5


@pytest.mark.parametrize("seekers", ["S0000001", {"seeker_id": "S1"}, 5, None, (s for s in ["S1"])],
                         ids=["string", "mapping", "int", "None", "generator"])
def test_rank_many_needs_a_sequence(ranker: Ranker, seekers) -> None:
    with pytest.raises(InvalidRequestError, match="sequence"):
        ranker.rank_many(seekers, k=3)


def test_rank_many_takes_lists_tuples_and_arrays(ranker: Ranker) -> None:
    ids = list(ranker.seeker_ids.ids[:3])
    expected = ranker.rank_many(ids, k=3, **OPEN)
    assert ranker.rank_many(tuple(ids), k=3, **OPEN) == expected
    assert ranker.rank_many(np.asarray(ids, dtype=object), k=3, **OPEN) == expected
    with pytest.raises(InvalidRequestError, match="no seekers"):
        ranker.rank_many([], k=3)
    with pytest.raises(InvalidFilterError, match="reasons"):
        ranker.rank_many(ids, k=3, reasons="yes")


def test_errors_name_field_row_and_rule_and_survive_pickling() -> None:
    import pickle

    error = InvalidFilterError("exclude_applied", "must be a boolean", row=2, value="false")
    assert (error.field, error.row, error.rule) == ("exclude_applied", 2, "must be a boolean")
    assert str(error) == "row 2: exclude_applied = 'false': must be a boolean"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is InvalidFilterError and str(copy) == str(error)
    assert str(InvalidProfileError("a preformatted message")) == "a preformatted message"
