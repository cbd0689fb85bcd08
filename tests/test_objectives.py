"""Placement objectives in the ranking API: keys, two-stage re-ranking, congestion, reasons, artifacts, configs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from recsys.api import Ranker
from recsys.api.errors import ArtifactError, InvalidFilterError, PlacementUnavailableError, UnknownJobError
from recsys.api.objectives import (
    ApplyCalibration,
    Objective,
    as_objective,
    competition,
    objective_keys,
)
from recsys.api.reasons import PLACEMENT_FACTORS
from recsys.data.dataset import Dataset
from recsys.models.hiring import HiringModel
from recsys.models.lightfm import LightFMHybrid

pytestmark = pytest.mark.slow  # processes, several fits or a simulated market: the full suite only

OPEN = {"max_commute_km": float("inf"), "meets_requirements": False}


@pytest.fixture(scope="module")
def fitted(tiny_data_dir: Path) -> tuple[LightFMHybrid, HiringModel, Dataset]:
    dataset = Dataset.load(tiny_data_dir)
    model = LightFMHybrid(no_components=16, epochs=3, random_state=0).fit(dataset)
    return model, HiringModel(max_iter=20, random_state=0).fit(dataset), dataset


@pytest.fixture()
def ranker(fitted: tuple[LightFMHybrid, HiringModel, Dataset]) -> Ranker:
    model, hiring, dataset = fitted
    return Ranker.from_model(model, dataset, hiring=hiring)


def _seeker(ranker: Ranker) -> str:
    return str(ranker.seeker_ids.ids[3])


def test_objective_keys_follow_their_definitions() -> None:
    scores, p = np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.5, 0.02])
    calibration = ApplyCalibration(slope=2.0, intercept=-1.0)
    logit = 2.0 * scores - 1.0
    key, hire_term, congestion_term = objective_keys(Objective("hire"), scores, p, calibration, None)
    np.testing.assert_allclose(key, np.log(p / (1 + np.exp(-logit))))
    np.testing.assert_allclose(hire_term, np.log(p))
    assert (congestion_term == 0).all()
    sigma = 0.5
    key, _, _ = objective_keys(Objective("surplus", surplus_sigma=sigma), scores, p, calibration, None)
    np.testing.assert_allclose(np.exp(key), p * sigma * np.log1p(np.exp(logit / sigma)))
    crowd = np.array([0.0, 3.0, 1.0])
    key, _, congestion_term = objective_keys(Objective("apply", congestion=2.0), scores, None, None, crowd)
    np.testing.assert_allclose(key, scores - 2.0 * np.log1p(crowd))
    # a large sigma ranks by the hiring probability alone
    key, _, _ = objective_keys(Objective("surplus", surplus_sigma=1e4), scores, p, calibration, None)
    assert np.argsort(key).tolist() == np.argsort(p).tolist()


def test_competition_counts_applicants_and_predicted_ones_per_opening() -> None:
    day = 86_400 * 10**9
    c = competition(np.array([4.0, 0.0, 4.0]), np.array([2.0, 1.0, 4.0]), np.array([0, 0, 0]),
                    np.array([20 * day, 20 * day, 10 * day]), 4 * day, horizon_days=14.0)
    # 4 so far in 4 days -> 1/day; 14 (capped) or 6 days left; per opening
    np.testing.assert_allclose(c, [(4 + 14) / 2, 0.0, (4 + 6) / 4])


@pytest.mark.parametrize("objective", [Objective("apply", congestion=1.5), Objective("hire"),
                                       Objective("hire", congestion=0.5), Objective("surplus", surplus_sigma=0.25),
                                       Objective("surplus", congestion=2.0, surplus_sigma=3.0, horizon_days=7.0)])
def test_compiled_second_stage_equals_the_vectorised_definition(objective: Objective) -> None:
    from recsys.api.kernels import placement_keys
    from recsys.api.objectives import OBJECTIVE_CODES

    rng = np.random.default_rng(3)
    day = 86_400 * 10**9
    n_jobs, now = 40, 30 * day
    applications = rng.poisson(3.0, n_jobs).astype(np.float32)
    vacancies = rng.integers(1, 4, n_jobs).astype(np.float32)
    posted = (now - rng.integers(0, 20, n_jobs) * day).astype(np.int64)
    posted[:3] = np.iinfo(np.int64).min  # unknown posting time
    expires = (now + rng.integers(-2, 30, n_jobs) * day).astype(np.int64)
    jobs = rng.choice(n_jobs, 25, replace=False)
    scores, p = rng.normal(0, 3, 25), rng.uniform(0, 0.4, 25)
    p[0] = 0.0
    calibration = ApplyCalibration(slope=1.3, intercept=-4.0)
    crowd = competition(applications[jobs].astype(float), vacancies[jobs], posted[jobs], expires[jobs], now,
                        objective.horizon_days)
    key, hire_term, congestion_term = objective_keys(objective, scores, p, calibration, crowd)
    out = np.empty((25, 4))
    placement_keys(scores, p, jobs, applications, vacancies, posted, expires, now, OBJECTIVE_CODES[objective.name],
                   objective.surplus_sigma, calibration.slope, calibration.intercept, objective.congestion,
                   objective.horizon_days, out)
    np.testing.assert_allclose(out[:, 0], key, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], hire_term, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[:, 2], congestion_term, rtol=1e-12, atol=1e-12)
    if objective.congestion > 0:
        np.testing.assert_allclose(out[:, 3], crowd, rtol=1e-12)
    else:
        assert np.isnan(out[:, 3]).all()


def test_named_objectives_are_reused_and_still_validated() -> None:
    from recsys.api.objectives import as_objective

    assert as_objective("surplus", 1.0) is as_objective("surplus", 1.0)
    assert as_objective("surplus", 1.0) == Objective("surplus", congestion=1.0, candidates=14, surplus_sigma=0.5)
    for bad in (True, float("nan"), -1.0, [1.0]):
        with pytest.raises(InvalidFilterError, match="congestion"):
            as_objective("apply", bad)


def test_bad_objectives_are_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidFilterError, match="objective"):
        as_objective("clicks")
    with pytest.raises(InvalidFilterError, match="congestion"):
        as_objective("apply", congestion=-1)
    with pytest.raises(InvalidFilterError, match="candidates"):
        Objective("hire", candidates=0)
    with pytest.raises(InvalidFilterError, match="unknown"):
        as_objective({"name": "hire", "strength": 1})


def test_apply_objective_is_todays_ranking(ranker: Ranker) -> None:
    seeker = _seeker(ranker)
    assert ranker.rank(seeker, 10, objective="apply", **OPEN) == ranker.rank(seeker, 10, **OPEN)


def test_hire_objective_reranks_the_apply_candidates_by_its_key(ranker: Ranker) -> None:
    seeker = _seeker(ranker)
    objective = Objective("hire", candidates=30)
    candidates = ranker.rank(seeker, 30, **OPEN)
    hired = ranker.rank(seeker, 10, objective=objective, **OPEN)
    ids = {r.job_id for r in candidates}
    assert {r.job_id for r in hired} <= ids
    keys = [r.score for r in hired]
    assert keys == sorted(keys, reverse=True)
    # recompute the key of a listed job from the definitions: log P(hire | apply) + log P(apply), with
    # P(hire | apply) as its reason quotes it (rounded to a whole percent, hence an interval)
    quoted = next(r for r in hired for reason in r.reasons if reason.code == "hire_chance")
    reason = next(reason for reason in quoted.reasons if reason.code == "hire_chance")
    percent = float(reason.text_en.split("about ")[1].rstrip("%)"))
    apply_score = next(r.score for r in candidates if r.job_id == quoted.job_id)
    log_apply = -np.logaddexp(0, -(ranker.apply_calibration.slope * apply_score + ranker.apply_calibration.intercept))
    low, high = max(percent - 0.5, 1e-6) / 100, (percent + 0.5) / 100
    assert np.log(low) + log_apply - 1e-6 <= quoted.score <= np.log(high) + log_apply + 1e-6
    assert [r.job_id for r in hired] != [r.job_id for r in candidates[:10]]
    assert any(reason.code == "hire_chance" for r in hired for reason in r.reasons)
    assert all(len(r.reasons) <= ranker.max_reasons for r in hired)


def test_rank_many_equals_rank_for_every_objective(ranker: Ranker) -> None:
    seekers = [str(s) for s in ranker.seeker_ids.ids[:6]]
    for objective in ("apply", "hire", "surplus"):
        batch = ranker.rank_many(seekers, 5, objective=objective, congestion=1.0, **OPEN)
        assert batch == [ranker.rank(s, 5, objective=objective, congestion=1.0, **OPEN) for s in seekers]


def test_recorded_applications_push_a_posting_down_under_congestion(ranker: Ranker) -> None:
    seeker = _seeker(ranker)
    before = ranker.rank(seeker, 10, objective="surplus", congestion=1.0, **OPEN)
    top = before[0].job_id
    version = ranker.state.version
    ranker.record_applications([top, top], counts=[40, 10])
    assert ranker.state.version == version + 1
    assert ranker.catalogue.applications[ranker.catalogue.position_of[top]] >= 50
    after = ranker.rank(seeker, 10, objective="surplus", congestion=1.0, **OPEN)
    assert after.version == version + 1
    assert top not in [r.job_id for r in after[:1]]
    assert [r.job_id for r in ranker.rank(seeker, 10, **OPEN)][0] == \
        [r.job_id for r in ranker.with_state(ranker.state).rank(seeker, 10, **OPEN)][0]  # apply ignores counts
    # the new leader is less crowded and says so
    assert any(reason.code == "competition" for reason in after[0].reasons)


def test_record_applications_refuses_bad_input_and_changes_nothing(ranker: Ranker) -> None:
    version = ranker.state.version
    with pytest.raises(UnknownJobError, match="NOPE"):
        ranker.record_applications(["NOPE"])
    with pytest.raises(InvalidFilterError, match="counts"):
        ranker.record_applications([str(ranker.catalogue.job_ids[0])], counts=[-1])
    with pytest.raises(InvalidFilterError, match="counts"):
        ranker.record_applications([str(ranker.catalogue.job_ids[0])], counts=[1, 2])
    assert ranker.state.version == version


def test_placement_objectives_need_a_hiring_model(fitted: tuple[LightFMHybrid, HiringModel, Dataset]) -> None:
    model, _, dataset = fitted
    plain = Ranker.from_model(model, dataset)
    seeker = _seeker(plain)
    with pytest.raises(PlacementUnavailableError, match="hiring model"):
        plain.rank(seeker, 5, objective="surplus")
    assert len(plain.rank(seeker, 5, objective="apply", congestion=1.0, **OPEN)) == 5  # needs counts only


def test_placement_codes_are_known_reason_codes() -> None:
    assert PLACEMENT_FACTORS == ("hire_chance", "competition")


def test_artifact_round_trip_keeps_the_hiring_model_and_counts(ranker: Ranker, tmp_path: Path) -> None:
    seeker = _seeker(ranker)
    ranker.record_applications([str(ranker.catalogue.job_ids[5])], counts=[7])
    ranker.save(tmp_path / "ranker")
    loaded = Ranker.load(tmp_path / "ranker")
    np.testing.assert_array_equal(
        loaded.catalogue.applications[[loaded.catalogue.position_of[j] for j in ranker.catalogue.job_ids]],
        ranker.catalogue.applications)
    for objective in ("hire", "surplus"):
        assert loaded.rank(seeker, 10, objective=objective, congestion=0.5, **OPEN) == \
            ranker.rank(seeker, 10, objective=objective, congestion=0.5, **OPEN)


def test_an_older_artifact_format_gets_a_rebuild_message(ranker: Ranker, tmp_path: Path) -> None:
    path = ranker.save(tmp_path / "ranker")
    manifest = json.loads((path / "ranker.json").read_text())
    manifest["format_version"] = 2
    (path / "ranker.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="older ranker format.*rebuild"):
        Ranker.load(path)


def test_objective_configs_instantiate_objectives() -> None:
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    directory = Path(__file__).resolve().parents[1] / "configs" / "objective"
    names = sorted(p.stem for p in directory.glob("*.yaml"))
    assert {"apply", "hire", "surplus"} <= set(names)
    for name in names:
        with initialize_config_dir(config_dir=os.fspath(directory), version_base=None):
            objective = instantiate(compose(config_name=name))
        assert isinstance(objective, Objective)
        assert objective.name == name.split("_")[0]


def test_offline_objectives_evaluate_like_any_recommender(tiny_data_dir: Path) -> None:
    from recsys.evaluation.evaluate import evaluate
    from recsys.evaluation.splits import temporal_split
    from recsys.placement.offline import PlacementRecommender, calibration_check, run

    table = run(data_dir=tiny_data_dir, n_resamples=20, exact=False)
    assert table["objective"].tolist() == ["apply", "hire (top-50 re-ranked)", "surplus (top-50 re-ranked)",
                                           "apply + congestion 1 (top-50 re-ranked)",
                                           "surplus + congestion 1 (top-50 re-ranked)"]
    for event in ("apply", "hire"):
        assert table[f"hr@10 {event}"].between(0, 1).all()
    # the apply objective is the base model itself
    dataset = Dataset.load(tiny_data_dir)
    split = temporal_split(dataset, last_days=28.0)
    base = LightFMHybrid(random_state=0).fit(split.train)
    direct = evaluate(base, split, ks=(10,), n_resamples=20, slice_metrics=())
    wrapped = evaluate(PlacementRecommender(base, "apply", refit=False).fit(split.train), split, ks=(10,),
                       n_resamples=20, slice_metrics=())
    np.testing.assert_array_equal(direct.recommendations, wrapped.recommendations)
    assert table.loc[0, "hr@10 apply"] == pytest.approx(direct.value("hr", 10))
    # two stages: every recommended job is among the apply model's top 50 for that seeker
    hiring = HiringModel(max_iter=10).fit(split.train)
    served = evaluate(PlacementRecommender(base, "surplus", hiring, refit=False).fit(split.train), split, ks=(10,),
                      n_resamples=20, slice_metrics=())
    top50, _ = base.recommend_rows(split.seeker_rows, 50, exclude_seen=False, cold_seekers="popular",
                                   candidate_mask=lambda rows: split.candidate_block(split.positions(rows)))
    for mine, allowed in zip(served.recommendations, top50, strict=True):
        assert set(mine[mine >= 0]) <= set(allowed[allowed >= 0])
    with pytest.raises(ValueError, match="not fitted on this dataset"):
        PlacementRecommender(base, "hire", refit=False).fit(dataset)
    checks = calibration_check(tiny_data_dir)
    assert checks["target"].tolist() == ["interview", "hire"]
    assert (checks["brier"] < 0.25).all() and (checks["pearson_vs_truth"] > 0).all()


def test_profiles_and_ids_mix_under_placement_objectives(ranker: Ranker) -> None:
    from recsys.api.profile import PROFILE_FIELDS

    record = ranker.seekers.iloc[7].to_dict()
    profile = {field: record[field] for field in PROFILE_FIELDS if field in record}
    seekers = [_seeker(ranker), profile]
    batch = ranker.rank_many(seekers, 5, objective="surplus", congestion=0.5, **OPEN)
    assert batch == [ranker.rank(s, 5, objective="surplus", congestion=0.5, **OPEN) for s in seekers]
    assert len(batch[1]) == 5 and all(r.reasons for r in batch[1])
    one = Ranker(ranker.model, ranker.catalogue, ranker.seekers, ranker.known_seekers, ranker.now, max_reasons=1,
                 hiring=ranker.hiring, apply_calibration=ranker.apply_calibration)
    assert all(len(r.reasons) == 1 for r in one.rank(profile, 5, objective="hire", **OPEN))


def test_served_model_takes_objective_and_congestion_per_row(ranker: Ranker) -> None:
    import pandas as pd

    from recsys.api.pyfunc import RankerModel, RequestRejected

    served = RankerModel()
    served.ranker = ranker
    seeker = _seeker(ranker)
    rows = pd.DataFrame([{"seeker_id": seeker, "k": 3, "objective": "surplus", "congestion": 0.5,
                          "max_commute_km": float("inf"), "meets_requirements": False}])
    out = served.predict(None, rows)
    expected = ranker.rank(seeker, 3, objective="surplus", congestion=0.5, **OPEN)
    assert out["job_id"].tolist() == [r.job_id for r in expected]
    assert "hire_chance" in ",".join(out["reason_codes"])
    with pytest.raises(RequestRejected, match="row 0.*objective"):
        served.predict(None, pd.DataFrame([{"seeker_id": seeker, "objective": "clicks"}]))


def test_named_objectives_start_from_the_tuned_setting_of_the_configs() -> None:
    from omegaconf import OmegaConf

    from recsys.api.objectives import NAMED_PARAMETERS, Objective, as_objective
    from recsys.paths import config_dir

    tuned = OmegaConf.to_container(OmegaConf.load(config_dir() / "objective" / "surplus.yaml"))
    assert isinstance(tuned, dict)
    for field, value in NAMED_PARAMETERS["surplus"].items():
        assert tuned[field] == value
    named = as_objective("surplus", congestion=1.0)
    assert (named.candidates, named.surplus_sigma, named.congestion) == (tuned["candidates"], tuned["surplus_sigma"], 1.0)
    assert as_objective({"name": "surplus", "candidates": 50}).candidates == 50  # a mapping overrides
    assert as_objective({"name": "surplus"}).surplus_sigma == tuned["surplus_sigma"]
    assert as_objective(Objective("surplus")).candidates == Objective().candidates  # an Objective is as given
    assert as_objective("hire").candidates == Objective().candidates
