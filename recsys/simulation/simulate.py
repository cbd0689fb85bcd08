"""``simulate(data_dir, policies, ...) -> SimulationResult``: policies inside the generated market, compared.

Each policy runs once per simulation seed from the same replayed cutoff state; seeds are shared by all
policies (common random numbers, :mod:`recsys.simulation.streams`), so a policy's difference to the baseline
within a seed is a paired difference. Intervals are t intervals over seeds of these paired differences
(:meth:`SimulationResult.compare`): the seeds are the independent replications of the market; seekers within
a seed are not independent (they compete for the same postings), so they are not resampled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from recsys.progress import progress as progress_bar
from recsys.simulation import outcomes as oc
from recsys.simulation.market import (
    RecommendationChannel,
    Run,
    SimulationInputError,
    Snapshot,
    load_snapshot,
    run_policy,
)
from recsys.simulation.policies import Policy, RankerPolicy, as_policy

STAGES = ("views", "applications", "interviews", "hires")


@dataclass
class SimulationResult:
    """Outcomes of every (policy, seed) run.

    outcomes
        Long table: ``policy, seed, group, metric, value`` (metrics: :mod:`recsys.simulation.outcomes`).
    hit_rates
        ``policy, group, metric (hr@k), value``: offline hit-rate of each policy's frozen ranking.
    runs
        ``policy, seed, seconds, sessions, recommended_sessions`` per run.
    consistency_table
        Organic runs against the generator's own data for the window (when ``organic`` was simulated).
    """

    outcomes: pd.DataFrame
    hit_rates: pd.DataFrame
    runs: pd.DataFrame
    consistency_table: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def policies(self) -> list[str]:
        return list(dict.fromkeys(self.runs["policy"]))

    def summary(self, confidence: float = 0.95) -> pd.DataFrame:
        """Mean over seeds with a t interval, per (policy, group, metric); ``hr@k`` rows from :attr:`hit_rates`."""
        g = self.outcomes.groupby(["policy", "group", "metric"], sort=False)["value"]
        table = _t_interval(g.mean(), g.std(ddof=1), g.count(), confidence).reset_index()
        hr = self.hit_rates.assign(ci_low=self.hit_rates["value"], ci_high=self.hit_rates["value"], n_seeds=np.nan)
        return pd.concat([table, hr.rename(columns={"value": "mean"})], ignore_index=True)

    def compare(self, baseline: str = "organic", confidence: float = 0.95) -> pd.DataFrame:
        """Paired differences ``policy - baseline`` per (group, metric), mean over seeds with a t interval.

        ``significant``: the interval excludes 0 (no multiplicity correction across the many metrics: read
        effect sizes, not stars).
        """
        if baseline not in self.policies:
            raise SimulationInputError(f"baseline: {baseline!r} was not simulated; policies: {self.policies}")
        wide = self.outcomes.pivot_table(index=["group", "metric", "seed"], columns="policy", values="value",
                                         aggfunc="first")
        diffs = wide.drop(columns=[baseline]).sub(wide[baseline], axis=0)
        long = diffs.reset_index().melt(id_vars=["group", "metric", "seed"], var_name="policy", value_name="diff")
        long = long.dropna(subset=["diff"])
        g = long.groupby(["policy", "group", "metric"], sort=False)["diff"]
        table = _t_interval(g.mean(), g.std(ddof=1), g.count(), confidence).reset_index()
        base = self.outcomes[self.outcomes["policy"] == baseline].groupby(["group", "metric"])["value"].mean()
        table["baseline"] = base.reindex(pd.MultiIndex.from_frame(table[["group", "metric"]])).to_numpy()
        table["significant"] = (table["ci_low"] > 0) | (table["ci_high"] < 0)
        return table.rename(columns={"mean": "diff"})

    def to_markdown(self, groups: Sequence[str] = ("all", "graduates", "4050", "unemployed", "flexible")) -> str:
        """A short report: settings, consistency, placements and welfare per policy and group, paired differences."""
        s = self.summary()
        keep = s[s["group"].isin(groups) & s["metric"].isin(["placements", "placement_rate", "welfare_utility",
                                                             "welfare_wage", "days_to_hire", "applications_per_hire",
                                                             "competition", "share_applications_wasted",
                                                             "exposure_gini", "fill_rate", "hr@10"])]
        cell = keep.assign(text=_texts(keep["mean"], keep["ci_low"], keep["ci_high"]))
        wide = cell.pivot_table(index=["group", "metric"], columns="policy", values="text", aggfunc="first")
        wide = wide[[p for p in self.policies if p in wide.columns]]
        lines = ["# Simulated placements", "", "Settings: " + ", ".join(f"{k}={v}" for k, v in self.settings.items()), "",
                 "## Outcomes (mean over seeds [95% t interval])", "", wide.reset_index().to_markdown(index=False), ""]
        if "organic" in self.policies and len(self.policies) > 1:
            c = self.compare("organic")
            c = c[c["group"].isin(groups) & c["metric"].isin(["placements", "placement_rate", "welfare_utility"])]
            c = c.assign(text=_texts(c["diff"], c["ci_low"], c["ci_high"]))
            lines += ["## Paired differences to organic (same seeds; 95% t interval over seeds)", "",
                      c.pivot_table(index=["group", "metric"], columns="policy", values="text", aggfunc="first")
                      .reset_index().to_markdown(index=False), ""]
        if not self.consistency_table.empty:
            lines += ["## Consistency: organic policy against the generator's own data for the window", "",
                      self.consistency_table.round(2).to_markdown(index=False), ""]
        return "\n".join(lines)

    def save(self, directory: Path | str) -> Path:
        """Write CSV tables, ``report.md`` and the plots to ``directory`` (created; existing files of the same
        names are replaced, nothing else is touched)."""
        from recsys.simulation import plots

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.outcomes.to_csv(out / "outcomes.csv", index=False)
        self.summary().to_csv(out / "summary.csv", index=False)
        self.runs.to_csv(out / "runs.csv", index=False)
        self.consistency_table.to_csv(out / "consistency.csv", index=False)
        if "organic" in self.policies and len(self.policies) > 1:
            self.compare("organic").to_csv(out / "compare.csv", index=False)
        plots.placements_by_group(self, out / "placements_by_group.png")
        plots.placements_vs_hit_rate(self, out / "placements_vs_hr.png")
        (out / "report.md").write_text(self.to_markdown() + "\n![placements per group](placements_by_group.png)\n\n"
                                       "![placements against HR@10](placements_vs_hr.png)\n", encoding="utf-8")
        return out


def _texts(mean: pd.Series, low: pd.Series, high: pd.Series) -> list[str]:
    return [_fmt(float(a), float(b), float(c)) for a, b, c in zip(mean, low, high, strict=True)]


def _fmt(mean: float, low: float, high: float) -> str:
    if not np.isfinite(mean):
        return ""
    digits = 0 if abs(mean) >= 100 else 3
    if np.isfinite(low) and np.isfinite(high) and low != high:
        return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    return f"{mean:.{digits}f}"


def _t_interval(mean: pd.Series, sd: pd.Series, n: pd.Series, confidence: float) -> pd.DataFrame:
    half = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = half.where(n > 1)
    return pd.DataFrame({"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n_seeds": n})


def consistency(snapshot: Snapshot, runs: Sequence[Run], days: int, member: pd.DataFrame) -> pd.DataFrame:
    """Funnel counts per key group: the generator's logged window against the organic runs.

    ``z`` = (logged - mean) / (sd * sqrt(1 + 1/n)): the logged window is one more draw of the same market, so
    under consistency it lies within the runs' prediction interval (``within``: ``|z| <=`` the 99% t
    quantile with n - 1 degrees of freedom). When the runs agree exactly (sd 0, few seeds), the Poisson sd
    ``sqrt(mean)`` stands in for sd.
    """
    if not runs:
        return pd.DataFrame()
    key = member[member["group"].isin(["all", *oc.KEY_GROUPS.values()])]
    end_min = (snapshot.cutoff_day + days) * 1440
    log = snapshot.logged[(snapshot.logged["minute"] < end_min) & (snapshot.logged["seeker"] >= 0)]

    def counts(events: pd.DataFrame) -> pd.DataFrame:
        per = pd.crosstab(events["seeker"], events["stage"]).reindex(columns=range(4), fill_value=0)
        per = per.reindex(np.arange(len(snapshot.seeker_ids)), fill_value=0)
        out = per.iloc[key["seeker"].to_numpy()].groupby(key["group"].to_numpy()).sum()
        out.columns = list(STAGES)
        return out

    logged = counts(log).to_numpy()
    sims = np.stack([counts(r.events).to_numpy() for r in runs])
    n = len(runs)
    mean, sd = sims.mean(axis=0), sims.std(axis=0, ddof=1) if n > 1 else np.zeros(sims.shape[1:])
    rows = []
    for i, group in enumerate(counts(log).index):
        for j, stage in enumerate(STAGES):
            scale = (sd[i, j] if sd[i, j] > 0 else np.sqrt(max(mean[i, j], 1.0))) * np.sqrt(1 + 1 / n)
            z = (logged[i, j] - mean[i, j]) / scale if scale > 0 else np.nan
            rows.append({"group": group, "stage": stage, "logged": int(logged[i, j]), "simulated_mean": mean[i, j],
                         "simulated_sd": sd[i, j], "z": z})
    table = pd.DataFrame(rows)
    limit = stats.t.ppf(0.995, max(n - 1, 1))
    table["within"] = table["z"].abs() <= limit
    return table


def simulate(data_dir: Path | str | Snapshot, policies: Sequence[Any] | Mapping[str, Any], days: int = 30,
             sim_seeds: Sequence[int] = (0, 1, 2), recommendation_share: float | Mapping | RecommendationChannel = 0.5,
             k: int = 10, cutoff_day: int | None = None, progress: bool = False,
             refit_every: int | None = None) -> SimulationResult:
    """Simulate each policy in the generated market of ``data_dir`` from its cutoff for ``days`` days.

    Parameters
    ----------
    data_dir
        A generated dataset directory (with ``truth/``), or a :class:`Snapshot` already loaded.
    policies
        Reference names (``organic``, ``random``, ``utility_oracle``, ``surplus_oracle``), fitted
        Recommenders, Rankers or :class:`~recsys.simulation.policies.Policy` objects; a mapping names them.
    days
        Simulated days from the cutoff (at most to the dataset's end: arrivals exist only that far).
    sim_seeds
        Simulation seeds; every policy runs with each (paired comparisons).
    recommendation_share
        Share of sessions that list the policy's top ``k`` (a number, a mapping with ``share``, ``channels``,
        ``groups``, or a :class:`RecommendationChannel`).
    cutoff_day
        Day the simulation starts (default: the dataset's split date); policies are frozen there.
    refit_every
        Retrain model policies every so many simulated days on the training data plus the simulated funnel
        before that day (only :class:`~recsys.simulation.policies.RecommenderPolicy` given with its ``train``
        dataset; default ``None``: every policy frozen at the cutoff).
    """
    snapshot = data_dir if isinstance(data_dir, Snapshot) else load_snapshot(data_dir, cutoff_day)
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        raise SimulationInputError(f"days: must be a positive integer, got {days!r}")
    if snapshot.cutoff_day + days > snapshot.end_day:
        raise SimulationInputError(f"days: the dataset ends {snapshot.end_day - snapshot.cutoff_day} days after the "
                                   f"cutoff (day {snapshot.cutoff_day}); got days={days}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise SimulationInputError(f"k: must be a positive integer, got {k!r}")
    seeds = [int(s) for s in sim_seeds]
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise SimulationInputError(f"sim_seeds: must be distinct non-negative integers, got {list(sim_seeds)!r}")
    if refit_every is not None and (isinstance(refit_every, bool) or not isinstance(refit_every, int | np.integer)
                                    or refit_every < 1):
        raise SimulationInputError(f"refit_every: must be a positive integer or None, got {refit_every!r}")
    channel = RecommendationChannel.of(recommendation_share)
    items = list(policies.items()) if isinstance(policies, Mapping) else [(None, p) for p in policies]
    resolved: list[Policy] = [as_policy(obj, name) for name, obj in items]
    cutoff = pd.Timestamp(snapshot.time_at(snapshot.cutoff_day * 1440))
    for policy in resolved:
        if isinstance(policy, RankerPolicy) and policy.ranker.now > cutoff:
            raise SimulationInputError(f"policies: ranker {policy.name!r} has its clock at {policy.ranker.now}, after "
                                       f"the cutoff {cutoff}: it has seen the simulated window")
    names = [p.name for p in resolved]
    if len(set(names)) != len(names):
        raise SimulationInputError(f"policies: names must be distinct, got {names}; pass a mapping to name them")
    member = oc.memberships(snapshot)
    tables, hr_tables, run_rows, organic_runs = [], [], [], []
    for policy in progress_bar(resolved, "policies", unit="policy", wanted=progress):
        hits = oc.offline_hits(snapshot, policy, days, k=10)
        hr_tables.append(oc.hit_rate_table(snapshot, hits, member).assign(policy=policy.name))
        for seed in seeds:
            run = run_policy(snapshot, policy, seed, days, channel, k, refit_every)
            tables.append(oc.outcomes(snapshot, run, days, member).assign(policy=policy.name, seed=seed))
            run_rows.append({"policy": policy.name, "seed": seed, "seconds": run.seconds, "sessions": run.sessions,
                             "recommended_sessions": run.recommended_sessions})
            if not policy.recommends:
                organic_runs.append(run)
    outcomes = pd.concat(tables, ignore_index=True)[["policy", "seed", "group", "metric", "value"]]
    hit_rates = pd.concat(hr_tables, ignore_index=True)
    hit_rates = hit_rates[["policy", "group", "metric", "value"]] if len(hit_rates) else hit_rates
    return SimulationResult(outcomes, hit_rates, pd.DataFrame(run_rows),
                            consistency(snapshot, organic_runs, days, member),
                            settings={"data_dir": str(snapshot.data_dir), "cutoff_day": snapshot.cutoff_day,
                                      "days": days, "sim_seeds": seeds, "recommendation_share": channel.share,
                                      "channels": channel.channels or "all", "groups": channel.groups or "all",
                                      "k": k, "refit_every": refit_every})
