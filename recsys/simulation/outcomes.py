"""Outcomes of a simulated window, overall and per key group and district (vectorised over events).

Definitions (window = ``[cutoff, cutoff + days)``; *searchers* = seekers who searched on some day of the
window or were hired in it):

placements
    Hires in the window (a hire decided before the cutoff that happens in it counts for every policy alike).
placement_rate
    Share of searchers hired at least once in the window.
days_to_hire
    Mean over hired seekers of (day of first hire - first day searching in the window; 0 if before).
welfare_utility, welfare_wage
    Mean true utility (observable + latent, at the view) and mean monthly wage of the accepted jobs.
welfare_total
    Sum of the true utility of the accepted jobs (placements x welfare_utility).
applications_per_hire
    Applications / placements.
competition
    Congestion faced by an average application: the posting's applications in the window per vacancy it
    had left at the window start (or when posted in it), averaged over applications.
share_applications_wasted
    Share of applications sent to a posting already full (no vacancy left when applying: the last ones were
    taken by earlier applicants) or that ends unfilled by the window end (planned expiry passed).
vacancies_filled, fill_rate (group ``all`` only)
    Hires / vacancies open at some time in the window.
exposure_gini (``all`` only)
    Gini coefficient of views over postings open at some time in the window (0: even; 1: one posting).
recommended_share (``all`` only)
    Share of sessions that were recommendation sessions.
hr@10
    Offline hit-rate of the policy's frozen ranking at the cutoff: share of seekers with a logged
    application in the window (the generator's own data) who have one of those postings in their top 10
    among the postings open at some time in the window (applied ones excluded).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.data.synthetic import geography as geo
from recsys.data.synthetic.population import MIN_PER_DAY
from recsys.simulation.market import Run, Snapshot, applications_so_far, applied_mask
from recsys.simulation.policies import MarketTruth, Policy, RankRequest

KEY_GROUPS = {"is_graduate": "graduates", "is_4050": "4050", "is_unemployed": "unemployed",
              "is_flexible": "flexible"}
"""Seeker flag -> group label in the outcome tables."""
SEEKER_METRICS = ("searchers", "placements", "placement_rate", "days_to_hire", "welfare_utility", "welfare_total",
                  "welfare_wage",
                  "applications", "applications_per_hire", "competition", "share_applications_wasted")
MARKET_METRICS = ("vacancies_filled", "fill_rate", "exposure_gini", "recommended_share")
HR_CHUNK = 1024


def memberships(snapshot: Snapshot) -> pd.DataFrame:
    """(seeker, group) pairs: ``all``, the key groups and ``district:<name>``."""
    n = len(snapshot.seeker_ids)
    parts = [pd.DataFrame({"seeker": np.arange(n), "group": "all"})]
    for flag, label in KEY_GROUPS.items():
        if flag in snapshot.groups:
            parts.append(pd.DataFrame({"seeker": np.flatnonzero(snapshot.groups[flag].to_numpy(bool)), "group": label}))
    district = snapshot.groups["district"].to_numpy()
    names = np.asarray(geo.DISTRICTS)[district] if np.issubdtype(district.dtype, np.integer) else district.astype(str)
    parts.append(pd.DataFrame({"seeker": np.arange(n), "group": np.char.add("district:", names.astype(str))}))
    return pd.concat(parts, ignore_index=True)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative ``values`` (0 when all equal or all zero)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    if len(x) == 0 or x.sum() == 0:
        return 0.0
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def window_postings(snapshot: Snapshot, days: int) -> np.ndarray:
    """Postings open at some time in the window (posted before its end, not closed before its start)."""
    market, state = snapshot.market, snapshot.state
    return np.flatnonzero((market.post_day < snapshot.cutoff_day + days)
                          & (state.expires > snapshot.cutoff_day * MIN_PER_DAY))


def outcomes(snapshot: Snapshot, run: Run, days: int, member: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long table (group, metric, value) of one run."""
    member = memberships(snapshot) if member is None else member
    n = len(snapshot.seeker_ids)
    ev = run.events
    stage, seeker, job = ev["stage"].to_numpy(), ev["seeker"].to_numpy(), ev["job"].to_numpy()
    hires, apps = stage == 3, stage == 1
    vac0 = np.maximum(snapshot.state.remaining, 1)
    apps_per_job = np.bincount(job[apps], minlength=len(vac0))
    end_min = (snapshot.cutoff_day + days) * MIN_PER_DAY
    planned = snapshot.market.jobs.expires_min
    wasted = apps & ((ev["remaining"].to_numpy() == 0)
                     | ((run.final_remaining[job] > 0) & (planned[job] <= end_min)))
    wage = snapshot.market.jobs.arrays.wage
    first_hire_min = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_hire_min, seeker[hires], ev["minute"].to_numpy()[hires])
    hired = first_hire_min < np.iinfo(np.int64).max
    start_day = np.where(run.first_search_day >= 0, run.first_search_day, snapshot.cutoff_day)
    wait = np.where(hired, np.maximum(first_hire_min // MIN_PER_DAY - start_day, 0), 0)
    per_seeker = pd.DataFrame({
        "searchers": (run.first_search_day >= 0) | hired,
        "placements": np.bincount(seeker[hires], minlength=n),
        "hired": hired, "wait": wait,
        "util": np.bincount(seeker[hires], weights=ev["util"].to_numpy()[hires], minlength=n),
        "wage": np.bincount(seeker[hires], weights=wage[job[hires]], minlength=n),
        "applications": np.bincount(seeker[apps], minlength=n),
        "competition": np.bincount(seeker[apps], weights=apps_per_job[job[apps]] / vac0[job[apps]], minlength=n),
        "wasted": np.bincount(seeker[wasted], minlength=n),
    })
    g = per_seeker.iloc[member["seeker"].to_numpy()].assign(group=member["group"].to_numpy()).groupby(
        "group", sort=True).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame({
            "searchers": g["searchers"], "placements": g["placements"],
            "placement_rate": g["hired"] / g["searchers"], "days_to_hire": g["wait"] / g["hired"],
            "welfare_utility": g["util"] / g["placements"], "welfare_total": g["util"], "welfare_wage": g["wage"] / g["placements"],
            "applications": g["applications"], "applications_per_hire": g["applications"] / g["placements"],
            "competition": g["competition"] / g["applications"],
            "share_applications_wasted": g["wasted"] / g["applications"],
        })
    long = table.reset_index().melt(id_vars="group", var_name="metric", value_name="value")
    open_jobs = window_postings(snapshot, days)
    views = np.bincount(job[stage == 0], minlength=len(vac0))
    market = pd.DataFrame({"group": "all", "metric": list(MARKET_METRICS), "value": [
        float(hires.sum()), float(hires.sum() / max(int(snapshot.state.remaining[open_jobs].sum()), 1)),
        gini(views[open_jobs]), run.recommended_sessions / max(run.sessions, 1)]})
    return pd.concat([long, market], ignore_index=True)


def offline_hits(snapshot: Snapshot, policy: Policy, days: int, k: int = 10) -> pd.Series:
    """Per seeker with a logged application in the window: 1 if the policy's frozen top ``k`` at the cutoff
    holds one of those postings (candidates: postings open at some time in the window, applied ones excluded).

    The index is the seeker row. The organic policy (no list) has no hit-rate: an empty Series.
    """
    if not policy.recommends:
        return pd.Series(dtype=np.float64)
    log = snapshot.logged
    end_min = (snapshot.cutoff_day + days) * MIN_PER_DAY
    log = log[(log["stage"] == 1) & (log["minute"] < end_min) & (log["seeker"] >= 0) & (log["job"] >= 0)]
    seekers = np.unique(log["seeker"].to_numpy())
    candidates = window_postings(snapshot, days)
    truth = MarketTruth(snapshot.market, snapshot.state)
    now = snapshot.time_at(snapshot.cutoff_day * MIN_PER_DAY)
    hits = np.zeros(len(seekers))
    m = len(snapshot.job_ids)
    applications = applications_so_far(snapshot.state, candidates)
    relevant = np.unique(log["seeker"].to_numpy(np.int64) * m + log["job"].to_numpy(np.int64))
    for a in range(0, len(seekers), HR_CHUNK):
        who = seekers[a:a + HR_CHUNK]
        request = RankRequest(seekers=who, seeker_ids=snapshot.seeker_ids[who], candidates=candidates,
                              job_ids=snapshot.job_ids[candidates], applied=applied_mask(snapshot.state, who, candidates),
                              k=k, day=snapshot.cutoff_day, now=now, truth=truth,
                              applications=applications)
        lists = np.asarray(policy.rank(request))
        listed = np.isin(who[:, None].astype(np.int64) * m + lists, relevant) & (lists >= 0)
        hits[a:a + HR_CHUNK] = listed.any(axis=1)
    return pd.Series(hits, index=seekers)


def hit_rate_table(snapshot: Snapshot, hits: pd.Series, member: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """(group, metric ``hr@k``, value) from :func:`offline_hits`."""
    if hits.empty:
        return pd.DataFrame(columns=["group", "metric", "value"])
    m = member[member["seeker"].isin(hits.index)]
    value = pd.Series(hits.reindex(m["seeker"]).to_numpy(), index=m["group"].to_numpy()).groupby(level=0).mean()
    return pd.DataFrame({"group": value.index, "metric": f"hr@{k}", "value": value.to_numpy()})

