"""Between-seed spread of each paired difference in a ``recsys-compare`` seed report.

The report's seed table compares a model's mean difference to the reference with the between-seed SD of the
*levels* (HR@10 of the model and of the reference). This script adds the spread of the *paired differences*
themselves: for every model, the within-seed difference to the reference (``seed_tests.csv``, one row per
data seed x training seed) summarised as mean, SD (ddof=1), min and max over the runs, and how many runs
have a paired interval excluding 0 in the direction of the mean. Written next to the report as
``effect_spread.md`` (and ``effect_spread.csv``).

    python experiments/04_feature_ablation/effect_spread.py experiments/04_feature_ablation/results/v2-easy
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def effect_spread(tests: pd.DataFrame) -> pd.DataFrame:
    """One row per model: runs, mean / SD / min / max of ``difference`` over runs, runs whose paired interval
    excludes 0 on the side of the mean, the largest Holm p, and ``exceeds_spread`` (``|mean| > SD``)."""
    grouped = tests.groupby("model", sort=False)
    table = pd.DataFrame({
        "runs": grouped.size(),
        "mean_diff": grouped["difference"].mean(),
        "sd_diff": grouped["difference"].std(ddof=1),
        "min_diff": grouped["difference"].min(),
        "max_diff": grouped["difference"].max(),
        "p_holm_max": grouped["p_holm"].max(),
    })
    side = np.sign(table["mean_diff"]).reindex(tests["model"]).to_numpy()
    excludes = np.where(side > 0, tests["ci_low"].to_numpy() > 0, tests["ci_high"].to_numpy() < 0)
    table["significant_runs"] = pd.Series(excludes, index=tests.index).groupby(tests["model"].to_numpy()).sum()
    table["exceeds_spread"] = table["mean_diff"].abs() > table["sd_diff"]
    return table.reset_index()


def main(report_dir: str) -> None:
    directory = Path(report_dir)
    tests = pd.read_csv(directory / "seed_tests.csv")
    tests = tests[tests["metric"] == "hr@10"]
    reference = tests["reference"].iloc[0]
    table = effect_spread(tests)
    table.to_csv(directory / "effect_spread.csv", index=False)
    shown = table.assign(
        mean_diff=table["mean_diff"].map("{:+.4f}".format), sd_diff=table["sd_diff"].map("{:.4f}".format),
        min_max=table["min_diff"].map("{:+.4f}".format) + " … " + table["max_diff"].map("{:+.4f}".format),
        significant_runs=table["significant_runs"].astype(int).astype(str) + "/" + table["runs"].astype(str),
        p_holm_max=table["p_holm_max"].map("{:.3g}".format),
        exceeds_spread=table["exceeds_spread"].map({True: "yes", False: "no"}),
    )[["model", "runs", "mean_diff", "sd_diff", "min_max", "significant_runs", "p_holm_max", "exceeds_spread"]]
    shown.columns = ["model", "runs", f"Δ HR@10 vs {reference} (mean)", "SD of Δ over runs", "Δ min … max",
                     "runs with paired CI excluding 0", "largest Holm p", "mean Δ beyond SD of Δ"]
    text = (f"# Spread of the paired differences to `{reference}` over seeds (HR@10)\n\n"
            f"Written by `python experiments/04_feature_ablation/effect_spread.py {report_dir}` from "
            f"`seed_tests.csv` (one paired difference per data seed x training seed).\n\n"
            + shown.to_markdown(index=False, disable_numparse=True) + "\n")
    (directory / "effect_spread.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1])
