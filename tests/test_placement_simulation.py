"""Placement objectives inside the simulated market: live application counts, shared fits, the CLI kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from recsys.api.objectives import Objective
from recsys.data.dataset import Dataset
from recsys.models.hiring import HiringModel
from recsys.models.lightfm import LightFMHybrid
from recsys.paths import config_dir
from recsys.placement.offline import PlacementRecommender, objective_label, parse_objective
from recsys.simulation import RecommendationChannel, RecommenderPolicy, load_snapshot, run_policy
from recsys.simulation.market import applications_so_far
from recsys.simulation.policies import MarketObserver

pytestmark = pytest.mark.slow  # fits a model and simulates a market: the full suite only


@pytest.fixture(scope="module")
def market(tiny_data_dir: Path) -> tuple[object, Dataset, LightFMHybrid, HiringModel]:
    snapshot = load_snapshot(tiny_data_dir)
    dataset = Dataset.load(tiny_data_dir)
    cutoff = snapshot.start_ns + np.timedelta64(snapshot.cutoff_day, "D")
    train = dataset.with_interactions(dataset.interactions["ts"].to_numpy() < cutoff)
    base = LightFMHybrid(no_components=16, epochs=3, random_state=0).fit(train)
    return snapshot, train, base, HiringModel(max_iter=20, random_state=0).fit(train)


def test_applications_so_far_count_every_application_before_the_cutoff(market: tuple) -> None:
    snapshot, train, _, _ = market
    candidates = np.arange(len(snapshot.job_ids))
    counts = applications_so_far(snapshot.state, candidates)
    applied = train.interactions[train.event_mask("apply")].drop_duplicates(["seeker_row", "job_row"])
    expected = applied.groupby("job_id", observed=True).size()
    got = pd.Series(counts, index=snapshot.job_ids)
    assert counts.sum() > 0
    assert (got.reindex(expected.index) == expected.to_numpy()).all()
    assert got.drop(expected.index).eq(0).all()


def test_objective_policy_observes_live_counts_and_time(market: tuple) -> None:
    snapshot, train, base, hiring = market
    seen: list[tuple[np.datetime64, np.ndarray, np.ndarray]] = []

    class Spy(PlacementRecommender):
        def observe_market(self, seeker_rows: np.ndarray, now: np.datetime64, job_rows: np.ndarray,
                           applications: np.ndarray) -> None:
            seen.append((now, job_rows.copy(), applications.copy()))
            super().observe_market(seeker_rows, now, job_rows, applications)

    model = Spy(base, Objective("surplus", congestion=1.0), hiring, refit=False).fit(train)
    assert isinstance(model, MarketObserver)
    run_policy(snapshot, RecommenderPolicy(model, "spy"), 0, 6, RecommendationChannel.of(0.5))
    assert len(seen) >= 5
    days = [pd.Timestamp(now).floor("D") for now, _, _ in seen]
    assert days == sorted(days) and len(set(days)) == len(days)  # once per simulated day, in order
    # applications only accumulate: a posting never has fewer applications on a later day
    last: dict[int, float] = {}
    grew = False
    for _, jobs, counts in seen:
        for job, count in zip(jobs.tolist(), counts.tolist(), strict=True):
            assert count >= last.get(job, 0.0)
            grew |= count > last.get(job, count)
            last[job] = count
    assert grew
    # the model ranks with what it observed last
    now, jobs, counts = seen[-1]
    np.testing.assert_array_equal(model.applications_[jobs], counts)


def test_observed_applications_move_a_crowded_posting_down(market: tuple) -> None:
    _, train, base, hiring = market
    model = PlacementRecommender(base, Objective("surplus", congestion=2.0), hiring, refit=False).fit(train)
    seeker = np.array([3])
    before, _ = model.recommend_rows(seeker, 10, exclude_seen=True)
    top = int(before[0, 0])
    model.observe_market(seeker, np.datetime64(train.interactions["ts"].max()), np.array([top]), np.array([1e6]))
    after, _ = model.recommend_rows(seeker, 10, exclude_seen=True)
    assert top not in after[0].tolist()
    with pytest.raises(ValueError, match="applications must be finite counts"):
        model.observe_market(seeker, np.datetime64("2024-06-01"), np.array([top]), np.array([-1.0]))


def test_objective_policies_share_one_apply_model_and_calibration(tiny_data_dir: Path, tmp_path: Path) -> None:
    from recsys.cli.simulate import build_policies, run_simulation

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="simulate", overrides=[
            "data=tiny", "tracking=disabled", f"data_dir={tiny_data_dir}",
            "policies=[organic,hybrid_apply,hybrid_surplus,hybrid_surplus_congestion_2]", "sim_seeds=[0]", "days=5",
            "policies.hybrid_apply.model.epochs=3", "policies.hybrid_surplus.model.epochs=3",
            "policies.hybrid_surplus_congestion_2.model.epochs=3"])
    with open_dict(cfg):
        cfg.output_dir = str(tmp_path / "out")
        cfg.report_dir = str(tmp_path / "out" / "report")
    snapshot = load_snapshot(tiny_data_dir)
    policies, _ = build_policies(cfg, str(tiny_data_dir), snapshot.start_ns + np.timedelta64(snapshot.cutoff_day, "D"))
    apply, surplus, crowded = (policies[n].model for n in ("hybrid_apply", "hybrid_surplus",  # type: ignore[attr-defined]
                                                              "hybrid_surplus_congestion_2"))
    assert apply.base_ is surplus.base_ is crowded.base_
    assert surplus.hiring_ is crowded.hiring_ and surplus.calibration_ is crowded.calibration_
    assert apply.objective_ == Objective("apply")
    assert crowded.objective_.name == "surplus" and crowded.objective_.congestion == 2.0
    result = run_simulation(cfg)
    assert result.policies == ["organic", "hybrid_apply", "hybrid_surplus", "hybrid_surplus_congestion_2"]
    assert (result.runs.set_index("policy").loc["hybrid_surplus", "recommended_sessions"] > 0).all()


def test_objective_specs_parse_and_label() -> None:
    objective = parse_objective("surplus,congestion=1,surplus_sigma=0.5,candidates=20")
    assert objective == Objective("surplus", congestion=1.0, candidates=20, surplus_sigma=0.5)
    assert objective_label(objective) == "surplus σ=0.5 + congestion 1 (top-20 re-ranked)"
    assert objective_label(Objective("apply")) == "apply"
    with pytest.raises(ValueError, match="key=value"):
        parse_objective("surplus,congestion")


def test_offline_objectives_under_protocol_v2(tiny_data_dir: Path) -> None:
    from recsys.evaluation.evaluate import evaluate
    from recsys.evaluation.splits import rolling_split
    from recsys.placement.offline import run

    chosen = [Objective("apply"), Objective("surplus", candidates=12, surplus_sigma=0.5)]
    table = run(data_dir=tiny_data_dir, n_resamples=20, exact=False, protocol="rolling", last_days=30.0,
                objectives=chosen)
    assert table["objective"].tolist() == ["apply", "surplus σ=0.5 (top-12 re-ranked)"]
    assert table["candidates"].tolist() == [50, 12] and table["surplus_sigma"].tolist() == [1.0, 0.5]
    split = rolling_split(Dataset.load(tiny_data_dir), last_days=30.0)
    direct = evaluate(LightFMHybrid(random_state=0).fit(split.train), split, ks=(10,), n_resamples=20,
                      slice_metrics=())
    assert table.loc[0, "hr@10 apply"] == pytest.approx(direct.value("hr", 10))
    assert table["hr@10 hire"].between(0, 1).all() and (table["n hire"] > 0).all()
    with pytest.raises(ValueError, match="protocol"):
        run(data_dir=tiny_data_dir, protocol="sliding")
