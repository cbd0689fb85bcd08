"""Cold-start slices of experiment 01 (protocol v2) over its seeds: HR@10 on new postings and cold seekers.

Reads the ``seed_runs.csv`` that ``recsys-compare`` wrote for experiment 01 (one row per model x data seed x
training seed) and prints, per world and model, the mean and between-seed SD (ddof=1) of the slice metrics.
Slices are descriptive (no multiplicity correction): exploratory, not a headline.

    .venv/bin/python experiments/02_cold_start/slices_from_01.py \
        experiments/01_baselines_vs_hybrid/results/easy experiments/01_baselines_vs_hybrid/results/realistic
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

COLUMNS = {
    "hr@10": "HR@10 (all)",
    "hr@10_new_jobs": "HR@10 new postings",
    "hr@10_cold_seekers": "HR@10 cold seekers",
}


def summarise(results_dir: Path) -> pd.DataFrame:
    """Mean ± between-seed SD of each slice column per model (models in report order)."""
    runs = pd.read_csv(results_dir / "seed_runs.csv")
    order = list(dict.fromkeys(runs["model"]))
    grouped = runs.groupby("model", sort=False)[list(COLUMNS)]
    mean, sd, n = grouped.mean(), grouped.std(ddof=1), grouped.size()
    table = pd.DataFrame({"runs": n})
    for column, label in COLUMNS.items():
        table[label] = [f"{m:.3f} ± {s:.3f}" for m, s in zip(mean[column], sd[column], strict=True)]
    return table.loc[order]


def main(paths: list[str]) -> None:
    for path in paths:
        print(f"### {Path(path).name}\n")
        print(summarise(Path(path)).to_markdown())
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
