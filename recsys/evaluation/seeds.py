"""Seed-robust comparisons: aggregate per-run results over data seeds and training seeds.

A *run* is one model fitted with one training seed on the dataset generated with one data seed, and
evaluated on that dataset's split. Everything here is a pure function of two tables:

* ``runs``, one row per run: ``model, data_seed, train_seed`` and one column per metric (``hr@10``, ...).
  ``train_seed`` is ``NA`` for models without randomness (fitted once per data seed);
* ``tests``, one row per (data seed, train seed, model) paired comparison against the reference model
  on that seed's test seekers (:func:`recsys.evaluation.compare` output plus ``data_seed, train_seed``).

Definitions (pinned, the reports repeat them):

* **mean**: the mean of the metric over a model's runs (every data seed x training seed);
* **between-seed SD**: the sample standard deviation (``ddof=1``) of the metric over those runs; ``min``
  and ``max`` are its range. With one run the SD is undefined (``NaN``);
* **difference**: the model's mean minus the reference's mean;
* **within-seed paired interval**: for each seed, the paired bootstrap interval of ``model - reference``
  over that seed's test seekers; reported as the narrowest low and widest high over seeds and the
  number of seeds whose interval excludes 0 with the same sign as the difference;
* **below spread**: ``|difference| < max(SD of the model, SD of the reference)``. A difference smaller
  than the between-seed spread is not a finding, whatever a single seed's interval says.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

RUN_KEYS = ("model", "data_seed", "train_seed")
"""Key columns of a runs table."""

SEED_TABLE_COLUMNS = ["model", "n_runs", "n_data_seeds", "n_train_seeds", "mean", "sd", "min", "max",
                      "difference", "seeds_significant", "n_seed_tests", "diff_low_min", "diff_high_max",
                      "p_holm_max", "spread", "below_spread"]


class SeedTableError(ValueError):
    """A runs or tests table lacks a column, or repeats a run."""


def check_runs(runs: pd.DataFrame, metric: str) -> None:
    """Refuse a runs table without the key columns or ``metric``, or with a (model, data seed, train seed) twice."""
    missing = [column for column in (*RUN_KEYS, metric) if column not in runs.columns]
    if missing:
        raise SeedTableError(f"runs table lacks column(s) {missing}; it has {list(runs.columns)}")
    repeated = runs.duplicated(list(RUN_KEYS), keep=False)
    if repeated.any():
        first = runs.loc[repeated, list(RUN_KEYS)].iloc[0].to_dict()
        raise SeedTableError(f"runs table repeats run {first}")


def seed_spread(runs: pd.DataFrame, metric: str = "hr@10") -> pd.DataFrame:
    """Per model (in first-appearance order): ``n_runs, n_data_seeds, n_train_seeds, mean, sd, min, max``
    of ``metric`` over its runs (``sd`` with ``ddof=1``; ``NaN`` for a single run)."""
    check_runs(runs, metric)
    order = list(dict.fromkeys(runs["model"]))
    grouped = runs.groupby("model", sort=False)
    table = pd.DataFrame({
        "n_runs": grouped.size(),
        "n_data_seeds": grouped["data_seed"].nunique(),
        "n_train_seeds": grouped["train_seed"].nunique(dropna=True),
        "mean": grouped[metric].mean(),
        "sd": grouped[metric].std(ddof=1),
        "min": grouped[metric].min(),
        "max": grouped[metric].max(),
    })
    return table.loc[order].reset_index(names="model")


def paired_by_seed(tests: pd.DataFrame) -> pd.DataFrame:
    """Per model: the within-seed paired comparisons summarised over seeds.

    ``n_seed_tests`` (seeds compared), ``seeds_significant`` (seeds whose 95% paired interval excludes 0
    with the sign of the mean difference over seeds), ``diff_low_min`` / ``diff_high_max`` (lowest low,
    highest high of the intervals) and ``p_holm_max`` (the largest Holm-adjusted p over seeds).
    """
    needed = ["model", "data_seed", "train_seed", "difference", "ci_low", "ci_high", "p_holm"]
    missing = [column for column in needed if column not in tests.columns]
    if missing:
        raise SeedTableError(f"tests table lacks column(s) {missing}; it has {list(tests.columns)}")
    if tests.empty:
        return pd.DataFrame(columns=["model", "n_seed_tests", "seeds_significant", "diff_low_min",
                                     "diff_high_max", "p_holm_max"])
    sign = np.sign(tests.groupby("model", sort=False)["difference"].transform("mean"))
    significant = ((sign > 0) & (tests["ci_low"] > 0)) | ((sign < 0) & (tests["ci_high"] < 0))
    grouped = tests.assign(significant=significant).groupby("model", sort=False)
    return pd.DataFrame({
        "n_seed_tests": grouped.size(), "seeds_significant": grouped["significant"].sum(),
        "diff_low_min": grouped["ci_low"].min(), "diff_high_max": grouped["ci_high"].max(),
        "p_holm_max": grouped["p_holm"].max(),
    }).reset_index(names="model")


def seed_table(runs: pd.DataFrame, tests: pd.DataFrame, reference: str, metric: str = "hr@10") -> pd.DataFrame:
    """One row per model: :func:`seed_spread`, the difference to ``reference``, :func:`paired_by_seed` and
    the spread flag (columns :data:`SEED_TABLE_COLUMNS`).

    ``spread = max(sd, sd of the reference)``; ``below_spread`` is ``|difference| < spread`` (``False``
    for the reference itself and ``NA`` when the spread is undefined, i.e. with one run).
    """
    spread = seed_spread(runs, metric)
    if reference not in set(spread["model"]):
        raise SeedTableError(f"reference {reference!r} is not among the models {list(spread['model'])}")
    reference_row = spread.loc[spread["model"] == reference].iloc[0]
    table = spread.merge(paired_by_seed(tests), on="model", how="left")
    table["difference"] = table["mean"] - reference_row["mean"]
    table["spread"] = np.fmax(table["sd"].to_numpy(dtype=float), float(reference_row["sd"]))
    undefined = np.isnan(table["spread"].to_numpy(dtype=float))
    below = pd.array(np.abs(table["difference"]) < table["spread"], dtype="boolean")
    below[undefined] = pd.NA
    below[(table["model"] == reference).to_numpy()] = False
    table["below_spread"] = below
    table["n_seed_tests"] = table["n_seed_tests"].fillna(0).astype(int)
    table["seeds_significant"] = table["seeds_significant"].fillna(0).astype(int)
    return table[SEED_TABLE_COLUMNS]


def verdict(row: pd.Series, reference: str, metric: str = "hr@10") -> str:
    """One sentence on a :func:`seed_table` row: is its difference to ``reference`` a finding?

    A difference smaller than the between-seed spread is not a finding; otherwise it is one when every
    seed's paired interval excludes 0 in its direction, and mixed when only some do.
    """
    model = str(row["model"])
    if model == reference:
        return f"{model} is the reference."
    metric = metric.upper()
    head = (f"{model} vs {reference}: {row['difference']:+.3f} {metric} over {int(row['n_runs'])} run(s) "
            f"(between-seed SD {row['spread']:.3f})") if not pd.isna(row["spread"]) else \
        f"{model} vs {reference}: {row['difference']:+.3f} {metric} over {int(row['n_runs'])} run(s)"
    if pd.isna(row["below_spread"]):
        return head + ": one run only, the between-seed spread is unknown; not a finding yet."
    if bool(row["below_spread"]):
        return head + ": smaller than the between-seed spread, not a finding."
    tested, significant = int(row["n_seed_tests"]), int(row["seeds_significant"])
    if not tested:
        return head + ": larger than the between-seed spread; no within-seed paired test (e.g. the ceiling)."
    if significant == tested:
        return head + f": larger than the spread and significant within every seed ({significant}/{tested}), a finding."
    return head + (f": larger than the spread but significant within {significant} of {tested} seeds only; "
                   f"not a robust finding.")


def verdicts(table: pd.DataFrame, reference: str, metric: str = "hr@10") -> list[str]:
    """:func:`verdict` for every row of a :func:`seed_table`."""
    return [verdict(row, reference, metric) for _, row in table.iterrows()]


def best_by_mean(runs: pd.DataFrame, candidates: Sequence[str], metric: str = "hr@10") -> str:
    """Among ``candidates``, the model with the highest mean ``metric`` over its runs (ties: first listed)."""
    check_runs(runs, metric)
    means = runs.groupby("model", sort=False)[metric].mean()
    missing = [name for name in candidates if name not in means.index]
    if missing or not candidates:
        raise SeedTableError(f"candidates {missing or list(candidates)} have no runs; models with runs: "
                             f"{list(means.index)}")
    return max(candidates, key=lambda name: float(means[name]))
