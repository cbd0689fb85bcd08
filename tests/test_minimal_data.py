"""Every model on data that is not the synthetic market's: few columns, open vocabularies, a short funnel.

A "foreign" job-board export is built here: integer ids cast to strings, US regions instead of
Guangzhou districts, no coordinates, wages or posting dates, English titles, a company column, a few
seeker skills, and only ``view`` and ``apply`` events with timezone-aware timestamps. Every model fits
and recommends on it, or raises its documented typed error. Property tests then drop or blank random
subsets of the optional columns of the full toy tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from recsys.cli.pipeline import build_model
from recsys.cli.schemas import register_configs
from recsys.data.dataset import Dataset
from recsys.data.events import EventFunnel
from recsys.features import FeatureError
from recsys.features.blocks import NoUsableFeaturesError
from recsys.models import (
    EASE,
    Content,
    ItemKNN,
    LightFMCollaborative,
    LightFMHybrid,
    MissingColumnsError,
    Popularity,
    RandomRecommender,
    Recommender,
)
from recsys.models.base import NoTrainingEventsError
from recsys.paths import config_dir
from tests.toy_tables import toy_dataset

FAST = {"epochs": 5, "no_components": 8}
ROLES = {  # role -> (titles, skills)
    "kitchen": (["Line Cook", "Prep Cook", "Kitchen Porter"], ["cooking", "food safety"]),
    "warehouse": (["Warehouse Associate", "Forklift Operator", "Picker Packer"], ["forklift", "inventory"]),
    "software": (["Backend Engineer", "Data Engineer", "QA Engineer"], ["python", "sql"]),
    "care": (["Home Care Aide", "Nursing Assistant", "Caregiver"], ["first aid", "patient care"]),
}
REGIONS = ["California", "Texas", "New York", "Ohio"]


def foreign_tables(n_seekers: int = 60, n_jobs: int = 40, seed: int = 0
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A small job-board export: seekers view jobs of their role (and some others) and apply to a few."""
    rng = np.random.default_rng(seed)
    roles = list(ROLES)
    job_role = np.arange(n_jobs) % len(roles)
    jobs = pd.DataFrame({
        "job_id": (5000 + np.arange(n_jobs)).astype(str),
        "title": [ROLES[roles[r]][0][i % 3] for i, r in enumerate(job_role)],
        "employer_id": [f"Acme {r}" for r in rng.integers(0, 8, n_jobs)],
        "district": rng.choice(REGIONS, n_jobs),
    })
    seeker_role = rng.integers(0, len(roles), n_seekers)
    skills = [list(ROLES[roles[r]][1][: rng.integers(1, 3)]) if rng.random() < 0.6 else None for r in seeker_role]
    seekers = pd.DataFrame({
        "seeker_id": (100 + np.arange(n_seekers)).astype(str),
        "district": rng.choice(REGIONS, n_seekers),
        "skills": skills,
    })
    start = pd.Timestamp("2024-03-01", tz="America/Chicago")
    rows = []
    for s, role in enumerate(seeker_role):
        own = np.flatnonzero(job_role == role)
        viewed = np.unique(np.concatenate([rng.choice(own, 4, replace=False), rng.integers(0, n_jobs, 2)]))
        for k, j in enumerate(viewed):
            ts = start + pd.Timedelta(hours=int(rng.integers(0, 24 * 60)))
            rows.append((seekers["seeker_id"][s], jobs["job_id"][j], ts, "view"))
            if job_role[j] == role and k % 2 == 0:
                rows.append((seekers["seeker_id"][s], jobs["job_id"][j], ts + pd.Timedelta(minutes=5), "apply"))
    interactions = pd.DataFrame(rows, columns=["seeker_id", "job_id", "ts", "event"])
    return seekers, jobs, interactions


@pytest.fixture(scope="module")
def foreign() -> Dataset:
    return Dataset(*foreign_tables(), validate=False)


ALL_MODELS = {
    "random": lambda: RandomRecommender(seed=0),
    "popularity": lambda: Popularity(),
    "popularity_district": lambda: Popularity(mode="district"),
    "popularity_recent": lambda: Popularity(mode="recent"),
    "item_knn": lambda: ItemKNN(),
    "ease": lambda: EASE(),
    "content": lambda: Content(),
    "lightfm": lambda: LightFMCollaborative(**FAST),
    "lightfm_hybrid": lambda: LightFMHybrid(**FAST),
}


@pytest.mark.parametrize("name", list(ALL_MODELS))
def test_every_model_fits_and_recommends_on_foreign_data(name: str, foreign: Dataset) -> None:
    model = ALL_MODELS[name]().fit(foreign)
    warm = foreign.seekers["seeker_id"].to_numpy()[model.known_seekers_][:10]
    lists = model.recommend(warm, k=5)
    assert set(lists["seeker_id"]) == set(warm)
    assert lists.groupby("seeker_id").size().max() == 5
    assert set(lists["job_id"]) <= set(foreign.jobs["job_id"])
    assert np.isfinite(lists["score"]).all()
    applied = foreign.interactions.query("event == 'apply'")
    seen = set(zip(applied["seeker_id"], applied["job_id"], strict=True))
    assert not any((s, j) in seen for s, j in zip(lists["seeker_id"], lists["job_id"], strict=True))


@pytest.mark.parametrize("name", ["content", "lightfm_hybrid", "popularity_district"])
def test_profile_models_rank_cold_seekers_on_foreign_data(name: str) -> None:
    seekers, jobs, interactions = foreign_tables()
    cold = seekers["seeker_id"].iloc[:5]
    dataset = Dataset(seekers, jobs, interactions.loc[~interactions["seeker_id"].isin(cold)], validate=False)
    model = ALL_MODELS[name]().fit(dataset)
    assert not model.known_seekers_[:5].any()
    lists = model.recommend(cold.to_numpy(), k=5)
    assert lists.groupby("seeker_id").size().tolist() == [5] * 5


def test_models_use_what_the_foreign_data_has(foreign: Dataset) -> None:
    content = Content().fit(foreign)
    assert content.terms_ == ["text_skill_sim", "text_history_sim", "same_district"]
    assert "skill_overlap" in content.skipped_terms_  # jobs have no skills column
    assert content.feature_names_ == content.terms_  # no group flags, no schedules: no crosses
    hybrid = LightFMHybrid(**FAST, job_blocks=("district", "employer", "text", "wage_band")).fit(foreign)
    assert [b.name for b in hybrid.seeker_features_.blocks_] == ["district", "skills"]
    assert [b.name for b in hybrid.job_features_.blocks_] == ["district", "employer", "text"]
    assert "wage_band" in hybrid.job_features_.skipped_blocks_
    assert hybrid.job_features_.blocks_[-1].analyzer_ == "word"  # English titles
    assert "text:engineer" in hybrid.job_features_.feature_names_
    district = Popularity(mode="district").fit(foreign)
    assert district.effective_mode_ == "district" and district.table_.shape[0] == len(REGIONS) + 1


def test_popularity_by_district_falls_back_to_global_without_districts(foreign: Dataset) -> None:
    no_district = Dataset(foreign.seekers.drop(columns="district"), foreign.jobs, foreign.interactions,
                          validate=False)
    model = Popularity(mode="district").fit(no_district)
    assert model.effective_mode_ == "global"
    np.testing.assert_array_equal(model.score([0, 1]), Popularity().fit(no_district).score([0, 1]))
    # a seeker without a district gets the global counts
    partial = foreign.seekers.assign(district=foreign.seekers["district"].where(foreign.seekers.index > 0))
    model = Popularity(mode="district").fit(Dataset(partial, foreign.jobs, foreign.interactions, validate=False))
    global_order = np.argsort(-Popularity().fit(foreign).score([0])[0], kind="stable")
    np.testing.assert_array_equal(np.argsort(-model.score([0])[0], kind="stable"), global_order)


def test_the_funnel_is_the_datasets(foreign: Dataset) -> None:
    """Models point at any event by their constructor; absent training events are a typed error."""
    views = foreign.with_interactions((foreign.interactions["event"] == "view").to_numpy())
    for model in (Popularity(), Content(), LightFMCollaborative(**FAST), LightFMHybrid(**FAST),
                  ItemKNN(event_weights={"apply": 1.0}), EASE(event_weights={"apply": 1.0})):
        with pytest.raises(NoTrainingEventsError, match=r"\['view'\]") as error:
            model.fit(views)
        assert error.value.present == ["view"] and "apply" in error.value.needed
    for model in (Popularity(event="view"), Content(events=["view"]), LightFMHybrid(**FAST, event_weights={"view": 1.0}),
                  ItemKNN(), EASE()):
        assert len(model.fit(views).recommend(views.seekers["seeker_id"].iloc[:3].to_numpy(), k=3)) == 9
    clicks = foreign.interactions.assign(event=foreign.interactions["event"].map({"view": "click", "apply": "reply"}))
    xing = Dataset(foreign.seekers, foreign.jobs, clicks, validate=False,
                   funnel=EventFunnel(("click", "bookmark", "reply"), seen_from="bookmark"))
    with pytest.raises(NoTrainingEventsError, match="bookmark"):
        Popularity(event="bookmark").fit(xing)
    # the counts, and the known-job mask, follow the dataset's own funnel
    np.testing.assert_array_equal(Popularity(event="reply").fit(xing).table_, Popularity().fit(foreign).table_)
    reply = Popularity(event="reply").fit(xing)
    np.testing.assert_array_equal(reply.known_jobs_, xing.warm_jobs())
    assert reply.recommend(xing.seekers["seeker_id"].iloc[:2].to_numpy(), k=3)["score"].gt(0).any()


def test_no_usable_profile_column(foreign: Dataset) -> None:
    ids_only = Dataset(foreign.seekers[["seeker_id"]], foreign.jobs[["job_id"]], foreign.interactions, validate=False)
    with pytest.raises(NoUsableFeaturesError, match="collaborative model"):
        Content().fit(ids_only)
    # LightFMHybrid falls back to identity features at full weight on the side with none
    hybrid = LightFMHybrid(**FAST).fit(ids_only)
    assert hybrid.seeker_features_.n_features_ == 0 and hybrid.job_features_.n_features_ == 0
    x = hybrid.job_feature_matrix(rows=np.arange(3))
    assert x.shape[1] == hybrid.n_job_identities_ and set(x.data) == {1.0}
    collaborative = LightFMCollaborative(**FAST).fit(ids_only)
    rows = np.flatnonzero(hybrid.known_seekers_)[:5]
    np.testing.assert_allclose(hybrid.score(rows), collaborative.score(rows), rtol=1e-5, atol=1e-5)
    assert len(hybrid.recommend(ids_only.seekers["seeker_id"].iloc[:2].to_numpy(), k=3)) == 6


# ---------------------------------------------------------------------- the CLI's model configs
MODEL_OPTIONS = sorted(path.stem for path in (config_dir() / "model").glob("*.yaml"))
FEATURE_OPTIONS = sorted(path.stem for path in (config_dir() / "features").glob("*.yaml"))
CONFIG_CASES = [(option, "standard") for option in MODEL_OPTIONS] + [
    ("lightfm_hybrid", features) for features in FEATURE_OPTIONS if features != "standard"]
"""Every model option with the default features, and the hybrid (the only reader of the group) with each."""


@pytest.mark.parametrize(("option", "features"), CONFIG_CASES)
def test_every_model_config_fits_foreign_data_with_its_defaults(option: str, features: str, foreign: Dataset
                                                                 ) -> None:
    """``recsys-train model=<option> features=<...>`` as composed, with no override for the data."""
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"model={option}", f"features={features}",
                                                      "data_dir=/nonexistent", "output_dir=/nonexistent"])
    model = build_model(cfg.model)
    try:
        model.fit(foreign)
    except MissingColumnsError as error:  # e.g. Nearest on an export without coordinates: says which columns
        assert error.missing and all(name.split(".")[1] not in getattr(foreign, name.split(".")[0]).columns
                                     for name in error.missing)
        return
    warm = foreign.seekers["seeker_id"].to_numpy()[model.known_seekers_][:3]
    assert model.recommend(warm, k=5).groupby("seeker_id").size().tolist() == [5, 5, 5]


# ---------------------------------------------------------------------- property tests
SEEKER_OPTIONAL = ("registered_at", "age", "gender", "education", "is_graduate", "is_4050", "is_unemployed",
                   "is_flexible", "district", "lat", "lon", "station_id", "skills", "experience_years",
                   "desired_job_types", "reservation_wage", "max_commute_km")
JOB_OPTIONAL = ("employer_id", "occupation", "industry", "title", "description", "skills", "min_education",
                "age_min", "age_max", "wage_min", "wage_max", "wage_unit", "job_type", "schedule", "district",
                "lat", "lon", "channel", "event_id", "posted_at", "expires_at", "vacancies")
TYPED_ERRORS = (FeatureError, NoTrainingEventsError)  # FeatureError covers NoUsableFeaturesError


@pytest.fixture(scope="module")
def full() -> Dataset:
    return toy_dataset(n_seekers=30, n_jobs=16)


def _thin(table: pd.DataFrame, columns: tuple[str, ...], fate: dict[str, str]) -> pd.DataFrame:
    """Drop (``"absent"``), blank (``"null"``) or half-blank (``"partial"``) the columns chosen by hypothesis."""
    out = table.drop(columns=[c for c in columns if fate.get(c) == "absent"])
    for column in (c for c in columns if fate.get(c) == "null"):
        out[column] = pd.Series([None] * len(out), dtype=object)
    for column in (c for c in columns if fate.get(c) == "partial"):
        out[column] = out[column].astype(object).where(np.arange(len(out)) % 2 == 0, None)
    return out


def _fates(columns: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(columns), st.sampled_from(["absent", "null", "partial"]))


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seeker_fate=_fates(SEEKER_OPTIONAL), job_fate=_fates(JOB_OPTIONAL),
       model_name=st.sampled_from(["content", "lightfm_hybrid"]))
def test_any_subset_of_optional_columns_fits_and_ranks_or_raises_a_typed_error(
        full: Dataset, seeker_fate: dict[str, str], job_fate: dict[str, str], model_name: str) -> None:
    dataset = Dataset(_thin(full.seekers, SEEKER_OPTIONAL, seeker_fate), _thin(full.jobs, JOB_OPTIONAL, job_fate),
                      full.interactions.drop(columns=["seeker_row", "job_row"]), validate=False)
    model: Recommender = (Content() if model_name == "content" else
                          LightFMHybrid(epochs=2, no_components=4, job_blocks=JOB_FEATURE_BLOCKS))
    try:
        model.fit(dataset)
    except TYPED_ERRORS as error:
        event(f"{model_name}: {type(error).__name__}")
        return
    event(f"{model_name}: fitted")
    lists = model.recommend(dataset.seekers["seeker_id"].to_numpy()[[0, 7]], k=4)
    assert lists.groupby("seeker_id").size().tolist() == [4, 4]
    assert np.isfinite(lists["score"]).all()


JOB_FEATURE_BLOCKS = ("district", "occupation", "industry", "job_type", "schedule", "channel", "skills",
                      "wage_band", "education", "age_limit", "employer", "text")


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(st.sampled_from(["view", "apply", "interview", "hire"]), min_size=1, max_size=3, unique=True))
def test_any_funnel_fits_every_model_or_raises_no_training_events(foreign: Dataset, events: list[str]) -> None:
    """Relabel the foreign log's events with a random part of the funnel; every model copes or says why."""
    relabelled = foreign.interactions.drop(columns=["seeker_row", "job_row"]).assign(
        event=np.asarray(events, dtype=object)[np.arange(len(foreign.interactions)) % len(events)])
    dataset = Dataset(foreign.seekers, foreign.jobs, relabelled, validate=False)
    warm = dataset.seekers["seeker_id"].to_numpy()[:4]
    for name, make in ALL_MODELS.items():
        try:
            model = make().fit(dataset)
        except NoTrainingEventsError as error:
            assert not set(error.needed) & set(events) and error.present == sorted(events)
            event(f"{name}: NoTrainingEventsError")
            continue
        lists = model.recommend(warm, k=3)
        assert lists.groupby("seeker_id").size().max() <= 3 and np.isfinite(lists["score"]).all()
        event(f"{name}: fitted")
