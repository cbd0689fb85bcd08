"""``recsys-compare``: several models on one split, against the best baseline and the oracle.

One MLflow run per comparison with a nested child run per model; the report (Markdown, CSV, PNG)
is written to ``report_dir`` and logged under ``report/``. The servable model (one the ranking API
can serve) with the best HR@10 is the champion: its ranker is saved and logged in its child run and,
with ``register=true``, registered as ``job-ranker@champion``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig
from tqdm.auto import tqdm

from recsys.cli import pipeline
from recsys.cli.schemas import register_configs
from recsys.paths import config_dir
from recsys.progress import progress_enabled
from recsys.tracking import report, runs
from recsys.tracking.session import tracked_run

register_configs()


def compare_models(cfg: DictConfig) -> report.Comparison:
    """Fit, evaluate and compare every model of ``cfg.models``; write and log the report."""
    if not cfg.models:
        raise pipeline.ConfigError("models: nothing to compare; choose a set (models=baselines_and_hybrid) "
                                   "or add one (+model@models.ease=ease)")
    pipeline.check_config(cfg)
    dataset = pipeline.load_dataset(cfg)
    split = pipeline.make_split(cfg, dataset)
    with tracked_run(cfg.tracking, run_name=f"compare on {split.name}", tags=pipeline.run_tags(cfg, "compare")) \
            as parent:
        if parent is not None:
            runs.log_config(cfg)
            runs.log_dataset(split.train.interactions, cfg.data_dir, name=Path(cfg.data_dir).name)
        oracle = pipeline.oracle_result(cfg, split)
        evaluated: dict[str, pipeline.Evaluated] = {}
        child_runs: dict[str, str] = {}
        for label in (progress := tqdm(list(cfg.models), desc="models", unit="model", disable=not progress_enabled())):
            progress.set_postfix_str(label)
            model = pipeline.build_model(cfg.models[label])
            with tracked_run(cfg.tracking, run_name=label, nested=True,
                             tags=pipeline.run_tags(cfg, "compare", model=label)) as child:
                evaluated[label] = pipeline.fit_and_evaluate(model, split, cfg.eval, name=label, oracle=oracle)
                if child is not None:
                    runs.log_params_flat(cfg.models[label], prefix="model.")
                    runs.log_evaluation(evaluated[label].result, fit_seconds=evaluated[label].fit_seconds,
                                        score_seconds=evaluated[label].score_seconds)
                    child_runs[label] = child.info.run_id
        comparison = report.comparison_table({label: e.result for label, e in evaluated.items()},
                                             list(cfg.baselines), oracle, n_resamples=cfg.eval.bootstrap_samples,
                                             seed=cfg.eval.seed)
        report.write_report(comparison, cfg.report_dir, title=f"Model comparison on {split.name}")
        if parent is not None:
            import mlflow

            mlflow.log_artifacts(cfg.report_dir, "report")
            mlflow.set_tag("recsys.reference", comparison.reference)
        servable = [label for label, e in evaluated.items() if pipeline.servable(e.model)]
        champion = champion_label(comparison.table, servable) if servable else None
        if champion is not None and (cfg.save_model or cfg.register):
            with tracked_run(cfg.tracking, resume_run_id=child_runs.get(champion)) as run:
                pipeline.save_model(evaluated[champion].model, dataset, cfg, log=run is not None)
    print(report.console_table(comparison))
    print(f"\nbest servable model (champion): {champion}\nfull table and plots: {cfg.report_dir}/report.md")
    print(pipeline.run_text(parent, cfg.tracking))
    return comparison


def champion_label(table: pd.DataFrame, candidates: list[str]) -> str:
    """Among ``candidates`` (servable models), the one with the highest HR@10; ties go to the first listed."""
    rows = table.loc[table["model"].isin(candidates)].reset_index(drop=True)
    return str(rows["model"].iloc[int(rows["hr@10"].to_numpy().argmax())])


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="compare")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns the best HR@10 (oracle excluded)."""
    table = compare_models(cfg).table
    return float(table.loc[table["model"] != "oracle", "hr@10"].max())


if __name__ == "__main__":
    main()
