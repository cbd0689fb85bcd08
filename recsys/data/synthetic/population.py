"""Draw the exogenous population: fairs, employers, job postings, seekers and training enrolments.

Everything here is drawn once, up front; :mod:`recsys.data.synthetic.behaviour` then simulates who sees,
applies to and is hired for what. Times are int64 minutes since the start of the span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.data.schema import (
    CHANNELS,
    DAYS_PER_MONTH,
    EDUCATION_LEVELS,
    EVENT_KINDS,
    HOURS_PER_DAY,
    JOB_TYPES,
)
from recsys.data.synthetic import geography as geo
from recsys.data.synthetic import occupations as occ
from recsys.data.synthetic.config import SEGMENTS, DataConfig
from recsys.data.synthetic.utility import JobArrays, SeekerArrays

MIN_PER_DAY = 1440
EVENT_KIND_TARGETS = {  # per year, from the context file
    "gig_fair": 203, "key_enterprise_fair": 227, "graduate_fair": 1407,
}
FAIR_TOTALS_PER_YEAR = {  # published 2024 totals per kind of fair (events table column -> yearly total)
    "gig_fair": {"n_employers": 5858, "n_positions": 172_000, "n_seekers_served": 87_100},
    "key_enterprise_fair": {"n_positions": 290_900}, "graduate_fair": {"n_positions": 1_592_900},
}
GIG_FAIR_EMPLOYERS_PER_FAIR = 5858 / 203
GIG_FAIR_POSITIONS_PER_EMPLOYER = 172_000 / 5858
GIG_FAIR_POSITIONS_PER_SEEKER = 172_000 / 87_100
KEY_FAIR_POSITIONS = 290_900 / 227
GRADUATE_EVENT_POSITIONS = 1_592_900 / 1407
TRAININGS_PER_YEAR = 135_600
CHANNEL_OF_KIND = {"gig_fair": "gig_market", "key_enterprise_fair": "key_enterprise_fair", "graduate_fair": "graduate_fair"}
KIND_ZH = {"gig_fair": "新就业形态专场招聘会", "key_enterprise_fair": "重点企业专场招聘会", "graduate_fair": "阳光就业校园招聘活动"}
SIZES = ("micro", "small", "medium", "large")
_TYPE_LISTS = [[t for b, t in enumerate(JOB_TYPES) if d >> b & 1] for d in range(2 ** len(JOB_TYPES))]
"""Job-type names of each desired-types bitmask (rows of the ``seekers`` table share these lists)."""
_BRAND = list("华粤穗恒达信祥兴泰丰安盛源嘉联创新宏德利康美通盈海云天骏鹏锦")

COURSES: tuple[tuple[str, str, int], ...] = (  # (name, skill gained, days)
    ("家政服务员培训", "housekeeping", 10), ("育婴员培训", "infant_care", 15), ("养老护理员培训", "elder_care", 15),
    ("电工上岗证培训", "electrician_cert", 20), ("叉车司机培训", "forklift", 10), ("人工智能训练师培训", "ai_tools", 20),
    ("青年夜校提示词工程", "prompt_writing", 30), ("数据标注员培训", "data_annotation", 10), ("电商直播培训", "live_streaming", 10),
    ("电商运营培训", "ecommerce_ops", 15), ("办公软件应用培训", "office_software", 7), ("中式烹调师培训", "chinese_cuisine", 20),
    ("保安员证培训", "security_cert", 7), ("焊工培训", "welding", 20), ("缝纫工培训", "sewing", 15),
    ("皮具制作培训", "leather_sewing", 15), ("网约车驾驶员培训", "car_driving", 5), ("急救员培训", "first_aid", 3),
    ("Python编程培训", "programming_python", 30), ("工程造价培训", "cost_estimation", 30), ("食品安全培训", "food_safety", 3),
)


@dataclass
class Seekers:
    """Seeker arrays for the simulation plus the public table."""

    arrays: SeekerArrays
    segment: np.ndarray
    female: np.ndarray
    is_4050: np.ndarray
    is_flexible: np.ndarray
    district: np.ndarray
    experience: np.ndarray
    registered_min: np.ndarray
    occupation: np.ndarray
    table: pd.DataFrame


@dataclass
class Fairs:
    """The fairs as the funnel sees them.

    Per event row: ``day`` (day index of the span), ``channel`` (index into ``CHANNELS`` of the fair's kind) and
    the venue's ``lat``/``lon``. Per listing (:func:`fair_listings`; empty in worlds without fair listings):
    ``listing_event`` (event row), ``listing_job`` (posting) and ``listing_day`` (the fair's day).
    """

    day: np.ndarray
    channel: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    listing_event: np.ndarray
    listing_job: np.ndarray
    listing_day: np.ndarray


@dataclass
class Jobs:
    """Job arrays for the simulation plus the public table (``expires_at`` is fixed after simulation)."""

    arrays: JobArrays
    channel: np.ndarray
    district: np.ndarray
    posted_min: np.ndarray
    expires_min: np.ndarray
    vacancies: np.ndarray
    preferred_gender: np.ndarray  # -1 none, 0 female, 1 male (hidden screening preference)
    table: pd.DataFrame
    fairs: Fairs  # the fairs these postings are listed at


def _pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One category per row of a non-negative weight matrix (Gumbel-max)."""
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    return np.argmax(logw + rng.gumbel(size=weights.shape), axis=1)


def _pick_by(rng: np.random.Generator, keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """One category per row with weights ``table[keys[row]]`` (inverse CDF per distinct key)."""
    cum = np.cumsum(table, axis=1)
    u = rng.random(len(keys)) * cum[keys, -1]
    out = np.empty(len(keys), dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    uniq, starts = np.unique(keys[order], return_index=True)
    for k, rows in zip(uniq, np.split(order, starts[1:]), strict=True):
        out[rows] = np.minimum(np.searchsorted(cum[k], u[rows], side="right"), table.shape[1] - 1)
    return out


def _day_weights(days: int, start: np.datetime64) -> np.ndarray:
    """Weekday activity weights (Mon-Fri 1, Sat 0.5, Sun 0.3), normalised."""
    weekday = (np.arange(days) + (start.astype("datetime64[D]").astype(int) + 3)) % 7  # 0 = Monday
    w = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.5, 0.3))
    return w / w.sum()


def make_events(rng: np.random.Generator, cfg: DataConfig, points: pd.DataFrame) -> pd.DataFrame:
    """Job fairs with aggregate counts (employers, positions, seekers served) calibrated per kind."""
    day_w = _day_weights(cfg.days, cfg.start_ns)
    frames = []
    for kind, per_year in EVENT_KIND_TARGETS.items():
        n = max(1, round(per_year * cfg.days / 365.0 * cfg.fair_scale))
        pool = points[points["kind"] == ("gig_market" if kind == "gig_fair" else "station")]
        pw = np.ones(len(pool))
        if kind == "gig_fair":
            pw[pool["name"].isin([m[0] for m in geo.NAMED_GIG_MARKETS]).to_numpy()] = 2.0
        at = rng.choice(len(pool), size=n, p=pw / pw.sum())
        day = np.sort(rng.choice(cfg.days, size=n, p=day_w))
        if kind == "gig_fair":
            n_emp = np.maximum(3, rng.poisson(rng.gamma(20.0, GIG_FAIR_EMPLOYERS_PER_FAIR / 20.0, n)))
            n_pos = np.round(n_emp * rng.gamma(10.0, GIG_FAIR_POSITIONS_PER_EMPLOYER / 10.0, n)).astype(int)
            served = np.round(n_pos / (GIG_FAIR_POSITIONS_PER_SEEKER * rng.lognormal(0.0, 0.15, n))).astype(int)
            online = np.zeros(n, bool)
        else:
            mean = KEY_FAIR_POSITIONS if kind == "key_enterprise_fair" else GRADUATE_EVENT_POSITIONS
            n_pos = np.round(rng.gamma(4.0, mean / 4.0, n)).astype(int)
            n_emp = np.maximum(3, np.round(n_pos / rng.gamma(8.0, 35.0 / 8.0, n))).astype(int)
            served = np.round(n_pos / rng.gamma(8.0, 2.5 / 8.0, n)).astype(int)
            online = rng.random(n) < (0.5 if kind == "graduate_fair" else 0.0)
        # Condition the draws on the published ratios: rescale so the span's aggregate matches exactly.
        if kind == "gig_fair":
            n_emp = _rescale_counts(n_emp, GIG_FAIR_EMPLOYERS_PER_FAIR * n, minimum=3)
            n_pos = _rescale_counts(n_pos, GIG_FAIR_POSITIONS_PER_EMPLOYER * n_emp.sum(), minimum=n_emp)
            served = _rescale_counts(served, n_pos.sum() / GIG_FAIR_POSITIONS_PER_SEEKER, minimum=1)
        else:
            n_pos = _rescale_counts(n_pos, mean * n, minimum=n_emp)
        sub = pool.iloc[at]
        frames.append(pd.DataFrame({
            "kind": kind, "date": cfg.start_ns + (day * MIN_PER_DAY + 540).astype("timedelta64[m]"),
            "district": sub["district"].to_numpy(), "point_id": sub["point_id"].to_numpy(),
            "name": [f"{p}{KIND_ZH[kind]}" + ("（线上）" if o else "") for p, o in zip(sub["name"], online, strict=True)],
            "online": online, "n_employers": n_emp, "n_positions": n_pos, "n_seekers_served": served,
        }))
    events = pd.concat(frames, ignore_index=True).sort_values(["date", "kind"], kind="stable", ignore_index=True)
    events.insert(0, "event_id", [f"E{i + 1:05d}" for i in range(len(events))])
    return events


def _rescale_counts(values: np.ndarray, total: float, minimum: np.ndarray | int) -> np.ndarray:
    """Integer counts proportional to ``values`` summing to about ``total`` (at least ``minimum`` each)."""
    scaled = values * (total / max(values.sum(), 1))
    return np.maximum(np.round(scaled), minimum).astype(np.int64)


def make_employers(rng: np.random.Generator, cfg: DataConfig) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Employers table, standardised attractiveness and employer latent factors (n, d)."""
    n = cfg.n_employers
    industry_demand = np.bincount(occ.OCC_INDUSTRY_IDX, weights=occ.OCC_DEMAND, minlength=len(occ.INDUSTRIES))
    industry = rng.choice(len(occ.INDUSTRIES), size=n, p=industry_demand / industry_demand.sum())
    district = _pick(rng, occ.industry_district_weights()[industry])
    lat, lon = geo.scatter(rng, district)
    size = rng.choice(4, size=n, p=[0.35, 0.35, 0.2, 0.1])
    key_odds = np.array([0.1, 0.4, 1.5, 4.0])[size]
    is_key = rng.random(n) < np.clip(cfg.market.key_enterprise_share * key_odds / key_odds.mean(), 0, 1)
    attract = 0.8 * is_key + 0.3 * size + rng.normal(0.0, 0.6, n)
    attract = (attract - attract.mean()) / max(attract.std(), 1e-9)
    latent = rng.normal(0.0, 1.0, (n, cfg.latent_dim)) / cfg.latent_dim ** 0.25
    brands = rng.choice(_BRAND, size=(n, 2))
    names = [f"广州{a}{b}{occ.INDUSTRY_ZH[occ.INDUSTRIES[i]]}有限公司" for (a, b), i in zip(brands, industry, strict=True)]
    table = pd.DataFrame({
        "employer_id": [f"M{i + 1:06d}" for i in range(n)], "name": names,
        "industry": np.asarray(occ.INDUSTRIES)[industry], "size": np.asarray(SIZES)[size],
        "district": np.asarray(geo.DISTRICTS)[district], "lat": lat, "lon": lon, "is_key_enterprise": is_key,
    })
    return table, attract, latent


def _nearest(lat: np.ndarray, lon: np.ndarray, plat: np.ndarray, plon: np.ndarray, chunk: int = 20_000) -> np.ndarray:
    out = np.empty(len(lat), dtype=np.int64)
    for a in range(0, len(lat), chunk):
        out[a:a + chunk] = np.argmin(geo.distance_km(lat[a:a + chunk, None], lon[a:a + chunk, None], plat[None], plon[None]), axis=1)
    return out


def make_jobs(rng: np.random.Generator, cfg: DataConfig, employers: pd.DataFrame, attract: np.ndarray,
              employer_latent: np.ndarray, events: pd.DataFrame, points: pd.DataFrame) -> Jobs:
    """Job postings: channel, employer, occupation, terms, posting window (planned) and text."""
    m = cfg.n_jobs
    channel = rng.choice(len(CHANNELS), size=m, p=[cfg.job_channels[c] for c in CHANNELS])
    emp_district = employers["district"].map(geo.DISTRICT_INDEX).to_numpy()
    emp_industry = employers["industry"].map({k: i for i, k in enumerate(occ.INDUSTRIES)}).to_numpy()
    emp_size = employers["size"].map({k: i for i, k in enumerate(SIZES)}).to_numpy()
    is_key = employers["is_key_enterprise"].to_numpy()

    # Posting day: fairs post on their date; gig-market postings half at gig fairs; others spread.
    life_mean = np.array([cfg.market.job_life_days[c] for c in CHANNELS])[channel]
    life = np.maximum(1, np.round(rng.gamma(2.0, life_mean / 2.0))).astype(int)
    post_day = rng.choice(cfg.days, size=m, p=_day_weights(cfg.days, cfg.start_ns))
    initial = rng.random(m) < cfg.initial_job_share
    post_day[initial] = -rng.integers(0, np.maximum(life[initial], 1))
    event_idx = np.full(m, -1)
    ev_day = ((events["date"].to_numpy() - cfg.start_ns) // np.timedelta64(1, "D")).astype(int)
    for kind, ch in CHANNEL_OF_KIND.items():
        rows = np.flatnonzero((channel == CHANNELS.index(ch)) & ~initial)
        if ch == "gig_market":
            rows = rows[rng.random(len(rows)) < cfg.world.gig_fair_share]
        pool = np.flatnonzero(events["kind"].to_numpy() == kind)
        if len(rows) and len(pool):
            event_idx[rows] = rng.choice(pool, size=len(rows))
            post_day[rows] = ev_day[event_idx[rows]]
    event_district = np.where(event_idx >= 0, events["district"].map(geo.DISTRICT_INDEX).to_numpy()[np.maximum(event_idx, 0)], -1)

    # Employer: bigger employers post more; fair postings come from employers near the fair.
    grad_industry = np.bincount(occ.OCC_INDUSTRY_IDX, weights=occ.OCC_MIN_EDU >= 4, minlength=len(occ.INDUSTRIES))
    base_w = np.array([1.0, 2.0, 4.0, 8.0])[emp_size]
    employer = np.empty(m, dtype=np.int64)
    for ch_idx, ch in enumerate(CHANNELS):
        w_ch = base_w * (is_key * 20 + 0.05 if ch == "key_enterprise_fair" else 1.0)
        if ch == "graduate_fair":
            w_ch = w_ch * (grad_industry[emp_industry] + 0.1)
        for d in np.unique(event_district[channel == ch_idx]):
            rows = np.flatnonzero((channel == ch_idx) & (event_district == d))
            near = 1.0 if d < 0 else np.exp(-geo.DISTRICT_DISTANCE_KM[d, emp_district] / 15.0)
            p = w_ch * near
            employer[rows] = rng.choice(len(p), size=len(rows), p=p / p.sum())

    # Occupation within the employer's industry; graduate fairs favour graduate jobs, gig markets gig jobs.
    ind_occ = (occ.OCC_INDUSTRY_IDX[None, :] == np.arange(len(occ.INDUSTRIES))[:, None]) * occ.OCC_DEMAND[None, :]
    channel_occ = np.ones((len(CHANNELS), len(occ.OCCUPATIONS)))
    channel_occ[CHANNELS.index("graduate_fair")] = np.where(occ.OCC_MIN_EDU >= 4, 5.0, 0.2)
    channel_occ[CHANNELS.index("gig_market")] = occ.OCC_TYPES[:, 2] * 3 + occ.OCC_TYPES[:, 1] + 0.05
    occupation = _pick(rng, ind_occ[emp_industry[employer]] * channel_occ[channel] + 1e-12)
    type_w = occ.OCC_TYPES[occupation] * np.where(
        (channel == CHANNELS.index("gig_market"))[:, None], [0.3, 1.0, 3.0],
        np.where(np.isin(channel, [CHANNELS.index("key_enterprise_fair"), CHANNELS.index("graduate_fair")])[:, None],
                 [3.0, 0.5, 0.2], [1.0, 1.0, 1.0]))
    job_type = _pick(rng, type_w + 1e-12)
    schedule = _pick(rng, occ.OCC_SCHEDULES[occupation] + 1e-12)
    min_edu = np.minimum(occ.OCC_MIN_EDU[occupation] + (is_key[employer] & (rng.random(m) < 0.3)), len(EDUCATION_LEVELS) - 1)

    district = emp_district[employer]
    jit = 0.6 / geo.KM_PER_DEG_LAT
    lat = employers["lat"].to_numpy()[employer] + rng.normal(0, jit, m)
    lon = employers["lon"].to_numpy()[employer] + rng.normal(0, jit, m)

    factor = np.array([occ.DISTRICT_WAGE_FACTOR[d] for d in geo.DISTRICTS])[district] * (1 + 0.04 * emp_size[employer])
    lo = occ.OCC_WAGE[occupation, 0] * factor * rng.lognormal(0.0, 0.1, m)
    hi = np.maximum(lo * rng.uniform(1.15, 1.6, m), occ.OCC_WAGE[occupation, 1] * factor * 0.9)
    unit_div = np.array([1.0, DAYS_PER_MONTH * HOURS_PER_DAY / 1.1, DAYS_PER_MONTH / 1.15])[job_type]
    rounding = np.array([100.0, 1.0, 10.0])[job_type]
    wage_min = np.round(lo / unit_div / rounding) * rounding
    wage_max = np.maximum(np.round(hi / unit_div / rounding) * rounding, wage_min + rounding)
    wage_mid_monthly = (wage_min + wage_max) / 2 * unit_div

    has_age = rng.random(m) < occ.OCC_AGE_LIMIT_SHARE[occupation]
    age_max = np.where(has_age, occ.OCC_AGE_MAX[occupation] + rng.choice([-5, 0, 0, 5], size=m), 200)
    age_min = np.where(has_age & (rng.random(m) < 0.6), 18, 0)
    u = rng.random(m)
    pref_gender = np.where(u < occ.OCC_MALE_PREF[occupation], 1,
                           np.where(u > 1 - occ.OCC_FEMALE_PREF[occupation], 0, -1))

    slots = occ.OCC_SKILL_SLOTS[occupation]
    keep = rng.random(slots.shape) < 0.75
    keep[:, 0] = True
    bits, skills = occ.slots_to_skills(np.where(keep, slots, -1))
    vacancies = 1 + rng.poisson(np.maximum(cfg.market.vacancies_mean - 1, 0) * (1 + is_key[employer]), m)

    posted_min = post_day * MIN_PER_DAY + rng.integers(0, 450, m)
    expires_min = (post_day + life) * MIN_PER_DAY + 1380
    v = employer_latent[employer] * np.sqrt(cfg.latent_employer_share) + np.sqrt(1 - cfg.latent_employer_share) * (
        rng.normal(0.0, 1.0, (m, cfg.latent_dim)) / cfg.latent_dim ** 0.25)

    # Where the posting is listed: its fair's point, the nearest gig market or station, or online only.
    stations = points[points["kind"] == "station"]
    markets = points[points["kind"] == "gig_market"]
    point = np.full(m, None, dtype=object)
    has_event = event_idx >= 0
    point[has_event] = events["point_id"].to_numpy()[event_idx[has_event]]
    for ch, venues in (("station", stations), ("gig_market", markets)):
        rows = np.flatnonzero((channel == CHANNELS.index(ch)) & ~has_event)
        point[rows] = venues["point_id"].to_numpy()[
            _nearest(lat[rows], lon[rows], venues["lat"].to_numpy(), venues["lon"].to_numpy())]

    arrays = JobArrays(bits=bits, lat=lat, lon=lon, wage=wage_mid_monthly, job_type=job_type.astype(np.int16),
                       schedule=schedule.astype(np.int16), min_education=min_edu.astype(np.int16),
                       age_min=age_min.astype(np.int16), age_max=age_max.astype(np.int16),
                       attractiveness=attract[employer], latent=v.astype(np.float32))
    # Postings first posted at a fair advertise more positions in worlds that say so (drawn last: the draws
    # above stay those of the easy generator).
    kind_of = np.where(event_idx >= 0, events["kind"].to_numpy(dtype=str)[np.maximum(event_idx, 0)], "")
    for kind in EVENT_KINDS:
        if kind in cfg.world.fair_vacancies_mean:
            rows = np.flatnonzero(kind_of == kind)
            extra = float(cfg.world.fair_vacancies_mean[kind]) - 1.0
            vacancies[rows] = 1 + rng.poisson(rng.gamma(1.0, extra, len(rows)) if extra > 0 else 0.0, len(rows))
    table = _job_table(cfg, employers, events, employer, occupation, skills, min_edu, age_min, age_max, has_age,
                       wage_min, wage_max, job_type, schedule, district, lat, lon, channel, event_idx, point,
                       posted_min, expires_min, vacancies)
    opens_min = fair_minutes(events, cfg)
    listing_event, listing_job = (
        fair_listings(events["kind"].to_numpy(dtype=str), opens_min, event_idx, employer, min_edu, job_type,
                      posted_min, expires_min)
        if cfg.world.fairs_follow_population or cfg.world.fair_day_boost != 1.0
        else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)))
    venue = points.set_index("point_id").loc[events["point_id"]]
    fairs = Fairs(day=opens_min // MIN_PER_DAY,
                  channel=np.array([CHANNELS.index(CHANNEL_OF_KIND[k]) for k in events["kind"]], dtype=np.int64),
                  lat=venue["lat"].to_numpy(dtype=float), lon=venue["lon"].to_numpy(dtype=float),
                  listing_event=listing_event, listing_job=listing_job,
                  listing_day=opens_min[listing_event] // MIN_PER_DAY)
    return Jobs(arrays=arrays, channel=channel, district=district, posted_min=posted_min, expires_min=expires_min,
                vacancies=vacancies, preferred_gender=pref_gender, table=table, fairs=fairs)


GRADUATE_MIN_EDUCATION = EDUCATION_LEVELS.index("associate")
"""Postings requiring at least this level are graduate postings (what graduate fairs list)."""


def fair_minutes(events: pd.DataFrame, cfg: DataConfig) -> np.ndarray:
    """Opening minute of each fair (minutes since the start of the span)."""
    return ((events["date"].to_numpy() - cfg.start_ns) // np.timedelta64(1, "m")).astype(np.int64)


def fair_listings(kind: np.ndarray, opens_min: np.ndarray, event_idx: np.ndarray, employer: np.ndarray,
                  min_education: np.ndarray, job_type: np.ndarray, posted_min: np.ndarray,
                  planned_expires_min: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What each fair lists: ``(event_row, job)`` pairs sorted by event row, then job.

    A fair's *participants* are the employers of the postings first posted at it (``event_idx``). It lists those
    postings and every other posting of its participants that is open when it opens (``posted_min <= opens <
    planned_expires_min``) and suits its kind: graduate postings (``min_education`` at least associate) at a
    graduate fair, part-time and gig postings at a gig fair, full-time postings at a key-enterprise fair. A posting can
    so be listed at several fairs, and its vacancies count at each (as in the published fair tallies).
    """
    own = np.flatnonzero(event_idx >= 0)
    n_employers, n_jobs = int(employer.max(initial=-1)) + 1, len(employer)
    pairs = np.unique(event_idx[own].astype(np.int64) * n_employers + employer[own])  # (event, employer)
    pair_event, pair_employer = np.divmod(pairs, n_employers)
    by_employer = np.argsort(employer, kind="stable")
    first = np.searchsorted(employer[by_employer], pair_employer, side="left")
    count = np.searchsorted(employer[by_employer], pair_employer, side="right") - first
    event = np.repeat(pair_event, count)
    job = by_employer[np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())]
    full_time = job_type[job] == JOB_TYPES.index("full_time")
    suits = np.select([kind[event] == "graduate_fair", kind[event] == "gig_fair"],
                      [min_education[job] >= GRADUATE_MIN_EDUCATION, ~full_time], full_time)
    opens = opens_min[event]
    keep = (suits & (posted_min[job] <= opens) & (opens < planned_expires_min[job])) | (event_idx[job] == event)
    listed = np.unique(event[keep] * n_jobs + job[keep])
    return np.divmod(listed, n_jobs)


def _job_table(cfg: DataConfig, employers: pd.DataFrame, events: pd.DataFrame, employer: np.ndarray,
               occupation: np.ndarray, skills: list[list[str]], min_edu: np.ndarray, age_min: np.ndarray,
               age_max: np.ndarray, has_age: np.ndarray, wage_min: np.ndarray, wage_max: np.ndarray,
               job_type: np.ndarray, schedule: np.ndarray, district: np.ndarray, lat: np.ndarray, lon: np.ndarray,
               channel: np.ndarray, event_idx: np.ndarray, point: np.ndarray, posted_min: np.ndarray,
               expires_min: np.ndarray, vacancies: np.ndarray) -> pd.DataFrame:
    from recsys.data.synthetic.text import job_description, job_title

    m = len(employer)
    titles = [job_title(occupation[j], job_type[j], vacancies[j]) for j in range(m)]
    key = employers["is_key_enterprise"].to_numpy()[employer]
    descriptions = [job_description(occupation[j], skills[j], int(min_edu[j]), int(age_min[j]), int(age_max[j]),
                                    float(wage_min[j]), float(wage_max[j]), int(job_type[j]), int(schedule[j]),
                                    int(vacancies[j]), bool(key[j]))
                    for j in range(m)]
    event_ids = events["event_id"].to_numpy()
    return pd.DataFrame({
        "job_id": [f"J{j + 1:07d}" for j in range(m)],
        "employer_id": employers["employer_id"].to_numpy()[employer],
        "occupation": np.asarray([o.code for o in occ.OCCUPATIONS])[occupation],
        "occupation_zh": np.asarray([o.name_zh for o in occ.OCCUPATIONS])[occupation],
        "industry": np.asarray([o.industry for o in occ.OCCUPATIONS])[occupation],
        "title": titles, "description": descriptions, "skills": skills,
        "min_education": np.asarray(EDUCATION_LEVELS)[min_edu],
        "age_min": _nullable_int(age_min, age_min > 0),
        "age_max": _nullable_int(age_max, has_age),
        "wage_min": wage_min, "wage_max": wage_max,
        "wage_unit": np.asarray(["month", "hour", "day"])[job_type],
        "job_type": np.asarray(JOB_TYPES)[job_type], "schedule": np.asarray(occ.SCHEDULES)[schedule],
        "district": np.asarray(geo.DISTRICTS)[district], "lat": lat, "lon": lon,
        "channel": np.asarray(CHANNELS)[channel],
        "event_id": np.where(event_idx >= 0, event_ids[np.maximum(event_idx, 0)], None),
        "point_id": point,
        "posted_at": cfg.start_ns + posted_min.astype("timedelta64[m]"),
        "expires_at": cfg.start_ns + expires_min.astype("timedelta64[m]"),
        "vacancies": vacancies.astype(np.int64),
    })


def make_seekers(rng: np.random.Generator, cfg: DataConfig, points: pd.DataFrame) -> Seekers:
    """Seekers: segment, demographics, home and station, skills, wishes, hidden sensitivities and tastes."""
    n = cfg.n_seekers
    seg = rng.choice(len(SEGMENTS), size=n, p=[cfg.seeker_segments[s] for s in SEGMENTS])
    g, p, o, gig = (seg == i for i in range(4))
    female = rng.random(n) < np.array([0.5, 0.48, 0.6, 0.35])[seg]
    age = np.select(
        [g, p, o & female, o & ~female],
        [rng.integers(21, 26, n), rng.integers(23, 50, n), rng.integers(40, 56, n), rng.integers(50, 61, n)],
        rng.integers(20, 56, n))
    is_4050 = (female & (age >= 40)) | (~female & (age >= 50))
    is_unemployed = rng.random(n) < np.array([0.3, 0.55, 0.7, 0.35])[seg]
    is_flexible = gig | (o & (rng.random(n) < 0.3)) | (p & (rng.random(n) < 0.1))
    edu_p = np.array([
        [0, 0, 0, 0, 0.35, 0.55, 0.10],  # graduate
        [0.02, 0.2, 0.25, 0.18, 0.2, 0.13, 0.02],  # prime
        [0.15, 0.5, 0.25, 0.08, 0.02, 0, 0],  # older 4050
        [0.05, 0.4, 0.33, 0.14, 0.08, 0, 0],  # gig
    ])
    education = _pick_by(rng, seg, edu_p + 1e-12)

    # Primary occupation: demand x segment affinity x education fit.
    affinity = np.ones((4, len(occ.OCCUPATIONS)))
    affinity[0] = np.where(occ.OCC_MIN_EDU >= 2, 1.0, 0.1)
    care = np.isin([o.industry for o in occ.OCCUPATIONS], ["domestic", "facility", "security", "healthcare"])
    affinity[2] = np.where(occ.OCC_MIN_EDU <= 1, 1.0, 0.15) * np.where(care, 2.0, 1.0)
    affinity[3] = occ.OCC_TYPES[:, 2] * 3 + occ.OCC_TYPES[:, 1] + 0.1
    n_edu = len(EDUCATION_LEVELS)
    levels = np.arange(n_edu)[:, None]
    gap = levels - occ.OCC_MIN_EDU[None, :]  # (education, occupation)
    fit = np.where(gap >= 0, 1.0, np.where(gap == -1, 0.15, 0.0)) * np.where((levels >= 4) & (occ.OCC_MIN_EDU[None, :] <= 1), 0.1, 1.0)
    table = (occ.OCC_DEMAND[None, None, :] * affinity[:, None, :] * fit[None]).reshape(4 * n_edu, -1) + 1e-12
    key = seg * n_edu + education
    primary = _pick_by(rng, key, table)
    secondary = _pick_by(rng, key, table)
    keep_p = np.where(g, 0.6, 0.75)
    first, second = occ.OCC_SKILL_SLOTS[primary], occ.OCC_SKILL_SLOTS[secondary]
    keep_first = rng.random(first.shape) < keep_p[:, None]
    keep_first[:, 0] |= ~(keep_first & (first >= 0)).any(axis=1)  # at least one skill of the primary occupation
    keep_second = rng.random(second.shape) < 0.3
    bits, skills = occ.slots_to_skills(np.concatenate([np.where(keep_first, first, -1),
                                                       np.where(keep_second, second, -1)], axis=1))
    edu_years = np.array([6, 9, 12, 12, 15, 16, 19])[education]
    experience = np.where(g, rng.uniform(0, 1, n), np.maximum(0, age - 6 - edu_years) * rng.uniform(0.3, 1.0, n))
    desired = np.zeros(n, dtype=np.int16)
    u = rng.random((n, 3))
    ft = np.select([g, p, o], [np.ones(n, bool), u[:, 0] < 0.95, u[:, 0] < 0.7], u[:, 0] < 0.3)
    pt = np.select([g, p, o], [u[:, 1] < 0.15, u[:, 1] < 0.2, u[:, 1] < 0.5], u[:, 1] < 0.6)
    gg = np.select([g, p, o], [np.zeros(n, bool), u[:, 2] < 0.1, u[:, 2] < 0.3], np.ones(n, bool))
    desired = (ft * 1 + pt * 2 + gg * 4).astype(np.int16)
    desired[desired == 0] = 1
    sched_p = np.array([
        [0.7, 0.0, 0.0, 0.2, 0.1], [0.5, 0.3, 0.0, 0.2, 0.0], [0.6, 0.2, 0.1, 0.1, 0.0], [0.3, 0.0, 0.0, 0.6, 0.1]])
    schedule = _pick_by(rng, seg, sched_p + 1e-12)
    reservation = occ.OCC_WAGE[primary].mean(axis=1) * rng.lognormal(-0.12, 0.2, n)
    max_commute = np.array([20.0, 15.0, 8.0, 8.0])[seg] * np.where(female, 0.8, 1.0) * rng.lognormal(0.0, 0.35, n)
    sens = cfg.sensitivity
    beta = cfg.utility.distance * (1 + sens.distance_4050 * is_4050 + sens.distance_female * female
                                   + sens.distance_gig * is_flexible) * rng.lognormal(0.0, sens.distance_spread, n)
    latent = rng.normal(0.0, 1.0, (n, cfg.latent_dim)) / cfg.latent_dim ** 0.25

    district = rng.choice(len(geo.DISTRICTS), size=n, p=geo.POP_WEIGHT)
    lat, lon = geo.scatter(rng, district)
    stations = points[points["kind"] == "station"]
    st_district = stations["district"].map(geo.DISTRICT_INDEX).to_numpy()
    station = np.empty(n, dtype=np.int64)
    for d in range(len(geo.DISTRICTS)):
        rows, pool = np.flatnonzero(district == d), np.flatnonzero(st_district == d)
        station[rows] = pool[_nearest(lat[rows], lon[rows], stations["lat"].to_numpy()[pool], stations["lon"].to_numpy()[pool])]

    initial = rng.random(n) < cfg.initial_seeker_share
    reg_day = np.where(initial, -rng.integers(1, 121, n), rng.choice(cfg.days, size=n, p=_day_weights(cfg.days, cfg.start_ns)))
    registered_min = reg_day * MIN_PER_DAY + rng.integers(480, 1020, n)

    arrays = SeekerArrays(bits=bits, lat=lat, lon=lon, age=age.astype(np.int16), education=education.astype(np.int16),
                          desired_types=desired, schedule=schedule.astype(np.int16), reservation=reservation,
                          max_commute=max_commute, beta=beta, latent=latent.astype(np.float32))
    table = pd.DataFrame({
        "seeker_id": [f"S{i + 1:07d}" for i in range(n)],
        "registered_at": cfg.start_ns + registered_min.astype("timedelta64[m]"),
        "age": age.astype(np.int64), "gender": np.where(female, "F", "M"),
        "education": np.asarray(EDUCATION_LEVELS)[education],
        "is_graduate": g, "is_4050": is_4050, "is_unemployed": is_unemployed, "is_flexible": is_flexible,
        "district": np.asarray(geo.DISTRICTS)[district], "lat": lat, "lon": lon,
        "station_id": stations["point_id"].to_numpy()[station],
        "skills": skills,
        "experience_years": np.round(experience, 1),
        "desired_job_types": [_TYPE_LISTS[d] for d in desired.tolist()],
        "reservation_wage": np.round(reservation, -1), "max_commute_km": np.round(max_commute, 1),
        "preferred_schedule": np.asarray(occ.SCHEDULES)[schedule],
        "segment": np.asarray(SEGMENTS)[seg],
    })
    return Seekers(arrays=arrays, segment=seg, female=female, is_4050=is_4050, is_flexible=is_flexible,
                   district=district, experience=experience, registered_min=registered_min, occupation=primary,
                   table=table)


def make_trainings(rng: np.random.Generator, cfg: DataConfig, seekers: Seekers, employers: pd.DataFrame) -> pd.DataFrame:
    """Subsidised training enrolments (person-times scaled to the preset); completed ones add a skill at ``end``."""
    n = max(1, round(TRAININGS_PER_YEAR * cfg.days / 365.0 * cfg.population_scale))
    t = seekers.table
    w = (1 + t["is_unemployed"].to_numpy() + 0.5 * t["is_4050"].to_numpy() + 0.2 * t["is_flexible"].to_numpy()
         + 0.2 * t["is_graduate"].to_numpy())
    who = rng.choice(len(t), size=n, p=w / w.sum())
    course_skill = np.array([occ.SKILL_INDEX[c[1]] for c in COURSES])
    course_bits = occ.skill_bits([np.array([k]) for k in course_skill])
    occ_bits = occ.skill_bits([occ.OCC_SKILL_IDX[k] for k in seekers.occupation[who]])
    held = seekers.arrays.bits[who]
    relevant = np.bitwise_count((occ_bits & ~held)[:, None, :] & course_bits[None]).sum(-1) > 0
    course = _pick(rng, np.where(relevant, 8.0, 1.0))
    reg_day = seekers.registered_min[who] // MIN_PER_DAY
    start_day = rng.integers(np.clip(reg_day + 1, 0, cfg.days - 1), cfg.days)
    days = np.array([c[2] for c in COURSES])[course]
    completed = rng.random(n) < cfg.market.training_completion
    order = rng.random(n) < cfg.market.order_training_share
    employer = np.where(order, employers["employer_id"].to_numpy()[rng.integers(0, len(employers), n)],
                        np.asarray(None, dtype=object))
    table = pd.DataFrame({
        "seeker_id": t["seeker_id"].to_numpy()[who], "course": np.asarray([c[0] for c in COURSES])[course],
        "skill": np.asarray(occ.SKILLS)[course_skill[course]],
        "start": cfg.start_ns + (start_day * MIN_PER_DAY + 540).astype("timedelta64[m]"),
        "end": cfg.start_ns + ((start_day + days) * MIN_PER_DAY).astype("timedelta64[m]"),
        "completed": completed, "employer_id": employer, "order_based": order,
    }).sort_values(["start", "seeker_id"], kind="stable", ignore_index=True)
    table.insert(0, "enrolment_id", [f"T{i + 1:07d}" for i in range(n)])
    return table


def _nullable_int(values: np.ndarray, present: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values`` as a nullable ``Int64`` array, missing (``<NA>``) where ``present`` is false."""
    out = pd.array(values, dtype="Int64")
    out[~np.asarray(present, dtype=bool)] = pd.NA
    return out
