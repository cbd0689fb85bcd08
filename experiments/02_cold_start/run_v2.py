"""Experiment 02 on protocol v2: HR@10 on new postings and on cold seekers, over seeds, with corrected tests.

For each data seed: the rolling split (``split=rolling``, every test application ranked at its own time), the
models of ``configs/models/cold_start.yaml`` (``experiment=cold_start``) fitted on it once per training seed
(models without a seed once), and the exposure ceiling as reference row. Two slices of the test set:

* **new postings**: per query, HR@10 counting only relevant postings without training history (queries with
  one); per seeker, the mean over those queries; then the mean over seekers (``slices`` row ``job / new``);
* **cold seekers**: seekers without training history (``slices`` row ``seeker / cold``).

Per (data seed, training seed) and slice, each model is compared with the slice's reference baseline (the
baseline with the best mean slice HR@10 over every run of the world): paired bootstrap 95% interval of the
difference over the slice's seekers and a paired t-test, Benjamini-Hochberg corrected over every model x
slice of that run (:func:`recsys.evaluation.significance.benjamini_hochberg`). Writes ``runs.csv`` (one row
per model x seeds x slice: HR@10 with its interval, the paired difference, p and p_bh) and ``report.md``.

    PYTHONPATH=$PWD python experiments/02_cold_start/run_v2.py --world realistic --data-seeds 0 1 2 \\
        --train-seeds 0 1 --out experiments/02_cold_start/results/v2/realistic
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from recsys.cli import pipeline
from recsys.cli.schemas import register_configs
from recsys.evaluation import EvaluationResult, Split
from recsys.evaluation import metrics as m
from recsys.evaluation.significance import benjamini_hochberg, paired_bootstrap_ci, paired_test
from recsys.paths import config_dir

SLICES = {"new postings": ("job", "new"), "cold seekers": ("seeker", "cold")}
K = 10


def per_seeker_slice(result: EvaluationResult, split: Split, slice_name: str) -> np.ndarray:
    """Per-test-seeker HR@10 on the slice (``NaN`` outside it), as ``assess`` defines the slice row."""
    hr = result.per_seeker[f"hr@{K}"].to_numpy(dtype=float)
    if slice_name == "cold seekers":
        return np.where(split.seeker_is_cold, hr, np.nan)
    job_rows = np.asarray(result.recommendations)[:, :K]
    hits = m.hit_matrix(job_rows, split.query_relevant) & split.job_is_new[job_rows]
    relevant = split.query_relevant
    n_new = np.bincount(np.repeat(np.arange(split.n_queries), np.diff(relevant.indptr))[
        split.job_is_new[relevant.indices]], minlength=split.n_queries)
    per_query = m.metrics_from_hits(hits, n_new, (K,), ("hr",))[f"hr@{K}"]
    present = ~np.isnan(per_query)
    sums = np.bincount(split.query_position, weights=np.where(present, per_query, 0.0), minlength=split.n_test)
    counts = np.bincount(split.query_position, weights=present, minlength=split.n_test)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def slice_row(result: EvaluationResult, slice_name: str) -> pd.Series:
    kind, value = SLICES[slice_name]
    rows = result.slices
    found = rows[(rows["slice"] == kind) & (rows["value"] == value) & (rows["metric"] == "hr") & (rows["k"] == K)]
    return found.iloc[0]


def run_world(world: str, data_seeds: list[int], train_seeds: list[int], preset: str) -> pd.DataFrame:
    register_configs()
    rows = []
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        base = compose("compare", overrides=["experiment=cold_start", "split=rolling", f"data={preset}",
                                             f"data/world={world}", "tracking=disabled", "output_dir=unused"])
        for data_seed in data_seeds:
            cfg: DictConfig = pipeline.with_data_seed(base, data_seed)
            split = pipeline.make_split(cfg, pipeline.load_dataset(cfg))
            clock = time.perf_counter()
            results: dict[str, EvaluationResult] = {}
            reference = pipeline.oracle_result(cfg, split)
            if reference is not None:
                results[reference.model] = reference
            for label in cfg.models:
                seeded = pipeline.seed_parameter(cfg.models[label]) is not None
                for train_seed in (train_seeds if seeded else [None]):
                    model = pipeline.build_model(pipeline.with_model_seed(cfg.models[label], train_seed))
                    evaluated = pipeline.fit_and_evaluate(model, split, cfg.eval, name=label)
                    results[label if train_seed is None else f"{label}@{train_seed}"] = evaluated.result
            print(f"{world} data seed {data_seed}: {len(results)} results in {time.perf_counter() - clock:.0f} s",
                  flush=True)
            for key, result in results.items():
                label, _, train_seed = key.partition("@")
                for slice_name in SLICES:
                    values = per_seeker_slice(result, split, slice_name)
                    row = slice_row(result, slice_name)
                    # the recomputed per-seeker slice is the one assess summarised
                    assert np.isclose(np.nanmean(values), row["mean"]), (key, slice_name)
                    rows.append({"world": world, "data_seed": data_seed, "model": label,
                                 "train_seed": int(train_seed) if train_seed else None,
                                 "baseline": label in cfg.baselines, "slice": slice_name,
                                 "hr@10": row["mean"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                                 "n_seekers": int(row["n"]), "hr@10_all": result.value("hr", K),
                                 "_values": values})
    return pd.DataFrame(rows)


def add_tests(runs: pd.DataFrame, train_seeds: list[int], n_resamples: int = 1000) -> pd.DataFrame:
    """Paired difference to each slice's reference baseline within every (data seed, training seed), BH per run."""
    means = runs.groupby(["slice", "model"])["hr@10"].mean()
    runs["reference"] = [means[s][runs.loc[(runs["slice"] == s) & runs["baseline"], "model"].unique()].idxmax()
                         for s in runs["slice"]]
    out = []
    for data_seed in sorted(runs["data_seed"].unique()):
        for train_seed in train_seeds:
            # one run: seeded models at this training seed, the others (fitted once) alongside
            run = runs[(runs["data_seed"] == data_seed)
                       & (runs["train_seed"].isna() | (runs["train_seed"] == train_seed))].copy()
            tested = []
            for index, row in run.iterrows():
                ref = run[(run["slice"] == row["slice"]) & (run["model"] == row["reference"])].iloc[0]
                if row["model"] in (row["reference"], "ceiling", "oracle"):
                    continue
                both = ~np.isnan(row["_values"]) & ~np.isnan(ref["_values"])
                a, b = row["_values"][both], ref["_values"][both]
                low, high = paired_bootstrap_ci(a, b, n_resamples=n_resamples, seed=0)
                tested.append({"index": index, "difference": float(a.mean() - b.mean()), "diff_low": low,
                               "diff_high": high, "p_value": paired_test(a, b)})
            tests = pd.DataFrame(tested).set_index("index")
            tests["p_bh"] = benjamini_hochberg(tests["p_value"].to_numpy())
            run = run.join(tests)
            run["test_train_seed"] = train_seed
            out.append(run)
    table = pd.concat(out, ignore_index=True)
    # models without a training seed appear once per training seed above: their level rows are duplicates
    return table.drop(columns=["_values"])


def report(table: pd.DataFrame, world: str, command: str) -> str:
    lines = [f"# Experiment 02 (cold start) on protocol v2: `{world}`", "", "```bash", command, "```", ""]
    for slice_name in SLICES:
        part = table[table["slice"] == slice_name]
        reference = part["reference"].iloc[0]
        levels = part.drop_duplicates(["model", "data_seed", "train_seed"])
        rows = []
        for model, group in levels.groupby("model", sort=False):
            # a model fitted once is tested once per data seed (its rows repeat for each training seed's run)
            tests = part[(part["model"] == model) & part["p_bh"].notna()].drop_duplicates(["data_seed", "train_seed"])
            significant = ((tests["p_bh"] < 0.05) & (np.sign(tests["difference"]) == np.sign(
                tests["difference"].mean()))).sum()
            rows.append({
                "model": model, "runs": len(group),
                "HR@10 mean": f"{group['hr@10'].mean():.3f}",
                "SD": f"{group['hr@10'].std(ddof=1):.3f}" if len(group) > 1 else "–",
                "95% CI (all runs)": f"[{group['ci_low'].min():.3f}, {group['ci_high'].max():.3f}]",
                f"Δ vs {reference}": "reference" if model == reference else (
                    "–" if tests.empty else f"{tests['difference'].mean():+.3f}"),
                "paired 95% CI (all runs)": "–" if tests.empty else
                f"[{tests['diff_low'].min():+.3f}, {tests['diff_high'].max():+.3f}]",
                "BH-significant runs": "–" if tests.empty else f"{significant}/{len(tests)}",
                "seekers in slice": f"{int(group['n_seekers'].min()):,}–{int(group['n_seekers'].max()):,}",
            })
        lines += [f"## {slice_name} (Benjamini-Hochberg corrected per run, over models x both slices)", "",
                  pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", required=True)
    parser.add_argument("--data-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    command = ("PYTHONPATH=$PWD python experiments/02_cold_start/run_v2.py --world " + args.world
               + " --data-seeds " + " ".join(map(str, args.data_seeds)) + " --train-seeds "
               + " ".join(map(str, args.train_seeds)) + (f" --preset {args.preset}" if args.preset != "small" else "")
               + f" --out {args.out}")
    table = add_tests(run_world(args.world, args.data_seeds, args.train_seeds, args.preset), args.train_seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "runs.csv", index=False)
    text = report(table, args.world, command)
    (args.out / "report.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
