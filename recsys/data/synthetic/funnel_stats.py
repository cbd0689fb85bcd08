"""Emergent calibration: funnel figures measured from the generated tables, each against a sourced range.

Unlike :mod:`recsys.data.synthetic.calibration` (figures that hold by construction), nothing here is set
directly: every figure follows from the utility, search, screening and world parameters, so it can fail.
Ranges, not points: the only published funnel figures in ``shared/context/literature.md`` come from other
markets (US job boards and career sites, a German professional network), so a range says "the right order of
magnitude", and each figure's ``source`` says which market it comes from. Figures without any published
anchor say so in their source and use a plausibility range.

All figures are computed with pandas/numpy from the public tables (``seekers``, ``jobs``, ``interactions``);
:func:`utility_drivers` reads ``truth/`` for the datasheet's "what drives choices" table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from recsys.data.geo import planar_km

SIX_MONTHS_DAYS = 182
NEAR_KM = (0.0, 2.0)
FAR_KM = (14.0, 18.0)  # about 10 miles
DISTANCE_SAMPLE_SEEKERS = 20000
DISTANCE_SAMPLE_JOBS = 10000

JOBVITE = "Jobvite recruiting benchmarks (US company career sites: another market, order of magnitude only)"
XING = "RecSys Challenge 2016, XING (German professional network: another market)"
MR = "Marinescu & Rathelot 2018 (US job board: another market): about 35% less likely to apply at 10 miles"
NO_SOURCE = "no published figure in the context files: plausibility range, not a calibration"
CONCENTRATION = ("literature.md: applications are concentrated, a few postings get most while many get none "
                 "(no published share; plausibility range)")


@dataclass(frozen=True)
class FunnelFigure:
    """One emergent figure: ``passed`` when ``low <= value <= high`` (``value`` NaN fails)."""

    name: str
    description: str
    value: float
    low: float
    high: float
    source: str
    passed: bool
    basis: str = "emergent"


TARGETS: dict[str, tuple[str, float, float, str]] = {
    "views_per_application": ("views per application", 5.0, 20.0,
                              f"{JOBVITE}: about 11% of visitors apply (about 9 views per application)"),
    "apply_to_interview": ("share of applications that lead to an interview", 0.05, 0.25,
                           f"{JOBVITE}: about 12% of applicants are interviewed"),
    "interviews_per_hire": ("interviews per hire", 2.5, 12.0,
                            f"{JOBVITE}: about 12% of about 50 applicants per hire, i.e. about 6"),
    "applications_per_hire": ("applications per hire", 20.0, 100.0, f"{JOBVITE}: roughly 50 applicants per hire"),
    "applications_per_posting_median": ("median applications per posting", 1.0, 15.0, NO_SOURCE),
    "postings_without_application": ("share of postings with no application", 0.25, 0.60,
                                     f"{XING}: 39.5% of active items had no interaction events"),
    "top10_share_of_applications": ("share of applications to the top 10% of postings", 0.40, 0.85, CONCENTRATION),
    "gini_applications_per_posting": ("Gini of applications per posting", 0.55, 0.90, CONCENTRATION),
    "hires_per_seeker_6m": ("hires per seeker within six months of registration (censored at the span's end)",
                            0.10, 0.60, NO_SOURCE),
    "days_to_hire": ("median days from a seeker's first application to their first hire", 7.0, 60.0, NO_SOURCE),
    "distance_effect_16km": ("online application probability at 14-18 km relative to 0-2 km (per seeker-posting pair)",
                             0.45, 0.85, MR),
    "test_applications_to_new_postings": (
        "share of last-30-day applications to postings first posted after the split date", 0.25, 0.70,
        f"{XING}: 39.5% of active items had no earlier events (new postings are the normal case)"),
}


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative ``values`` (0 = equal, 1 = all in one); NaN when all are zero."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    total = x.sum()
    if len(x) == 0 or total <= 0:
        return float("nan")
    ranks = np.arange(1, len(x) + 1)
    return float((2.0 * (ranks * x).sum() / (len(x) * total)) - (len(x) + 1.0) / len(x))


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def _distance_effect(seekers: pd.DataFrame, jobs: pd.DataFrame, applies: pd.DataFrame, seed: int = 0) -> float:
    """Online applications per (seeker, online posting) pair at ``FAR_KM`` over the same at ``NEAR_KM``.

    Online only, as on the job board of Marinescu & Rathelot; pairs: online applicants x online postings open
    at some time after the seeker registered (their choice set: every open vacancy, not only the ones shown),
    both sampled when there are more than ``DISTANCE_SAMPLE_SEEKERS`` / ``DISTANCE_SAMPLE_JOBS`` (sorted ids
    first, so row order does not matter). NaN when a distance band has no pair or no application.
    """
    rng = np.random.default_rng(seed)
    applies = applies[applies["channel"] == "online"]
    jobs = jobs[jobs["channel"] == "online"]
    applicants = np.sort(np.asarray(applies["seeker_id"].unique(), dtype=str))
    if len(applicants) == 0 or len(jobs) == 0:
        return float("nan")
    if len(applicants) > DISTANCE_SAMPLE_SEEKERS:
        applicants = np.sort(rng.choice(applicants, DISTANCE_SAMPLE_SEEKERS, replace=False))
    j = jobs.iloc[np.argsort(jobs["job_id"].to_numpy(dtype=str), kind="stable")]
    if len(j) > DISTANCE_SAMPLE_JOBS:
        j = j.iloc[np.sort(rng.choice(len(j), DISTANCE_SAMPLE_JOBS, replace=False))]
    s = seekers.set_index(seekers["seeker_id"].to_numpy(dtype=str)).loc[applicants]
    sx, sy = planar_km(s["lat"].to_numpy(), s["lon"].to_numpy())
    jx, jy = planar_km(j["lat"].to_numpy(), j["lon"].to_numpy())
    registered = s["registered_at"].to_numpy(dtype="datetime64[ns]")
    expires = j["expires_at"].to_numpy(dtype="datetime64[ns]")
    bands = np.array([NEAR_KM[0], NEAR_KM[1], FAR_KM[0], FAR_KM[1]])
    pairs = np.zeros(len(bands) - 1, dtype=np.int64)
    for a in range(0, len(applicants), 1000):  # (1000 x jobs) distances at a time
        km = np.hypot(sx[a:a + 1000, None] - jx[None, :], sy[a:a + 1000, None] - jy[None, :])
        open_after = expires[None, :] > registered[a:a + 1000, None]
        pairs += np.histogram(km[open_after], bins=bands)[0]
    mine = applies[applies["seeker_id"].isin(applicants) & applies["job_id"].isin(j["job_id"])]
    mine = mine.astype({"seeker_id": str, "job_id": str})
    s_pos = pd.Index(applicants).get_indexer(mine["seeker_id"])
    j_pos = pd.Index(j["job_id"].to_numpy(dtype=str)).get_indexer(mine["job_id"])
    apps = np.histogram(np.hypot(sx[s_pos] - jx[j_pos], sy[s_pos] - jy[j_pos]), bins=bands)[0]
    if min(apps[0], apps[2]) == 0:
        return float("nan")
    return _ratio(_ratio(apps[2], pairs[2]), _ratio(apps[0], pairs[0]))


def measure(seekers: pd.DataFrame, jobs: pd.DataFrame, interactions: pd.DataFrame, start: np.datetime64,
            end: np.datetime64, split: np.datetime64) -> dict[str, float]:
    """Every figure of :data:`TARGETS`, measured from the public tables (NaN when undefined)."""
    event = interactions["event"]
    counts = event.value_counts()
    n = {e: int(counts.get(e, 0)) for e in ("view", "apply", "interview", "hire")}
    applies = interactions.loc[event == "apply", ["seeker_id", "job_id", "ts", "channel"]]
    hires = interactions.loc[event == "hire", ["seeker_id", "job_id", "ts"]].astype({"seeker_id": str, "job_id": str})
    counts_by_job = applies["job_id"].value_counts()  # categorical ids (the generator) or strings (a real log)
    per_posting = (pd.Series(counts_by_job.to_numpy(), index=np.asarray(counts_by_job.index, dtype=str))
                   .reindex(jobs["job_id"].to_numpy(dtype=str), fill_value=0).to_numpy())
    top = np.sort(per_posting)[::-1][:max(1, int(np.ceil(0.1 * len(per_posting))))]

    # Hires within six months of registration, per seeker registered in the span (censored at the end).
    registered = seekers.set_index("seeker_id")["registered_at"]
    in_span = registered[registered >= start]
    h_reg = in_span.reindex(hires["seeker_id"]).to_numpy(dtype="datetime64[ns]")
    within = (hires["ts"].to_numpy() - h_reg) <= np.timedelta64(SIX_MONTHS_DAYS, "D")
    hires_6m = _ratio(int(within.sum()), len(in_span))

    hired_applies = applies[applies["seeker_id"].isin(hires["seeker_id"].unique())].astype({"seeker_id": str})
    first_apply = hired_applies.groupby("seeker_id")["ts"].min()
    first_hire = hires.groupby("seeker_id")["ts"].min()
    days = (first_hire - first_apply.reindex(first_hire.index)).dt.total_seconds() / 86400.0

    test = applies.loc[applies["ts"] >= split, ["job_id"]].astype({"job_id": str})
    posted = jobs.set_index("job_id")["posted_at"].reindex(test["job_id"]).to_numpy(dtype="datetime64[ns]")
    return {
        "views_per_application": _ratio(n["view"], n["apply"]),
        "apply_to_interview": _ratio(n["interview"], n["apply"]),
        "interviews_per_hire": _ratio(n["interview"], n["hire"]),
        "applications_per_hire": _ratio(n["apply"], n["hire"]),
        "applications_per_posting_median": float(np.median(per_posting)) if len(per_posting) else float("nan"),
        "postings_without_application": float((per_posting == 0).mean()) if len(per_posting) else float("nan"),
        "top10_share_of_applications": _ratio(top.sum(), per_posting.sum()),
        "gini_applications_per_posting": gini(per_posting),
        "hires_per_seeker_6m": hires_6m,
        "days_to_hire": float(days.median()) if len(days) else float("nan"),
        "distance_effect_16km": _distance_effect(seekers, jobs, applies),
        "test_applications_to_new_postings": float((posted >= split).mean()) if len(test) else float("nan"),
    }


def figures(values: dict[str, float]) -> list[FunnelFigure]:
    """Attach target ranges, sources and pass/fail to measured ``values``."""
    out = []
    for name, (description, low, high, source) in TARGETS.items():
        v = float(values[name])
        out.append(FunnelFigure(name, description, v, low, high, source, bool(low <= v <= high)))
    return out


NOT_MODELLED = (
    ("high-quality employment communities / villages", "63 / 57 (120 in all)",
     "not modelled: no community or village entity in the tables"),
    ("training sessions dedicated to key groups", "194 sessions, 5,075 unemployed person-times",
     "not modelled: trainings are not grouped into sessions or targeted at key groups"),
    ("policy positions developed for graduates", "> 15,000",
     "not modelled: graduate postings are not flagged as policy positions"),
)
"""Seed facts of ``shared/context/guangzhou-2024.md`` the generator does not represent."""


def to_json(rows: list[FunnelFigure]) -> dict:
    """The ``emergent`` section of ``calibration.json``."""
    return {"all_passed": all(r.passed for r in rows), "rows": [asdict(r) for r in rows],
            "not_modelled": [{"figure": f, "published": v, "status": s} for f, v, s in NOT_MODELLED]}


SHARES = {"apply_to_interview", "postings_without_application", "top10_share_of_applications",
          "gini_applications_per_posting", "distance_effect_16km", "test_applications_to_new_postings"}
"""Figures that are shares or ratios in [0, 1] (printed as percentages)."""


def fmt(x: float, share: bool = False) -> str:
    """``x`` for a table: a percentage when ``share``, else three significant digits."""
    return "n/a" if not np.isfinite(x) else (f"{x:.1%}" if share else f"{x:,.3g}")


def to_markdown(rows: list[FunnelFigure], world: str) -> str:
    """The emergent section of ``calibration.md``."""
    lines = ["## Emergent funnel figures", "",
             f"World `{world}`. Measured from the simulated funnel (public tables), never set directly; a figure "
             "passes when it lies in its range. Sources from other markets give orders of magnitude, hence ranges.", "",
             "| figure | generated | range | ok | source |", "|---|---:|---:|:-:|---|"]
    for r in rows:
        pct = r.name in SHARES
        lines.append(f"| {r.description} | {fmt(r.value, pct)} | {fmt(r.low, pct)} to {fmt(r.high, pct)} | "
                     f"{'yes' if r.passed else 'NO'} | {r.source} |")
    lines += ["", "## Seed facts not modelled", "", "| figure | 2024 value | status |", "|---|---:|---|"]
    lines += [f"| {f} | {v} | {s} |" for f, v, s in NOT_MODELLED]
    return "\n".join(lines) + "\n"


def utility_drivers(truth: object, seeker_ids: np.ndarray, job_ids: np.ndarray, n_seekers: int = 300,
                    n_jobs: int = 300, seed: int = 0) -> pd.DataFrame:
    """Spread of each utility term across a seeker's candidates and its correlation with total utility.

    Candidates: ``n_jobs`` postings drawn from the whole catalogue (what a recommender ranks) for each of
    ``n_seekers`` sampled seekers, skills at registration. ``spread`` = mean over seekers of the term's
    standard deviation across that seeker's candidates; ``corr_with_total`` = correlation of the term with
    total utility after removing each seeker's mean (within-seeker, pooled).
    """
    from recsys.data.synthetic.truth import GroundTruth

    assert isinstance(truth, GroundTruth)
    rng = np.random.default_rng(seed)
    srows = truth.seeker_rows(rng.choice(seeker_ids, min(n_seekers, len(seeker_ids)), replace=False))
    jrows = truth.job_rows(rng.choice(job_ids, min(n_jobs, len(job_ids)), replace=False))
    parts = truth.terms.breakdown(srows[:, None], jrows[None, :], truth.seekers.bits[srows][:, None, :])
    total = np.sum(np.stack(list(parts.values())), axis=0)
    centred_total = total - total.mean(axis=1, keepdims=True)
    rows = []
    for name, value in parts.items():
        centred = value - value.mean(axis=1, keepdims=True)
        denom = np.sqrt((centred ** 2).sum() * (centred_total ** 2).sum())
        rows.append({"term": name, "spread": float(value.std(axis=1).mean()),
                     "corr_with_total": float((centred * centred_total).sum() / denom) if denom > 0 else float("nan")})
    return pd.DataFrame(rows).sort_values("spread", ascending=False, ignore_index=True)

