"""Tune the placement objectives without the test window: simulate from a validation cutoff inside training.

The market is replayed to ``split day - 30`` (day 122 of `small`) and continued for 30 days, which end where
the test window starts; every policy is fitted on the interactions before that validation cutoff. Each
variant (surplus σ, top-N re-ranked, congestion λ) is simulated with the same seeds (common random numbers)
and ranked by placements. A variant qualifies when, on this validation window, its offline HR@10 (the
simulator's own: frozen ranking at the cutoff against the applications logged in the window) is at most 3%
below the apply-ranked hybrid's and no key group's mean placement rate is below the hybrid's.

Run (from the checkout; writes results/tuning/<world>/<grid>/, with the ranking in choice.csv):
    PYTHONPATH=$PWD python experiments/06_job_i_like_or_can_get/tune.py --world realistic --grid sigma_lambda
    PYTHONPATH=$PWD python experiments/06_job_i_like_or_can_get/tune.py --world realistic --grid cutoff
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

from recsys.api.objectives import Objective
from recsys.cli import pipeline
from recsys.cli.simulate import build_policies
from recsys.data.dataset import Dataset
from recsys.paths import config_dir
from recsys.placement.offline import PlacementRecommender
from recsys.simulation import RecommenderPolicy, load_snapshot, simulate

HERE = Path(__file__).resolve().parent
GROUPS = ("graduates", "4050", "unemployed", "flexible")
def variants(grid: str) -> dict[str, Objective]:
    """The grids (sized for a shared 2-core machine).

    ``sigma_lambda``: surplus σ in {0.25, 0.5, 1} with and without congestion (λ = 1) at the top-50 cutoff,
    the cutoff 20 at σ = 0.5, and the apply ranking with congestion (λ = 1). ``cutoff``: the top-N cutoff
    N in {12, 14, 16, 20} at σ = 0.5 without congestion, and N in {14, 20} with λ = 1.
    """
    if grid == "sigma_lambda":
        out = {f"surplus_s{s:g}_n50_c{c:g}": Objective("surplus", congestion=c, candidates=50, surplus_sigma=s)
               for s in (0.25, 0.5, 1.0) for c in (0.0, 1.0)}
        out["surplus_s0.5_n20_c0"] = Objective("surplus", candidates=20, surplus_sigma=0.5)
        out["apply_n50_c1"] = Objective("apply", congestion=1.0, candidates=50)
        return out
    if grid == "cutoff":
        out = {f"surplus_s0.5_n{n}_c0": Objective("surplus", candidates=n, surplus_sigma=0.5) for n in (12, 14, 16, 20)}
        out.update({f"surplus_s0.5_n{n}_c1": Objective("surplus", congestion=1.0, candidates=n, surplus_sigma=0.5)
                    for n in (14, 20)})
        return out
    raise ValueError(f"--grid: expected 'sigma_lambda' or 'cutoff', got {grid!r}")


def choose(result_dir: Path, max_hr_loss: float = 0.03) -> pd.DataFrame:
    """Per variant: placements and HR@10 relative to the hybrid, worst key-group difference, and ``qualifies``."""
    s = pd.read_csv(result_dir / "summary.csv")
    a = s[s["group"] == "all"].pivot_table(index="policy", columns="metric", values="mean")
    rate = s[(s["metric"] == "placement_rate") & s["group"].isin(GROUPS)].pivot_table(
        index="policy", columns="group", values="mean")
    base = "hybrid_apply"
    table = pd.DataFrame({
        "placements": a["placements"], "placements_vs_apply": a["placements"] / a.loc[base, "placements"] - 1,
        "hr@10": a["hr@10"], "hr_loss_vs_apply": 1 - a["hr@10"] / a.loc[base, "hr@10"],
        "worst_group_rate_diff": rate.sub(rate.loc[base], axis=1).min(axis=1),
        "welfare_total": a.get("welfare_total", np.nan)})
    table = table.drop(index=[p for p in ("organic",) if p in table.index])
    table["qualifies"] = (table["hr_loss_vs_apply"] <= max_hr_loss) & (table["worst_group_rate_diff"] >= 0)
    return table.sort_values(["qualifies", "placements"], ascending=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="realistic")
    parser.add_argument("--preset", default="small", help="tiny: a smoke run only")
    parser.add_argument("--grid", default="sigma_lambda", choices=("sigma_lambda", "cutoff"))
    parser.add_argument("--seed", type=int, default=0, help="data seed")
    parser.add_argument("--sim-seeds", type=int, nargs="+", default=[100, 101])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--share", type=float, default=0.5)
    args = parser.parse_args()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("simulate", overrides=[f"data={args.preset}", f"data/world={args.world}", f"seed={args.seed}",
                                             "tracking=disabled", "policies=[hybrid_apply,hybrid_surplus]"],
                      return_hydra_config=False)
    data_dir = pipeline.ensure_data(cfg)
    full = load_snapshot(data_dir)
    cutoff_day = full.cutoff_day - args.days  # the validation window ends where the test window starts
    snapshot = load_snapshot(data_dir, cutoff_day)
    cutoff = snapshot.start_ns + np.timedelta64(cutoff_day, "D")
    clock = time.perf_counter()
    policies, _ = build_policies(cfg, str(data_dir), cutoff)
    surplus = policies["hybrid_surplus"].model  # type: ignore[attr-defined]
    dataset = Dataset.load(data_dir)
    train = dataset.with_interactions(dataset.interactions["ts"].to_numpy() < cutoff)
    grid: dict[str, object] = {"hybrid_apply": policies["hybrid_apply"]}
    for name, objective in variants(args.grid).items():
        model = PlacementRecommender(surplus.base_, objective, surplus.hiring_, seed=args.seed, refit=False,
                                     calibration=surplus.calibration_)
        grid[name] = RecommenderPolicy(model.fit(train), name)
    print(f"fitted {len(grid)} policies in {time.perf_counter() - clock:.0f} s; simulating from day {cutoff_day}")
    result = simulate(snapshot, grid, days=args.days, sim_seeds=args.sim_seeds, recommendation_share=args.share,
                      k=10)
    out = (HERE / "results" / "tuning" / (args.world if args.preset == "small" else f"{args.preset}-{args.world}")
           / args.grid)
    result.save(out)
    table = choose(out)
    table.to_csv(out / "choice.csv")
    print(table.head(15).to_string())


if __name__ == "__main__":
    main()
