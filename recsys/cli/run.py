"""``python -m recsys.cli.run`` (``make run``): the whole workflow in one command.

Generates the ``small`` dataset (the default ``realistic`` world, seed 0, ``data/synthetic/small-realistic-seed0``)
if it is missing, compares the baselines with the LightFM hybrid (experiment ``baselines_vs_hybrid``),
registers the best model's ranker as ``job-ranker@champion``, prints the comparison table and the command
that opens the MLflow UI. Extra arguments are Hydra overrides of ``compare.yaml``
(``python -m recsys.cli.run data=tiny``, ``python -m recsys.cli.run data/world=easy``).
"""

from __future__ import annotations

import sys
import time

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from recsys.cli.compare import compare_models
from recsys.cli.pipeline import ensure_data
from recsys.cli.schemas import register_configs
from recsys.paths import config_dir, recsys_home
from recsys.tracking import disable_telemetry

__all__ = ["compose_run_config", "ensure_data", "main"]

DEFAULT_OVERRIDES = ("experiment=baselines_vs_hybrid", "register=true")


def compose_run_config(overrides: list[str]) -> DictConfig:
    """``compare.yaml`` with the run defaults, an output directory under ``outputs/run/`` and ``overrides``."""
    register_configs()
    output_dir = recsys_home() / "outputs" / "run" / time.strftime("%Y-%m-%d_%H-%M-%S")
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3", job_name="run"):
        return compose("compare", overrides=[*DEFAULT_OVERRIDES, f"output_dir={output_dir}", *overrides])


def main(argv: list[str] | None = None) -> None:
    """Run the workflow; ``argv`` (default ``sys.argv[1:]``) are extra Hydra overrides."""
    disable_telemetry()
    cfg = compose_run_config(list(sys.argv[1:] if argv is None else argv))
    compare_models(cfg)  # generates the data first if missing (ensure_data); prints the run, store and UI line


if __name__ == "__main__":
    main()
