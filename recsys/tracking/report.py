"""Comparison report of several models on one split: table, CSV, Markdown, PNG plots.

:func:`comparison_table` builds one row per model (numbers); :func:`format_table` turns it into the
printed / Markdown table; :func:`write_report` writes ``report.md``, ``comparison.csv``,
``hr_curve.png`` and ``hr_by_group.png`` into a directory atomically.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.io import atomic_dir
from recsys.tracking import plots
from recsys.tracking.runs import group_table

HEADLINE = "hr@10"
GROUPS = ("graduate", "4050", "unemployed", "flexible")


@dataclass
class Comparison:
    """Everything a report shows.

    Attributes
    ----------
    table
        One row per model (the ground-truth reference last, when evaluated); numeric columns, see :func:`comparison_table`.
    reference
        The best baseline by HR@10, which the other models are tested against.
    tests
        :func:`recsys.evaluation.compare` output: differences, paired intervals, Holm-adjusted p-values.
    split
        Split name and :meth:`Split.describe` facts.
    seeds
        For a comparison over several seeds (``recsys-compare data_seeds=[...] train_seeds=[...]``), the
        aggregate over every seed (this comparison is then the first data seed and training seed's).
    """

    table: pd.DataFrame
    reference: str
    tests: pd.DataFrame
    split: dict[str, Any]
    hr_by_k: pd.DataFrame
    hr_by_k_low: pd.DataFrame
    hr_by_k_high: pd.DataFrame
    hr_by_group: pd.DataFrame
    seeds: SeedComparison | None = None


def best_baseline(results: Mapping[str, Any], baselines: Sequence[str]) -> str:
    """Label of the baseline with the highest HR@10 (ties: the first listed)."""
    missing = [name for name in baselines if name not in results]
    if missing or not baselines:
        raise ValueError(f"baselines {missing or list(baselines)} are not among the compared models "
                         f"{list(results)}")
    return max(baselines, key=lambda name: results[name].value("hr", 10))


def _slice_value(result: Any, kind: str, value: str, metric: str = "hr", k: int = 10) -> float:
    slices = result.slices
    row = slices.loc[(slices["slice"] == kind) & (slices["value"] == value) & (slices["metric"] == metric)
                     & (slices["k"] == k)]
    return float(row["mean"].iloc[0]) if not row.empty else np.nan


def comparison_table(results: Mapping[str, Any], baselines: Sequence[str], oracle: Any = None, *,
                     n_resamples: int = 1000, seed: int = 0, reference: str | None = None) -> Comparison:
    """Compare ``results`` (label -> ``EvaluationResult``, same split) against the best baseline.

    Columns: ``hr@{5,10,20}`` with ``_low`` / ``_high`` (95% bootstrap interval), ``ndcg@10``,
    ``of_oracle_hr@10`` (HR@10 / HR@10 of the ground-truth reference ``oracle``: the exposure ceiling when
    it can be built, else the utility oracle; the row is labelled by its name), ``hr@10_new_jobs`` (relevance restricted to jobs
    without training history), ``hr@10_cold_seekers`` (test seekers without training history),
    ``hr@10_<group>`` per seeker group, and versus the reference: ``diff_hr@10`` with
    ``diff_low`` / ``diff_high`` (paired bootstrap) and ``p_holm`` (paired t-test, Holm-adjusted over
    every model x k of the table's hit-rates, HR@5/10/20: the family the table shows). ``tests`` holds
    every one of those paired tests (column ``metric``). ``reference`` (default: the best baseline here) fixes the reference, as a
    comparison over seeds does (the best baseline by mean over every seed).
    """
    from recsys.evaluation import compare

    if reference is None:
        reference = best_baseline(results, baselines)
    elif reference not in results:
        raise ValueError(f"reference {reference!r} is not among the compared models {list(results)}")
    ks = sorted({k for result in results.values() for k in result.ks})
    family = [f"hr@{k}" for k in ks if k in (5, 10, 20)] or [HEADLINE]
    tests = compare(results, reference=reference, metrics=family, n_resamples=n_resamples, seed=seed)
    everything = {**results, **({oracle.model: oracle} if oracle is not None else {})}
    rows = []
    for label, result in everything.items():
        summary = result.summary.set_index(["metric", "k"])
        row: dict[str, Any] = {"model": label, "baseline": label in baselines}
        for k in (5, 10, 20):
            if ("hr", k) in summary.index:
                row[f"hr@{k}"], row[f"hr@{k}_low"], row[f"hr@{k}_high"] = \
                    summary.loc[("hr", k), ["mean", "ci_low", "ci_high"]].to_numpy(dtype=float)
        row["ndcg@10"] = float(summary.loc[("ndcg", 10), "mean"])
        row["of_oracle_hr@10"] = float(summary.loc[("hr", 10), "of_oracle"]) if "of_oracle" in summary else np.nan
        row["hr@10_new_jobs"] = _slice_value(result, "job", "new")
        row["hr@10_cold_seekers"] = _slice_value(result, "seeker", "cold")
        row.update({f"hr@10_{group}": _slice_value(result, "group", group) for group in GROUPS})
        rows.append(row)
    table = pd.DataFrame(rows)
    versus = tests.loc[tests["metric"] == HEADLINE].set_index("model")[
        ["difference", "ci_low", "ci_high", "p_holm"]].rename(columns={
        "difference": "diff_hr@10", "ci_low": "diff_low", "ci_high": "diff_high"})
    table = table.join(versus, on="model")
    table.loc[table["model"] == reference, "diff_hr@10"] = 0.0
    by_k = {name: result.summary.loc[result.summary["metric"] == "hr"].set_index("k") for name, result in
            everything.items()}
    first = next(iter(results.values()))
    return Comparison(
        table=table, reference=reference, tests=tests,
        split={"split": first.split, **first.split_info},
        hr_by_k=pd.DataFrame({name: frame["mean"] for name, frame in by_k.items()}).loc[ks],
        hr_by_k_low=pd.DataFrame({name: frame["ci_low"] for name, frame in by_k.items()}).loc[ks],
        hr_by_k_high=pd.DataFrame({name: frame["ci_high"] for name, frame in by_k.items()}).loc[ks],
        hr_by_group=group_table(everything, k=10))


def _interval(mean: float, low: float, high: float) -> str:
    return "–" if np.isnan(mean) else f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _number(value: float, fmt: str = ".3f") -> str:
    return "–" if value is None or np.isnan(value) else format(value, fmt)


def format_table(comparison: Comparison) -> pd.DataFrame:
    """The comparison as display strings (the printed and Markdown table)."""
    t = comparison.table
    shown = pd.DataFrame({"model": t["model"] + np.where(t["baseline"], " (baseline)", "")})
    for k in (5, 10, 20):
        if f"hr@{k}" in t:
            shown[f"HR@{k} [95% CI]"] = [_interval(*v) for v in t[[f"hr@{k}", f"hr@{k}_low", f"hr@{k}_high"]]
                                         .to_numpy(dtype=float)]
    shown["NDCG@10"] = t["ndcg@10"].map(_number)
    shown["HR@10 / reference"] = t["of_oracle_hr@10"].map(lambda v: _number(v, ".0%"))
    shown["HR@10 new jobs"] = t["hr@10_new_jobs"].map(_number)
    shown["HR@10 cold seekers"] = t["hr@10_cold_seekers"].map(_number)
    for group in GROUPS:
        shown[f"HR@10 {group}"] = t[f"hr@10_{group}"].map(_number)
    shown[f"Δ HR@10 vs {comparison.reference} [95% CI]"] = [
        "reference" if name == comparison.reference else ("–" if np.isnan(d) else f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        for name, d, lo, hi in t[["model", "diff_hr@10", "diff_low", "diff_high"]].itertuples(index=False)]
    shown["p (Holm)"] = t["p_holm"].map(lambda p: "–" if np.isnan(p) else ("<0.001" if p < 1e-3 else f"{p:.3f}"))
    return shown


CONSOLE_WIDTH = 120


def console_table(comparison: Comparison, width: int = CONSOLE_WIDTH) -> str:
    """The headline columns of the comparison as plain text at most ``width`` characters wide.

    HR@10 with its interval, fraction of the oracle, NDCG@10, new jobs, cold seekers, the difference to
    the reference and its Holm p-value; baselines are marked ``*``. The full table (HR@5/20, per-group
    columns) is in the report (:func:`write_report`). Long model labels are shortened with ``…``.
    """
    full = format_table(comparison)
    t = comparison.table
    delta = f"Δ HR@10 vs {comparison.reference} [95% CI]"
    shown = pd.DataFrame({
        "model": t["model"] + np.where(t["baseline"], "*", ""),
        "HR@10 [95% CI]": full["HR@10 [95% CI]"], "/ref": full["HR@10 / reference"],
        "NDCG@10": full["NDCG@10"], "new jobs": full["HR@10 new jobs"], "cold seekers": full["HR@10 cold seekers"],
        "Δ HR@10 [95% CI]": full[delta], "p Holm": full["p (Holm)"]})

    def render(frame: pd.DataFrame) -> str:
        columns = [[str(name), *map(str, frame[name])] for name in frame.columns]
        widths = [max(map(len, column)) for column in columns]
        rows = zip(*columns, strict=True)
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                         for row in rows)

    other = max(len(line) for line in render(shown.assign(model="")).splitlines()) - len("model")
    room = max(width - other, 8)
    shown["model"] = [label if len(label) <= room else label[:room - 1] + "…" for label in shown["model"]]
    return render(shown) + f"\n* baseline; Δ relative to {comparison.reference}"


def markdown_table(frame: pd.DataFrame) -> str:
    """GitHub Markdown table of a frame of display strings, cells verbatim (no number re-formatting)."""
    return frame.to_markdown(index=False, disable_numparse=True)


def render_markdown(comparison: Comparison, title: str = "Model comparison") -> str:
    """``report.md``: split facts, the table, the plots and how to read them."""
    facts = ", ".join(f"{key} = {value:.3g}" if isinstance(value, float) else f"{key} = {value}"
                      for key, value in comparison.split.items())
    return "\n".join([
        f"# {title}", "", f"Split: {facts}.", "",
        markdown_table(format_table(comparison)), "",
        f"Intervals are 95% percentile bootstraps over test seekers. Δ is the paired difference in HR@10 "
        f"to the best baseline (`{comparison.reference}`), p-values from paired t-tests, Holm-adjusted "
        f"over every model x k (HR@5, HR@10, HR@20; `tests.csv`). HR@10 new jobs counts only relevant jobs without training history; "
        f"cold seekers are test seekers without training history. The reference row is the ground truth: "
        f"`ceiling` ranks by the generator's probability that the seeker applies (utility, exposure and "
        f"choice model: the best achievable), `oracle` by its true expected utility (used where the "
        f"ceiling cannot be built).", "",
        "![HR@k](hr_curve.png)", "", "![HR@10 by seeker group](hr_by_group.png)", ""])


def write_report(comparison: Comparison, out_dir: str | Path, title: str = "Model comparison") -> Path:
    """Write ``report.md``, ``comparison.csv`` and the two PNG plots to ``out_dir`` (atomically)."""
    with atomic_dir(out_dir, kind="report") as tmp:
        comparison.table.to_csv(tmp / "comparison.csv", index=False, float_format="%.6g")
        comparison.tests.to_csv(tmp / "tests.csv", index=False, float_format="%.6g")
        plots.save(plots.hr_curve(comparison.hr_by_k, comparison.hr_by_k_low, comparison.hr_by_k_high),
                   str(tmp / "hr_curve.png"))
        plots.save(plots.group_bars(comparison.hr_by_group), str(tmp / "hr_by_group.png"))
        (tmp / "report.md").write_text(render_markdown(comparison, title), encoding="utf-8")
    return Path(out_dir)


# ---------------------------------------------------------------------- over seeds
RUN_METRICS = ("hr@5", "hr@10", "hr@20", "ndcg@10", "of_oracle_hr@10", "hr@10_new_jobs", "hr@10_cold_seekers")
"""Columns of a comparison table kept for each run of a comparison over seeds."""


@dataclass
class SeedComparison:
    """A comparison repeated over data seeds x training seeds (:mod:`recsys.evaluation.seeds`).

    Attributes
    ----------
    table
        :func:`recsys.evaluation.seeds.seed_table` on ``metric``: mean, between-seed SD and range, the
        difference to the reference and the within-seed paired intervals, one row per model.
    runs
        One row per run: ``model, data_seed, train_seed`` (``NA`` for models without randomness, fitted
        once per data seed) and :data:`RUN_METRICS`.
    tests
        Every within-seed paired comparison to ``reference`` (:func:`recsys.evaluation.compare` rows with
        ``data_seed`` and ``train_seed``).
    per_seed
        The single-seed :class:`Comparison` of each ``(data_seed, train_seed)``.
    """

    table: pd.DataFrame
    runs: pd.DataFrame
    tests: pd.DataFrame
    reference: str
    metric: str
    data_seeds: list[int]
    train_seeds: list[int]
    per_seed: dict[tuple[int, int], Comparison]


def seed_comparison(per_seed: Mapping[tuple[int, int], Comparison], seeded: Mapping[str, bool],
                    reference: str, metric: str = HEADLINE) -> SeedComparison:
    """Aggregate the comparisons of every ``(data_seed, train_seed)``; ``seeded[model]`` says whether the model
    takes a training seed (a model without one has one run per data seed; the oracle never has one).

    Every comparison in ``per_seed`` must use ``reference``.
    """
    from recsys.evaluation import seeds

    runs, tests = [], []
    for (data_seed, train_seed), comparison in per_seed.items():
        if comparison.reference != reference:
            raise ValueError(f"seed ({data_seed}, {train_seed}) is compared against {comparison.reference!r}, "
                             f"not the common reference {reference!r}")
        table = comparison.table
        frame = table[["model", *[column for column in RUN_METRICS if column in table.columns]]].copy()
        frame.insert(1, "data_seed", data_seed)
        frame.insert(2, "train_seed", pd.Series([train_seed if seeded.get(str(model), False) else pd.NA
                                                 for model in frame["model"]], index=frame.index, dtype="Int64"))
        runs.append(frame)
        paired = comparison.tests.loc[comparison.tests["metric"] == metric].copy()
        paired.insert(1, "data_seed", data_seed)
        paired.insert(2, "train_seed", pd.Series([
            train_seed if seeded.get(str(model), False) or seeded.get(reference, False) else pd.NA
            for model in paired["model"]], index=paired.index, dtype="Int64"))
        tests.append(paired)
    keys = list(seeds.RUN_KEYS)
    run_table = pd.concat(runs, ignore_index=True).drop_duplicates(keys).reset_index(drop=True)
    test_table = pd.concat(tests, ignore_index=True).drop_duplicates(keys).reset_index(drop=True)
    return SeedComparison(
        table=seeds.seed_table(run_table, test_table, reference, metric), runs=run_table, tests=test_table,
        reference=reference, metric=metric, data_seeds=sorted({d for d, _ in per_seed}),
        train_seeds=sorted({t for _, t in per_seed}), per_seed=dict(per_seed))


def _below_spread_text(value: Any) -> str:
    return "–" if pd.isna(value) else ("yes" if bool(value) else "no")


def format_seed_table(seeds_: SeedComparison) -> pd.DataFrame:
    """The seed table as display strings (the printed and Markdown table)."""
    t, name = seeds_.table, seeds_.metric.upper()
    return pd.DataFrame({
        "model": t["model"],
        "runs": t["n_runs"].astype(str),
        f"{name} mean": t["mean"].map(_number),
        "SD": t["sd"].map(_number),
        "min–max": [f"{lo:.3f}–{hi:.3f}" for lo, hi in t[["min", "max"]].to_numpy(dtype=float)],
        f"Δ vs {seeds_.reference}": ["reference" if model == seeds_.reference else f"{d:+.3f}"
                                     for model, d in t[["model", "difference"]].itertuples(index=False)],
        "paired 95% CI (all seeds)": ["–" if np.isnan(lo) else f"[{lo:+.3f}, {hi:+.3f}]"
                                      for lo, hi in t[["diff_low_min", "diff_high_max"]].to_numpy(dtype=float)],
        "significant seeds": ["–" if n == 0 else f"{s}/{n}"
                              for s, n in t[["seeds_significant", "n_seed_tests"]].itertuples(index=False)],
        "within spread": t["below_spread"].map(_below_spread_text),
    })


def _render_plain(frame: pd.DataFrame) -> str:
    columns = [[str(name), *map(str, frame[name])] for name in frame.columns]
    widths = [max(map(len, column)) for column in columns]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in zip(*columns, strict=True))


def seed_console_table(seeds_: SeedComparison, width: int = CONSOLE_WIDTH) -> str:
    """The seed table as plain text at most ``width`` characters wide (long model labels shortened with ``…``)."""
    shown = format_seed_table(seeds_)
    shown = shown.rename(columns={f"Δ vs {seeds_.reference}": "Δ vs ref", "paired 95% CI (all seeds)": "paired CI",
                                  "significant seeds": "sig.", "within spread": "|Δ|<SD"})
    other = max(len(line) for line in _render_plain(shown.assign(model="")).splitlines()) - len("model")
    room = max(width - other, 8)
    shown["model"] = [label if len(label) <= room else label[:room - 1] + "…" for label in shown["model"]]
    n_runs = len(seeds_.data_seeds) * len(seeds_.train_seeds)
    legend = (f"{seeds_.metric.upper()} over data seeds {seeds_.data_seeds} x train seeds {seeds_.train_seeds} "
              f"({n_runs} runs per seeded model); ref = {seeds_.reference}; paired CI: lowest and highest bound over "
              f"seeds; sig.: seeds whose interval excludes 0; |Δ|<SD yes: within the between-seed spread, not a finding")
    return _render_plain(shown) + "\n" + textwrap.fill(legend, width)


def render_seed_markdown(seeds_: SeedComparison, title: str = "Model comparison over seeds") -> str:
    """``report.md`` of a comparison over seeds: definitions, the seed table, verdicts, every run, the per-seed
    reports."""
    from recsys.evaluation.seeds import verdicts

    runs = seeds_.runs.copy()
    runs["train_seed"] = runs["train_seed"].astype(object).where(runs["train_seed"].notna(), "–")
    links = [f"* data seed {d}, train seed {t}: [{_seed_dir(d, t)}/report.md]({_seed_dir(d, t)}/report.md)"
             for d, t in seeds_.per_seed]
    metric = seeds_.metric.upper()
    return "\n".join([
        f"# {title}", "",
        f"Data seeds {seeds_.data_seeds} (one generated dataset and split each) x training seeds "
        f"{seeds_.train_seeds} (each model's seed parameter; models without randomness are fitted once per "
        f"dataset). Reference: `{seeds_.reference}` (the baseline with the best mean {metric}).", "",
        markdown_table(format_seed_table(seeds_)), "",
        f"*mean*, *SD* (sample standard deviation, ddof=1) and *min–max* of {metric} over a model's runs; Δ = "
        f"model mean − reference mean; *paired 95% CI*: the lowest and highest bound of the within-seed paired "
        f"bootstrap intervals (model − reference over that seed's test seekers); *significant seeds*: seeds "
        f"whose interval excludes 0 in the direction of Δ; *within spread*: \\|Δ\\| < SD, the difference is "
        f"smaller than the between-seed spread (the larger SD of the model and the reference). **A difference smaller than the "
        f"between-seed spread is not a finding.**", "",
        "## Verdicts", "", *[f"* {line}" for line in verdicts(seeds_.table, seeds_.reference, seeds_.metric)], "",
        "## Every run", "", runs.to_markdown(index=False, floatfmt=".4f"), "",
        "## Per-seed reports", "", *links, ""])


def _seed_dir(data_seed: int, train_seed: int) -> str:
    return f"data_seed{data_seed}-train_seed{train_seed}"


def write_seed_report(seeds_: SeedComparison, out_dir: str | Path,
                      title: str = "Model comparison over seeds") -> Path:
    """Write ``report.md`` (:func:`render_seed_markdown`), ``seed_table.csv``, ``seed_runs.csv``,
    ``seed_tests.csv`` and one :func:`write_report` folder per seed, ``data_seed<d>-train_seed<t>/``."""
    with atomic_dir(out_dir, kind="report") as tmp:
        seeds_.table.to_csv(tmp / "seed_table.csv", index=False, float_format="%.6g")
        seeds_.runs.to_csv(tmp / "seed_runs.csv", index=False, float_format="%.6g")
        seeds_.tests.to_csv(tmp / "seed_tests.csv", index=False, float_format="%.6g")
        for (data_seed, train_seed), comparison in seeds_.per_seed.items():
            write_report(comparison, tmp / _seed_dir(data_seed, train_seed),
                         title=f"{title}: data seed {data_seed}, train seed {train_seed}")
        (tmp / "report.md").write_text(render_seed_markdown(seeds_, title), encoding="utf-8")
    return Path(out_dir)
