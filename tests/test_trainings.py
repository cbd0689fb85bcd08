"""Completed trainings: skills as of a time, the dataset's freeze time, and features that never see later ones."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.data import Dataset
from recsys.data.trainings import skills_as_of
from recsys.evaluation.evaluate import rank_split
from recsys.evaluation.splits import rolling_split, temporal_split
from recsys.features import seeker_profiles
from recsys.models.content import Content
from recsys.models.lightfm import LightFMHybrid
from recsys.models.popularity import Popularity
from tests.toy_tables import toy_dataset

T = pd.Timestamp("2024-03-01")


def _seekers() -> pd.DataFrame:
    return pd.DataFrame({"seeker_id": ["a", "b", "c"], "skills": [["x"], [], ["y", "z"]]}, index=[10, 11, 12])


def _trainings(*rows: tuple[str, str, str | None]) -> pd.DataFrame:
    seeker, skill, at = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame({"seeker_id": list(seeker), "skill": list(skill),
                         "completed_at": pd.to_datetime(list(at), format="ISO8601").astype("datetime64[ns]")})


# ---------------------------------------------------------------------------------------------- skills_as_of
def test_a_training_counts_only_when_completed_strictly_before_the_time() -> None:
    trainings = _trainings(("b", "v", "2024-02-29 23:59"), ("c", "k", "2024-03-01"), ("a", "w", "2024-03-02"))
    skills = skills_as_of(_seekers(), trainings, T)
    assert skills.tolist() == [["x"], ["v"], ["y", "z"]]  # at the boundary (c) and after (a): not yet
    assert skills.index.tolist() == [10, 11, 12]
    later = skills_as_of(_seekers(), trainings, T + pd.Timedelta(days=2))
    assert later.tolist() == [["x", "w"], ["v"], ["y", "z", "k"]]


def test_known_skills_are_not_repeated_and_new_ones_follow_in_completion_order() -> None:
    trainings = _trainings(("a", "q", "2024-02-10"), ("a", "x", "2024-01-05"), ("a", "p", "2024-01-20"),
                           ("a", "p", "2024-02-01"))
    assert skills_as_of(_seekers(), trainings, T).tolist()[0] == ["x", "p", "q"]


def test_unknown_seekers_and_uncompleted_trainings_are_ignored() -> None:
    trainings = _trainings(("nobody", "v", "2024-01-01"), ("b", "u", None))
    assert skills_as_of(_seekers(), trainings, T).tolist() == [["x"], [], ["y", "z"]]


def test_missing_table_or_profile_skills() -> None:
    seekers = _seekers()
    assert skills_as_of(seekers, None, T).tolist() == seekers["skills"].tolist()
    assert skills_as_of(seekers, _trainings(), T).tolist() == seekers["skills"].tolist()
    no_skills = skills_as_of(seekers.drop(columns="skills"), _trainings(("c", "k", "2024-01-01")), T)
    assert no_skills.tolist() == [[], [], ["k"]]


def test_the_input_table_is_not_modified() -> None:
    seekers = _seekers()
    skills_as_of(seekers, _trainings(("a", "w", "2024-01-01")), T)
    assert seekers["skills"].tolist() == [["x"], [], ["y", "z"]]


# ---------------------------------------------------------------------------------------------- Dataset
def _with_trainings(dataset: Dataset, trainings: pd.DataFrame | None) -> Dataset:
    extras = {} if trainings is None else {"trainings": trainings}
    return Dataset(dataset.seekers, dataset.jobs, dataset.interactions.drop(columns=["seeker_row", "job_row"]),
                   extras, funnel=dataset.funnel)


@pytest.fixture(scope="module")
def toy() -> Dataset:
    return toy_dataset()


def _cutoff(dataset: Dataset) -> pd.Timestamp:
    ts = dataset.interactions["ts"]
    return ts.quantile(0.7).floor("D")


def test_splits_freeze_their_training_set_at_the_cutoff(toy: Dataset) -> None:
    cutoff = _cutoff(toy)
    assert temporal_split(toy, cutoff).train.as_of == cutoff
    assert rolling_split(toy, cutoff).train.as_of == cutoff
    early = toy.with_interactions((toy.interactions["ts"] < cutoff).to_numpy())
    assert early.as_of is None  # never inherited: just after its own last interaction
    assert early.frozen_at() == early.interactions["ts"].max() + pd.Timedelta(1, "ns")


FROZEN_AT: list[pd.Timestamp | None] = []


class _RecordsFreezeTime(Popularity):
    def _fit(self, dataset: Dataset) -> None:
        FROZEN_AT.append(dataset.frozen_at())
        super()._fit(dataset)


def test_refits_are_frozen_at_their_refit_time(toy: Dataset) -> None:
    cutoff = _cutoff(toy)
    split = rolling_split(toy, cutoff)
    FROZEN_AT.clear()
    rank_split(_RecordsFreezeTime().fit(split.train), split, 5, refit_every=3)
    assert len(FROZEN_AT) > 2
    assert FROZEN_AT == [cutoff + pd.Timedelta(days=3 * i) for i in range(len(FROZEN_AT))]


def test_seekers_as_of_adds_trainings_before_the_freeze_time_only(toy: Dataset) -> None:
    cutoff = _cutoff(toy)
    seeker = toy.seekers["seeker_id"].iloc[0]
    trainings = _trainings((seeker, "before", str(cutoff - pd.Timedelta(hours=1))),
                           (seeker, "at", str(cutoff)), (seeker, "after", str(cutoff + pd.Timedelta(days=1))))
    train = temporal_split(_with_trainings(toy, trainings), cutoff).train
    skills = train.seekers_as_of()["skills"]
    assert skills.iloc[0] == [*toy.seekers["skills"].iloc[0], "before"]
    assert skills.iloc[1:].tolist() == toy.seekers["skills"].iloc[1:].tolist()
    assert train.seekers["skills"].iloc[0] == toy.seekers["skills"].iloc[0]  # the profile table is unchanged
    capability = "completed trainings in seeker skills (features.completed_trainings=true)"
    assert capability in train.describe()["enabled"] and capability in toy.describe()["disabled"]


# ---------------------------------------------------------------------------------------------- features
SKILL = "programming_python"  # a skill of the vocabulary (coders' jobs) that cooks do not have


def _cook(dataset: Dataset, cutoff: pd.Timestamp) -> str:
    """A seeker without SKILL who has training interactions before ``cutoff`` (a warm seeker)."""
    before = dataset.interactions.loc[dataset.interactions["ts"] < cutoff, "seeker_row"].unique()
    lacks = ~dataset.seekers["skills"].map(lambda s: SKILL in s).to_numpy()
    row = int(np.flatnonzero(lacks & np.isin(np.arange(dataset.n_seekers), before))[0])
    return str(dataset.seekers["seeker_id"].iloc[row])


def _fit_both(dataset: Dataset, cutoff: pd.Timestamp) -> tuple[Content, LightFMHybrid, sp.csr_matrix]:
    train = temporal_split(dataset, cutoff).train
    content = Content(text_max_features=200, completed_trainings=True).fit(train)
    hybrid = LightFMHybrid(epochs=2, no_components=4, completed_trainings=True)
    _, user_x, _ = hybrid.training_matrices(train)
    hybrid.fit(train)
    return content, hybrid, user_x


def test_a_training_completed_after_the_cutoff_changes_no_feature_row(toy: Dataset) -> None:
    cutoff = _cutoff(toy)
    cook = _cook(toy, cutoff)
    late = _trainings((cook, SKILL, str(cutoff)), (cook, "welding", str(cutoff + pd.Timedelta(days=3))))
    content, hybrid, user_x = _fit_both(_with_trainings(toy, None), cutoff)
    content_late, hybrid_late, user_x_late = _fit_both(_with_trainings(toy, late), cutoff)
    np.testing.assert_array_equal(content_late.seeker_skills_, content.seeker_skills_)
    np.testing.assert_array_equal(content_late.coef_, content.coef_)
    assert content_late.skill_names_ == content.skill_names_  # the later skill does not even enter the vocabulary
    assert (user_x_late != user_x).nnz == 0
    assert hybrid_late.seeker_features_.feature_names_ == hybrid.seeker_features_.feature_names_
    np.testing.assert_array_equal(hybrid_late.seeker_emb_, hybrid.seeker_emb_)


def test_a_training_completed_before_the_cutoff_adds_its_skill(toy: Dataset) -> None:
    cutoff = _cutoff(toy)
    cook = _cook(toy, cutoff)
    row = int(toy.seeker_ids.to_rows([cook])[0])
    early = _trainings((cook, SKILL, str(cutoff - pd.Timedelta(days=1))))
    content, hybrid, user_x = _fit_both(_with_trainings(toy, None), cutoff)
    content_on, hybrid_on, user_x_on = _fit_both(_with_trainings(toy, early), cutoff)
    skill = content.skill_names_.index(SKILL)
    assert content.seeker_skills_[row, skill] == 0 and content_on.seeker_skills_[row, skill] == 1
    others = np.arange(toy.n_seekers) != row
    np.testing.assert_array_equal(content_on.seeker_skills_[others], content.seeker_skills_[others])
    column = hybrid_on.seeker_features_.feature_names_.index(f"skills={SKILL}")
    start = hybrid_on.n_seeker_identities_  # identity columns first
    identity = int(hybrid_on.seeker_identity_[row])
    assert user_x[identity, start + column] == 0 and user_x_on[identity, start + column] > 0
    changed = np.flatnonzero(np.asarray((user_x_on != user_x).sum(axis=1)).ravel())
    assert changed.tolist() == [identity]


def test_the_switch_is_off_by_default_and_a_no_op_without_the_table(toy: Dataset,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    cutoff = _cutoff(toy)
    cook = _cook(toy, cutoff)
    early = temporal_split(_with_trainings(toy, _trainings((cook, SKILL, str(cutoff - pd.Timedelta(days=1))))),
                           cutoff).train
    assert seeker_profiles(early) is early.seekers  # off: the profile table as it is
    assert not Content().completed_trainings and not LightFMHybrid().completed_trainings
    bare = temporal_split(toy, cutoff).train
    with caplog.at_level(logging.WARNING, logger="recsys.features.tables"):
        assert seeker_profiles(bare, completed_trainings=True) is bare.seekers
    assert "no trainings table" in caplog.text
