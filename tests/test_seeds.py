"""Seed-robust comparisons: the aggregation over data seeds x training seeds on hand-made tables, the
seed parameter found by name, and ``recsys-compare data_seeds=[0,1] train_seeds=[0,1]`` end to end on tiny."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from recsys.cli import pipeline
from recsys.cli.schemas import register_configs
from recsys.evaluation import seeds
from recsys.paths import config_dir
from recsys.tracking import report

NA = pd.NA


def runs_table() -> pd.DataFrame:
    """Two data seeds x two training seeds: ``a`` and ``ref`` are seeded, ``once`` (no randomness) is not."""
    rows = [("ref", 0, 0, 0.50), ("ref", 0, 1, 0.52), ("ref", 1, 0, 0.46), ("ref", 1, 1, 0.48),
            ("a", 0, 0, 0.53), ("a", 0, 1, 0.51), ("a", 1, 0, 0.49), ("a", 1, 1, 0.47),
            ("once", 0, NA, 0.30), ("once", 1, NA, 0.20)]
    frame = pd.DataFrame(rows, columns=["model", "data_seed", "train_seed", "hr@10"])
    frame["train_seed"] = frame["train_seed"].astype("Int64")
    return frame


def paired_table() -> pd.DataFrame:
    rows = []
    for data_seed in (0, 1):
        for train_seed in (0, 1):
            rows.append(("a", data_seed, train_seed, 0.005, -0.01, 0.02, 0.40))
            rows.append(("once", data_seed, train_seed, -0.24, -0.27, -0.21, 1e-6))
    return pd.DataFrame(rows, columns=["model", "data_seed", "train_seed", "difference", "ci_low", "ci_high",
                                       "p_holm"])


def test_seed_spread_gives_mean_sample_sd_and_range_over_each_models_runs() -> None:
    spread = seeds.seed_spread(runs_table()).set_index("model")
    assert list(spread.index) == ["ref", "a", "once"]
    assert spread.loc["ref", "mean"] == pytest.approx(0.49)
    assert spread.loc["ref", "sd"] == pytest.approx(np.std([0.50, 0.52, 0.46, 0.48], ddof=1))
    assert (spread.loc["a", "min"], spread.loc["a", "max"]) == (pytest.approx(0.47), pytest.approx(0.53))
    assert spread.loc["once", "n_runs"] == 2 and spread.loc["once", "n_train_seeds"] == 0
    assert spread.loc["once", "sd"] == pytest.approx(np.std([0.3, 0.2], ddof=1))
    assert (spread.loc["a", "n_runs"], spread.loc["a", "n_data_seeds"], spread.loc["a", "n_train_seeds"]) == (4, 2, 2)


def test_seed_table_flags_a_difference_smaller_than_the_between_seed_spread() -> None:
    table = seeds.seed_table(runs_table(), paired_table(), reference="ref").set_index("model")
    assert list(table.columns) == seeds.SEED_TABLE_COLUMNS[1:]
    # a: mean 0.50 vs ref 0.49, SD about 0.026 each: +0.01 is within the spread
    assert table.loc["a", "difference"] == pytest.approx(0.01)
    assert table.loc["a", "spread"] == pytest.approx(max(np.std([0.53, 0.51, 0.49, 0.47], ddof=1),
                                                         np.std([0.50, 0.52, 0.46, 0.48], ddof=1)))
    assert bool(table.loc["a", "below_spread"]) is True
    # once: -0.24, far beyond its spread (0.071): a difference, significant in all four seeds
    assert table.loc["once", "difference"] == pytest.approx(0.25 - 0.49)
    assert bool(table.loc["once", "below_spread"]) is False
    assert (table.loc["once", "seeds_significant"], table.loc["once", "n_seed_tests"]) == (4, 4)
    assert (table.loc["a", "seeds_significant"], table.loc["a", "n_seed_tests"]) == (0, 4)
    assert (table.loc["once", "diff_low_min"], table.loc["once", "diff_high_max"]) == (-0.27, -0.21)
    assert table.loc["once", "p_holm_max"] == pytest.approx(1e-6)
    assert bool(table.loc["ref", "below_spread"]) is False and table.loc["ref", "difference"] == 0
    said = dict(zip(table.index, seeds.verdicts(table.reset_index(), "ref"), strict=True))
    assert "smaller than the between-seed spread, not a finding" in said["a"]
    assert "a finding" in said["once"] and "4/4" in said["once"] and "not" not in said["once"]
    assert said["ref"] == "ref is the reference."


def test_a_difference_beyond_the_spread_significant_in_some_seeds_only_is_not_robust() -> None:
    tests = paired_table()
    tests.loc[(tests["model"] == "once") & (tests["data_seed"] == 1), ["ci_high"]] = 0.01
    table = seeds.seed_table(runs_table(), tests, reference="ref")
    row = table.set_index("model").loc["once"]
    assert (row["seeds_significant"], row["n_seed_tests"]) == (2, 4)
    assert "within 2 of 4 seeds only; not a robust finding" in seeds.verdict(table.iloc[2], "ref")


def test_a_model_without_paired_tests_gets_no_significance_claim() -> None:
    table = seeds.seed_table(runs_table(), paired_table().query("model == 'a'"), reference="ref")
    once = table.set_index("model").loc["once"]
    assert once["n_seed_tests"] == 0 and np.isnan(once["diff_low_min"])
    assert seeds.verdict(table.iloc[2], "ref").endswith("no within-seed paired test (e.g. the ceiling).")


def test_one_run_per_model_leaves_the_spread_unknown_not_a_finding() -> None:
    runs = runs_table().query("data_seed == 0 and (train_seed == 0 or train_seed.isna())")
    table = seeds.seed_table(runs, paired_table().query("data_seed == 0 and train_seed == 0"), reference="ref")
    assert table["sd"].isna().all() and table["below_spread"].isna().sum() == 2
    assert "spread is unknown" in seeds.verdict(table.iloc[1], "ref")


def test_bad_tables_are_refused_naming_what_is_wrong() -> None:
    with pytest.raises(seeds.SeedTableError, match="lacks column"):
        seeds.seed_spread(runs_table().drop(columns="data_seed"))
    with pytest.raises(seeds.SeedTableError, match="repeats run"):
        seeds.seed_spread(pd.concat([runs_table(), runs_table().iloc[:1]]))
    with pytest.raises(seeds.SeedTableError, match="reference 'nope'"):
        seeds.seed_table(runs_table(), paired_table(), reference="nope")
    assert seeds.best_by_mean(runs_table(), ["once", "ref", "a"]) == "a"


def compose_compare(*overrides: str):
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("compare", overrides=list(overrides))


def test_each_model_seed_parameter_is_found_by_name_and_set_to_the_training_seed() -> None:
    cfg = compose_compare("models=all", "output_dir=/x", "data_dir=/x")
    found = {label: pipeline.seed_parameter(cfg.models[label]) for label in cfg.models}
    assert found == {"random": "seed", "popularity": None, "popularity_district": None, "item_knn": None,
                     "ease": None, "content": "random_state", "lightfm": "random_state",
                     "lightfm_hybrid": "random_state", "nearest": None, "newest_nearby": None,
                     "popularity_prior": None}
    model = pipeline.build_model(pipeline.with_model_seed(cfg.models.lightfm_hybrid, 7))
    assert model.get_params()["random_state"] == 7
    assert pipeline.build_model(pipeline.with_model_seed(cfg.models.ease, 7)).get_params() == \
        pipeline.build_model(cfg.models.ease).get_params()


def test_seed_lists_default_to_the_seed_and_refuse_one_directory_for_several_data_seeds() -> None:
    assert pipeline.seed_lists(compose_compare("seed=3", "output_dir=/x")) == ([3], [3])
    cfg = compose_compare("data_seeds=[0,2]", "train_seeds=[5]", "output_dir=/x")
    assert pipeline.seed_lists(cfg) == ([0, 2], [5])
    assert str(pipeline.with_data_seed(cfg, 2).data_dir).endswith("small-realistic-seed2")
    with pytest.raises(pipeline.ConfigError, match="every data seed needs its own data_dir"):
        pipeline.seed_lists(compose_compare("data_seeds=[0,1]", "data_dir=/some/where", "output_dir=/x"))
    with pytest.raises(pipeline.ConfigError, match="train_seeds: expected distinct"):
        pipeline.seed_lists(compose_compare("train_seeds=[1,1]", "output_dir=/x"))


@pytest.mark.slow
def test_compare_over_data_and_training_seeds_writes_the_seed_table_with_every_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from recsys.cli.compare import compare_models

    monkeypatch.setenv("RECSYS_HOME", str(tmp_path))  # the seed datasets are generated under tmp_path/data
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = compose_compare(
        "data=tiny", "data.n_seekers=300", "data.n_jobs=150", "data_seeds=[0,1]", "train_seeds=[0,1]",
        "models=baselines", "+model@models.lightfm_hybrid=lightfm_hybrid", "models.lightfm_hybrid.epochs=2",
        "models.lightfm_hybrid.no_components=4", "features=minimal", "eval=quick", "eval.bootstrap_samples=20",
        f"output_dir={tmp_path}/out", f"tracking.uri={uri}", f"tracking.artifact_location={tmp_path}/artifacts",
        "tracking.experiment=seeds", "save_model=false")
    comparison = compare_models(cfg)

    assert {p.name for p in (tmp_path / "data" / "synthetic").iterdir()} == {"tiny-realistic-seed0", "tiny-realistic-seed1"}
    result = comparison.seeds
    assert result is not None and result.data_seeds == [0, 1] and result.train_seeds == [0, 1]
    # seeded models (random: seed, lightfm_hybrid: random_state) 2 x 2 runs; the others once per dataset
    expected = {"random": 4, "lightfm_hybrid": 4, "popularity": 2, "popularity_district": 2, "nearest": 2,
                "newest_nearby": 2, "popularity_prior": 2}
    assert dict(zip(result.table["model"], result.table["n_runs"], strict=True)) == expected
    assert len(result.runs) == sum(expected.values())
    hybrid = result.runs.loc[result.runs["model"] == "lightfm_hybrid"]
    assert hybrid["hr@10"].nunique() > 1  # the training seed reached the model
    table = result.table.set_index("model")
    for model, runs in result.runs.groupby("model"):
        assert table.loc[model, "mean"] == pytest.approx(runs["hr@10"].mean())
        assert table.loc[model, "sd"] == pytest.approx(runs["hr@10"].std(ddof=1))
    assert table.loc[result.reference, "difference"] == 0
    # within each data seed: the six other models against the (unseeded) reference at training seed 0, and
    # the two seeded ones (random, lightfm_hybrid) again at training seed 1
    assert result.reference not in ("random", "lightfm_hybrid")
    assert len(result.tests) == (6 + 2) * 2

    out = tmp_path / "out" / "report"
    assert {"report.md", "seed_table.csv", "seed_runs.csv", "seed_tests.csv"} <= {p.name for p in out.iterdir()}
    assert {f"data_seed{d}-train_seed{t}" for d in (0, 1) for t in (0, 1)} <= {p.name for p in out.iterdir()}
    assert len(pd.read_csv(out / "seed_runs.csv")) == len(result.runs)
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "A difference smaller than the between-seed spread is not a finding" in markdown
    seed_rows = markdown[markdown.index("| model"):markdown.index("\n\n", markdown.index("| model"))].splitlines()
    assert len(seed_rows) == 2 + len(expected) and len({row.count("|") for row in seed_rows}) == 1
    printed = capsys.readouterr().out
    table_lines = printed[printed.index("model "):printed.index("\n\n")].splitlines()
    assert max(len(line) for line in table_lines) <= 120 and len(table_lines) >= 1 + len(expected)

    client = mlflow.MlflowClient(uri)
    mlflow.set_tracking_uri(uri)
    frame = mlflow.search_runs(experiment_names=["seeds"])
    parent = frame.loc[frame["tags.mlflow.parentRunId"].isna()].squeeze()
    children = frame.loc[frame["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert len(children) == len(result.runs)
    hybrid_children = children.loc[children["tags.model"] == "lightfm_hybrid"]
    assert sorted(zip(hybrid_children["params.data_seed"], hybrid_children["params.train_seed"], strict=True)) == \
        [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]
    assert (hybrid_children["params.model.random_state"] == hybrid_children["params.train_seed"]).all()
    assert set(children.loc[children["tags.model"] == "popularity", "params.train_seed"]) == {"none"}
    metrics = client.get_run(parent["run_id"]).data.metrics
    assert metrics["seeds.lightfm_hybrid.hr_at_10.mean"] == pytest.approx(table.loc["lightfm_hybrid", "mean"])
    assert OmegaConf.to_container(cfg.data_seeds) == [0, 1]
    assert report.seed_console_table(result).count("\n") >= len(expected)


@pytest.mark.slow
def test_one_data_seed_other_than_seed_is_the_dataset_compared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    from recsys.cli.compare import compare_models

    monkeypatch.setenv("RECSYS_HOME", str(tmp_path))
    cfg = compose_compare("data=tiny", "data.n_seekers=300", "data.n_jobs=150", "seed=0", "data_seeds=[2]",
                          "train_seeds=[3]", "models=baselines", "eval=quick", "eval.bootstrap_samples=20",
                          f"output_dir={tmp_path}/out", "tracking=disabled", "save_model=false")
    started = time.perf_counter()
    comparison = compare_models(cfg)
    comparison_seconds = time.perf_counter() - started
    assert comparison.seeds is None  # one run: the single-seed report
    assert {p.name for p in (tmp_path / "data" / "synthetic").iterdir()} == {"tiny-realistic-seed2"}
    assert (tmp_path / "out" / "report" / "comparison.csv").is_file()
    timings = pd.read_csv(tmp_path / "out" / "report" / "timings.csv")  # every stage, in the order it ran
    models = list(cfg.models)
    assert timings["stage"].tolist() == ["load", "split", *[f"{m} {step}" for m in models for step in ("fit", "evaluate")],
                                         "report"]  # eval=quick: no reference
    assert (timings[["wall_s", "cpu_s"]] >= 0).all().all() and (timings["peak_rss_gb"] > 0).all()
    assert timings["wall_s"].sum() <= comparison_seconds
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "timings.csv"), timings)  # the progress file
