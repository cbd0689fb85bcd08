"""Calibration report: each published 2024 Guangzhou figure, scaled to the preset, beside the generated value.

Ratios (positions per seeker at gig fairs, ...) are compared as they are; counts of places are exact;
counts of fairs scale with ``days / 365 * fair_scale`` (at least one of each kind; a world with
``fairs_follow_population`` sets ``fair_scale`` to ``population_scale``); training person-times with ``days / 365 *
population_scale``. A row passes when the generated value is within ``tolerance`` of its target.

Every row's ``basis`` says how its value comes about. All current rows hold *by construction*: places are
laid out at the real counts, fair and training counts are drawn at the published rate, and the fair
aggregates are drawn and then rescaled to the published ratios. They check the scaling, not the behaviour
simulation, so they cannot drift with the behaviour weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from recsys.data.synthetic import population as pop
from recsys.data.synthetic.config import DataConfig
from recsys.data.synthetic.geography import N_GIG_MARKETS, N_STATIONS

TOLERANCE = 0.15


@dataclass(frozen=True)
class CalibrationRow:
    """One calibrated figure: ``rel_error = generated / target - 1``; ``basis``: ``exact`` or ``construction``."""

    name: str
    description: str
    source_value: float
    target: float
    generated: float
    rel_error: float
    tolerance: float
    passed: bool
    basis: str = "construction"


def _row(name: str, description: str, source: float, target: float, generated: float, tol: float) -> CalibrationRow:
    rel = generated / target - 1.0 if target else float("inf")
    return CalibrationRow(name, description, float(source), float(target), float(generated), float(rel), tol,
                          bool(abs(rel) <= tol), "exact" if tol == 0.0 else "construction")


def calibrate(cfg: DataConfig, points: pd.DataFrame, events: pd.DataFrame, trainings: pd.DataFrame) -> list[CalibrationRow]:
    """Compute every calibration row from the generated tables."""
    span = cfg.days / 365.0
    kind = events["kind"]
    gig, key, grad = events[kind == "gig_fair"], events[kind == "key_enterprise_fair"], events[kind == "graduate_fair"]
    rows = [
        _row("employment_stations", "employment stations (exact at every preset)", N_STATIONS, N_STATIONS,
             int((points["kind"] == "station").sum()), 0.0),
        _row("gig_markets", "gig markets (exact at every preset)", N_GIG_MARKETS, N_GIG_MARKETS,
             int((points["kind"] == "gig_market").sum()), 0.0),
        _row("gig_fair_positions_per_seeker", "positions per seeker served at gig fairs",
             pop.GIG_FAIR_POSITIONS_PER_SEEKER, pop.GIG_FAIR_POSITIONS_PER_SEEKER,
             gig["n_positions"].sum() / max(gig["n_seekers_served"].sum(), 1), TOLERANCE),
        _row("gig_fair_employers_per_fair", "employer participations per gig fair", pop.GIG_FAIR_EMPLOYERS_PER_FAIR,
             pop.GIG_FAIR_EMPLOYERS_PER_FAIR, gig["n_employers"].mean(), TOLERANCE),
        _row("gig_fair_positions_per_employer", "positions per employer participation at gig fairs",
             pop.GIG_FAIR_POSITIONS_PER_EMPLOYER, pop.GIG_FAIR_POSITIONS_PER_EMPLOYER,
             gig["n_positions"].sum() / max(gig["n_employers"].sum(), 1), TOLERANCE),
        _row("key_enterprise_fair_positions", "positions per key-enterprise fair", pop.KEY_FAIR_POSITIONS,
             pop.KEY_FAIR_POSITIONS, key["n_positions"].mean(), TOLERANCE),
        _row("graduate_event_positions", "positions per graduate event", pop.GRADUATE_EVENT_POSITIONS,
             pop.GRADUATE_EVENT_POSITIONS, grad["n_positions"].mean(), TOLERANCE),
    ]
    for name, events_of_kind in (("gig_fair", gig), ("key_enterprise_fair", key), ("graduate_fair", grad)):
        per_year = pop.EVENT_KIND_TARGETS[name]
        rows.append(_row(f"{name}_count", f"{name} events in the span (per year x days/365 x fair_scale)", per_year,
                         max(1, round(per_year * span * cfg.fair_scale)), len(events_of_kind), TOLERANCE))
    rows.append(_row("training_person_times", "subsidised training enrolments (x days/365 x population_scale)",
                     pop.TRAININGS_PER_YEAR, round(pop.TRAININGS_PER_YEAR * span * cfg.population_scale),
                     len(trainings), TOLERANCE))
    return rows


def to_json(rows: list[CalibrationRow], cfg: DataConfig) -> dict:
    """JSON payload of ``calibration.json``."""
    return {"preset": cfg.preset, "days": cfg.days, "fair_scale": cfg.fair_scale,
            "population_scale": cfg.population_scale, "tolerance": TOLERANCE,
            "all_passed": all(r.passed for r in rows), "rows": [asdict(r) for r in rows]}


def to_markdown(rows: list[CalibrationRow], cfg: DataConfig) -> str:
    """Markdown table of ``calibration.md``."""
    lines = [f"# Calibration of preset `{cfg.preset}`", "",
             "Source: Guangzhou public employment services, 2024 (see `shared/context/guangzhou-2024.md`).",
             f"Span {cfg.days} days; fair_scale {cfg.fair_scale:g}; population_scale {cfg.population_scale:.4g}.", "",
             "| figure | 2024 value | target | generated | error | ok | basis |", "|---|---:|---:|---:|---:|:-:|---|"]
    for r in rows:
        lines.append(f"| {r.description} | {r.source_value:,.4g} | {r.target:,.4g} | {r.generated:,.4g} | "
                     f"{r.rel_error:+.1%} | {'yes' if r.passed else 'NO'} | {r.basis} |")
    lines += ["", "Basis: `exact` = real counts of places; `construction` = drawn at the published rate or rescaled "
              "to the published ratio, so the row holds whatever the behaviour weights are (no row is an emergent "
              "outcome of the simulated funnel)."]
    return "\n".join(lines) + "\n"
