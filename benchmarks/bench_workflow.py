"""Time ``make run`` (``python -m recsys.cli.run``) from scratch, then check the quality of the default
hybrid config on the data it generated.

1. ``make run`` in a subprocess with a temporary data directory and MLflow store (the project's
   ``mlflow.db`` is not touched): generate ``small``, compare the baselines with the LightFM hybrid,
   register the champion. Budget: 5 minutes on 2 cores after install. Wall clock and the subprocess's
   CPU time (user + system, all its threads); each model's fit and scoring times and HR@10 are read back
   from the store.
2. The default ``lightfm_hybrid``, ``lightfm`` (collaborative) and ``content`` configs on the same split
   (``models=cold_start`` of ``compare.yaml``): HR@10 with 95% intervals, fraction of the oracle's HR@10,
   and paired t-tests of the hybrid against the other two (Holm-adjusted). Targets from the workflow
   issue: hybrid >= 60% of the oracle, and better than both with p < 0.05.

Writes the sections "Workflow: make run" and "Workflow: default hybrid config" of ``benchmarks/RESULTS.md``.
``--skip-quality`` runs step 1 only. Extra arguments are Hydra overrides for both steps (to try another
default, e.g. ``models.lightfm_hybrid.epochs=30``); they are named in the sections, whose titles then
end with ``(<overrides>)`` so the default sections are kept.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

BUDGET_S = 300.0
ORACLE_SHARE_TARGET = 0.6
COMPARED = ("lightfm_hybrid", "lightfm", "content")
"""Labels in ``configs/models/cold_start.yaml``: the hybrid first (the reference of the paired tests)."""


def children_cpu_seconds() -> float:
    """User + system CPU time of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def overrides_note(overrides: list[str]) -> str:
    return f" with overrides `{' '.join(overrides)}`" if overrides else ""


def time_make_run(tmp: str, overrides: list[str]) -> str:
    """Run ``make run`` (plus ``overrides``) into ``tmp``; return the Markdown section body."""
    uri = f"sqlite:///{tmp}/mlflow.db"
    command = [sys.executable, "-m", "recsys.cli.run", f"data_dir={tmp}/small", f"output_dir={tmp}/out",
               f"tracking.uri={uri}", f"tracking.artifact_location={tmp}/artifacts", *overrides]
    load_before = os.getloadavg()[0]
    cpu_before, start = children_cpu_seconds(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    wall, cpu = time.perf_counter() - start, children_cpu_seconds() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"make run failed:\n{done.stderr[-3000:]}")
    import mlflow

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["baselines_vs_hybrid"])
    models = runs.loc[runs["tags.mlflow.parentRunId"].notna()].sort_values("start_time")
    rows = "\n".join(f"| {name} | {fit:.1f} | {score:.1f} | {hr:.3f} | {share:.0%} |" for name, fit, score, hr, share
                     in models[["tags.mlflow.runName", "metrics.fit_seconds", "metrics.score_seconds",
                                "metrics.hr_at_10", "metrics.of_oracle.hr_at_10"]].itertuples(index=False))
    return (f"`python -m recsys.cli.run`{overrides_note(overrides)} from scratch (generates `small`, compares 4 models with the oracle, "
            f"registers the champion): **{wall:.0f} s** wall clock (budget {BUDGET_S:.0f} s: "
            f"{'within' if wall <= BUDGET_S else 'OVER'}), {cpu:.0f} s CPU (user + system, all threads). "
            f"Load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on "
            f"{os.cpu_count()} CPUs shared with other jobs: wall clock carries that noise.\n\n"
            f"| model | fit (s) | scoring + metrics (s) | HR@10 | of oracle |\n|---|---:|---:|---:|---:|\n{rows}\n")


def default_hybrid_quality(data_dir: str, output_dir: str, overrides: list[str]) -> str:
    """Default hybrid vs collaborative and content configs on ``make run``'s split; Markdown body."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from recsys.cli import pipeline
    from recsys.cli.schemas import register_configs
    from recsys.evaluation import compare
    from recsys.paths import config_dir

    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("compare", overrides=["models=cold_start", f"data_dir={data_dir}",
                                            f"output_dir={output_dir}", "tracking=disabled", *overrides])
    split = pipeline.make_split(cfg, pipeline.load_dataset(cfg))
    oracle = pipeline.oracle_result(cfg, split)
    results, cpu_seconds = {}, {}
    for label in COMPARED:
        cpu = time.process_time()
        results[label] = pipeline.fit_and_evaluate(pipeline.build_model(cfg.models[label]), split, cfg.eval,
                                                   name=label, oracle=oracle).result
        cpu_seconds[label] = time.process_time() - cpu
    tests = compare(results, reference=COMPARED[0], metric="hr@10", n_resamples=cfg.eval.bootstrap_samples,
                    seed=cfg.eval.seed).set_index("model")
    lines = ["| model | HR@10 [95% CI] | of oracle | hybrid - model [95% CI] | p (Holm) | fit + eval CPU s |",
             "|---|---|---:|---|---:|---:|"]
    for label, result in results.items():
        row = result.summary.query("metric == 'hr' and k == 10").iloc[0]
        versus = "reference" if label == COMPARED[0] else (
            f"{-tests.loc[label, 'difference']:+.3f} [{-tests.loc[label, 'ci_high']:+.3f}, "
            f"{-tests.loc[label, 'ci_low']:+.3f}] | {tests.loc[label, 'p_holm']:.1e}")
        lines.append(f"| {label} | {row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] | "
                     f"{row['of_oracle']:.1%} | {versus}{' | –' if label == COMPARED[0] else ''} | "
                     f"{cpu_seconds[label]:.0f} |")
    share = results[COMPARED[0]].summary.query("metric == 'hr' and k == 10")["of_oracle"].iloc[0]
    beats = {label: bool(tests.loc[label, "difference"] < 0 and tests.loc[label, "p_holm"] < 0.05)
             for label in COMPARED[1:]}
    hybrid = OmegaConf.to_container(cfg.models.lightfm_hybrid, resolve=True)
    settings = ", ".join(f"{key}={hybrid[key]}" for key in ("no_components", "epochs", "identity_weight", "loss"))
    return (f"Default configs (`configs/model/*.yaml`, `features=standard`){overrides_note(overrides)} on the split `make run` uses "
            f"({split.name}, {results[COMPARED[0]].split_info.get('n_test_seekers')} test seekers, all active "
            f"jobs as candidates). Hybrid: {settings}; job blocks {list(hybrid['job_blocks'])}.\n\n"
            + "\n".join(lines) + "\n\n"
            f"Hybrid reaches **{share:.1%}** of the oracle's HR@10 (target {ORACLE_SHARE_TARGET:.0%}: "
            f"{'met' if share >= ORACLE_SHARE_TARGET else 'MISSED'}); better than "
            + ", ".join(f"{label}: **{beats[label]}**" for label in COMPARED[1:])
            + " (paired t-test over test seekers, Holm-adjusted p < 0.05).\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-quality", action="store_true", help="only time make run")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of compare.yaml for both steps")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-workflow-") as tmp:
        suffix = f" ({' '.join(args.overrides)})" if args.overrides else ""
        body = time_make_run(tmp, args.overrides)
        write_section(f"Workflow: make run{suffix}", body)
        print(body)
        if not args.skip_quality:
            body = default_hybrid_quality(f"{tmp}/small", f"{tmp}/quality", args.overrides)
            write_section(f"Workflow: default hybrid config{suffix}", body)
            print(body)


if __name__ == "__main__":
    main()
