"""Plots of a :class:`~recsys.simulation.simulate.SimulationResult` (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from recsys.simulation.simulate import SimulationResult

GROUPS = ("all", "graduates", "4050", "unemployed", "flexible")


def placements_by_group(result: SimulationResult, path: Path) -> None:
    """Placement rate per key group and policy, mean over seeds with 95% t intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.summary()
    s = s[(s["metric"] == "placement_rate") & s["group"].isin(GROUPS)]
    policies = result.policies
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(policies), 1)
    for i, policy in enumerate(policies):
        rows = s[s["policy"] == policy].set_index("group").reindex(list(GROUPS))
        x = np.arange(len(GROUPS)) + i * width
        err = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
        ax.bar(x, rows["mean"], width, label=policy, yerr=np.nan_to_num(err), capsize=2)
    ax.set_xticks(np.arange(len(GROUPS)) + 0.4 - width / 2, GROUPS)
    ax.set_ylabel("placement rate (share of searchers hired)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def placements_vs_hit_rate(result: SimulationResult, path: Path) -> None:
    """Placements (mean, 95% t interval over seeds) against offline HR@10, one point per recommending policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.summary()
    place = s[(s["metric"] == "placements") & (s["group"] == "all")].set_index("policy")
    hr = result.hit_rates[(result.hit_rates["group"] == "all")].set_index("policy")["value"]
    fig, ax = plt.subplots(figsize=(5, 4))
    for policy in result.policies:
        if policy not in place.index:
            continue
        mean, low, high = (float(v) for v in place.loc[policy, ["mean", "ci_low", "ci_high"]].to_numpy(dtype=float))
        if policy in hr.index:
            x = float(hr[policy])
            ax.errorbar(x, mean, yerr=[[mean - low], [high - mean]], fmt="o", capsize=3)
            ax.annotate(policy, (x, mean), fontsize=8, xytext=(3, 3), textcoords="offset points")
        else:
            ax.axhline(mean, color="grey", linestyle="--", linewidth=1)
            ax.annotate(f"{policy} (no list)", (0, mean), fontsize=8, color="grey")
    ax.set_xlabel("offline HR@10 on the window")
    ax.set_ylabel("simulated placements in the window")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
