"""Sweeps on a Ray cluster: a local Ray head (127.0.0.1, 2 CPUs) started and stopped by the test, Hydra's
Ray launcher (``hydra/launcher=ray_cluster``) connecting to it, one SQLite MLflow store created once by the
launching process before the jobs start.

The market simulation does not exist yet, so the "2-seed run" is a 2-seed ``recsys-compare`` sweep
(``seed=0,1``: each job generates and evaluates its own seed's ``tiny`` data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from tests.services import RAY_LOOPBACK_ENV, ray_head

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_address() -> str:
    with ray_head(num_cpus=2) as address:
        yield address


def run_sweep(module: str, address: str, home: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **RAY_LOOPBACK_ENV, "RECSYS_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("RAY_ADDRESS", None)
    result = subprocess.run(
        [sys.executable, "-m", module, "-m", "hydra/launcher=ray_cluster",
         f"hydra.launcher.ray.init.address={address}", "data=tiny", "eval=quick", "eval.bootstrap_samples=20",
         *overrides],
        capture_output=True, text=True, timeout=300, env=env, cwd=home, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert f"Connecting to existing Ray cluster at address: {address}" in result.stderr + result.stdout
    return result


def sweep_children(client: mlflow.MlflowClient, experiment_id: str, command: str) -> tuple[object, list]:
    parents = client.search_runs([experiment_id], filter_string=f"tags.`recsys.kind` = 'sweep' and "
                                                                f"tags.`recsys.command` = '{command}'")
    assert len(parents) == 1, [p.info.run_name for p in parents]
    parent = parents[0]
    children = client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    return parent, children


def test_a_model_sweep_and_a_two_seed_comparison_run_as_ray_tasks_into_one_store(
        ray_address: str, tiny_data_dir: Path, tmp_path: Path) -> None:
    run_sweep("recsys.cli.train", ray_address, tmp_path, f"data_dir={tiny_data_dir}", "model=popularity,item_knn",
              "save_model=false")
    run_sweep("recsys.cli.compare", ray_address, tmp_path, "seed=0,1", "data.n_seekers=300", "data.n_jobs=150",
              "models=baselines", "save_model=false")

    store = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(store)
    experiment_id = client.get_experiment_by_name("recsys").experiment_id

    parent, children = sweep_children(client, experiment_id, "train")
    assert sorted(c.info.run_name for c in children) == ["model=item_knn", "model=popularity"]
    assert all(c.info.status == "FINISHED" and "hr_at_10" in c.data.metrics for c in children)
    assert parent.data.tags["recsys.n_jobs"] == "2" and parent.info.status == "FINISHED"

    parent, children = sweep_children(client, experiment_id, "compare")
    assert sorted(c.info.run_name for c in children) == ["seed=0", "seed=1"]
    assert all(c.info.status == "FINISHED" for c in children)
    assert sorted(Path(c.data.tags["recsys.data_dir"]).name for c in children) == ["tiny-realistic-seed0", "tiny-realistic-seed1"]
    for child in children:  # each comparison's models are nested under its own run
        models = client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{child.info.run_id}'")
        assert sorted(m.info.run_name for m in models) == ["nearest", "newest_nearby", "popularity",
                                                           "popularity_district", "popularity_prior", "random"]
    assert parent.info.status == "FINISHED"
    # one store, created by the launching process: no stray mlflow.db beside the jobs' outputs
    assert [p.name for p in tmp_path.rglob("mlflow.db")] == ["mlflow.db"]
