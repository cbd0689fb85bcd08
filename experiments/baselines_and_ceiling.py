"""Question: on ``small``, do the baselines that serve new postings close the gap to Content, and where is the ceiling?

Fits Nearest, NewestNearby, PopularityPrior, Popularity, Content and LightFMHybrid (default
hyperparameters) on the interactions before the generator's ``split_date`` and, on both protocols
(``temporal``: one test time per seeker; ``rolling``: every test application at its own time), evaluates HR@10 over all active jobs (overall and on applications
to new postings) with 95% bootstrap intervals, and puts two references beside them: the utility
:class:`~recsys.evaluation.oracle.Oracle` and the :class:`~recsys.evaluation.ceiling.ExposureCeiling`
(utility plus the generator's exposure and apply model). Paired comparisons on HR@10 (paired bootstrap
interval, Holm-adjusted paired t-test): Content against Nearest, every model against the ceiling, and the
ceiling against the oracle. Prints Markdown; ``--output`` also writes it.

    .venv/bin/python experiments/baselines_and_ceiling.py --data data/synthetic/small-easy-seed0 \
        --output experiments/results/baselines_and_ceiling.md
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from recsys.data.dataset import Dataset
from recsys.data.synthetic import generate_preset
from recsys.evaluation import EvaluationResult, Split, compare, evaluate, rolling_split, temporal_split
from recsys.evaluation.ceiling import ExposureCeiling
from recsys.evaluation.oracle import Oracle
from recsys.io import atomic_file
from recsys.models import (
    Content,
    LightFMHybrid,
    Nearest,
    NewestNearby,
    Popularity,
    PopularityPrior,
    Recommender,
)
from recsys.paths import recsys_home


def models() -> dict[str, Recommender]:
    return {"Popularity": Popularity(), "PopularityPrior": PopularityPrior(), "Nearest": Nearest(),
            "NewestNearby": NewestNearby(), "Content": Content(), "LightFMHybrid": LightFMHybrid(),
            "Oracle (utility)": Oracle(), "ExposureCeiling": ExposureCeiling()}


REFERENCES = ("Oracle (utility)", "ExposureCeiling")
"""Built from the generator's truth, not fitted."""


def cell(row: pd.Series) -> str:
    return f"{row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def paired_rows(results: dict[str, EvaluationResult], reference: str, names: list[str]) -> list[str]:
    table = compare({reference: results[reference], **{n: results[n] for n in names}}, reference=reference)
    return [f"| {r.model} | {reference} | {r.difference:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] | "
            f"{r.cohens_d:.2f} | {r.p_holm:.1e} |" for r in table.itertuples()]


def protocol_report(split: Split, fitted: dict[str, Recommender], seconds: dict[str, float]) -> list[str]:
    """The HR@10 table and the paired comparisons of every model on ``split``."""
    results: dict[str, EvaluationResult] = {}
    rows = []
    for name, model in fitted.items():
        results[name] = evaluate(model, split, (10,), name=name)
        overall = results[name].summary.query("metric == 'hr' and k == 10").iloc[0]
        new = results[name].slices.query("slice == 'job' and value == 'new' and metric == 'hr' and k == 10").iloc[0]
        rows.append(f"| {name} | {cell(overall)} | {cell(new)} | {seconds[name]:.0f} |")
        print(rows[-1], flush=True)
    learned = [name for name in fitted if name not in REFERENCES]
    info = split.describe()
    return [
        f"### `{split.name}` split",
        "",
        f"{info['n_test_seekers']:,} test seekers, {info['n_queries']:,} queries, {info['n_relevant_pairs']:,} "
        f"relevant (query, job) pairs ({info['share_test_events_kept']:.0%} of test applications kept); "
        f"{info['share_relevant_new_jobs']:.0%} of relevant pairs go to postings without training history, "
        f"{info['share_cold_seekers']:.0%} of test seekers are cold.",
        "",
        "| model | HR@10 | HR@10 new postings | fit s |",
        "|---|---|---|---:|",
        *rows,
        "",
        "Paired differences on HR@10 (model minus reference; 95% paired bootstrap interval, Cohen's d_z, "
        "Holm-adjusted paired t-test within each block):",
        "",
        "| model | reference | difference | d_z | p (Holm) |",
        "|---|---|---|---:|---:|",
        *paired_rows(results, "Nearest", ["Content", "NewestNearby", "PopularityPrior"]),
        *paired_rows(results, "ExposureCeiling", [*learned, "Oracle (utility)"]),
        "",
    ]


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=recsys_home() / "data" / "synthetic" / "small-easy-seed0",
                        help="a generated `small` dataset (generated there with seed 0 in the `easy` world, "
                             "the one these figures were made on, if missing)")
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    if not (args.data / "manifest.json").exists():
        generate_preset("small", args.data, seed=0, world="easy")
    manifest = json.loads((args.data / "manifest.json").read_text())
    dataset = Dataset.load(args.data)
    # Both protocols train on the interactions before the same cut-off: every model is fitted once.
    splits = [temporal_split(dataset, manifest["split_date"]), rolling_split(dataset, manifest["split_date"])]
    fitted, seconds = {}, {}
    for name, model in models().items():
        start = time.perf_counter()
        fitted[name] = model.fit(splits[0].train)
        seconds[name] = time.perf_counter() - start
    report = "\n".join([
        f"Data: `{args.data.name}` (seed {manifest.get('seed')}), cut-off {manifest['split_date']}; candidates = "
        f"all jobs active at the query's time, minus earlier applications. HR@10 with 95% bootstrap intervals over "
        f"seekers; *new postings*: relevance restricted to applications to postings without training history "
        f"(seekers with such an application). `temporal`: one query per test seeker (its first test application; "
        f"later ones count if the job was active then). `rolling`: every test application at its own time, "
        f"per-query metrics averaged per seeker, then over seekers.",
        "",
        *[line for split in splits for line in protocol_report(split, fitted, seconds)],
    ])
    print(report)
    if args.output:
        with atomic_file(args.output, "w", encoding="utf-8") as handle:
            handle.write(report + "\n")
    return report


if __name__ == "__main__":
    main()
