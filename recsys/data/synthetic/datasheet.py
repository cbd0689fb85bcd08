"""The dataset's ``README.md``: a datasheet with schema, row counts, distributions and provenance."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from recsys.data.schema import INTERACTION_EVENTS, SCHEMAS
from recsys.data.synthetic import population as pop
from recsys.data.synthetic.behaviour import Interactions
from recsys.data.synthetic.calibration import CalibrationRow
from recsys.data.synthetic.config import DataConfig, WorldParams
from recsys.data.synthetic.funnel_stats import SHARES, FunnelFigure, fmt


def _shares(series: pd.Series) -> str:
    counts = series.value_counts(normalize=True)
    return ", ".join(f"{k} {v:.1%}" for k, v in counts.items())


def _schema_lines(name: str, df: pd.DataFrame) -> list[str]:
    required = SCHEMAS[name].columns
    extra = [c for c in df.columns if c not in required]
    lines = [f"- **{name}** ({len(df):,} rows): " + ", ".join(f"`{c}` {k}" for c, k in required.items())]
    if extra:
        lines.append("  - added columns: " + ", ".join(f"`{c}`" for c in extra))
    return lines


def _attendance_lines(tables: dict[str, pd.DataFrame]) -> list[str]:
    if "event_attendance" not in tables:
        return []
    events = tables["events"].set_index("event_id")
    attended = tables["event_attendance"].groupby("event_id").size().reindex(events.index, fill_value=0)
    per_kind = pd.DataFrame({"kind": events["kind"], "attended": attended, "employers": events["n_employers"],
                             "positions": events["n_positions"]}).groupby("kind").mean()
    listed = (f"; {len(tables['event_listings']):,} listings in `event_listings` (a fair lists its own postings and "
              "its participants' open postings that suit it)" if "event_listings" in tables else "")
    return ["- fair attendance (`event_attendance`: searching seekers of the fair's target group who went to it, "
            "nearest first; their session that day is at the fair) and the fairs' counts as simulated "
            "(`n_seekers_served` = attendees, `n_employers` / `n_positions` = employers / vacancies of the postings "
            f"the fair lists){listed}; mean per fair: " + ", ".join(
                f"{k} {r.attended:,.0f} attendees, {r.employers:,.0f} employers, {r.positions:,.0f} positions"
                for k, r in per_kind.iterrows())]


def _world_lines(world: WorldParams) -> list[str]:
    params = {k: v for k, v in dataclasses.asdict(world).items() if k != "name"}
    return [
        "## World", "",
        f"World `{world.name}` (parameter hash `{world.digest()}`; presets in `configs/data/world/`, select with "
        "`data/world=<name>`). `easy` is the generator before worlds existed; `realistic` and `hard` add choice "
        "and exposure noise, employers' limited attention, and rebalance the utility terms so that the emergent "
        "funnel figures below land in their sourced ranges. Parameters: "
        + ", ".join(f"`{k}` {v}" for k, v in params.items()) + ".", "",
    ]


def _driver_lines(drivers: pd.DataFrame) -> list[str]:
    lines = ["## What drives choices", "",
             "Each utility term's spread (mean over sampled seekers of its standard deviation across 300 postings "
             "drawn from the whole catalogue) and its within-seeker correlation with total utility, from `truth/`. "
             "A term with a large spread and high correlation decides rankings; choices add Gumbel/logistic noise "
             "on top (scaled by the world's `choice_noise` / `apply_noise`).", "",
             "| term | spread | correlation with total |", "|---|---:|---:|"]
    lines += [f"| {r.term} | {r.spread:.2f} | {r.corr_with_total:.2f} |" for r in drivers.itertuples()]
    return lines + [""]


def _emergent_lines(emergent: list[FunnelFigure]) -> list[str]:
    passed = sum(r.passed for r in emergent)
    lines = ["## Emergent funnel figures", "",
             f"{passed} of {len(emergent)} figures within their ranges (details and sources in `calibration.md`). "
             "These come out of the simulated funnel; nothing sets them directly.", "",
             "| figure | generated | range | ok |", "|---|---:|---:|:-:|"]
    lines += [f"| {r.description} | {fmt(r.value, r.name in SHARES)} | {fmt(r.low, r.name in SHARES)} to "
              f"{fmt(r.high, r.name in SHARES)} | {'yes' if r.passed else 'NO'} |" for r in emergent]
    return lines + [""]


def render(cfg: DataConfig, manifest: dict, tables: dict[str, pd.DataFrame], inter: Interactions,
           calibration_rows: list[CalibrationRow], emergent: list[FunnelFigure] | None = None,
           drivers: pd.DataFrame | None = None, world: WorldParams | None = None,
           public: dict[str, pd.DataFrame] | None = None) -> str:
    """Markdown datasheet of one generated dataset (``cfg``: the parameters in effect, world applied).

    ``tables``: everything the generator knows (distributions); ``public``: the tables as written (schema).
    """
    seekers, jobs, events = tables["seekers"], tables["jobs"], tables["events"]
    stage_counts = np.bincount(inter.stage, minlength=4)
    fair_positions = int(events["n_positions"].sum())
    emergent_fairs = (world or cfg.world).fairs_follow_population
    fair_counts = ("are what the simulation produced: employers and vacancies of the postings each fair lists, "
                   "distinct attendees (see `calibration.md`)." if emergent_fairs else
                   "are calibrated to the published ratios (see `calibration.md`).")
    lines = [
        f"# Synthetic Guangzhou labour market: preset `{cfg.preset}`, seed {manifest['seed']}", "",
        "Generated by `recsys.data.synthetic` (format version "
        f"{manifest['format_version']}). Everything here is synthetic; no real person or employer is described.",
        f"Span {manifest['start']} to {manifest['end']} ({cfg.days} days); suggested temporal split "
        f"{manifest['split_date']} (last 30 days as test).", "",
        "## How it was made",
        "1. Places: the 11 districts (2020 census populations), 342 employment stations spread by population "
        "and 29 gig markets (including 越秀洪桥, 海珠布匹市场, 花都狮岭皮具, 天河棠下) -- real counts at every preset.",
        "2. Fairs (`events`): gig, key-enterprise and graduate events at the 2024 yearly rates x days/365 x "
        f"fair_scale ({cfg.fair_scale:g}); their aggregate columns `n_employers`, `n_positions`, `n_seekers_served` "
        + fair_counts,
        "3. Employers by industry, concentrated where the industry is (garment in Haizhu, leather in Huadu, tech in "
        "Tianhe/Huangpu, logistics in Baiyun ...); postings from 48 occupations with skills, education, pay, age "
        "limits, job type and schedule; seekers in four segments (graduate, prime-age, 4050, gig) with skills, "
        "wishes and a home near a station; subsidised trainings that add a skill when completed.",
        "4. A day-by-day discrete-choice funnel (`recsys.data.synthetic.behaviour`): sessions list jobs of a "
        "channel near the seeker, views by Plackett-Luce and applications by logit on utility, employer "
        "screening (skills, education, posted age limits, private gender preference, unposted 4050 penalty), "
        "interviews and hires up to vacancies; filled postings close (`expires_at` = last hire, "
        "`planned_expires_at` = original), hired seekers leave for a while.",
        "5. `truth/` keeps utility arrays and weights: `recsys.data.synthetic.truth.GroundTruth` returns the "
        "expected utility (total, observable, latent) of any seekers for any jobs at any time. Models must not read it.",
        "",
        *_world_lines(world or cfg.world),
        "## Scaling",
        (f"`jobs` holds {len(jobs):,} postings; the fairs' {fair_positions:,} positions in `events` are the vacancies "
         "of the postings each fair lists, counted at every fair that lists them (the published fair totals, scaled, "
         "are compared in `calibration.md`). "
         if emergent_fairs else
         f"`jobs` is a sample of the market: {len(jobs):,} postings stand for the {fair_positions:,} positions the "
         "fairs in `events` report plus station and online postings, so one posting represents many positions. ")
        + f"`population_scale` = {cfg.population_scale:.4g} (seekers per year / {cfg.reference_seekers_per_year:,.0f}) "
        "scales training person-times.",
        "",
        "## Tables",
    ]
    for name, df in (public or tables).items():
        lines += _schema_lines(name, df) if name in SCHEMAS else [
            f"- **{name}** ({len(df):,} rows): " + ", ".join(f"`{c}`" for c in df.columns)]
    if public is not None and "job_events" in public:
        lines.append("  - post-hoc facts are not published: `jobs.expires_at` is the planned expiry, closings are "
                     "`job_events` (`filled` / `expired` with time), `jobs.filled` and `seekers.segment` are only in "
                     "`truth/post_hoc.npz`; `trainings.completed_at` says from when a completed training's skill counts.")
    lines.append(f"- **interactions** ({manifest['row_counts']['interactions']:,} rows): "
                 + ", ".join(f"`{c}` {k}" for c, k in SCHEMAS["interactions"].columns.items()))
    lines += [
        "", "## Distributions",
        f"- seeker segments: {_shares(seekers['segment'])}",
        f"- seeker education: {_shares(seekers['education'])}",
        f"- seeker groups: graduate {seekers['is_graduate'].mean():.1%}, 4050 {seekers['is_4050'].mean():.1%}, "
        f"unemployed {seekers['is_unemployed'].mean():.1%}, flexible {seekers['is_flexible'].mean():.1%}",
        f"- job channels: {_shares(jobs['channel'])}",
        f"- job types: {_shares(jobs['job_type'])}",
        f"- postings with an age limit: {jobs['age_max'].notna().mean():.1%}; filled: {jobs['filled'].mean():.1%}",
        "- funnel: " + ", ".join(f"{e} {stage_counts[i]:,}" for i, e in enumerate(INTERACTION_EVENTS)),
        f"- events: {_shares(events['kind'])}",
        f"- trainings: {len(tables['trainings']):,} enrolments, completed {tables['trainings']['completed'].mean():.1%}",
        *_attendance_lines(tables),
        "", "## Calibration", "",
        "Which figures are set by construction and which emerge: rows of basis `exact` / `construction` hold by "
        "construction (places at the real counts; fairs and trainings drawn at the published rates"
        + ("), so they check the scaling, not the behaviour model; rows of basis `emergent` are the fairs' "
           "employers, positions and attendees as simulated, against the published totals scaled to this "
           "population and span" if emergent_fairs else
           "; fair aggregates `n_employers`, `n_positions`, `n_seekers_served` drawn and rescaled to the published "
           "ratios), so they check the scaling, not the behaviour model")
        + ". The funnel (views, applications, interviews, hires, fill rates, who is hired) is emergent: it follows "
        "from the utility, search, screening and world parameters and is compared with sourced ranges under "
        "Emergent funnel figures.", "",
        "| figure | target | generated | ok | basis |", "|---|---:|---:|:-:|---|",
    ]
    lines += [f"| {r.description} | {r.target:,.4g} | {r.generated:,.4g} | {'yes' if r.passed else 'NO'} | {r.basis} |"
              for r in calibration_rows]
    lines += ["", f"Published 2024 figures: {pop.TRAININGS_PER_YEAR:,} training person-times; "
              "203 gig fairs (5,858 employers, 172,000 positions, 87,100 seekers); 227 key-enterprise fairs "
              "(290,900 positions); 1,407 graduate events (1,592,900 positions).", ""]
    if emergent is not None:
        lines += _emergent_lines(emergent)
    if drivers is not None:
        lines += _driver_lines(drivers)
    return "\n".join(lines)
