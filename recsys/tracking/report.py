"""Comparison report of several models on one split: table, CSV, Markdown, PNG plots.

:func:`comparison_table` builds one row per model (numbers); :func:`format_table` turns it into the
printed / Markdown table; :func:`write_report` writes ``report.md``, ``comparison.csv``,
``hr_curve.png`` and ``hr_by_group.png`` into a directory atomically.
"""

from __future__ import annotations

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
        One row per model (oracle last, when evaluated); numeric columns, see :func:`comparison_table`.
    reference
        The best baseline by HR@10, which the other models are tested against.
    tests
        :func:`recsys.evaluation.compare` output: differences, paired intervals, Holm-adjusted p-values.
    split
        Split name and :meth:`Split.describe` facts.
    """

    table: pd.DataFrame
    reference: str
    tests: pd.DataFrame
    split: dict[str, Any]
    hr_by_k: pd.DataFrame
    hr_by_k_low: pd.DataFrame
    hr_by_k_high: pd.DataFrame
    hr_by_group: pd.DataFrame


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
                     n_resamples: int = 1000, seed: int = 0) -> Comparison:
    """Compare ``results`` (label -> ``EvaluationResult``, same split) against the best baseline.

    Columns: ``hr@{5,10,20}`` with ``_low`` / ``_high`` (95% bootstrap interval), ``ndcg@10``,
    ``of_oracle_hr@10`` (HR@10 / oracle HR@10), ``hr@10_new_jobs`` (relevance restricted to jobs
    posted after the cutoff), ``hr@10_cold_seekers`` (test seekers without training history),
    ``hr@10_<group>`` per seeker group, and versus the reference: ``diff_hr@10`` with
    ``diff_low`` / ``diff_high`` (paired bootstrap) and ``p_holm`` (paired t-test, Holm-adjusted over
    the models compared).
    """
    from recsys.evaluation import compare

    reference = best_baseline(results, baselines)
    tests = compare(results, reference=reference, metric=HEADLINE, n_resamples=n_resamples, seed=seed)
    everything = {**results, **({"oracle": oracle} if oracle is not None else {})}
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
    versus = tests.set_index("model")[["difference", "ci_low", "ci_high", "p_holm"]].rename(columns={
        "difference": "diff_hr@10", "ci_low": "diff_low", "ci_high": "diff_high"})
    table = table.join(versus, on="model")
    table.loc[table["model"] == reference, "diff_hr@10"] = 0.0
    ks = sorted({k for result in results.values() for k in result.ks})
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
    shown["HR@10 / oracle"] = t["of_oracle_hr@10"].map(lambda v: _number(v, ".0%"))
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
        "HR@10 [95% CI]": full["HR@10 [95% CI]"], "/oracle": full["HR@10 / oracle"],
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
        f"over the models compared. HR@10 new jobs counts only relevant jobs posted after the cutoff; "
        f"cold seekers are test seekers without training history. Oracle = ranking by the generator's "
        f"true expected utility (the ceiling).", "",
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
