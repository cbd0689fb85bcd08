"""Validation reports every problem at once: one test per rule, each asserting the full problem list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.data import Dataset, EventFunnel, TableValidationError
from recsys.data.schema import INT16_MAX
from tests.eval_tables import interactions_table, jobs_table, seekers_table

NOW = pd.Timestamp("2025-06-01")


def problems(seekers=None, jobs=None, interactions=None, **kwargs) -> list[tuple[str, str, int, tuple]]:
    """``(where, rule, count, first rows)`` of every problem, in report order."""
    with pytest.raises(TableValidationError) as caught:
        Dataset.from_frames(seekers=seekers_table() if seekers is None else seekers,
                            jobs=jobs_table() if jobs is None else jobs,
                            interactions=interactions_table() if interactions is None else interactions,
                            now=NOW, **kwargs)
    error = caught.value
    assert isinstance(error, ValueError)
    for problem in error.problems:  # the message carries every problem
        assert str(problem) in str(error)
    return [(p.where, p.rule, p.count, p.rows) for p in error.problems]


def test_valid_tables_pass() -> None:
    dataset = Dataset.from_frames(seekers=seekers_table(), jobs=jobs_table(), interactions=interactions_table(),
                                  now=NOW)
    assert len(dataset.interactions) == len(interactions_table())


def test_required_columns_and_not_a_table() -> None:
    assert problems(seekers=seekers_table().drop(columns=["seeker_id"]),
                    interactions=interactions_table().drop(columns=["ts", "event"])) == [
        ("seekers", "required", 0, ()), ("interactions", "required", 0, ())]
    with pytest.raises(TableValidationError, match=r"jobs \[not_a_table\]: expected a pandas DataFrame, got list"):
        Dataset(seekers_table(), [1, 2], interactions_table())


def test_types_of_every_kind_in_one_report() -> None:
    seekers = seekers_table().assign(age=["25", 45, 23, 30, 50], is_graduate=[1, 0, 1, 0, 0],
                                     experience_years=[1.0, np.inf, 1.0, 1.0, 1.0])
    jobs = jobs_table().assign(vacancies=[1.5, 5, 2, 2, 2, 2], district=["tianhe", 3, "x", "y", "z", "w"])
    assert problems(seekers=seekers, jobs=jobs) == [
        ("seekers.age", "type", 5, (0, 1, 2, 3, 4)),
        ("seekers.is_graduate", "type", 5, (0, 1, 2, 3, 4)),
        ("seekers.experience_years", "finite", 1, (1,)),
        ("jobs.district", "type", 1, (1,)),
        ("jobs.vacancies", "type", 1, (0,)),
    ]


def test_missing_values_and_closed_vocabularies_accept_unknown() -> None:
    seekers = seekers_table().assign(gender=["F", "unknown", "X", "M", None], education=["unknown"] * 5)
    assert problems(seekers=seekers) == [("seekers.gender", "missing", 1, (4,)),
                                         ("seekers.gender", "vocabulary", 1, (2,))]


def test_open_regions_take_any_value() -> None:
    seekers = seekers_table().assign(district=["Texas", "Ohio", "Bavaria", "Île-de-France", "tianhe"])
    dataset = Dataset.from_frames(seekers=seekers, jobs=jobs_table(), interactions=interactions_table(), now=NOW)
    assert set(dataset.seekers["district"]) >= {"Texas", "Bavaria"}


def test_duplicate_ids_and_dangling_references() -> None:
    seekers, jobs, interactions = seekers_table(), jobs_table(), interactions_table()
    seekers.loc[3, "seeker_id"] = "S0"
    jobs.loc[4, "job_id"] = "J1"
    interactions.loc[[5, 6], "job_id"] = "J99"
    interactions.loc[2, "seeker_id"] = "S42"
    assert problems(seekers, jobs, interactions) == [
        ("seekers.seeker_id", "duplicate_id", 1, (3,)),
        ("jobs.job_id", "duplicate_id", 1, (4,)),
        ("interactions.seeker_id", "reference", 2, (2, 14)),  # 14: S3, renamed away
        ("interactions.job_id", "reference", 2, (5, 6)),
    ]


def test_value_ranges_and_orders() -> None:
    seekers = seekers_table().assign(lat=[23.1, 91.0, 23.1, -95.0, 23.1], lon=[113.3, 113.3, 181.0, 113.3, 113.3],
                                     age=[25, -1, 23, 30, INT16_MAX + 1], reservation_wage=[4000.0, -1.0, 0, 0, 0])
    jobs = jobs_table().assign(wage_min=[4000.0, -5.0, 7000.0, 4000.0, 4000.0, 4000.0],
                               age_max=pd.array([None, 40, 70000, 17, None, None], dtype="Int64"),
                               vacancies=[1, 0, 2, 2, 2, 2])
    assert problems(seekers=seekers, jobs=jobs) == [
        ("seekers.lat", "range", 2, (1, 3)),
        ("seekers.lon", "range", 1, (2,)),
        ("seekers.reservation_wage", "range", 1, (1,)),
        ("seekers.age", "range", 2, (1, 4)),
        ("jobs.wage_min", "range", 1, (1,)),
        ("jobs.age_max", "range", 1, (2,)),
        ("jobs.vacancies", "range", 1, (1,)),
        ("jobs.wage_max", "order", 1, (2,)),
        ("jobs.age_max", "order", 1, (3,)),
    ]


def test_posting_window_and_expiry_order() -> None:
    jobs, interactions = jobs_table(), interactions_table()
    jobs.loc[1, "expires_at"] = jobs.loc[1, "posted_at"] - pd.Timedelta(days=1)
    interactions.loc[2, "ts"] = pd.Timestamp("2025-02-01")  # before J0 was posted
    assert problems(jobs=jobs, interactions=interactions) == [
        ("jobs.expires_at", "order", 1, (1,)),
        ("interactions.ts", "window", 6, (2, 4, 5, 7, 12)),  # 4, 5, 7, 12, 15: J1, now expired
    ]


def test_skills_must_be_lists_of_strings() -> None:
    seekers = seekers_table().assign(skills=[["cooking"], "cooking", ["a", 3], ["b"], ["c"]])
    assert problems(seekers=seekers) == [("seekers.skills", "type", 1, (1,))]
    seekers = seekers_table().assign(skills=[["cooking"], ["a", 3], ["b"], [None], ["c"]])
    assert problems(seekers=seekers) == [("seekers.skills", "list_of_strings", 2, (1, 3))]


def test_registration_after_own_interactions() -> None:
    seekers = seekers_table().assign(registered_at=pd.to_datetime(["2025-03-03", "2025-01-01", "2025-01-01",
                                                                   "2025-04-01", "2025-01-01"]))
    assert problems(seekers=seekers) == [("seekers.registered_at", "registration", 2, (0, 3))]


def test_far_future_interactions() -> None:
    jobs = jobs_table().assign(expires_at=pd.Timestamp("2099-12-31"))
    interactions = interactions_table()
    interactions.loc[[4, 9], "ts"] = pd.Timestamp("2030-01-01")
    assert problems(jobs=jobs, interactions=interactions) == [("interactions.ts", "future", 2, (4, 9))]


def test_unknown_events_name_the_funnel() -> None:
    interactions = interactions_table()
    interactions.loc[[0, 1], "event"] = "click"
    found = problems(interactions=interactions)
    assert found == [("interactions.event", "event", 2, (0, 1))]
    with pytest.raises(TableValidationError, match=r"\['click'\] are not in the dataset's funnel \['view', 'apply'"):
        Dataset.from_frames(seekers=seekers_table(), jobs=jobs_table(), interactions=interactions, now=NOW)
    funnel = EventFunnel(("click", "view", "apply", "interview", "hire"))
    dataset = Dataset.from_frames(seekers=seekers_table(), jobs=jobs_table(), interactions=interactions,
                                  funnel=funnel, now=NOW)
    assert dataset.describe()["events"]["click"] == 2


def test_timezone_aware_times_need_a_declared_timezone() -> None:
    interactions = interactions_table()
    interactions["ts"] = interactions["ts"].dt.tz_localize("Asia/Shanghai")
    found = problems(interactions=interactions)
    assert found == [("interactions.ts", "timezone", len(interactions), tuple(range(5)))]
    with pytest.raises(TableValidationError, match=r"declare the dataset's timezone \(Dataset.from_frames\(\.\.\., "
                                                   r"timezone='Europe/Berlin'\) or `timezone: Europe/Berlin`"):
        Dataset.from_frames(seekers=seekers_table(), jobs=jobs_table(), interactions=interactions, now=NOW)
    dataset = Dataset.from_frames(seekers=seekers_table(), jobs=jobs_table(), interactions=interactions,
                                  timezone="Asia/Shanghai", now=NOW)
    assert dataset.interactions["ts"].dt.tz is None
    assert dataset.interactions["ts"].iloc[0] == pd.Timestamp("2025-03-02 10:00")  # same wall time


def test_date_only_strings_are_naive_not_an_offset() -> None:
    """"2025-03-05" ends like a "-05" offset; it is a naive date (it was once read as aware)."""
    interactions = interactions_table()
    interactions["ts"] = interactions["ts"].dt.strftime("%Y-%m-%d")
    dataset = Dataset.from_frames(seekers=seekers_table(), jobs=jobs_table(), interactions=interactions, now=NOW)
    assert dataset.interactions["ts"].dt.tz is None
    np.testing.assert_array_equal(dataset.interactions["ts"].to_numpy(),
                                  np.sort(interactions_table()["ts"].dt.floor("D").to_numpy()))


def test_iso_strings_with_offsets_are_converted_and_mixed_ones_refused() -> None:
    interactions = interactions_table()
    interactions["ts"] = (interactions["ts"] - pd.Timedelta(hours=8)).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    interactions.loc[0, "ts"] = "2025-03-02 02:00 UTC"
    interactions.loc[1, "ts"] = "2025-03-02T12:00:00+08:00"
    dataset = Dataset.from_frames(seekers=seekers_table(), jobs=jobs_table(), interactions=interactions,
                                  timezone="Asia/Shanghai", now=NOW)
    np.testing.assert_array_equal(dataset.interactions["ts"].to_numpy(),
                                  np.sort(interactions_table()["ts"].to_numpy()))
    interactions.loc[3, "ts"] = "2025-03-03 09:00"  # naive among aware ones
    interactions.loc[5, "ts"] = "yesterday"
    # the minority (naive) rows are named
    assert problems(interactions=interactions, timezone="Asia/Shanghai") == [
        ("interactions.ts", "mixed_timezone", 2, (3, 5))]
    interactions.loc[3, "ts"] = "2025-03-03T09:00:00Z"
    interactions.loc[5, "ts"] = "2025-13-45T09:00:00Z"
    assert problems(interactions=interactions, timezone="Asia/Shanghai") == [("interactions.ts", "type", 1, (5,))]


def test_lat_without_lon_and_integer_ids() -> None:
    seekers = seekers_table().drop(columns=["lon"])
    assert problems(seekers=seekers) == [("seekers.lat", "pair", 0, ())]
    seekers = seekers_table().assign(seeker_id=range(5))
    interactions = interactions_table().assign(seeker_id=lambda f: f["seeker_id"].str[1:].astype(int))
    dataset = Dataset.from_frames(seekers=seekers, jobs=jobs_table(), interactions=interactions, now=NOW)
    assert dataset.seeker_ids.ids.tolist() == ["0", "1", "2", "3", "4"]
    assert dataset.interactions["seeker_id"].iloc[0] == "0"


def test_everything_wrong_at_once() -> None:
    """Problems of several tables and rules come in one error, table by table."""
    seekers = seekers_table().assign(gender=["F", "M", "Q", "M", "F"])
    jobs = jobs_table().assign(vacancies=[1, 0, 2, 2, 2, 2])
    interactions = interactions_table()
    interactions.loc[0, "job_id"] = "J77"
    interactions.loc[1, "event"] = "like"
    assert problems(seekers, jobs, interactions) == [
        ("seekers.gender", "vocabulary", 1, (2,)),
        ("jobs.vacancies", "range", 1, (1,)),
        ("interactions.event", "event", 1, (1,)),
        ("interactions.job_id", "reference", 1, (0,)),
    ]
