"""Time ``Dataset.load``: ``tiny`` and ``small`` always, ``city`` with ``--city``.

Each dataset is generated first (not timed), then loaded (with validation, as every command does) in a
fresh subprocess so its peak memory (``ru_maxrss`` of that child) is the load's own. ``--city-dir`` loads
an already generated ``city`` dataset instead of generating one (minutes, GBs). Writes the section
"Dataset loading" of ``benchmarks/RESULTS.md``. Target (issue 11): ``city`` in <= 15 s and <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

GENERATE = """
import sys
from recsys.data.synthetic import generate_preset
generate_preset(sys.argv[1], sys.argv[2], seed=0)
"""
LOAD = """
import json, os, resource, sys, time
load_before = os.getloadavg()[0]
start, cpu_start = time.perf_counter(), time.process_time()
from recsys.data import Dataset
dataset = Dataset.load(sys.argv[1])
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
interactions_mb = dataset.interactions.memory_usage(deep=False).sum() / 1024 ** 2
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_gb": peak_gb,
                  "interactions_mb": float(interactions_mb), "seekers": dataset.n_seekers, "jobs": dataset.n_jobs,
                  "interactions": len(dataset.interactions), "load": [load_before, os.getloadavg()[0]]}))
"""
LIMITS = {"tiny": (2.0, 1.0), "small": (5.0, 1.0), "city": (15.0, 2.0)}
"""Wall seconds and peak GB each preset should stay under (city: the issue's target)."""


def load(path: Path) -> dict:
    """Load the dataset at ``path`` in a child process; return its timings and peak memory."""
    result = subprocess.run([sys.executable, "-c", LOAD, str(path)], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def generate(preset: str, out: Path) -> Path:
    subprocess.run([sys.executable, "-c", GENERATE, preset, str(out)], check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--city", action="store_true", help="also load the city preset (generated first: minutes, GBs)")
    parser.add_argument("--city-dir", type=Path, default=None,
                        help="an already generated city dataset to load (implies --city; nothing is generated)")
    args = parser.parse_args(argv)
    presets = ["tiny", "small"] + (["city"] if args.city or args.city_dir else [])
    lines = ["| preset | wall s | CPU s | limit s | peak GB | limit GB | interactions frame MB | load 1-min (start, end) "
             "| seekers | jobs | interactions |", "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        for preset in presets:
            if preset == "city" and args.city_dir is not None:
                path = args.city_dir
            else:
                path = generate(preset, Path(tmp) / preset)
            r = load(path)
            limit_s, limit_gb = LIMITS[preset]
            lines.append(f"| {preset} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {limit_s:.0f} | "
                         f"{r['peak_gb']:.2f} | {limit_gb:.0f} | {r['interactions_mb']:.0f} | "
                         f"{r['load'][0]:.1f}, {r['load'][1]:.1f} | {r['seekers']:,} | {r['jobs']:,} | "
                         f"{r['interactions']:,} |")
            print(lines[-1], flush=True)
    note = "" if "city" in presets else "\n`city` not run (pass `--city`, or `--city-dir DIR` for a generated one)."
    note += (f"\nLoad average at the end (1/5/15 min): {' / '.join(f'{x:.1f}' for x in os.getloadavg())} on "
             f"{os.cpu_count()} CPUs.")
    write_section("Dataset loading", "\n".join(lines) + "\n\n`Dataset.load` with validation, seed-0 data; one fresh "
                  "process per preset (the import of recsys is included); peak = max resident set size of that "
                  "process; CPU = its user + system time. Before issue 11, `city` took 68 s and 8.2 GB (string ids "
                  "held as Python objects)." + note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
