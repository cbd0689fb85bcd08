"""LightFMHybrid on ``small``: training overhead over raw ``LightFM.fit``, and scoring speed.

1. Fit ``LightFMHybrid`` (default hyperparameters) on the temporal split's training data, then call
   ``lightfm.LightFM.fit`` directly on the very matrices the model built (same interactions, sample
   weights, user/item features, hyperparameters, seed, one thread). Target: ours within 1.2x.
2. Score every test seeker over the jobs active during the test window with ``model.score`` (representation
   products + biases). Target: <= 2 s. For reference, the same block via ``LightFM.predict`` per pair.

Writes the section "Models" of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from lightfm import LightFM

from recsys.data.dataset import Dataset
from recsys.data.synthetic import generate_preset
from recsys.evaluation import temporal_split
from recsys.models import LightFMHybrid

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

TARGET_FIT_RATIO, TARGET_SCORE_SECONDS = 1.2, 2.0


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="existing `small` data directory (default: generate one)")
    args, _ = parser.parse_known_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        data_dir = args.data or generate_preset("small", Path(tmp) / "small", seed=0)
        dataset = Dataset.load(data_dir)
        cutoff = json.loads((Path(data_dir) / "manifest.json").read_text())["split_date"]
    split = temporal_split(dataset, cutoff)

    model = LightFMHybrid()
    _, ours_fit = timed(model.fit, split.train)
    interactions, user_x, item_x = LightFMHybrid().training_matrices(split.train)
    raw = LightFM(no_components=model.no_components, loss=model.loss, learning_rate=model.learning_rate,
                  item_alpha=model.item_alpha, user_alpha=model.user_alpha, max_sampled=model.max_sampled,
                  random_state=model.random_state)
    ones = interactions.copy()
    ones.data[:] = 1.0
    _, raw_fit = timed(raw.fit, ones, user_features=user_x, item_features=item_x, sample_weight=interactions,
                       epochs=model.epochs, num_threads=model.num_threads)
    same = np.array_equal(raw.item_embeddings, model.item_embeddings_)

    # every job active at some moment of the test window (a seeker's candidates are a subset)
    jobs = dataset.jobs
    active = np.flatnonzero((jobs["posted_at"].to_numpy() <= split.test_time.max())
                            & (jobs["expires_at"].to_numpy() > np.datetime64(split.cutoff)))
    seekers = split.seeker_rows
    model.score(seekers[:10], active)  # warm-up
    scores, score_seconds = timed(model.score, seekers, active)
    # LightFM.predict per pair, timed on 100 warm seekers x the active jobs it knows, scaled per pair
    warm = seekers[model.seeker_identity_[seekers] >= 0][:100]
    known = active[model.job_identity_[active] >= 0]
    user_ids = np.repeat(model.seeker_identity_[warm], len(known)).astype(np.int32)
    item_ids = np.tile(model.job_identity_[known], len(warm)).astype(np.int32)
    _, predict_seconds = timed(raw.predict, user_ids, item_ids, user_features=user_x, item_features=item_x,
                               num_threads=1)
    predict_all = predict_seconds / len(user_ids) * scores.size

    ratio = ours_fit / raw_fit
    lines = [
        "| what | seconds |", "|---|---:|",
        f"| `LightFMHybrid.fit` (features, layout, {model.epochs} epochs, representations) | {ours_fit:.2f} |",
        f"| `LightFM.fit` on the same matrices, same hyperparameters and seed | {raw_fit:.2f} |",
        f"| `LightFMHybrid.score`: {len(seekers):,} test seekers x {len(active):,} jobs active in the test window | {score_seconds:.3f} |",
        f"| `LightFM.predict` per pair, same block (extrapolated from {len(user_ids):,} pairs) | {predict_all:.2f} |",
        "",
        f"Fit overhead: **{ratio:.2f}x** raw LightFM (target <= {TARGET_FIT_RATIO}x; "
        f"{'met' if ratio <= TARGET_FIT_RATIO else 'NOT met'}); same learned item embeddings: {same}. "
        f"Scoring {'within' if score_seconds <= TARGET_SCORE_SECONDS else 'ABOVE'} the "
        f"{TARGET_SCORE_SECONDS:.0f} s target ({scores.size / score_seconds / 1e6:.0f} M pairs/s). "
        f"`small`, temporal split at {split.cutoff}: {interactions.nnz:,} training pairs, "
        f"user features {user_x.shape}, item features {item_x.shape}, one thread.",
    ]
    print("\n".join(lines))
    write_section("Models", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
