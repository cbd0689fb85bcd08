"""Calibration report: each published 2024 Guangzhou figure, scaled to the preset, beside the generated value.

Ratios (positions per seeker at gig fairs, ...) are compared as they are; counts of places are exact;
counts of fairs scale with ``days / 365 * fair_scale`` (at least one of each kind; a world with
``fairs_follow_population`` sets ``fair_scale`` to ``population_scale``); training person-times with ``days / 365 *
population_scale``. A row passes when the generated value is within ``tolerance`` of its target.

Every row's ``basis`` says how its value comes about. ``exact``: places laid out at the real counts.
``construction``: fair and training counts drawn at the published rate and, in worlds without
``fairs_follow_population``, the fair aggregates drawn and then rescaled to the published ratios; these check
the scaling, not the behaviour simulation, so they cannot drift with the behaviour weights. ``emergent`` (worlds
with ``fairs_follow_population``): the ``events`` columns are what the simulation produced (employers and
vacancies of the postings each fair lists in ``event_listings``, distinct attendees in ``event_attendance``),
compared with the published yearly totals x ``days / 365 x population_scale``; such a row passes within a factor
of :data:`EMERGENT_FACTOR` of its target (an order-of-magnitude check, like the emergent funnel ranges).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from recsys.data.synthetic import population as pop
from recsys.data.synthetic.config import DataConfig
from recsys.data.synthetic.geography import N_GIG_MARKETS, N_STATIONS

TOLERANCE = 0.15
EMERGENT_FACTOR = 2.0
"""An ``emergent`` fair row passes when ``target / EMERGENT_FACTOR <= generated <= target * EMERGENT_FACTOR``."""
FAIR_TOTAL_DESCRIPTIONS = {
    ("gig_fair", "n_employers"): "employer participations at gig fairs (distinct employers of each fair's listings)",
    ("gig_fair", "n_positions"): "positions at gig fairs (vacancies of the postings each fair lists)",
    ("gig_fair", "n_seekers_served"): "seekers served at gig fairs (distinct attendees in event_attendance)",
    ("key_enterprise_fair", "n_positions"): "positions at key-enterprise fairs (vacancies of the postings each lists)",
    ("graduate_fair", "n_positions"): "positions at graduate events (vacancies of the postings each lists)",
}


@dataclass(frozen=True)
class CalibrationRow:
    """One calibrated figure: ``rel_error = generated / target - 1``; passes when ``low <= generated <= high``.

    ``basis``: ``exact``, ``construction`` (``low``/``high`` = target x (1 -/+ ``tolerance``)) or ``emergent``
    (``low``/``high`` = target divided / multiplied by :data:`EMERGENT_FACTOR`; ``tolerance`` is then that factor).
    """

    name: str
    description: str
    source_value: float
    target: float
    generated: float
    rel_error: float
    tolerance: float
    passed: bool
    basis: str = "construction"
    low: float = float("nan")
    high: float = float("nan")


def _row(name: str, description: str, source: float, target: float, generated: float, tol: float) -> CalibrationRow:
    rel = generated / target - 1.0 if target else float("inf")
    return CalibrationRow(name, description, float(source), float(target), float(generated), float(rel), tol,
                          bool(abs(rel) <= tol), "exact" if tol == 0.0 else "construction",
                          float(target) * (1.0 - tol), float(target) * (1.0 + tol))


def _emergent_row(name: str, description: str, source: float, target: float, generated: float) -> CalibrationRow:
    low, high = target / EMERGENT_FACTOR, target * EMERGENT_FACTOR
    rel = generated / target - 1.0 if target else float("inf")
    return CalibrationRow(name, description, float(source), float(target), float(generated), float(rel),
                          EMERGENT_FACTOR, bool(low <= generated <= high), "emergent", float(low), float(high))


def calibrate(cfg: DataConfig, points: pd.DataFrame, events: pd.DataFrame, trainings: pd.DataFrame) -> list[CalibrationRow]:
    """Compute every calibration row from the generated tables (``events`` with its final counts)."""
    span = cfg.days / 365.0
    kind = events["kind"]
    gig, key, grad = events[kind == "gig_fair"], events[kind == "key_enterprise_fair"], events[kind == "graduate_fair"]
    rows = [
        _row("employment_stations", "employment stations (exact at every preset)", N_STATIONS, N_STATIONS,
             int((points["kind"] == "station").sum()), 0.0),
        _row("gig_markets", "gig markets (exact at every preset)", N_GIG_MARKETS, N_GIG_MARKETS,
             int((points["kind"] == "gig_market").sum()), 0.0),
    ]
    if cfg.world.fairs_follow_population:
        scale = span * cfg.population_scale
        for (fair_kind, column), description in FAIR_TOTAL_DESCRIPTIONS.items():
            per_year = pop.FAIR_TOTALS_PER_YEAR[fair_kind][column]
            rows.append(_emergent_row(f"{fair_kind}_{column}", description, per_year, per_year * scale,
                                      int(events.loc[kind == fair_kind, column].sum())))
    else:
        rows += _construction_fair_rows(gig, key, grad)
    for name, events_of_kind in (("gig_fair", gig), ("key_enterprise_fair", key), ("graduate_fair", grad)):
        per_year = pop.EVENT_KIND_TARGETS[name]
        rows.append(_row(f"{name}_count", f"{name} events in the span (per year x days/365 x fair_scale)", per_year,
                         max(1, round(per_year * span * cfg.fair_scale)), len(events_of_kind), TOLERANCE))
    rows.append(_row("training_person_times", "subsidised training enrolments (x days/365 x population_scale)",
                     pop.TRAININGS_PER_YEAR, round(pop.TRAININGS_PER_YEAR * span * cfg.population_scale),
                     len(trainings), TOLERANCE))
    return rows


def _construction_fair_rows(gig: pd.DataFrame, key: pd.DataFrame, grad: pd.DataFrame) -> list[CalibrationRow]:
    """The fair aggregates drawn and rescaled to the published per-fair ratios (worlds without
    ``fairs_follow_population``)."""
    return [
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


def to_json(rows: list[CalibrationRow], cfg: DataConfig) -> dict:
    """JSON payload of ``calibration.json``."""
    return {"preset": cfg.preset, "days": cfg.days, "fair_scale": cfg.fair_scale,
            "population_scale": cfg.population_scale, "tolerance": TOLERANCE, "emergent_factor": EMERGENT_FACTOR,
            "all_passed": all(r.passed for r in rows),
            "construction_passed": all(r.passed for r in rows if r.basis != "emergent"),
            "rows": [asdict(r) for r in rows]}


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
              f"to the published ratio, so the row holds whatever the behaviour weights are (passes within "
              f"{TOLERANCE:.0%})."]
    if any(r.basis == "emergent" for r in rows):
        lines += ["`emergent` = the fair's counts as the simulation produced them (`events.n_employers`: distinct "
                  "employers of the postings the fair lists in `event_listings`; `n_positions`: their vacancies, "
                  "counted at every fair that lists them; `n_seekers_served`: distinct attendees in "
                  "`event_attendance`) against the published yearly total x days/365 x "
                  f"population_scale; passes within a factor of {EMERGENT_FACTOR:g} (an order of magnitude check: "
                  "the published counts are administrative tallies, the simulated ones postings and views)."]
    return "\n".join(lines) + "\n"
