"""City end to end: ``recsys-compare experiment=city`` (the ``city`` preset, realistic world, protocol v2
rolling split, the baselines and the LightFM hybrid, the exposure ceiling as reference), stage by stage.

Long (tens of minutes, several GB), so it runs only when asked: ``--city`` (``make bench BENCH_ARGS=--city``
passes it to every benchmark) or ``RECSYS_BENCH_CITY=1``; otherwise it prints how to opt in and leaves
``RESULTS.md`` alone. The dataset is generated first when missing (not timed; see "Synthetic data
generation"); ``--data-dir`` reuses one. The comparison runs in a child process exactly as a user runs it
(``python -m recsys.cli.compare experiment=city tracking=disabled``); its stages come from the
``report/timings.csv`` it writes (wall clock, CPU time of all its threads, peak memory, load average),
its total CPU time and peak memory from ``wait4``. Writes the section "City end to end" of
``benchmarks/RESULTS.md``. Targets (issue 17): within 30 minutes on 2 cores and 16 GB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S, LIMIT_GB = 30 * 60.0, 16.0
OVERRIDES = ["experiment=city", "tracking=disabled"]


def opted_in(argv: list[str]) -> bool:
    return "--city" in argv or os.environ.get("RECSYS_BENCH_CITY", "") not in ("", "0")


def run_child(args: list[str], timeout_s: float | None = None) -> tuple[float, float, float, int | None]:
    """Run ``python -m <args>`` from the checkout; wall s, CPU s (user + system, all threads), peak GB and
    exit code (``None``: stopped after ``timeout_s``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env)
    stopped = False
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if timeout_s is not None and time.perf_counter() - started > timeout_s and not stopped:
            child.terminate()  # this benchmark's own child, by its pid
            stopped = True
        time.sleep(1.0)
    code = None if stopped else os.waitstatus_to_exitcode(status)
    child.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 2**20, code


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", action="store_true", help="run (minutes, GBs); also RECSYS_BENCH_CITY=1")
    parser.add_argument("--data-dir", default=None, help="an already generated city dataset (realistic, seed 0)")
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides for recsys-compare")
    parser.add_argument("--timeout-min", type=float, default=None,
                        help="stop the comparison after this many minutes and report the stages it finished")
    args, _ = parser.parse_known_args(argv)
    if not opted_in(argv):
        print("bench_city.py: skipped (tens of minutes, several GB): pass --city "
              "(make bench BENCH_ARGS=--city) or set RECSYS_BENCH_CITY=1")
        return 0
    data = [f"data_dir={args.data_dir}"] if args.data_dir else []
    if args.data_dir is None or not (Path(args.data_dir) / "manifest.json").is_file():
        out = [f"out_dir={args.data_dir}"] if args.data_dir else []
        _, _, _, code = run_child(["recsys.cli.generate", "data=city", "data/world=realistic", "progress=false", *out])
        if code:
            return code
    with tempfile.TemporaryDirectory(prefix="bench-city-") as tmp:
        command = ["recsys.cli.compare", *OVERRIDES, *data, f"output_dir={tmp}/out", *args.overrides]
        load_before = os.getloadavg()
        wall, cpu, peak_gb, code = run_child(command, None if args.timeout_min is None else args.timeout_min * 60)
        load_after = os.getloadavg()
        if code:
            print(f"recsys-compare failed (exit {code})", file=sys.stderr)
            return code
        finished = code is not None
        progress = Path(tmp) / "out" / "timings.csv"  # rewritten after every stage
        stages = pd.read_csv(progress) if progress.is_file() else \
            pd.DataFrame(columns=["stage", "wall_s", "cpu_s", "peak_rss_gb", "load_1min"])
        table = pd.read_csv(Path(tmp) / "out" / "report" / "comparison.csv") if finished else pd.DataFrame()
    from hydra import compose, initialize_config_dir

    from recsys.cli.schemas import register_configs

    register_configs()
    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("compare", overrides=[*OVERRIDES, *args.overrides])
    hybrid = cfg.models.get("lightfm_hybrid")
    threads = int(hybrid.num_threads) if hybrid is not None else 1
    # what a stage would take with 2 cores to itself: its CPU time over the threads it can keep busy
    parallel = stages["stage"].eq("lightfm_hybrid fit").map({True: min(threads, 2), False: 1})
    dedicated = float((stages["cpu_s"] / parallel).sum())
    rows = "\n".join(f"| {r.stage} | {r.wall_s:,.1f} | {r.cpu_s:,.1f} | {r.peak_rss_gb:.2f} | {r.load_1min:.1f} |"
                     for r in stages.itertuples())
    hr = table.set_index("model")["hr@10"] if "hr@10" in table.columns else pd.Series(dtype=float)
    scores = ", ".join(f"{model} {value:.3f}" for model, value in hr.items())
    within = wall <= LIMIT_S
    reference = "the exposure ceiling as reference" if cfg.eval.oracle else "no reference (`eval.oracle=false`)"
    options = " ".join(["--city", *(["--timeout-min", f"{args.timeout_min:g}"] if args.timeout_min else []),
                        *(["--overrides", *args.overrides] if args.overrides else [])])
    if finished:
        verdict = f"""Whole command: **{wall / 60:.1f} min** wall clock ({cpu / 60:.1f} min CPU, peak {peak_gb:.1f} GB, including
interpreter start and imports); load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after.
Target <= 30 min on 2 cores and <= 16 GB: **{'met' if within else 'missed'}** by wall clock on this shared
machine, peak memory **{'met' if peak_gb <= LIMIT_GB else 'missed'}**; on 2 dedicated cores (each
stage's CPU time over the cores it keeps busy: the hybrid's fit {min(threads, 2)}, everything else 1)
about **{dedicated / 60:.1f} min** ({'within' if dedicated <= LIMIT_S else 'over'} the budget)."""
    else:
        verdict = f"""**Not finished**: stopped after {wall / 60:.1f} min wall clock (`--timeout-min {args.timeout_min:g}`) with
{cpu / 60:.1f} min CPU used (peak {peak_gb:.1f} GB) on this shared machine (1-minute load average {load_before[0]:.1f}
before, {load_after[0]:.1f} at the stop, on 2 CPUs): the table holds the stages it finished; the total and the
30-minute verdict need a complete run. Finished stages on 2 dedicated cores: about {dedicated / 60:.1f} min."""
    body = f"""
`python -m recsys.cli.compare {' '.join(OVERRIDES + args.overrides)}` in a child process (the `city` preset, realistic
world, seed 0: 500,000 seekers, 100,000 postings, one year; rolling split; the six baselines and the LightFM
hybrid with {'`' + str(dict(epochs=int(hybrid.epochs), num_threads=threads)) + '`' if hybrid is not None else 'no hybrid'}
(configs/experiment/city.yaml says why); {reference}; the champion's ranker saved).
Stage figures from the run's own `timings.csv` (CPU = the process's CPU time over all its threads;
peak = its resident memory so far; load = the machine's 1-minute load average when the stage began, on 2
CPUs shared with other developers: wall clock there includes waiting for a core).

| stage | wall s | CPU s | peak GB | load 1-min |
|---|---:|---:|---:|---:|
{rows}

{verdict}
{'HR@10: ' + scores + '.' if scores else ''}
Command: `python benchmarks/bench_city.py {options}` (`make bench BENCH_ARGS=--city` runs it without overrides).
"""
    write_section("City end to end (bench_city.py" + (" " + " ".join(args.overrides) if args.overrides else "") + ")",
                  body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
