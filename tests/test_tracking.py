"""MLflow tracking end to end on the tiny preset, always in temporary stores (never the project mlflow.db):
a parallel (joblib) grid sweep makes one parent run with a child per job and leaves a consistent SQLite store,
a sweep with a failing job (basic launcher) ends its parent run FAILED, reports are written, a tuning study
writes its best config and history plot, and a run re-executed from its logged config reproduces its
logged metrics."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from recsys.api import load_ranker
from recsys.cli import pipeline
from recsys.cli.schemas import register_configs
from recsys.cli.train import rerun, train
from recsys.paths import config_dir
from recsys.tracking import report
from recsys.tracking.hydra_callback import child_run_name, swept_keys

EXPERIMENT = "tests"


def tracking_overrides(store: Path) -> list[str]:
    return [f"tracking.uri=sqlite:///{store}/mlflow.db", f"tracking.artifact_location={store}/artifacts",
            f"tracking.experiment={EXPERIMENT}"]


def runs_of(store: Path) -> pd.DataFrame:
    mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
    return mlflow.search_runs(experiment_names=[EXPERIMENT])


SWEEPS: dict[str, list[str]] = {
    "joblib_sweep": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=popularity", "model.mode=recent",
                     "model.window_days=7,21"],
    "failed_basic_sweep": ["model=popularity", "model.window_days=7,-1"],  # -1: the second job raises in fit
}
"""``recsys-train -m`` sweeps run in subprocesses, by the name of the fixture that returns their store."""


def start_sweep(store: Path, data_dir: Path, overrides: list[str]) -> subprocess.Popen[str]:
    """Start ``recsys-train -m`` on tiny in ``store`` (stdout/stderr to files there: no pipe to fill)."""
    command = [sys.executable, "-m", "recsys.cli.train", "-m", "data=tiny", f"data_dir={data_dir}", "eval=quick",
               "eval.bootstrap_samples=50", "save_model=false", f"hydra.sweep.dir={store}/sweep",
               *tracking_overrides(store), *overrides]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with open(store / "stdout.txt", "w") as stdout, open(store / "stderr.txt", "w") as stderr:
        return subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True, env=env)


@pytest.fixture(scope="module", autouse=True)
def sweeps(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path
           ) -> Iterator[dict[str, tuple[Path, subprocess.Popen[str]]]]:
    """Start the selected tests' sweeps at once, so they run while this module's in-process tests do."""
    wanted = sorted({name for item in request.session.items for name in item.fixturenames if name in SWEEPS})
    started = {}
    for name in wanted:
        store = tmp_path_factory.mktemp(name)
        started[name] = (store, start_sweep(store, tiny_data_dir, SWEEPS[name]))
    yield started
    for _, process in started.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def finished_sweep(sweeps: dict[str, tuple[Path, subprocess.Popen[str]]], name: str, succeed: bool) -> Path:
    """Wait for sweep ``name``; assert it exited with success (or failure); return its store."""
    store, process = sweeps[name]
    process.wait(timeout=600)
    stderr = (store / "stderr.txt").read_text(encoding="utf-8")
    assert (process.returncode == 0) == succeed, stderr[-4000:]
    return store


def test_sweep_keys_name_child_runs() -> None:
    keys = swept_keys(["data=tiny", "model=ease,item_knn", "model.l2=range(1,3)", "+extra=1"])
    assert keys == ["model", "model.l2"]
    assert child_run_name(["data=tiny", "model=ease", "model.l2=2", "+extra=1"], keys) == "model=ease,model.l2=2"


def compose_train(store: Path, data_dir: Path, *overrides: str) -> DictConfig:
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("train", overrides=["data=tiny", f"data_dir={data_dir}", f"output_dir={store}/out",
                                           "eval=quick", "eval.bootstrap_samples=50", *tracking_overrides(store),
                                           *overrides])


@pytest.mark.slow
def test_rerun_from_the_logged_config_reproduces_the_logged_metrics(tmp_path: Path, tiny_data_dir: Path) -> None:
    cfg = compose_train(tmp_path, tiny_data_dir, "model=lightfm_hybrid", "model.epochs=2",
                        "model.no_components=8", "features=minimal", "register=true")
    train(cfg)
    first = runs_of(tmp_path).iloc[0]
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    logged = mlflow.MlflowClient(uri).get_run(first["run_id"]).data.metrics
    again = rerun(first["run_id"], uri, **{"tracking.enabled": False, "register": False, "save_model": False})
    timing = {"fit_seconds", "score_seconds"}
    assert {key: value for key, value in logged.items() if key not in timing} == pytest.approx(
        {pipeline_key(key): value for key, value in again.items()}, nan_ok=True)

    # register=true made this run's ranker job-ranker@champion, loadable by the serving API
    version = mlflow.MlflowClient(uri).get_model_version_by_alias("job-ranker", "champion")
    assert version.run_id == first["run_id"]
    mlflow.set_tracking_uri(uri)
    ranker = load_ranker("models:/job-ranker@champion", set_default=False)
    seeker = str(pd.read_parquet(tiny_data_dir / "seekers.parquet")["seeker_id"].iloc[0])
    assert 0 < len(ranker.rank(seeker, k=5, reasons=False, meets_requirements=False)) <= 5


def pipeline_key(name: str) -> str:
    from recsys.tracking.runs import metric_key

    return metric_key(name)


@pytest.mark.slow
def test_report_has_table_csv_and_plots_consistent_with_the_evaluations(tmp_path: Path, tiny_data_dir: Path
                                                                        ) -> None:
    cfg = compose_train(tmp_path, tiny_data_dir, "eval.oracle=true", "tracking.enabled=false")
    dataset = pipeline.load_dataset(cfg)
    split = pipeline.make_split(cfg, dataset)
    oracle = pipeline.oracle_result(cfg, split)
    results = {}
    for label in ("random", "popularity", "popularity_district"):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            model_cfg = compose("train", overrides=[f"model={label}", "data_dir=/x", "output_dir=/x"]).model
        results[label] = pipeline.fit_and_evaluate(pipeline.build_model(model_cfg), split, cfg.eval,
                                                   name=label, oracle=oracle).result
    comparison = report.comparison_table(results, baselines=["random", "popularity"], oracle=oracle,
                                         n_resamples=50)
    out = report.write_report(comparison, tmp_path / "report")

    assert {p.name for p in out.iterdir()} == {"report.md", "comparison.csv", "tests.csv", "hr_curve.png",
                                               "hr_by_group.png"}
    assert all((out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in ("hr_curve.png", "hr_by_group.png"))
    table = pd.read_csv(out / "comparison.csv").set_index("model")
    assert list(table.index) == ["random", "popularity", "popularity_district", "ceiling"]
    best = max(["random", "popularity"], key=lambda name: results[name].value("hr", 10))
    assert comparison.reference == best and table.loc[best, "diff_hr@10"] == 0
    for label, result in results.items():
        assert table.loc[label, "hr@10"] == pytest.approx(result.value("hr", 10), rel=1e-5)
        assert table.loc[label, "of_oracle_hr@10"] == pytest.approx(result.value("hr", 10) / oracle.value("hr", 10),
                                                                    rel=1e-5)
    others = table.drop(index=[best, "ceiling"])
    assert others["diff_hr@10"].to_numpy() == pytest.approx(others["hr@10"].to_numpy() - table.loc[best, "hr@10"],
                                                            abs=1e-5)
    assert others["p_holm"].between(0, 1).all()
    markdown = (out / "report.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in markdown.splitlines() if line.startswith("| ")}
    assert list(rows)[1:] == ["random (baseline)", "popularity (baseline)", "popularity_district", "ceiling"]
    assert f"| {table.loc['popularity_district', 'hr@10']:.3f} [" in rows["popularity_district"]
    assert f"Δ HR@10 vs {best}" in markdown
    assert "![HR@k](hr_curve.png)" in markdown


@pytest.mark.slow
def test_tune_writes_the_best_config_and_its_history_plot_and_logs_them(tmp_path: Path, tiny_data_dir: Path
                                                                         ) -> None:
    import yaml

    from recsys.cli.tune import tune

    overrides = ["data=tiny", f"data_dir={tiny_data_dir}", f"output_dir={tmp_path}/out", "model=popularity",
                 "model.mode=recent", "eval.bootstrap_samples=20", "n_trials=3", "n_startup_trials=2",
                 "search_space=[{param: model.window_days, type: float, low: 2, high: 40}]",
                 *tracking_overrides(tmp_path)]
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        study = tune(compose("tune", overrides=overrides), overrides)

    out = tmp_path / "out"
    best = yaml.safe_load((out / "best_config.yaml").read_text(encoding="utf-8"))
    assert best["validation_value"] == pytest.approx(study.best_value)
    assert best["overrides"] == [f"model.window_days={study.best_params['model.window_days']}"]
    assert best["config"]["model"]["window_days"] == pytest.approx(study.best_params["model.window_days"])
    assert (out / "optimization_history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frame = runs_of(tmp_path)
    parent = frame.loc[frame["tags.recsys.command"] == "tune"].squeeze()
    trials = frame.loc[frame["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert len(trials) == 3 and (frame["status"] == "FINISHED").all()
    assert trials["metrics.ndcg_at_10"].max() == pytest.approx(study.best_value)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    assert {"best_config.yaml", "optimization_history.png", "trials.csv"} <= {
        item.path for item in client.list_artifacts(parent["run_id"])}


# The sweep tests come last: their subprocesses started with the module and ran meanwhile.
@pytest.fixture(scope="module")
def joblib_sweep(sweeps: dict[str, tuple[Path, subprocess.Popen[str]]]) -> Path:
    return finished_sweep(sweeps, "joblib_sweep", succeed=True)


def check_parent_and_children(store: Path, expected_children: set[str]) -> pd.DataFrame:
    frame = runs_of(store)
    parents = frame.loc[frame["tags.recsys.kind"] == "sweep"]
    assert len(parents) == 1
    parent = parents.iloc[0]
    children = frame.loc[frame["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert len(frame) == 1 + len(expected_children)
    assert set(children["tags.mlflow.runName"]) == expected_children
    assert (frame["status"] == "FINISHED").all()
    assert (parent["tags.recsys.n_jobs"], parent["tags.recsys.n_failed_jobs"]) == (str(len(expected_children)), "0")
    assert children["metrics.hr_at_10"].between(0, 1).all()
    assert (children["metrics.hr_at_5"] <= children["metrics.hr_at_10"]).all()
    return children


@pytest.mark.slow
def test_parallel_grid_sweep_makes_one_parent_and_a_child_per_job_in_a_consistent_store(joblib_sweep: Path
                                                                                         ) -> None:
    children = check_parent_and_children(joblib_sweep, {"model.window_days=7", "model.window_days=21"})
    windows = dict(zip(children["tags.mlflow.runName"], children["params.model.window_days"], strict=True))
    assert windows == {"model.window_days=7": "7.0", "model.window_days=21": "21.0"}
    printed = (joblib_sweep / "stdout.txt").read_text(encoding="utf-8")  # each job's summary says which job
    assert "job 0 (model.window_days=7): popularity" in printed and "job 1 (model.window_days=21): popularity" in printed
    assert (children["params.model.mode"] == "recent").all()
    assert children["params.data_dir"].nunique() == 1  # the flattened resolved config is logged as params
    metric_columns = [c for c in children.columns if c.startswith("metrics.")]
    assert children[metric_columns].notna().sum(axis=1).nunique() == 1  # both jobs logged every metric
    with sqlite3.connect(joblib_sweep / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    client = mlflow.MlflowClient(f"sqlite:///{joblib_sweep}/mlflow.db")
    for run_id in children["run_id"]:
        artifacts = {item.path for item in client.list_artifacts(run_id)}
        assert {"config", "per_seeker.parquet", "plots", "split.json"} <= artifacts
        per_seeker = pd.read_parquet(client.download_artifacts(run_id, "per_seeker.parquet"))
        assert per_seeker["hr@10"].mean() == pytest.approx(client.get_run(run_id).data.metrics["hr_at_10"])


@pytest.fixture(scope="module")
def failed_basic_sweep(sweeps: dict[str, tuple[Path, subprocess.Popen[str]]]) -> Path:
    """A basic-launcher sweep whose second job raises in ``fit`` (``window_days`` must be positive)."""
    store = finished_sweep(sweeps, "failed_basic_sweep", succeed=False)
    assert "window_days must be positive" in (store / "stderr.txt").read_text(encoding="utf-8")
    return store


@pytest.mark.slow
def test_a_failed_job_ends_the_sweep_parent_failed_after_the_other_jobs_ran(failed_basic_sweep: Path) -> None:
    frame = runs_of(failed_basic_sweep)
    parent = frame.loc[frame["tags.recsys.kind"] == "sweep"].squeeze()
    children = frame.loc[frame["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert len(frame) == 3
    assert parent["status"] == "FAILED" and pd.notna(parent["end_time"])
    assert (parent["tags.recsys.n_jobs"], parent["tags.recsys.n_failed_jobs"]) == ("2", "1")
    assert dict(zip(children["tags.mlflow.runName"], children["status"], strict=True)) == {
        "model.window_days=7": "FINISHED", "model.window_days=-1": "FAILED"}
    assert children.loc[children["status"] == "FINISHED", "metrics.hr_at_10"].between(0, 1).all()


def test_holm_covers_every_model_and_k_of_the_table(tiny_data_dir: Path) -> None:
    """The headline table's p-values are Holm-adjusted over every model x HR@k it shows, not HR@10 alone."""
    import numpy as np

    from recsys.data.dataset import Dataset
    from recsys.evaluation import evaluate, rolling_split
    from recsys.evaluation.significance import holm
    from recsys.models import Popularity, RandomRecommender
    from recsys.tracking.report import comparison_table

    dataset = Dataset.load(tiny_data_dir)
    split = rolling_split(dataset, last_days=30)
    results = {name: evaluate(model.fit(split.train), split, n_resamples=50)
               for name, model in (("popularity", Popularity()), ("random", RandomRecommender(seed=0)))}
    comparison = comparison_table(results, baselines=["popularity", "random"], n_resamples=50,
                                  reference="popularity")
    tests = comparison.tests
    assert sorted(tests["metric"]) == ["hr@10", "hr@20", "hr@5"]
    np.testing.assert_allclose(tests["p_holm"], holm(tests["p_value"].to_numpy()))
    row = comparison.table.set_index("model").loc["random"]
    assert row["p_holm"] == tests.loc[tests["metric"] == "hr@10", "p_holm"].item()
