"""Full-catalogue evaluation speed on ``small``: rolling protocol, and one-time protocol vs LightFM.

**Rolling** (section "Rolling evaluation speed"): on :func:`recsys.evaluation.rolling_split` (every
test application ranked at its own time), we time, for the same fitted model, ``rank_split``
(scoring + candidate masks + top-20 for every query) and ``assess`` (metrics, per-seeker averaging,
slices, one joint 1,000-resample bootstrap over seekers) separately and together (= ``evaluate``).
Target (issue 14): together <= 10 s on ``small``. With ``--city`` (or ``--city-dir``), the same on
``city`` with a 64-dimensional embedding model of fixed random vectors (evaluation cost does not
depend on how the vectors were learned; fitting LightFM on city is not what is timed); target <= 3 min.

**One-time protocol** (section "Evaluation speed"), ours vs ``lightfm.evaluation.precision_at_k``:

A 64-dimensional LightFM model (WARP, 3 epochs, one thread) is fitted on the temporal split's
training applications. We time :func:`recsys.evaluation.evaluate` over all test seekers (chunked
``user_repr @ item_repr.T`` over the jobs active during each batch + candidate mask + partial sort;
then metrics, slices and bootstrap intervals) and LightFM's own ``precision_at_k`` on the same model
and data, both single-threaded (LightFM ``num_threads=1``, BLAS limited to one thread with
``threadpoolctl``). The machine is shared, so the runs are interleaved over several rounds and we
report medians of wall-clock and CPU time. Writes the section "Evaluation speed" of
``benchmarks/RESULTS.md``. Targets: ours <= 5 s and >= 10x faster.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM
from lightfm.evaluation import precision_at_k
from threadpoolctl import threadpool_limits

from recsys.data.dataset import Dataset
from recsys.data.synthetic import generate_preset
from recsys.evaluation import assess, evaluate, precision, rank_split, rolling_split, temporal_split
from recsys.evaluation.significance import DEFAULT_RESAMPLES
from recsys.models import Recommender

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

TARGET_SECONDS, TARGET_SPEEDUP = 5.0, 10.0
ROLLING_TARGET_SECONDS, CITY_TARGET_SECONDS = 10.0, 180.0
ROUNDS = 5


class LightFMScores(Recommender):
    """Scores of a fitted ``lightfm.LightFM`` as one matrix product: ``[u, b_u, 1] @ [v, 1, b_v]^T``."""

    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, lightfm_model: LightFM | None = None) -> None:
        self.lightfm_model = lightfm_model

    def _fit(self, dataset: Dataset) -> None:
        user_bias, user_repr = self.lightfm_model.get_user_representations()
        item_bias, item_repr = self.lightfm_model.get_item_representations()
        ones = np.ones((len(user_bias), 1), dtype=np.float32)
        self.user_ = np.hstack([user_repr, user_bias[:, None], ones])  # float32, like LightFM itself
        self.item_ = np.hstack([item_repr, np.ones((len(item_bias), 1), dtype=np.float32), item_bias[:, None]])

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return self.user_[seeker_rows] @ self.item_[job_rows].T


class RandomEmbeddings(Recommender):
    """``u @ v.T`` with fixed random 64-dim float32 vectors (seeded): the cost of a factor model's scoring."""

    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, dim: int = 64, seed: int = 0) -> None:
        self.dim = dim
        self.seed = seed

    def _fit(self, dataset: Dataset) -> None:
        rng = np.random.default_rng(self.seed)
        self.user_ = rng.standard_normal((dataset.n_seekers, self.dim), dtype=np.float32)
        self.item_ = rng.standard_normal((dataset.n_jobs, self.dim), dtype=np.float32)

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return self.user_[seeker_rows] @ self.item_[job_rows].T


def time_rolling(model: Recommender, split, rounds: int) -> dict[str, float]:
    """Median wall / CPU seconds of rank_split, assess and both, over ``rounds`` rounds."""
    walls: dict[str, list[float]] = {"rank": [], "assess": [], "cpu_rank": [], "cpu_assess": []}
    for _ in range(rounds):
        lists, wall, cpu = timed(rank_split, model, split, 20)
        walls["rank"].append(wall)
        walls["cpu_rank"].append(cpu)
        result, wall, cpu = timed(assess, lists, split, (5, 10, 20), n_resamples=DEFAULT_RESAMPLES)
        walls["assess"].append(wall)
        walls["cpu_assess"].append(cpu)
    out = {name: float(np.median(values)) for name, values in walls.items()}
    out["total"] = float(np.median(np.add(walls["rank"], walls["assess"])))
    out["cpu_total"] = float(np.median(np.add(walls["cpu_rank"], walls["cpu_assess"])))
    out["hr10"] = result.value("hr", 10)
    return out


def rolling_lines(label: str, split, model_label: str, times: dict[str, float], target: float) -> list[str]:
    info = split.describe()
    return [
        f"| {label} | {info['n_queries']:,} | {info['n_test_seekers']:,} | {model_label} | {times['rank']:.2f} | "
        f"{times['assess']:.2f} | **{times['total']:.2f}** ({times['cpu_total']:.2f} CPU) | {target:.0f} | "
        f"**{'met' if times['total'] <= target else 'missed'}** | {info['share_test_events_kept']:.4f} "
        f"({info['n_relevant_pairs']:,} of {info['n_test_events']:,}; dropped {split.drop_reasons}) |",
    ]


def ranking_and_precision(model: Recommender, split) -> np.ndarray:
    """What ``lightfm.evaluation.precision_at_k`` computes: top-10 lists and per-seeker precision@10.

    Seekers are batched in test-time order, as :func:`evaluate` does.
    """
    by_time = np.argsort(split.test_time, kind="stable")
    ranked = np.empty((split.n_test, 10), dtype=np.int64)
    ranked[by_time], _ = model.recommend_rows(
        split.seeker_rows[by_time], 10, exclude_seen=False, batch_size=512,
        candidate_mask=lambda rows: split.candidate_block(split.positions(rows)))
    return precision(ranked, split.relevant, 10)


def resample_counts(n: int, n_resamples: int, seed: int = 0) -> np.ndarray:
    """The random part of the bootstrap alone: how often each of ``n`` rows is drawn, per resample.

    Same draws and counting as :func:`recsys.evaluation.significance.bootstrap_mean_intervals`
    (``uint16`` draws, one ``bincount`` per resample), as a lower bound on the intervals' cost.
    """
    draws = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n), dtype=np.uint16)
    counts = np.empty(draws.shape, dtype=np.float32)
    for b, row in enumerate(draws):
        counts[b] = np.bincount(row, minlength=n)
    return counts


def timed(function, *args, **kwargs):
    """``(result, wall seconds, CPU seconds of this process)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="existing `small` data directory (default: generate one)")
    parser.add_argument("--city", action="store_true", help="also time rolling evaluation on city (generated: minutes, GBs)")
    parser.add_argument("--city-dir", type=Path, default=None, help="an already generated city dataset (implies --city)")
    args, _ = parser.parse_known_args(argv)  # run_all passes every benchmark the same arguments
    with tempfile.TemporaryDirectory(prefix="bench-evaluate-") as tmp, threadpool_limits(1):
        data_dir = args.data or generate_preset("small", Path(tmp) / "small", seed=0)
        dataset = Dataset.load(data_dir)
        cutoff = json.loads((Path(data_dir) / "manifest.json").read_text())["split_date"]
        split = temporal_split(dataset, cutoff)
        train = split.train_seen.tocoo()
        train.data[:] = 1.0
        lightfm_model = LightFM(no_components=64, loss="warp", random_state=0)
        _, fit_seconds, _ = timed(lightfm_model.fit, train, epochs=3, num_threads=1)
        model = LightFMScores(lightfm_model).fit(split.train)
        # rolling protocol: same training interactions (same cutoff), so the same fitted model
        rolling, rolling_split_seconds, _ = timed(rolling_split, dataset, cutoff)
        rolling_times = time_rolling(model, rolling, ROUNDS)
        rolling_rows = rolling_lines("small", rolling, "LightFM 64 dims (WARP, 3 epochs)", rolling_times,
                                     ROLLING_TARGET_SECONDS)
        city_note = ("`city` not measured in this run (pass `--city` or `--city-dir`: generating it takes "
                     "minutes and GBs).")
        if args.city or args.city_dir:
            city_dir = args.city_dir or generate_preset("city", Path(tmp) / "city", seed=0)
            city = Dataset.load(city_dir)
            city_cutoff = json.loads((Path(city_dir) / "manifest.json").read_text())["split_date"]
            city_split, city_split_seconds, _ = timed(rolling_split, city, city_cutoff)
            city_model = RandomEmbeddings().fit(city_split.train)
            rolling_rows += rolling_lines("city", city_split, "random 64-dim embeddings", time_rolling(
                city_model, city_split, 1), CITY_TARGET_SECONDS)
            city_note = f"`city`: one round; building its rolling split took {city_split_seconds:.1f} s (not in the total)."
            del city, city_split, city_model
        rolling_section = [
            "| data | queries | test seekers | model (fitted before, not timed) | `rank_split` s | `assess` s | "
            "total s (= `evaluate`) | target s | | test applications kept |",
            "|---|---:|---:|---|---:|---:|---:|---:|---|---|",
            *rolling_rows,
            "",
            f"What is timed: for a given fitted model, `rank_split` (scoring every query's active candidates at its "
            f"own time, masks, top-20) and `assess` (6 ranking metrics @5/10/20, congestion, coverage, Gini, slices, "
            f"per-seeker averaging and one joint {DEFAULT_RESAMPLES:,}-resample bootstrap over seekers). Building the "
            f"split is not included ({rolling_split_seconds:.2f} s on small) nor is fitting. Medians of {ROUNDS} rounds "
            f"on small, single-threaded (BLAS limited to 1 thread). HR@10 of the small model on rolling: "
            f"{rolling_times['hr10']:.3f}. {city_note}",
        ]
        # LightFM's protocol: every job a candidate except training ones; relevance = our test matrix
        lightfm_split = dataclasses.replace(split, active_only=False)
        relevant = split.relevant.tocoo()
        test = sp.coo_matrix((relevant.data, (split.seeker_rows[relevant.row], relevant.col)),
                             shape=(dataset.n_seekers, dataset.n_jobs))
        runs = {
            "full": lambda: evaluate(model, split, ks=(5, 10, 20)),
            "no_ci": lambda: evaluate(model, split, ks=(5, 10, 20), n_resamples=0),
            "precision": lambda: ranking_and_precision(model, split),
            "precision_all_jobs": lambda: ranking_and_precision(model, lightfm_split),
            "counts": lambda: resample_counts(split.n_test, DEFAULT_RESAMPLES),
            "lightfm": lambda: precision_at_k(lightfm_model, test, train, k=10, num_threads=1),
        }
        load_before = os.getloadavg()
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        results = {}
        for _ in range(ROUNDS):  # interleaved, so load changes hit every contender alike
            for name, run in runs.items():
                results[name], wall, cpu = timed(run)
                times[name].append((wall, cpu))
        load_after = os.getloadavg()
    wall = {name: float(np.median([t[0] for t in ts])) for name, ts in times.items()}
    cpu = {name: float(np.median([t[1] for t in ts])) for name, ts in times.items()}
    agreement = float(np.abs(results["precision_all_jobs"] - results["lightfm"]).max())
    full_ratio, full_cpu_ratio = wall["lightfm"] / wall["full"], cpu["lightfm"] / cpu["full"]
    n_slices = len(results["full"].slices[["slice", "value"]].drop_duplicates())
    n_intervals = int((~results["full"].summary["metric"].isin(["coverage", "gini"])).sum() + len(results["full"].slices))

    def row(what: str, protocol: str, name: str) -> str:
        return (f"| {what} | {protocol} | {wall[name]:.3f} | {cpu[name]:.3f} | {wall['lightfm'] / wall[name]:.1f}x | "
                f"{cpu['lightfm'] / cpu[name]:.1f}x |")

    lines = [
        "| what | candidates | wall s | CPU s | LightFM wall / this | LightFM CPU / this |",
        "|---|---|---:|---:|---:|---:|",
        row(f"ours: `evaluate`, 6 metrics @5/10/20, congestion, coverage, Gini, {n_slices} slices (HR, NDCG), "
            f"{DEFAULT_RESAMPLES}-resample bootstrap CIs", "active at test time", "full"),
        row("ours: same, no intervals (`n_resamples=0`)", "active at test time", "no_ci"),
        row("ours: ranking + precision@10 only (LightFM's workload)", "active at test time", "precision"),
        row("ours: ranking + precision@10 only", "all jobs (LightFM's protocol)", "precision_all_jobs"),
        row(f"reference: only drawing the {DEFAULT_RESAMPLES:,} bootstrap resamples of the test seekers "
            "(`uint16` draws + one `bincount` each), part of the first row", "-", "counts"),
        row("`lightfm.evaluation.precision_at_k` (k=10, `num_threads=1`)", "all jobs", "lightfm"),
        "",
        f"Targets: full evaluation <= {TARGET_SECONDS:.0f} s: **{'met' if wall['full'] <= TARGET_SECONDS else 'missed'}** "
        f"({wall['full']:.3f} s); >= {TARGET_SPEEDUP:.0f}x faster than LightFM: "
        f"**{'met' if full_ratio >= TARGET_SPEEDUP else 'missed'}** ({full_ratio:.1f}x wall, {full_cpu_ratio:.1f}x CPU "
        f"for the full evaluation; {wall['lightfm'] / wall['precision']:.1f}x wall for the same workload). "
        f"The intervals account for {cpu['full'] - cpu['no_ci']:.3f} s CPU of the full evaluation: one joint "
        f"bootstrap of {DEFAULT_RESAMPLES:,} resamples x {split.n_test:,} seekers for all "
        f"{n_intervals} summary and slice rows, of "
        f"which drawing the resamples alone takes {cpu['counts']:.3f} s; LightFM's time / 10 leaves "
        f"{cpu['lightfm'] / TARGET_SPEEDUP:.3f} s CPU for ranking, metrics, slices and intervals together.",
        "",
        f"`small`, temporal split at {cutoff}: {split.n_test:,} test seekers x {dataset.n_jobs:,} jobs, "
        f"{split.relevant.nnz:,} relevant pairs; LightFM fit (64 dims, WARP, 3 epochs, 1 thread) "
        f"{fit_seconds:.1f} s, not timed above. Everything single-threaded: LightFM `num_threads=1`, BLAS "
        f"limited to 1 thread (`threadpoolctl.threadpool_limits(1)`). Medians of {ROUNDS} interleaved rounds; "
        f"CPU = this process's CPU time. Load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} "
        f"after, on {os.cpu_count()} CPUs shared with other jobs: wall times carry that noise. Under LightFM's "
        f"protocol our precision@10 equals LightFM's per seeker to {agreement:.1e}. HR@10 of this model on the "
        f"split: {results['full'].value('hr', 10):.3f}.",
    ]
    print("\n".join(lines))
    write_section("Evaluation speed", "\n".join(lines))
    print("\n".join(rolling_section))
    write_section("Rolling evaluation speed", "\n".join(rolling_section))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
