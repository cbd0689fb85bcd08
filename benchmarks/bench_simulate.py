"""Time the closed-loop market (:mod:`recsys.simulation`): 30 simulated days per policy and seed.

For each preset (``tiny``, ``small``; world ``realistic``): generate the dataset, replay it to the cutoff
(:func:`recsys.simulation.load_snapshot`, timed once), fit ``LightFMHybrid`` (3 epochs) and ``Popularity`` on
the data before the cutoff, wrap the LightFM model in a :class:`recsys.api.Ranker` (the ranker policy: the
ranking API's filters and catalogue), then run ``organic``, ``popularity``, ``ranker`` and ``surplus_oracle``
for 30 days with each seed. Also reports the consistency of the organic runs with the generator's own
window. Writes the section "Market simulation" of ``benchmarks/RESULTS.md``. Target (issue 15): <= 60 s per
policy and seed for ``small`` on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

LIMIT_S = 60.0


def bench(preset: str, world: str, seeds: list[int], days: int) -> tuple[list[str], str, dict]:
    from recsys.api import Ranker
    from recsys.data.dataset import Dataset
    from recsys.data.synthetic import generate_preset
    from recsys.models.lightfm import LightFMHybrid
    from recsys.models.popularity import Popularity
    from recsys.simulation import RankerPolicy, load_snapshot, simulate

    with tempfile.TemporaryDirectory(prefix=f"bench-sim-{preset}-") as tmp:
        data_dir = generate_preset(preset, Path(tmp) / preset, seed=0, world=world)
        clock = time.perf_counter()
        snapshot = load_snapshot(data_dir)
        replay_s = time.perf_counter() - clock
        dataset = Dataset.load(data_dir)
        cutoff = snapshot.start_ns + np.timedelta64(snapshot.cutoff_day, "D")
        train = dataset.with_interactions(dataset.interactions["ts"].to_numpy() < cutoff)
        clock = time.perf_counter()
        lightfm = LightFMHybrid(epochs=3, random_state=0).fit(train)
        fit_s = time.perf_counter() - clock
        ranker = Ranker.from_model(lightfm, train, now=cutoff)
        policies = {"organic": "organic", "popularity": Popularity().fit(train),
                    "ranker": RankerPolicy(ranker, name="ranker"), "surplus_oracle": "surplus_oracle"}
        cpu = time.process_time()
        result = simulate(snapshot, policies, days=days, sim_seeds=seeds)
        cpu = time.process_time() - cpu
    n_seekers, n_jobs = len(snapshot.seeker_ids), len(snapshot.job_ids)
    lines = []
    runs = result.runs.groupby("policy", sort=False).agg(seconds=("seconds", "mean"), worst=("seconds", "max"),
                                                         sessions=("sessions", "mean"),
                                                         rec=("recommended_sessions", "mean"))
    place = result.summary().query("group == 'all' and metric == 'placements'").set_index("policy")["mean"]
    for policy, r in runs.iterrows():
        lines.append(f"| {preset} | {n_seekers:,} | {n_jobs:,} | {policy} | {r.seconds:.2f} | {r.worst:.2f} | "
                     f"{r.seconds / days * 1000:.0f} | {r.sessions / days:,.0f} | {r.rec / days:,.0f} | "
                     f"{place[policy]:.1f} | {'met' if r.worst <= LIMIT_S or preset != 'small' else 'MISSED'} |")
        print(lines[-1], flush=True)
    c = result.consistency_table
    overall = c[c["group"] == "all"].set_index("stage")
    consistency = (f"`{preset}` ({world}), organic policy, {len(seeds)} seeds against the generator's own window "
                   f"(logged / simulated mean ± sd): " + "; ".join(
                       f"{stage} {int(r.logged):,} / {r.simulated_mean:,.0f} ± {r.simulated_sd:,.0f}"
                       for stage, r in overall.iterrows())
                   + f"; key-group x stage cells within the 99% prediction interval: {int(c['within'].sum())} of {len(c)}. "
                   f"Replay to the cutoff (day {snapshot.cutoff_day}) {replay_s:.1f} s; LightFMHybrid fit (3 epochs) "
                   f"{fit_s:.1f} s; whole simulate() {cpu:.1f} s CPU.")
    scale = {"seekers": n_seekers, "postings": n_jobs, "sessions": float(result.runs["sessions"].mean() / days),
             "ms_per_day": (runs["seconds"] / days * 1000).to_dict()}
    return lines, consistency, scale


CITY_LIMIT_S, CITY_LIMIT_GB = 20 * 60.0, 8.0
CITY_POLICIES = ("organic", "ranker")
CITY_EPOCHS, CITY_THREADS = 3, 2  # the ranker policy's LightFMHybrid, as for tiny/small; fit on 2 threads


def city_child(data_dir: str, days: int, out: str) -> int:
    """One city run in this (child) process: replay, fit, simulate organic and the ranker for one seed."""
    import json

    from threadpoolctl import threadpool_limits

    from recsys.api import Ranker
    from recsys.data.dataset import Dataset
    from recsys.models.lightfm import LightFMHybrid
    from recsys.simulation import RankerPolicy, load_snapshot, simulate

    stages: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def timed(name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        stages[name] = [time.perf_counter() - wall, time.process_time() - cpu, peak_gb()]
        Path(out).with_suffix(".stages.json").write_text(json.dumps(stages), encoding="utf-8")  # progress
        print(f"{name}: {stages[name][0]:.1f} s wall, {stages[name][1]:.1f} s CPU, peak {stages[name][2]:.2f} GB",
              flush=True)

    with threadpool_limits(limits=1, user_api="blas"):
        with timed("replay to the cutoff (load_snapshot)"):
            snapshot = load_snapshot(data_dir)
        with timed("Dataset.load"):
            dataset = Dataset.load(data_dir)
        cutoff = snapshot.start_ns + np.timedelta64(snapshot.cutoff_day, "D")
        train = dataset.with_interactions(dataset.interactions["ts"].to_numpy() < cutoff)
        del dataset
        with timed(f"LightFMHybrid fit ({CITY_EPOCHS} epochs, {CITY_THREADS} threads)"):
            model = LightFMHybrid(epochs=CITY_EPOCHS, num_threads=CITY_THREADS, random_state=0).fit(train)
        with timed("Ranker.from_model"):
            ranker = Ranker.from_model(model, train, now=cutoff)
        del train, model
        policies = {"organic": "organic", "ranker": RankerPolicy(ranker, name="ranker")}
        with timed("simulate()"):
            result = simulate(snapshot, policies, days=days, sim_seeds=[0])
    runs = result.runs.set_index("policy")
    place = result.summary().query("group == 'all' and metric == 'placements'").set_index("policy")["mean"]
    preset = json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))["fingerprint"]["data_config"]
    Path(out).write_text(json.dumps({
        "preset": preset.get("preset"), "world": (preset.get("world") or {}).get("name"), "stages": stages, "seekers": len(snapshot.seeker_ids), "postings": len(snapshot.job_ids),
        "cutoff_day": int(snapshot.cutoff_day),
        "policies": {p: {"seconds": float(runs.loc[p, "seconds"]), "sessions": float(runs.loc[p, "sessions"]),
                         "recommended": float(runs.loc[p, "recommended_sessions"]), "placements": float(place[p])}
                     for p in CITY_POLICIES}}), encoding="utf-8")
    return 0


def _city_facts(data_dir: str) -> dict:
    import json

    manifest = json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))
    config = manifest["fingerprint"]["data_config"]
    return {"preset": config.get("preset"), "world": (config.get("world") or {}).get("name"),
            "seekers": int(config["n_seekers"]), "postings": int(config["n_jobs"]),
            "cutoff_day": int((np.datetime64(manifest["split_date"], "D") - np.datetime64(config["start"], "D"))
                              // np.timedelta64(1, "D"))}


def peak_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bench_city(data_dir: str | None, days: int, timeout_min: float | None = None) -> int:
    """The city figure: one child process (so its peak memory is its own), organic + ranker, seed 0."""
    import json
    import subprocess

    root = Path(__file__).resolve().parent.parent
    if data_dir is None:
        from recsys.paths import recsys_home

        data_dir = str(Path(recsys_home()) / "data" / "synthetic" / "city-realistic-seed0")
    if not (Path(data_dir) / "manifest.json").is_file():
        subprocess.run([sys.executable, "-m", "recsys.cli.generate", "data=city", "data/world=realistic",
                        f"out_dir={data_dir}", "progress=false"], cwd=root, check=True)
    with tempfile.TemporaryDirectory(prefix="bench-sim-city-") as tmp:
        out = Path(tmp) / "city.json"
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, __file__, "--city-child", str(out), "--city-dir", data_dir,
                                  "--days", str(days)], cwd=root)
        stopped = False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if timeout_min is not None and not stopped and time.perf_counter() - started > timeout_min * 60:
                child.terminate()  # this benchmark's own child, by its pid
                stopped = True
            time.sleep(1.0)
        wall = time.perf_counter() - started
        if not stopped and os.waitstatus_to_exitcode(status):
            print("city simulation failed", file=sys.stderr)
            return 1
        progress = out.with_suffix(".stages.json")
        found = json.loads(out.read_text(encoding="utf-8")) if not stopped else {
            "stages": json.loads(progress.read_text(encoding="utf-8")) if progress.is_file() else {},
            "policies": {}, **_city_facts(data_dir)}
    cpu, peak = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 2**20
    stage_rows = "\n".join(f"| {name} | {w:,.1f} | {c:,.1f} | {g:.2f} |" for name, (w, c, g) in found["stages"].items())
    policy_lines = "\n".join(
        f"| {p} | {r['seconds']:,.1f} | {r['seconds'] / days:,.1f} | {r['sessions'] / days:,.0f} | "
        f"{r['recommended'] / days:,.0f} | {r['placements']:,.0f} |" for p, r in found["policies"].items())
    policy_table = ("| policy | s per seed | s per simulated day | sessions per day | recommendation sessions per day "
                    "| placements |\n|---|---:|---:|---:|---:|---:|\n" + policy_lines) if policy_lines else ""
    if not stopped:
        verdict = f"""Whole child process: **{wall / 60:.1f} min** wall clock, {cpu / 60:.1f} min CPU, peak **{peak:.1f} GB**; 1-minute
load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs shared with other
developers (wall clock includes waiting for a core). Target (issue 15) <= 20 min and <= 8 GB:
time **{'met' if wall <= CITY_LIMIT_S else 'missed'}** by wall clock ({'met' if cpu <= CITY_LIMIT_S else 'missed'} by CPU
time), memory **{'met' if peak <= CITY_LIMIT_GB else 'missed'}**."""
    else:
        verdict = f"""**Not finished**: stopped after {wall / 60:.1f} min wall clock (`--city-timeout-min {timeout_min:g}`) with
{cpu / 60:.1f} min CPU used, peak {peak:.1f} GB so far, on this shared machine (1-minute load average
{load_before:.1f} before, {os.getloadavg()[0]:.1f} at the stop, on {os.cpu_count()} CPUs): the first table holds the
stages it finished; the per-policy figures and the 20-minute verdict need a complete run."""
    body = f"""
`{found['preset']}` ({found['world']} world, data seed 0: {found['seekers']:,} seekers, {found['postings']:,} postings), {days} simulated
days from the split date (day {found['cutoff_day']}), simulation seed 0, policies `organic` and `ranker`
(`recsys.api.Ranker` over `LightFMHybrid(epochs={CITY_EPOCHS}, num_threads={CITY_THREADS})` fitted on the data
before the cutoff, as the `small` figure's ranker but on 2 threads), recommendation share 0.5, k = 10. One child
process; stages timed inside it (CPU = the process's CPU time over all threads; peak = its resident memory so far).

| stage | wall s | CPU s | peak GB |
|---|---:|---:|---:|
{stage_rows}

{policy_table}

{verdict}
Command: `python benchmarks/bench_simulate.py --city-only --city-dir data/synthetic/city-realistic-seed0`
(`make bench BENCH_ARGS=--city` runs it after tiny and small).
"""
    write_section("Market simulation: city", body)
    print(body)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--world", default="realistic")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--city", action="store_true",
                        help="also simulate city (minutes, GBs): section 'Market simulation: city'; or RECSYS_BENCH_CITY=1")
    parser.add_argument("--city-only", action="store_true", help="only the city figure (implies --city)")
    parser.add_argument("--city-dir", default=None, help="an already generated city dataset (realistic, seed 0)")
    parser.add_argument("--city-timeout-min", type=float, default=None,
                        help="stop the city run after this many minutes and report the stages it finished")
    parser.add_argument("--city-child", default=None, help=argparse.SUPPRESS)  # internal: one city run, JSON out
    args = parser.parse_args(argv)
    if args.city_child:
        return city_child(args.city_dir, args.days, args.city_child)
    if args.city or args.city_only or os.environ.get("RECSYS_BENCH_CITY", "") not in ("", "0"):
        code = bench_city(args.city_dir, args.days, args.city_timeout_min)
        if code or args.city_only:
            return code
    lines = ["| preset | seekers | postings | policy | s per seed (mean) | s per seed (max) | ms per simulated day | "
             "sessions per day | recommendation sessions per day | placements (mean) | <= 60 s (small) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    notes, scales = [], []
    for preset in args.presets:
        rows, note, scale = bench(preset, args.world, args.seeds, args.days)
        lines += rows
        notes.append(note)
        scales.append((preset, scale))
    if len(scales) >= 2:
        (p0, a), (p1, b) = scales[0], scales[-1]
        growth = ", ".join(f"{policy} {b['ms_per_day'][policy] / a['ms_per_day'][policy]:.1f}x"
                           for policy in b["ms_per_day"] if policy in a["ms_per_day"])
        notes.append(f"Growth from `{p0}` to `{p1}`: {b['seekers'] / a['seekers']:.0f}x seekers, "
                     f"{b['postings'] / a['postings']:.1f}x postings, {b['sessions'] / a['sessions']:.1f}x sessions per "
                     f"day; cost per simulated day {growth} (the day's work is vectorised over its sessions; "
                     f"the replay to the cutoff is paid once per simulate() call, not per policy or seed).")
    body = ("\n".join(lines) + "\n\n" + "\n\n".join(notes) + f"\n\nWorld `{args.world}`, data seed 0, simulation seeds "
            f"{args.seeds}, {args.days} days from the dataset's split date, recommendation share 0.5, k = 10; "
            "`ranker` = `recsys.api.Ranker` over LightFMHybrid (rank_many with the API's filters each day); times "
            "are wall clock of one run (one policy, one seed) in one process with BLAS on one thread. Load average "
            f"at the end (1/5/15 min): {' / '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
            "shared with other developers.\nCommand: `.venv/bin/python benchmarks/bench_simulate.py`")
    write_section("Market simulation", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
