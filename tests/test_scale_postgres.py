"""The team set-up on one machine: a throwaway PostgreSQL (initdb into a temporary directory, 127.0.0.1, a free
port), an ``mlflow server`` with a PostgreSQL backend store and a local artifact root, two ``recsys-tune``
worker processes sharing one Optuna study in PostgreSQL, and a 2-job ``recsys-train`` sweep logging to the
server. Every service is stopped by the fixtures' finalizers, also when a test fails."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import mlflow
import optuna
import pytest

from recsys.tracking.optuna_storage import StudyStorageError, check_storage_url
from tests.services import mlflow_server, postgres_server

pytestmark = pytest.mark.slow

STUDY = "popularity-window"


@pytest.fixture(scope="module")
def postgres() -> dict[str, str]:
    with postgres_server(("mlflow", "optuna")) as urls:
        yield urls


@pytest.fixture(scope="module")
def artifact_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server") / "mlartifacts"


@pytest.fixture(scope="module")
def tracking_server(postgres: dict[str, str], artifact_root: Path) -> str:
    with mlflow_server(postgres["mlflow"], artifact_root) as url:
        yield url


def command_env(home: Path, tracking_uri: str) -> dict[str, str]:
    return {**os.environ, "RECSYS_HOME": str(home), "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_DISABLE_TELEMETRY": "true"}


def test_two_tuning_workers_share_one_study_and_a_sweep_logs_to_the_server(
        postgres: dict[str, str], tracking_server: str, artifact_root: Path, tiny_data_dir: Path,
        tmp_path: Path) -> None:
    tune = [sys.executable, "-m", "recsys.cli.tune", "tracking=server", "data=tiny", f"data_dir={tiny_data_dir}",
            "model=popularity", "model.mode=recent", "eval=quick", "eval.bootstrap_samples=20", "n_trials=2",
            "n_startup_trials=1", "search_space=[{param: model.window_days, type: float, low: 2, high: 40}]",
            f"storage={postgres['optuna']}", f"study_name={STUDY}"]
    env = command_env(tmp_path, tracking_server)
    workers = [subprocess.Popen([*tune, f"worker={i}", f"output_dir={tmp_path}/tune{i}"], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, out[-2000:] + err[-4000:]

    sweep = subprocess.run(
        [sys.executable, "-m", "recsys.cli.train", "-m", "tracking=server", "data=tiny", f"data_dir={tiny_data_dir}",
         "model=popularity,item_knn", "eval=quick", "eval.bootstrap_samples=20"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert sweep.returncode == 0, sweep.stdout[-2000:] + sweep.stderr[-4000:]

    # Optuna: one study, 2 workers x 2 trials, numbered once across workers
    study = optuna.load_study(study_name=STUDY, storage=postgres["optuna"])
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)

    # MLflow (PostgreSQL behind the server): each trial run once, two tuning parents, one sweep with 2 jobs
    client = mlflow.MlflowClient(tracking_server)
    experiment_id = client.get_experiment_by_name("recsys").experiment_id
    runs = client.search_runs([experiment_id], max_results=1000)
    by_command = Counter(r.data.tags.get("recsys.command") for r in runs)
    trial_runs = [r for r in runs if r.data.tags.get("recsys.command") == "tune-trial"]
    assert sorted(int(r.data.tags["trial"]) for r in trial_runs) == [0, 1, 2, 3]
    tune_parents = {r.info.run_id for r in runs if r.data.tags.get("recsys.command") == "tune"}
    assert len(tune_parents) == 2 and {r.data.tags["mlflow.parentRunId"] for r in trial_runs} == tune_parents
    sweeps = [r for r in runs if r.data.tags.get("recsys.kind") == "sweep"]
    assert len(sweeps) == 1 and sweeps[0].data.tags["recsys.n_jobs"] == "2"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == sweeps[0].info.run_id]
    assert sorted(c.info.run_name for c in children) == ["model=item_knn", "model=popularity"]
    assert by_command["train"] == 3 and all(r.info.status == "FINISHED" for r in runs)  # sweep parent + 2 jobs
    # artifacts went through the server into its local artifact root
    assert list(artifact_root.rglob("best_config.yaml")) and list(artifact_root.rglob("trials.csv"))
    assert len({p.parent for p in artifact_root.rglob("best_config.yaml")}) == 2


def test_a_relative_or_non_url_storage_is_refused_naming_the_field() -> None:
    with pytest.raises(StudyStorageError, match="storage: SQLite path"):
        check_storage_url("sqlite:///optuna.db")
    with pytest.raises(StudyStorageError, match="storage: 'optuna.db' is not a database URL"):
        check_storage_url("optuna.db")
    assert check_storage_url("postgresql://recsys@127.0.0.1:5432/optuna").startswith("postgresql://")
