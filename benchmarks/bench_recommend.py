"""Batch recommendations (``recsys-recommend``): seekers per second written to Parquet, 1 and 2 workers
(threads sharing one ranker, the default without reasons; and spawned processes that each load it).

A 64-dim :class:`LightFMHybrid` is fitted on the ``small`` preset; its jobs are replicated with perturbed
locations into 50,000 active postings (as in ``bench_api.py``) and its known seekers are replicated
``--copies`` times under new ids (500,000 seekers by default, the ``city`` preset's number of seekers). The ranker is saved, then :func:`recsys.cli.recommend.recommend` ranks every seeker
(top-10, default filters: active jobs, own commute limit, requirements, not applied) and writes the
Parquet directory. Timed end to end, wall clock: resolving and loading the ranker, checking the ids,
starting the workers (spawned processes each load the ranker and its compiled kernels), ranking, writing,
the manifest and the atomic rename. One BLAS thread per process.

Usage: ``python benchmarks/bench_recommend.py [--copies 25] [--workers 1,2] [--kinds threads,processes] [--reasons]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core per process, before numpy loads BLAS

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402
from bench_api import N_JOBS, catalogue_jobs  # noqa: E402

from recsys.api import Ranker, load_ranker  # noqa: E402
from recsys.cli.recommend import recommend  # noqa: E402
from recsys.data.dataset import Dataset  # noqa: E402
from recsys.data.synthetic import generate_preset  # noqa: E402
from recsys.models.lightfm import LightFMHybrid  # noqa: E402

TARGET = 20_000


def replicated(ranker: Ranker, copies: int) -> Ranker:
    """``ranker`` with its known seekers repeated ``copies`` times under new ids (same catalogue)."""
    n = len(ranker.seekers)
    seekers = pd.concat([ranker.seekers.assign(seeker_id=ranker.seekers["seeker_id"] + f"-c{c}")
                         for c in range(copies)], ignore_index=True)
    requests = ranker.known_seekers.take(np.tile(np.arange(n), copies))
    return Ranker(ranker.model, ranker.catalogue, seekers, requests, ranker.now, max_reasons=ranker.max_reasons,
                  timezone=ranker.timezone)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--copies", type=int, default=25, help="times the preset's known seekers are replicated")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to time")
    parser.add_argument("--kinds", default="threads,processes",
                        help="worker kinds timed with the most workers (threads: the default without reasons)")
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--reasons", action="store_true", help="also time reasons=true with the most workers")
    parser.add_argument("--seed", type=int, default=0)
    args, _ = parser.parse_known_args(argv)
    worker_counts = [int(w) for w in args.workers.split(",")]

    with threadpool_limits(limits=1), tempfile.TemporaryDirectory(prefix="bench-recommend-") as tmp:
        dataset = Dataset.load(generate_preset(args.preset, Path(tmp) / args.preset, seed=args.seed))
        model = LightFMHybrid(no_components=64, epochs=5, random_state=args.seed).fit(dataset)
        ranker = Ranker.from_model(model, dataset)
        ranker.remove_jobs(ranker.catalogue.job_ids)
        ranker.add_jobs(catalogue_jobs(dataset, ranker.now, N_JOBS, args.seed))
        ranker = replicated(ranker, args.copies)
        ranker_dir = ranker.save(Path(tmp) / "ranker")
        n_seekers = len(ranker.seekers)
        clock = time.process_time()
        load_ranker(ranker_dir, set_default=False)  # the serial part every run starts with (CPU s)
        load_cpu = time.process_time() - clock

        most = max(worker_counts)
        kinds = args.kinds.split(",")
        plans = [(w, False, kinds[0] if w > 1 else "-") for w in worker_counts if w != most or w == 1]
        plans += [(most, False, kind) for kind in kinds if most > 1]
        plans += [(most, True, "processes")] if args.reasons else []
        runs: list[tuple[str, int, str, bool, float, float, int, int]] = []
        for workers, reasons, kind in plans:
            out = Path(tmp) / f"recs-{workers}-{kind}-{reasons}"
            load_before = os.getloadavg()[0]
            cpu_before = cpu_seconds()
            summary = recommend(ranker_dir, out, k=10, reasons=reasons, workers=workers,
                                chunk_size=args.chunk_size, worker_kind="auto" if kind == "-" else kind)
            cpu = cpu_seconds() - cpu_before
            size = sum(p.stat().st_size for p in out.iterdir())
            assert summary.n_seekers == n_seekers
            runs.append((f"{load_before:.1f}", workers, kind, reasons, summary.seconds, cpu, summary.n_rows, size))
            print(f"workers={workers} ({kind}) reasons={reasons}: {summary.seconds:.1f} s, {cpu:.1f} CPU s, "
                  f"{summary.seekers_per_second:,.0f} seekers/s", flush=True)

    rows = [f"| {workers} | {kind} | {'yes' if reasons else 'no'} | {n_seekers:,} | {n_rows:,} | {seconds:.1f} | "
            f"{n_seekers / seconds:,.0f} | {cpu:.1f} | {n_seekers / cpu:,.0f} | "
            f"{n_seekers / (load_cpu + (cpu - load_cpu) / min(workers, 2)):,.0f} | {size / 2**20:.0f} | {load} |"
            for load, workers, kind, reasons, seconds, cpu, n_rows, size in runs]
    plain = [(seconds, cpu, workers) for _, workers, kind, reasons, seconds, cpu, _, _ in runs
             if not reasons and workers == 2 and kind == kinds[0]]
    best = n_seekers / plain[0][0] if plain else 0.0
    best_cpu = n_seekers / (load_cpu + (plain[0][1] - load_cpu) / 2) if plain else 0.0
    body = f"""
`recsys-recommend` end to end (`recsys.cli.recommend.recommend`, top-10, default filters, chunks of
{args.chunk_size:,} seekers; workers are threads sharing the parent's ranker (the default without reasons:
`Ranker.top_lists`, whose compiled ranking releases the GIL) or spawned processes that each load the
ranker once (the default with reasons); one BLAS thread per process):
`LightFMHybrid(no_components=64, epochs=5)` fitted on `{args.preset}` (seed {args.seed}); catalogue of
{N_JOBS:,} active postings resampled from its jobs (as in the Ranking API benchmark); its known seekers
replicated {args.copies} times under new ids. Wall clock includes loading the ranker in the parent,
checking ids, starting (and, for processes, loading) the workers, ranking, writing Parquet and the atomic
rename. CPU s is the CPU time of the parent (all its threads) and its worker processes together
(`getrusage`); seekers per CPU s is the rate per busy core. "On min(workers, 2) dedicated cores" is what the
run would reach with the cores to itself: the parent's loading of the ranker ({load_cpu:.1f} CPU s, timed
alone) is serial, the rest (CPU s minus that) is shared by the workers. The machine is shared with other
jobs, so wall clock includes waiting for a core (1-minute load average on 2 CPUs before each run in the last
column).

| workers | kind | reasons | seekers | rows | wall s | seekers/s (wall) | CPU s | seekers per CPU s | seekers/s on min(workers, 2) dedicated cores | Parquet MiB | load avg |
|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Target >= {TARGET:,} seekers/s on 2 cores without reasons (2 {kinds[0]}): **{'met' if best >= TARGET else 'missed'}** by wall
clock on the shared machine ({best:,.0f} seekers/s); from CPU time, on 2 dedicated cores:
{best_cpu:,.0f} seekers/s ({'meets' if best_cpu >= TARGET else 'misses'} the target).
"""
    write_section("Batch recommendations (bench_recommend.py)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
