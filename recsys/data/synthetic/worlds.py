"""Compare world presets on their emergent funnel figures: ``python -m recsys.data.synthetic.worlds``.

Generates every (preset, world, seed) into a temporary directory and prints one markdown table of the
figures of :mod:`recsys.data.synthetic.funnel_stats` (``*`` = outside the range). The world presets were
chosen from this table only (see ``data/synthetic/README.md``, Worlds).
"""

from __future__ import annotations

import json

from recsys.data.synthetic.funnel_stats import SHARES, TARGETS, FunnelFigure, fmt


def worlds_table(presets: list[str], worlds: list[str], seeds: list[int]) -> str:
    """Generate every (preset, world, seed) in a temporary directory; markdown table of the emergent figures.

    A figure outside its range is marked ``*``. This is how the world presets were compared and chosen
    (``python -m recsys.data.synthetic.worlds``).
    """
    import tempfile

    from recsys.data.synthetic.generate import generate_preset

    columns: dict[str, dict[str, FunnelFigure]] = {}
    for preset in presets:
        for world in worlds:
            for seed in seeds:
                with tempfile.TemporaryDirectory(prefix="worlds-") as tmp:
                    out = generate_preset(preset, f"{tmp}/data", seed=seed, world=world)
                    rows = json.loads((out / "calibration.json").read_text(encoding="utf-8"))["emergent"]["rows"]
                columns[f"{preset} {world} {seed}"] = {r["name"]: FunnelFigure(**r) for r in rows}
    lines = ["| figure | range | " + " | ".join(columns) + " |", "|---|---|" + "---:|" * len(columns)]
    for name, (_, low, high, _) in TARGETS.items():
        pct = name in SHARES
        cells = [f"{fmt(c[name].value, pct)}{'' if c[name].passed else '*'}" for c in columns.values()]
        lines.append(f"| {name} | {fmt(low, pct)} to {fmt(high, pct)} | " + " | ".join(cells) + " |")
    lines.append("| in range | | " + " | ".join(f"{sum(r.passed for r in c.values())} of {len(c)}"
                                                 for c in columns.values()) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m recsys.data.synthetic.worlds --presets tiny small --worlds easy realistic --seeds 0 1 2``."""
    import argparse

    parser = argparse.ArgumentParser(description=worlds_table.__doc__)
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--worlds", nargs="+", default=["easy", "realistic", "hard"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args(argv)
    print(worlds_table(args.presets, args.worlds, args.seeds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
