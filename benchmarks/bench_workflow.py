"""Time ``make run`` (``python -m recsys.cli.run``) from scratch: generate ``small``, compare the baselines
with the LightFM hybrid, register the champion. Budget: 5 minutes on 2 cores after install.

Runs in a subprocess with a temporary data directory and MLflow store (the project's ``mlflow.db`` is
not touched), then reads each model's ``fit_seconds`` / ``score_seconds`` back from the store.
Writes the section "Workflow: make run" of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

BUDGET_S = 300.0


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-workflow-") as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        command = [sys.executable, "-m", "recsys.cli.run", f"data_dir={tmp}/small", f"output_dir={tmp}/out",
                   f"tracking.uri={uri}", f"tracking.artifact_location={tmp}/artifacts"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"make run failed:\n{done.stderr[-3000:]}")
        import mlflow

        mlflow.set_tracking_uri(uri)
        runs = mlflow.search_runs(experiment_names=["baselines_vs_hybrid"])
        models = runs.loc[runs["tags.mlflow.parentRunId"].notna()].sort_values("start_time")
        rows = "\n".join(f"| {name} | {fit:.1f} | {score:.1f} | {hr:.3f} |" for name, fit, score, hr in
                         models[["tags.mlflow.runName", "metrics.fit_seconds", "metrics.score_seconds",
                                 "metrics.hr_at_10"]].itertuples(index=False))
    body = (f"`python -m recsys.cli.run` from scratch (generates `small`, compares 4 models with the oracle, "
            f"registers the champion): **{wall:.0f} s** wall clock (budget {BUDGET_S:.0f} s: "
            f"{'within' if wall <= BUDGET_S else 'OVER'}).\n\n"
            f"| model | fit (s) | scoring + metrics (s) | HR@10 |\n|---|---|---|---|\n{rows}\n")
    write_section("Workflow: make run", body)
    print(body)


if __name__ == "__main__":
    main()
