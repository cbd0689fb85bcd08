"""Tables and frontier plot of experiment 06 from what the commands in README.md wrote.

Reads ``results/<run>/`` (``recsys-simulate`` reports; ``<run>`` is ``<world>`` or ``<world>-seed<n>``) and
``results/offline_<world>[-seed<n>].csv`` (``python -m recsys.placement.offline --protocol rolling ... --csv``);
writes ``results/summary.md``, ``results/frontier.png`` and ``results/paired_vs_apply.csv``.

Run: PYTHONPATH=$PWD python experiments/06_job_i_like_or_can_get/summarize.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from recsys.api.objectives import Objective  # noqa: E402
from recsys.simulation import SimulationResult  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BASE = "hybrid_apply"
GROUPS = ("all", "graduates", "4050", "unemployed", "flexible")
KEY_GROUPS = GROUPS[1:]
TARGET_GAIN, TARGET_LOSS = 0.10, 0.03


def objective_of_policy(policy: str) -> Objective | None:
    """The objective of an objective policy (``configs/policies/<policy>.yaml``, ``kind: objective``), else None."""
    from hydra import compose, initialize_config_dir

    from recsys.cli.simulate import objective_of
    from recsys.paths import config_dir

    if not (config_dir() / "policies" / f"{policy}.yaml").is_file():
        return None
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("simulate", overrides=[f"policies=[{policy}]", "tracking=disabled"])
    node = cfg.policies[policy]
    return objective_of(node.objective) if node.get("kind") == "objective" else None


def fmt(mean: float, low: float, high: float, digits: int, pct: bool = False, signed: bool = False) -> str:
    """``mean [low, high]``; ``pct``: as percentages; ``signed``: with a sign (differences)."""
    scale, unit = (100.0, "%") if pct else (1.0, "")
    sign = "+" if pct or signed else ""
    if pd.isna(low) or low == high:
        return f"{mean * scale:{sign}.{digits}f}{unit}"
    return f"{mean * scale:{sign}.{digits}f}{unit} [{low * scale:{sign}.{digits}f}, {high * scale:{sign}.{digits}f}]"


def load_run(run: str) -> SimulationResult:
    outcomes = pd.read_csv(RESULTS / run / "outcomes.csv")
    summary = pd.read_csv(RESULTS / run / "summary.csv")
    hit_rates = summary[summary["metric"].str.startswith("hr@")][["policy", "group", "metric", "mean"]].rename(
        columns={"mean": "value"})
    runs = pd.read_csv(RESULTS / run / "runs.csv")
    return SimulationResult(outcomes, hit_rates, runs, pd.DataFrame())


def run_tables(run: str) -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    """Markdown for one run, the per-policy frontier rows and the paired differences to the apply ranking."""
    result = load_run(run)
    s = result.summary()
    c = result.compare(BASE)
    c = c[c["group"].isin(GROUPS)]
    world = run.split("-")[0]
    seed = run.split("seed")[1] if "seed" in run else "0"
    offline_path = RESULTS / (f"offline_{world}.csv" if seed == "0" else f"offline_{world}-seed{seed}.csv")
    offline = pd.read_csv(offline_path) if offline_path.is_file() else pd.DataFrame()
    a = s[s["group"] == "all"].set_index(["policy", "metric"])
    base_place = a.loc[(BASE, "placements"), "mean"]
    base_hr = None
    rows, frontier = [], []
    for policy in result.policies:
        spec = objective_of_policy(policy)
        hr_apps = hr_hires = float("nan")
        hr_text = hire_text = "–"
        if spec is not None and not offline.empty:
            same = ((offline["name"] == spec.name) & (offline["congestion"] == spec.congestion)
                    & (offline["candidates"] == spec.candidates) & offline["two_stage"])
            if spec.name == "surplus":
                same &= offline["surplus_sigma"] == spec.surplus_sigma
            hit = offline[same]
            if len(hit):
                r = hit.iloc[0]
                hr_apps, hr_hires = float(r["hr@10 apply"]), float(r["hr@10 hire"])
                hr_text = f"{hr_apps:.4f} [{r['ci_low apply']:.4f}, {r['ci_high apply']:.4f}]"
                hire_text = f"{hr_hires:.4f} [{r['ci_low hire']:.4f}, {r['ci_high hire']:.4f}]"
        if policy == BASE:
            base_hr = hr_apps

        def get(metric: str, digits: int, policy: str = policy) -> str:
            if (policy, metric) not in a.index:
                return "–"
            r = a.loc[(policy, metric)]
            return fmt(r["mean"], r["ci_low"], r["ci_high"], digits)

        d = c[(c["policy"] == policy) & (c["group"] == "all")].set_index("metric")

        def diff(metric: str, d: pd.DataFrame = d) -> str:
            if metric not in d.index:
                return "–"
            r = d.loc[metric]
            return fmt(r["diff"] / r["baseline"], r["ci_low"] / r["baseline"], r["ci_high"] / r["baseline"], 1,
                       pct=True)

        rows.append({"policy": policy, "HR@10 applications (v2)": hr_text, "HR@10 hires (v2)": hire_text,
                     "placements": get("placements", 0), "Δ placements vs apply": diff("placements"),
                     "Δ total welfare vs apply": diff("welfare_total"),
                     "welfare (mean utility)": get("welfare_utility", 2), "competition": get("competition", 0),
                     "wasted applications": get("share_applications_wasted", 3),
                     "exposure Gini": get("exposure_gini", 3)})
        frontier.append({"run": run, "policy": policy, "hr_apply": hr_apps, "hr_hire": hr_hires,
                         "placements": a.loc[(policy, "placements"), "mean"],
                         "placements_low": a.loc[(policy, "placements"), "ci_low"],
                         "placements_high": a.loc[(policy, "placements"), "ci_high"],
                         "placements_vs_apply": a.loc[(policy, "placements"), "mean"] / base_place - 1})
    frontier_df = pd.DataFrame(frontier)
    frontier_df["hr_loss_vs_apply"] = 1 - frontier_df["hr_apply"] / base_hr if base_hr else float("nan")
    n_seeds = int(result.runs["seed"].nunique())
    out = [f"### `{run}`", "",
           f"All seekers; mean over {n_seeds} simulation seeds [95% t interval]; Δ = paired difference to "
           f"`{BASE}` (same seeds), relative to its mean, 95% t interval over seeds. HR@10: protocol v2 "
           "(rolling split, last 30 days), 1,000 bootstrap resamples.", "",
           pd.DataFrame(rows).to_markdown(index=False), ""]
    g = c[c["metric"] == "placement_rate"]
    g = g.assign(text=[fmt(x, lo, hi, 3, signed=True) + ("" if sig else " (n.s.)") for x, lo, hi, sig in
                       zip(g["diff"], g["ci_low"], g["ci_high"], g["significant"], strict=True)])
    wide = g.pivot_table(index="policy", columns="group", values="text", aggfunc="first")[list(GROUPS)]
    wide = wide.reindex([p for p in result.policies if p in wide.index])
    base_rates = s[(s["policy"] == BASE) & (s["metric"] == "placement_rate")].set_index("group")["mean"]
    out += [f"Placement rate minus `{BASE}`'s, per key group (paired, 95% t interval; `{BASE}`: "
            + ", ".join(f"{grp} {base_rates[grp]:.3f}" for grp in GROUPS) + ")", "",
            wide.reset_index().to_markdown(index=False), ""]
    verdicts = []
    for policy in result.policies:
        if policy == BASE or objective_of_policy(policy) is None:
            continue
        f = frontier_df.set_index("policy").loc[policy]
        gp = g[(g["policy"] == policy) & g["group"].isin(KEY_GROUPS)]
        worse = gp[gp["ci_high"] < 0]["group"].tolist()
        lower = gp[gp["diff"] < 0]["group"].tolist()
        gain_ok = f["placements_vs_apply"] >= TARGET_GAIN
        loss_ok = f["hr_loss_vs_apply"] <= TARGET_LOSS
        dp = c[(c["policy"] == policy) & (c["group"] == "all") & (c["metric"] == "placements")].iloc[0]
        verdicts.append({"policy": policy, "placements vs apply [95% CI]": fmt(
                             dp["diff"] / dp["baseline"], dp["ci_low"] / dp["baseline"], dp["ci_high"] / dp["baseline"],
                             1, pct=True),
                         "HR@10 loss vs apply": "–" if pd.isna(f["hr_loss_vs_apply"]) else f"{f['hr_loss_vs_apply']:.1%}",
                         "groups significantly worse": ", ".join(worse) or "none",
                         "groups lower (point estimate)": ", ".join(lower) or "none",
                         "target met": "yes" if gain_ok and loss_ok and not worse else
                         "no (" + ", ".join(x for x, bad in (("placements", not gain_ok), ("HR@10", not loss_ok),
                                                             ("a group worse off", bool(worse))) if bad) + ")"})
    out += [f"Target (≥ {TARGET_GAIN:.0%} more placements than `{BASE}`, ≤ {TARGET_LOSS:.0%} relative loss of "
            "application HR@10, no key group significantly worse off; judged on the point estimates, the "
            "interval says how sure):", "",
            pd.DataFrame(verdicts).to_markdown(index=False), ""]
    return out, frontier_df, c.assign(run=run)


LABELS = {"hybrid_apply": "apply", "hybrid_hire": "hire", "hybrid_surplus": "surplus",
          "hybrid_surplus_congestion_0_5": "surplus λ=0.5", "hybrid_surplus_congestion": "surplus λ=1",
          "hybrid_surplus_congestion_2": "surplus λ=2", "hybrid_surplus_top50_congestion": "surplus top-50 λ=1"}


def plot_frontier(frontier: pd.DataFrame, path: Path) -> None:
    """One panel per run: placements (mean, 95% interval over simulation seeds) against offline HR@10."""
    runs = list(dict.fromkeys(frontier["run"]))
    cols = 2 if len(runs) > 1 else 1
    rows = (len(runs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.6 * rows), squeeze=False)
    for ax, run in zip(axes.ravel(), runs, strict=False):
        f = frontier[frontier["run"] == run].set_index("policy")
        base = f.loc[BASE]
        points = f.dropna(subset=["hr_apply"]).sort_values("placements")
        ax.errorbar(points["hr_apply"], points["placements"],
                    yerr=[points["placements"] - points["placements_low"],
                          points["placements_high"] - points["placements"]], fmt="o", capsize=3)
        for i, (name, r) in enumerate(points.iterrows()):
            ax.annotate(LABELS.get(str(name), str(name)), (r["hr_apply"], r["placements"]), textcoords="offset points",
                        xytext=(6, -10 + 9 * (i % 3)), fontsize=7)
        ax.axvspan(base["hr_apply"] * (1 - TARGET_LOSS), max(points["hr_apply"].max(), base["hr_apply"]) * 1.02,
                   color="tab:green", alpha=0.08)
        ax.axhline(base["placements"] * (1 + TARGET_GAIN), color="tab:green", ls="-.", lw=1,
                   label=f"target: apply +{TARGET_GAIN:.0%} placements, within the shaded ≤{TARGET_LOSS:.0%} HR@10 loss")
        top = points["placements_high"].max()
        if "organic" in f.index:
            ax.axhline(f.loc["organic", "placements"], color="grey", ls="--", lw=1, label="organic (no recommendations)")
        if "surplus_oracle" in f.index:
            oracle = f.loc["surplus_oracle", "placements"]
            if oracle <= 1.3 * top:
                ax.axhline(oracle, color="grey", ls=":", lw=1, label="surplus oracle")
            else:
                ax.plot([], [], " ", label=f"surplus oracle: {oracle:,.0f} (off the chart)")
        ax.set_xlabel("offline HR@10 on applications (protocol v2)")
        ax.set_ylabel("simulated placements (30 days)")
        ax.set_title(run)
        ax.legend(fontsize=7, loc="best")
    for ax in axes.ravel()[len(runs):]:
        ax.set_visible(False)
    fig.suptitle("Experiment 06: placements against application HR@10 per ranking objective (small)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    import argparse

    global RESULTS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="results directory (default: results/)")
    RESULTS = parser.parse_args().results
    runs = sorted((p.name for p in RESULTS.iterdir() if (p / "outcomes.csv").is_file() and p.name != "tuning"),
                  key=lambda r: (r.split("-")[0] != "realistic", r))
    lines = ["# Experiment 06: results (generated by summarize.py)", ""]
    frontiers, diffs = [], []
    for run in runs:
        text, frontier, diff = run_tables(run)
        lines += text
        frontiers.append(frontier)
        diffs.append(diff)
    frontier = pd.concat(frontiers, ignore_index=True)
    frontier.to_csv(RESULTS / "frontier.csv", index=False)
    pd.concat(diffs, ignore_index=True).to_csv(RESULTS / "paired_vs_apply.csv", index=False)
    plot_frontier(frontier, RESULTS / "frontier.png")
    lines += ["![frontier](frontier.png)", ""]
    (RESULTS / "summary.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
