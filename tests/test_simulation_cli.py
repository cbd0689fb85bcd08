"""``recsys-simulate`` through Hydra's compose API on ``tiny`` (tracking off; MLflow logging in the slow tier)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from recsys.cli.pipeline import ConfigError
from recsys.cli.simulate import run_simulation
from recsys.paths import config_dir

pytestmark = pytest.mark.slow  # processes, several fits or a simulated market: the full suite only


def _config(tmp_path: Path, *overrides: str):  # type: ignore[no-untyped-def]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="simulate", overrides=["data=tiny", "data/world=realistic", "tracking=disabled",
                                                          f"data_dir={tmp_path / 'data'}", *overrides])
    with open_dict(cfg):
        cfg.output_dir = str(tmp_path / "out")
        cfg.report_dir = str(tmp_path / "out" / "report")
    return cfg


def test_default_policies_compose(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    assert list(cfg.policies) == ["organic", "popularity", "lightfm_hybrid", "utility_oracle", "surplus_oracle"]
    assert cfg.policies.popularity.kind == "model" and cfg.policies.popularity.model._target_.endswith("Popularity")
    assert cfg.policies.surplus_oracle.kind == "reference"


def test_cli_runs_models_and_references(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "policies=[organic,popularity,surplus_oracle]", "sim_seeds=[0,1]", "days=10")
    result = run_simulation(cfg)
    assert result.policies == ["organic", "popularity", "surplus_oracle"]
    assert set(result.runs["seed"]) == {0, 1}
    report = Path(cfg.report_dir)
    assert (report / "report.md").read_text().startswith("# Simulated placements")
    assert (report / "compare.csv").is_file() and (report / "placements_vs_hr.png").is_file()


def test_unknown_policy_kind_is_refused(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "policies=[organic]", "+policies.bad.kind=magic")
    with pytest.raises(ConfigError, match="policies.bad.kind"):
        run_simulation(cfg)


@pytest.mark.slow
def test_mlflow_parent_run_with_a_child_per_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    uri = f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = _config(tmp_path, "policies=[organic,surplus_oracle]", "sim_seeds=[0,1]", "days=10")
    with open_dict(cfg):
        cfg.tracking.enabled = True
        cfg.tracking.uri = uri
        cfg.tracking.artifact_location = str(tmp_path / "artifacts")
        cfg.tracking.experiment = "simulate-test"
    previous = mlflow.get_tracking_uri()
    try:
        run_simulation(cfg)
        mlflow.set_tracking_uri(uri)
        found = mlflow.search_runs(experiment_names=["simulate-test"])
    finally:
        mlflow.set_tracking_uri(previous)
    parents = found[found["tags.mlflow.parentRunId"].isna()]
    children = found[found["tags.mlflow.parentRunId"].notna()]
    assert len(parents) == 1 and set(children["tags.mlflow.runName"]) == {"organic", "surplus_oracle"}
    assert (children["tags.mlflow.parentRunId"] == parents["run_id"].iloc[0]).all()
    oracle = children[children["tags.mlflow.runName"] == "surplus_oracle"].iloc[0]
    assert oracle["metrics.placements.all"] > 0 and "metrics.diff_vs_organic.placements.all" in found


def test_saved_ranker_policy(tmp_path: Path) -> None:
    import numpy as np

    from recsys.api import Ranker
    from recsys.cli.pipeline import ensure_data
    from recsys.data.dataset import Dataset
    from recsys.models.lightfm import LightFMHybrid
    from recsys.simulation import SimulationInputError, load_snapshot

    cfg = _config(tmp_path, "policies=[organic,ranker]", "sim_seeds=[0]", "days=5")
    data_dir = ensure_data(cfg)
    snap = load_snapshot(data_dir)
    cutoff = snap.start_ns + np.timedelta64(snap.cutoff_day, "D")
    dataset = Dataset.load(data_dir)
    train = dataset.with_interactions(dataset.interactions["ts"].to_numpy() < cutoff)
    model = LightFMHybrid(epochs=1, random_state=0).fit(train)
    Ranker.from_model(model, train, now=cutoff).save(tmp_path / "ranker")
    with open_dict(cfg):
        cfg.policies.ranker.uri = str(tmp_path / "ranker")
    result = run_simulation(cfg)
    assert result.runs.set_index("policy").loc["ranker", "recommended_sessions"] > 0
    assert result.hit_rates.query("policy == 'ranker' and group == 'all'")["value"].between(0, 1).all()
    late = tmp_path / "late"
    Ranker.from_model(model, dataset).save(late)  # clock at the end of the data: it saw the window
    with open_dict(cfg):
        cfg.policies.ranker.uri = str(late)
    with pytest.raises(SimulationInputError, match="after the cutoff"):
        run_simulation(cfg)
