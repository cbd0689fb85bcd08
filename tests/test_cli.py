"""Command-line behaviour outside the Hydra apps' happy path: where commands write (RECSYS_HOME, else the
checkout, else the current directory), the one MLflow store rule, data commands generating a missing
preset and refusing to replace another seed's data, and output a person can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from mlflow.tracking._model_registry import utils as registry_utils
from mlflow.tracking._tracking_service import utils as tracking_utils
from omegaconf import OmegaConf

import recsys.paths
from recsys.api import ArtifactError, load_ranker
from recsys.cli.pipeline import DataConflictError, ensure_data
from recsys.cli.schemas import register_configs
from recsys.data.synthetic.generate import compose_config
from recsys.progress import progress
from recsys.tracking import report
from recsys.tracking.store import default_uri, project_store_uri, reading_uri

SMALL_TINY = {"data.n_seekers": 300, "data.n_jobs": 150}
"""A smaller ``tiny`` (seconds to generate)."""
CONFIGS = recsys.paths.config_dir()


@pytest.fixture
def no_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither ``MLFLOW_TRACKING_URI`` nor an in-process ``mlflow.set_tracking_uri`` (other tests set one)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)


def compose_train(*overrides: str):
    register_configs()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=["output_dir=/nonexistent/out", *overrides])


def test_home_is_recsys_home_else_the_checkout_else_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path / "home"))
    assert recsys.paths.recsys_home() == tmp_path / "home"
    monkeypatch.delenv("RECSYS_HOME")
    assert recsys.paths.recsys_home() == recsys.paths.checkout_root() == Path(__file__).resolve().parent.parent
    monkeypatch.setattr(recsys.paths, "checkout_root", lambda: None)  # as in an installed wheel
    monkeypatch.chdir(tmp_path)
    assert recsys.paths.recsys_home() == tmp_path.resolve()
    cfg = compose_train("data=tiny")
    assert cfg.data_dir == str(tmp_path.resolve() / "data" / "synthetic" / "tiny-realistic-seed0")


def test_the_store_is_mlflow_tracking_uri_else_the_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             no_tracking_uri: None) -> None:
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path))
    cfg = compose_train()
    assert cfg.tracking.uri == default_uri() == project_store_uri() == f"sqlite:///{tmp_path}/mlflow.db"
    assert cfg.tracking.artifact_location == str(tmp_path / "mlartifacts")
    assert reading_uri() == project_store_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    cfg = compose_train()
    assert cfg.tracking.uri == default_uri() == reading_uri() == "http://127.0.0.1:5999"
    assert cfg.tracking.artifact_location is None  # the server decides
    # tracking=sqlite insists on the project's file
    assert compose_train("tracking=sqlite").tracking.uri == f"sqlite:///{tmp_path}/mlflow.db"


def test_load_ranker_from_a_missing_store_names_it_and_creates_no_db(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_tracking_uri: None) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.setenv("RECSYS_HOME", str(home))
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ArtifactError, match=f"sqlite:///{home}/mlflow.db does not exist"):
        load_ranker("models:/job-ranker@champion", set_default=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/other.db")
    with pytest.raises(ArtifactError, match="other.db does not exist"):
        load_ranker("models:/job-ranker@champion", set_default=False)
    assert not list(tmp_path.rglob("*.db")) and not list(tmp_path.rglob("mlruns"))


@pytest.mark.slow
def test_load_ranker_finds_the_registered_ranker_in_the_projects_store_from_any_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_tracking_uri: None) -> None:
    from recsys.api import Ranker
    from recsys.api.pyfunc import log_ranker
    from recsys.models.lightfm import LightFMHybrid
    from recsys.tracking.store import prepare_store, resolve_target
    from tests.toy_tables import toy_dataset

    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("RECSYS_HOME", str(home))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    dataset = toy_dataset(40, 30)
    ranker = Ranker.from_model(LightFMHybrid(no_components=4, epochs=2, random_state=0).fit(dataset), dataset)
    try:
        prepare_store(resolve_target(None, "cli-test", str(home / "mlartifacts")))
        log_ranker(ranker, registered_model_name="job-ranker", alias="champion")
        monkeypatch.setattr(tracking_utils, "_tracking_uri", None)  # prepare_store set them: forget them
        monkeypatch.setattr(registry_utils, "_registry_uri", None)
        monkeypatch.chdir(elsewhere)
        loaded = load_ranker("models:/job-ranker@champion", set_default=False)
        seeker = str(ranker.seekers["seeker_id"][0])
        assert loaded.rank(seeker, k=3) == ranker.rank(seeker, k=3)
        with pytest.raises(ArtifactError, match=f"models:/no-such-ranker@champion.*store sqlite:///{home}"):
            load_ranker("models:/no-such-ranker@champion", set_default=False)
    finally:
        monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
        monkeypatch.setattr(registry_utils, "_registry_uri", None)
    assert not list(elsewhere.iterdir())  # nothing written where the loader ran


def data_cfg(out: Path, seed: int = 0, **overrides: int):
    cfg = compose_config("tiny", out, seed, **{key.removeprefix("data."): v for key, v in
                                               {**SMALL_TINY, **overrides}.items()})
    return OmegaConf.create({"data": cfg.data, "seed": seed, "data_dir": str(out)})


def test_data_commands_generate_a_missing_dataset_and_never_replace_another_seeds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny"
    assert ensure_data(data_cfg(out)) == out
    assert "generating the 'tiny' dataset (seed 0)" in capsys.readouterr().out
    manifest = out / "manifest.json"
    written = manifest.stat().st_mtime_ns
    ensure_data(data_cfg(out))
    assert "up to date" in capsys.readouterr().out and manifest.stat().st_mtime_ns == written
    with pytest.raises(DataConflictError, match=r"another seed 1 \(expected 0\)|seed 0 \(expected 1\)"):
        ensure_data(data_cfg(out, seed=1))
    with pytest.raises(DataConflictError, match=r"data config keys \['n_seekers'\]"):
        ensure_data(data_cfg(out, **{"data.n_seekers": 200}))
    assert manifest.stat().st_mtime_ns == written and json.loads(manifest.read_text())["seed"] == 0
    ensure_data(data_cfg(out, seed=1), replace=True)  # recsys-generate overwrite=true
    assert json.loads(manifest.read_text())["seed"] == 1


def test_data_commands_use_tables_without_a_manifest_and_refuse_a_foreign_directory(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "interactions.parquet").write_bytes(b"not read here")
    assert ensure_data(data_cfg(own)) == own  # your own tables: used as they are
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(DataConflictError, match="holds no dataset"):
        ensure_data(data_cfg(foreign))
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_recsys_generate_refuses_to_replace_another_seed_and_says_how(tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    ensure_data(data_cfg(out))
    args = [f"{key}={value}" for key, value in SMALL_TINY.items()]
    result = subprocess.run([sys.executable, "-m", "recsys.cli.generate", "data=tiny", "seed=3", f"out_dir={out}",
                             *args, f"hydra.run.dir={tmp_path / 'hydra'}"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode != 0
    assert "another seed 0 (expected 3)" in result.stderr and "nothing was replaced" in result.stderr
    assert json.loads((out / "manifest.json").read_text())["seed"] == 0


def comparison(labels: list[str]) -> report.Comparison:
    """A comparison table with made-up numbers (the console table only formats them)."""
    rng = np.random.default_rng(0)
    n = len(labels)
    columns: dict[str, object] = {"model": labels, "baseline": [i < 2 for i in range(n)]}
    for k in (5, 10, 20):
        columns[f"hr@{k}"] = rng.random(n)
        columns[f"hr@{k}_low"], columns[f"hr@{k}_high"] = columns[f"hr@{k}"] - 0.01, columns[f"hr@{k}"] + 0.01
    for name in ("ndcg@10", "of_oracle_hr@10", "hr@10_new_jobs", "hr@10_cold_seekers", "diff_hr@10", "diff_low",
                 "diff_high", *(f"hr@10_{group}" for group in report.GROUPS)):
        columns[name] = rng.random(n) - 0.5
    columns["p_holm"] = rng.random(n)
    empty = pd.DataFrame()
    return report.Comparison(table=pd.DataFrame(columns), reference=labels[0], tests=empty, split={},
                             hr_by_k=empty, hr_by_k_low=empty, hr_by_k_high=empty, hr_by_group=empty)


def test_the_console_comparison_table_fits_120_columns_and_keeps_every_model() -> None:
    labels = ["popularity_district", "random", "lightfm_hybrid", "hybrid_without_employer_and_district_blocks",
              "oracle"]
    text = report.console_table(comparison(labels))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120, text
    assert len(lines) == len(labels) + 2 and "HR@10 [95% CI]" in lines[0] and "Δ HR@10" in lines[0]
    assert "lightfm_hybrid " in text and "popularity_district*" in text
    shortened = [word for line in lines for word in line.split() if word.startswith("hybrid_without")]
    assert len(shortened) == 1 and shortened[0].endswith("…") and len(shortened[0]) < len(labels[3])


def test_progress_bars_stay_quiet_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress(range(5), "work")) == [0, 1, 2, 3, 4]
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_recsys_train_says_where_the_run_and_the_ranker_went(tmp_path: Path, tiny_data_dir: Path) -> None:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "RECSYS_HOME": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(
        [sys.executable, "-m", "recsys.cli.train", "data=tiny", f"data_dir={tiny_data_dir}", "model=lightfm_hybrid",
         "model.epochs=2", "model.no_components=4", "model.early_stopping_days=null", "eval=quick",
         "eval.bootstrap_samples=20"],
        capture_output=True, text=True, timeout=600, check=False, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    run_id = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").search_runs(
        [mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").get_experiment_by_name("recsys").experiment_id]
    )[0].info.run_id
    assert f"experiment 'recsys', run {run_id}" in out
    assert f"store sqlite:///{tmp_path}/mlflow.db" in out
    ranker_dir = next((tmp_path / "outputs" / "train").glob("*/ranker"))
    assert f"ranker saved to {ranker_dir}" in out and "logged as MLflow model models:/" in out
    assert "hr@10" in out
