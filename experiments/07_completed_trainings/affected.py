"""Completed trainings as features: HR@10 with the switch off and on, over all test seekers and over those it touches.

Builds the same split and models as
``recsys-compare data=small data/world=realistic models=content_hybrid features.completed_trainings=<off|on>``
(Hydra compose of ``configs/compare.yaml``), fits each model once per setting and prints, per model, HR@10 over
every test seeker and over the test seekers with a training completed before the cutoff, the paired
difference (on - off) with a 95% percentile bootstrap over seekers, and how many of those seekers' HR@10 changed.

    .venv/bin/python experiments/07_completed_trainings/affected.py data=small data/world=realistic \\
        > experiments/07_completed_trainings/results/small-realistic-seed0.md
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

from recsys.cli import pipeline
from recsys.cli.schemas import register_configs
from recsys.evaluation.evaluate import assess, rank_split
from recsys.paths import config_dir

N_RESAMPLES = 2000


def bootstrap(diff: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of ``diff`` (resampling seekers)."""
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (N_RESAMPLES, len(diff)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def main(overrides: list[str]) -> None:
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        configs = {on: compose(config_name="compare", overrides=[
            *overrides, "models=content_hybrid", "tracking=disabled", "output_dir=/tmp/affected",
            f"features.completed_trainings={str(on).lower()}"]) for on in (False, True)}
    dataset = pipeline.load_dataset(configs[False])
    split = pipeline.make_split(configs[False], dataset)
    trainings = dataset.extras.get("trainings")
    if trainings is None:
        raise SystemExit("the dataset has no trainings table")
    done = trainings.loc[trainings["completed_at"] < split.cutoff, "seeker_id"]
    test_ids = dataset.seeker_ids.to_ids(split.seeker_rows)
    touched = np.isin(test_ids, done.to_numpy())
    print(f"cutoff {split.cutoff}; trainings {len(trainings)}, completed before the cutoff {len(done)}; "
          f"test seekers {len(test_ids)}, with a training completed before the cutoff {int(touched.sum())}")
    rows = []
    for label in configs[False].models:
        hr = {}
        for on, cfg in configs.items():
            model = pipeline.build_model(cfg.models[label]).fit(split.train)
            result = assess(rank_split(model, split, 10), split, ks=(10,), n_resamples=0)
            per_seeker = result.per_seeker.set_index("seeker_id")["hr@10"]
            hr[on] = per_seeker.loc[test_ids].to_numpy(dtype=float)
        diff = hr[True] - hr[False]
        for name, mask in (("all test seekers", np.ones(len(test_ids), dtype=bool)), ("with a training", touched)):
            if not mask.any():
                continue
            low, high = bootstrap(diff[mask])
            rows.append({"model": label, "seekers": name, "n": int(mask.sum()), "HR@10 off": hr[False][mask].mean(),
                         "HR@10 on": hr[True][mask].mean(), "diff": diff[mask].mean(), "diff 95% low": low,
                         "diff 95% high": high, "seekers changed": int((diff[mask] != 0).sum())})
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4f"))


if __name__ == "__main__":
    main(sys.argv[1:])
