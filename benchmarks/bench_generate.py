"""Time the synthetic generator: ``tiny`` and ``small`` in every world, ``city`` with ``--city``.

Each preset runs in a fresh subprocess so its peak memory (``ru_maxrss`` of that child) is its own. The
child's CPU time (user + system) is reported beside wall time: on a shared machine the gap is waiting for a
core, not work. Writes the section "Synthetic data generation" of ``benchmarks/RESULTS.md``, with each
emergent funnel figure of the ``city`` runs (too slow for the tests, which check ``tiny`` and ``small``).
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

CHILD = """
import json, os, resource, sys, time
from recsys.data.synthetic import generate_preset
load_before = os.getloadavg()[0]
start, cpu_start = time.perf_counter(), time.process_time()
out = generate_preset(sys.argv[1], sys.argv[2], seed=0, progress=sys.argv[3] == "1", world=sys.argv[4])
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
manifest = json.loads((out / "manifest.json").read_text())
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
emergent = json.loads((out / "calibration.json").read_text())["emergent"]["rows"]
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_gb": peak_gb, "manifest": manifest,
                  "load": [load_before, os.getloadavg()[0]], "emergent_passed": sum(r["passed"] for r in emergent),
                  "emergent_total": len(emergent), "emergent_rows": emergent}))
"""
LIMITS_S = {"tiny": 5.0, "small": 30.0, "city": 600.0}
WORLDS = ["easy", "realistic", "hard"]


def run(preset: str, progress: bool, world: str = "realistic") -> dict:
    """Generate ``preset`` in ``world`` in a child process; return seconds, peak GB and the manifest."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{preset}-") as tmp:
        result = subprocess.run([sys.executable, "-c", CHILD, preset, str(Path(tmp) / preset), "1" if progress else "0",
                                 world], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--city", action="store_true", help="also generate the city preset (minutes, GBs)")
    parser.add_argument("--worlds", nargs="+", default=WORLDS, help=f"world presets to time (default: {WORLDS})")
    parser.add_argument("--city-worlds", nargs="+", default=None,
                        help="worlds for the city preset (default: --worlds); one city run takes minutes and GBs")
    args = parser.parse_args(argv)
    presets = ["tiny", "small"] + (["city"] if args.city else [])
    lines = ["| preset | world | wall s | CPU s | limit s | population / simulation / writing (wall s) | load 1-min "
             "(start, end) | peak GB | seekers | jobs | interactions | views | applies | hires | emergent in range |",
             "|---|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    city_figures: dict[str, dict[str, dict]] = {}
    for preset in presets:
        for world in (args.city_worlds or args.worlds) if preset == "city" else args.worlds:
            r = run(preset, progress=preset == "city", world=world)
            if preset == "city":
                city_figures[world] = {row["name"]: row for row in r["emergent_rows"]}
            rows, stages = r["manifest"]["row_counts"], r["manifest"]["interaction_counts"]
            phases = " / ".join(f"{r['manifest']['timings_s'][k]:.1f}" for k in ("population_s", "simulation_s", "write_s"))
            lines.append(f"| {preset} | {world} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {LIMITS_S[preset]:.0f} | "
                         f"{phases} | {r['load'][0]:.1f}, {r['load'][1]:.1f} | {r['peak_gb']:.2f} | {rows['seekers']:,} | "
                         f"{rows['jobs']:,} | {rows['interactions']:,} | {stages['view']:,} | {stages['apply']:,} | "
                         f"{stages['hire']:,} | {r['emergent_passed']} of {r['emergent_total']} |")
            print(lines[-1], flush=True)
    note = "" if args.city else "\n`city` not run (pass `--city`; it takes minutes)."
    if args.city and (args.city_worlds or args.worlds) != args.worlds:
        note += f"\n`city` run for {', '.join(args.city_worlds)} only (`--city-worlds`)."
    if city_figures:
        note += "\n\n" + _figure_table(city_figures) + "\n"
    note += f"\nLoad average at the end (1/5/15 min): {' / '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs."
    write_section("Synthetic data generation", "\n".join(lines) + "\n\nSeed 0; one fresh process per preset and world; "
                  "emergent = funnel figures of `calibration.md` within their sourced ranges; "
                  "peak = max resident set size of that process; CPU = that process's user + system time (the "
                  "generator is almost entirely single-threaded, so wall minus CPU is mostly waiting for a core on this shared "
                  "machine)." + note)
    return 0


def _figure_table(by_world: dict[str, dict[str, dict]]) -> str:
    """Markdown table of the emergent figures of the city runs (``*`` = outside its range)."""
    from recsys.data.synthetic.funnel_stats import SHARES, TARGETS, fmt

    lines = ["Emergent funnel figures of the `city` runs (seed 0; `*` = outside its range):", "",
             "| figure | range | " + " | ".join(f"city {w}" for w in by_world) + " |",
             "|---|---|" + "---:|" * len(by_world)]
    for name, (description, low, high, _) in TARGETS.items():
        pct = name in SHARES
        cells = [f"{fmt(rows[name]['value'], pct)}{'' if rows[name]['passed'] else '*'}" for rows in by_world.values()]
        lines.append(f"| {description} | {fmt(low, pct)} to {fmt(high, pct)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
