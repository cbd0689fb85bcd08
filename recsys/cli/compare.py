"""``recsys-compare``: several models on one split, against the best baseline and the oracle.

One MLflow run per comparison with a nested child run per model; the report (Markdown, CSV, PNG)
is written to ``report_dir`` and logged under ``report/``. The servable model (one the ranking API
can serve) with the best HR@10 is the champion: its ranker is saved and logged in its child run and,
with ``register=true``, registered as ``job-ranker@champion``. ``report/timings.csv`` holds the wall clock,
CPU time and peak memory of each stage (load, split, reference, each model's fit and evaluation, report);
``<output_dir>/timings.csv`` is rewritten after every stage while the run goes.
"""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig
from tqdm.auto import tqdm

from recsys.cli import pipeline
from recsys.cli.schemas import register_configs
from recsys.evaluation import EvaluationResult, seeds
from recsys.paths import config_dir
from recsys.progress import progress_enabled
from recsys.tracking import report, runs
from recsys.tracking.session import tracked_run

register_configs()


def compare_models(cfg: DictConfig) -> report.Comparison:
    """Fit, evaluate and compare every model of ``cfg.models``; write and log the report.

    With ``data_seeds`` / ``train_seeds`` (default ``[seed]`` each: one run) the comparison is repeated on
    the dataset of every data seed (generated if missing) with every model fitted once per training seed
    (its seed parameter, :func:`recsys.cli.pipeline.seed_parameter`; models without one once per dataset).
    The returned comparison is then that of the first data seed and training seed, with the aggregate over
    seeds in its ``seeds`` attribute; the report is the seed report (:func:`report.write_seed_report`).
    """
    if not cfg.models:
        raise pipeline.ConfigError("models: nothing to compare; choose a set (models=baselines_and_hybrid) "
                                   "or add one (+model@models.ease=ease)")
    pipeline.check_config(cfg)
    data_seeds, train_seeds = pipeline.seed_lists(cfg)
    over_seeds = len(data_seeds) * len(train_seeds) > 1
    seeded = {label: pipeline.seed_parameter(cfg.models[label]) is not None for label in cfg.models}
    first = (data_seeds[0], train_seeds[0])
    results: dict[tuple[int, int], dict[str, EvaluationResult]] = {}
    oracles: dict[int, EvaluationResult | None] = {}
    kept: dict[str, pipeline.Evaluated] = {}  # the first seeds' fitted models: the champion comes from them
    child_runs: dict[str, str] = {}
    first_cfg = pipeline.with_data_seed(cfg, first[0])
    times = pipeline.StageTimes(cfg.output_dir)  # output_dir/timings.csv after every stage, then report/
    with times.stage("load"):
        datasets = {first[0]: pipeline.load_dataset(first_cfg)}
    with times.stage("split"):
        split = pipeline.make_split(first_cfg, datasets[first[0]])
    jobs = [(d, label, t if seeded[label] else None) for d in data_seeds for label in cfg.models
            for t in (train_seeds if seeded[label] else train_seeds[:1])]
    with tracked_run(cfg.tracking, run_name=f"compare on {split.name}" + (" over seeds" if over_seeds else ""),
                     tags=pipeline.run_tags(cfg, "compare")) as parent:
        if parent is not None:
            runs.log_config(cfg)
            runs.log_dataset(split.train.interactions, first_cfg.data_dir, name=Path(first_cfg.data_dir).name)
        progress = tqdm(jobs, desc="runs" if over_seeds else "models", unit="run" if over_seeds else "model",
                        disable=not progress_enabled())
        for data_seed, label, train_seed in progress:
            seed_cfg = pipeline.with_data_seed(cfg, data_seed)
            if data_seed not in oracles:
                if data_seed not in datasets:
                    with times.stage(f"load data {data_seed}"):
                        datasets = {first[0]: datasets[first[0]], data_seed: pipeline.load_dataset(seed_cfg)}
                    with times.stage(f"split data {data_seed}"):
                        split = pipeline.make_split(seed_cfg, datasets[data_seed])
                    if parent is not None:  # every data seed's tables are an input of the parent run
                        runs.log_dataset(split.train.interactions, seed_cfg.data_dir,
                                         name=Path(seed_cfg.data_dir).name)
                clock, load = (time.perf_counter(), time.process_time()), os.getloadavg()[0]
                reference = oracles[data_seed] = pipeline.oracle_result(seed_cfg, split)
                if reference is not None:
                    times.add(f"reference ({reference.model}) evaluate"
                              + (f" data {data_seed}" if over_seeds else ""),
                              time.perf_counter() - clock[0], time.process_time() - clock[1], load)
            progress.set_postfix_str(label if not over_seeds else f"{label} data {data_seed} train {train_seed}")
            model_cfg = pipeline.with_model_seed(cfg.models[label], train_seed)
            model = pipeline.build_model(model_cfg)
            name = label if not over_seeds else runs.seed_run_name(label, data_seed, train_seed)
            seed_tags = {} if not over_seeds else {"data_seed": data_seed, "train_seed": train_seed}
            with tracked_run(cfg.tracking, run_name=name, nested=True,
                             tags=pipeline.run_tags(cfg, "compare", model=label, **seed_tags)) as child:
                load = os.getloadavg()[0]
                evaluated = pipeline.fit_and_evaluate(model, split, cfg.eval, name=label,
                                                      oracle=oracles[data_seed])
                times.add(f"{name} fit", evaluated.fit_seconds, evaluated.fit_cpu_seconds, load)
                times.add(f"{name} evaluate", evaluated.score_seconds, evaluated.score_cpu_seconds)
                if child is not None:
                    runs.log_params_flat(model_cfg, prefix="model.")
                    if over_seeds:
                        runs.log_seed_params(data_seed, train_seed)
                    runs.log_evaluation(evaluated.result, fit_seconds=evaluated.fit_seconds,
                                        score_seconds=evaluated.score_seconds)
            for t in ([train_seed] if train_seed is not None else train_seeds):
                results.setdefault((data_seed, t), {})[label] = evaluated.result
            if data_seed == first[0] and train_seed in (None, first[1]):
                kept[label] = evaluated
                if child is not None:
                    child_runs[label] = child.info.run_id
            del evaluated, model
        report_clock = (time.perf_counter(), time.process_time())
        comparisons = compare_each_seed(cfg, results, oracles, seeded)
        comparison = comparisons[first]
        if over_seeds:
            comparison.seeds = report.seed_comparison(comparisons, seeded, comparison.reference)
            report.write_seed_report(comparison.seeds, cfg.report_dir,
                                     title=f"Model comparison on {comparison.split['split']} over seeds")
        else:
            report.write_report(comparison, cfg.report_dir, title=f"Model comparison on {comparison.split['split']}")
        if parent is not None:
            import mlflow

            mlflow.log_artifacts(cfg.report_dir, "report")
            mlflow.set_tag("recsys.reference", comparison.reference)
            if comparison.seeds is not None:
                runs.log_seed_table(comparison.seeds.table, comparison.seeds.metric, data_seeds, train_seeds)
        servable = [label for label, e in kept.items() if pipeline.servable(e.model)]
        ranking = comparison.seeds.table.rename(columns={"mean": "hr@10"}) if comparison.seeds is not None \
            else comparison.table
        champion = champion_label(ranking, servable) if servable else None
        times.add("report", time.perf_counter() - report_clock[0], time.process_time() - report_clock[1])
        if champion is not None and (cfg.save_model or cfg.register):
            with times.stage("save champion"), \
                    tracked_run(cfg.tracking, resume_run_id=child_runs.get(champion)) as run:
                pipeline.save_model(kept[champion].model, datasets[first[0]], first_cfg, log=run is not None)
        timings = times.write(cfg.report_dir)
        if parent is not None:
            mlflow.log_artifact(str(timings), "report")
    if comparison.seeds is not None:
        print(report.seed_console_table(comparison.seeds))
        print("\n" + "\n".join(textwrap.fill(line, report.CONSOLE_WIDTH, subsequent_indent="  ") for line in
                                seeds.verdicts(comparison.seeds.table, comparison.reference, comparison.seeds.metric)))
        saved = f" (its data seed {first[0]}, train seed {first[1]} fit)" if champion is not None else ""
        print(f"\nbest servable model by mean HR@10 (champion): {champion}{saved}\nseed table, every run and the "
              f"per-seed reports: {cfg.report_dir}/report.md")
    else:
        print(report.console_table(comparison))
        print(f"\nbest servable model (champion): {champion}\nfull table and plots: {cfg.report_dir}/report.md")
    print(pipeline.run_text(parent, cfg.tracking))
    return comparison


def compare_each_seed(cfg: DictConfig, results: dict[tuple[int, int], dict[str, EvaluationResult]],
                      oracles: dict[int, EvaluationResult | None], seeded: dict[str, bool]
                      ) -> dict[tuple[int, int], report.Comparison]:
    """The comparison of each ``(data_seed, train_seed)`` against one reference: the best baseline by HR@10
    (one run), else the baseline with the best mean HR@10 over every run (so all seeds share it)."""
    reference = None
    if len(results) > 1:
        rows = [{"model": label, "data_seed": data_seed, "train_seed": train_seed if seeded[label] else None,
                 report.HEADLINE: result.value("hr", 10)}
                for (data_seed, train_seed), found in results.items() for label, result in found.items()]
        table = pd.DataFrame(rows).drop_duplicates(list(seeds.RUN_KEYS))
        reference = seeds.best_by_mean(table, list(cfg.baselines), report.HEADLINE)
    return {key: report.comparison_table(found, list(cfg.baselines), oracles[key[0]],
                                         n_resamples=cfg.eval.bootstrap_samples, seed=cfg.eval.seed,
                                         reference=reference)
            for key, found in results.items()}


def champion_label(table: pd.DataFrame, candidates: list[str]) -> str:
    """Among ``candidates`` (servable models), the one with the highest HR@10; ties go to the first listed."""
    rows = table.loc[table["model"].isin(candidates)].reset_index(drop=True)
    return str(rows["model"].iloc[int(rows["hr@10"].to_numpy().argmax())])


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="compare")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns the best HR@10 (oracle excluded; over seeds: the best mean HR@10)."""
    comparison = compare_models(cfg)
    if comparison.seeds is not None:
        table = comparison.seeds.table
        return float(table.loc[~table["model"].isin(pipeline.REFERENCE_LABELS), "mean"].max())
    table = comparison.table
    return float(table.loc[~table["model"].isin(pipeline.REFERENCE_LABELS), "hr@10"].max())


if __name__ == "__main__":
    main()
