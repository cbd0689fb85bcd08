"""``recsys-tune`` never sees the test window: trials are scored on the last ``validation_days`` of the
training period, so poisoning every test-window interaction leaves every trial's objective unchanged
(and changes the test value of the best configuration, which is evaluated once on the test split)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir

from recsys.cli import pipeline
from recsys.cli.schemas import register_configs
from recsys.cli.tune import tune, validation_split
from recsys.data.dataset import Dataset
from recsys.evaluation import temporal_split
from recsys.paths import config_dir

SEARCH = "search_space=[{param: model.window_days, type: float, low: 2, high: 40}]"


def tune_overrides(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return ["data=tiny", f"data_dir={data_dir}", f"output_dir={out}", "model=popularity", "model.mode=recent",
            "eval=quick", "eval.bootstrap_samples=20", "n_trials=4", "n_startup_trials=2", "tracking=disabled",
            SEARCH, *extra]


def run_study(overrides: list[str]):
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return tune(compose("tune", overrides=overrides), overrides)


def poisoned_copy(source: Path, target: Path, cutoff: pd.Timestamp) -> int:
    """Copy the dataset, then shuffle the seekers of the interactions at or after ``cutoff`` (seeded) among
    the seekers registered before it (so the tables stay valid); returns how many interactions were poisoned."""
    shutil.copytree(source, target)
    interactions = pd.read_parquet(target / "interactions.parquet")
    seekers = pd.read_parquet(target / "seekers.parquet").set_index("seeker_id")
    registered = pd.to_datetime(seekers["registered_at"]).reindex(interactions["seeker_id"]).to_numpy()
    window = (interactions["ts"] >= cutoff).to_numpy() & (registered < np.datetime64(cutoff))
    rng = np.random.default_rng(1)
    interactions.loc[window, "seeker_id"] = rng.permutation(interactions.loc[window, "seeker_id"].to_numpy())
    interactions.to_parquet(target / "interactions.parquet", index=False)
    return int(window.sum())


@pytest.mark.slow
def test_trials_are_identical_when_every_test_window_interaction_is_poisoned(tmp_path: Path, tiny_data_dir: Path
                                                                              ) -> None:
    cutoff = temporal_split(Dataset.load(tiny_data_dir), last_days=30).cutoff
    assert cutoff is not None
    clean, poisoned = tmp_path / "clean", tmp_path / "poisoned"
    shutil.copytree(tiny_data_dir, clean)
    assert poisoned_copy(tiny_data_dir, poisoned, cutoff) > 1000

    studies = {name: run_study(tune_overrides(path, tmp_path / f"out_{name}"))
               for name, path in (("clean", clean), ("poisoned", poisoned))}

    values = {name: [trial.value for trial in study.trials] for name, study in studies.items()}
    params = {name: [trial.params for trial in study.trials] for name, study in studies.items()}
    assert len(values["clean"]) == 4 and values["clean"] == values["poisoned"]
    assert params["clean"] == params["poisoned"]
    best = {name: yaml.safe_load((tmp_path / f"out_{name}" / "best_config.yaml").read_text(encoding="utf-8"))
            for name in studies}
    # the poison is real: the best configuration's single test evaluation does see the test window
    assert best["clean"]["test_value"] != best["poisoned"]["test_value"]
    assert best["clean"]["validation_value"] == best["poisoned"]["validation_value"]
    assert pd.Timestamp(best["clean"]["test_cutoff"]) == cutoff
    assert pd.Timestamp(best["clean"]["validation_cutoff"]) == cutoff - pd.Timedelta(days=30)
    # every trial is written beside the best config, with the values the study holds
    trials = pd.read_csv(tmp_path / "out_clean" / "trials.csv")
    assert trials["number"].tolist() == [0, 1, 2, 3] and trials["value"].tolist() == values["clean"]


def compose_tune(*overrides: str):
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("tune", overrides=["output_dir=/x", *overrides])


@pytest.mark.parametrize("split", ["rolling", "temporal"])
def test_the_validation_window_is_the_last_validation_days_of_the_training_period(tiny_data_dir: Path, split: str
                                                                                   ) -> None:
    cfg = compose_tune("data=tiny", f"data_dir={tiny_data_dir}", "validation_days=20", f"split={split}")
    test_split = pipeline.make_split(cfg, Dataset.load(tiny_data_dir))
    validation = validation_split(cfg, test_split)
    # the validation split is the configured protocol, applied to the training period only
    assert validation.name == test_split.name
    assert (validation.query_time >= np.datetime64(validation.cutoff)).all()
    assert (validation.query_time < np.datetime64(test_split.cutoff)).all()
    assert test_split.cutoff is not None and validation.cutoff == test_split.cutoff - pd.Timedelta(days=20)
    assert validation.train.interactions["ts"].max() < validation.cutoff
    assert validation.n_test > 0 and (validation.test_time < test_split.cutoff).all()
    assert validation.test_time.min() >= validation.cutoff


def test_tuning_refuses_a_split_without_a_time_window_or_a_bad_validation_length(tiny_data_dir: Path) -> None:
    dataset = Dataset.load(tiny_data_dir)
    cfg = compose_tune("data=tiny", f"data_dir={tiny_data_dir}", "split=leave_last_out")
    with pytest.raises(pipeline.ConfigError, match="tuning needs a time split"):
        validation_split(cfg, pipeline.make_split(cfg, dataset))
    cfg = compose_tune("data=tiny", f"data_dir={tiny_data_dir}", "validation_days=0")
    with pytest.raises(pipeline.ConfigError, match="validation_days: must be positive"):
        validation_split(cfg, pipeline.make_split(cfg, dataset))
    cfg = compose_tune("data=tiny", f"data_dir={tiny_data_dir}", "validation_days=500")
    with pytest.raises(pipeline.ConfigError, match="validation_days=500"):
        validation_split(cfg, pipeline.make_split(cfg, dataset))
