"""Day-by-day simulation of the search-and-hiring funnel.

Each day: completed trainings add skills; seekers in an active search spell open a session with a
probability that is high right after they (re)enter the market; each session picks a channel (by segment)
and lists ``candidates_per_session`` active jobs of that channel, drawn with weights decaying in district
distance and posting age (online and station listings also filter on the seeker's desired job types).
Seekers open jobs by Plackett-Luce on utility (Gumbel top-v) and apply to an opened job when utility plus
logistic noise beats their outside option. Employers screen (skills, education, posted age limits, a
private gender preference, an unposted penalty on 4050 workers), interview, and hire up to their
vacancies; a filled posting closes at its last hire. Hired seekers leave for a while (gig jobs: days,
full-time: months). Everything inside a day is vectorised over sessions x listed jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from recsys.data.schema import CHANNELS, INTERACTION_EVENTS
from recsys.data.synthetic import geography as geo
from recsys.data.synthetic.config import SEGMENTS, DataConfig
from recsys.data.synthetic.population import MIN_PER_DAY, Jobs, Seekers
from recsys.data.synthetic.utility import UtilityTerms, skill_share

VIEW, APPLY, INTERVIEW, HIRE = range(4)
assert INTERACTION_EVENTS == ("view", "apply", "interview", "hire")
ONLINE, STATION = CHANNELS.index("online"), CHANNELS.index("station")
SESSION_CHUNK = 4096
"""Sessions browsed per vectorised block (bounds memory of the sessions x listed-jobs arrays)."""
GUIDE_CELLS_PER_JOB = 8
"""Cells of the inverse-CDF guide table per job in a pool (more cells: fewer binary-search fallbacks)."""


@dataclass
class Interactions:
    """Funnel rows: seeker row, job row, minutes since start (int32), stage (0..3) and channel index (int8)."""

    seeker: np.ndarray
    job: np.ndarray
    minute: np.ndarray
    stage: np.ndarray
    channel: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate(rng: np.random.Generator, cfg: DataConfig, seekers: Seekers, jobs: Jobs, training_seeker: np.ndarray,
             training_skill: np.ndarray, training_end_min: np.ndarray, progress: bool = True,
             world_rng: np.random.Generator | None = None) -> Interactions:
    """Run the funnel over ``cfg.days`` days; updates ``jobs.expires_min`` for postings filled early.

    ``cfg`` is the config in its world (:meth:`DataConfig.in_world`). ``world_rng`` draws what only a non-neutral
    world needs (posting visibility); ``rng`` makes exactly the draws of the easy world, so easy output does not
    depend on the world machinery.

    BLAS runs on one thread: the products are small (threads only spin), and the output then does not depend
    on the machine's thread count.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _simulate(rng, cfg, seekers, jobs, training_seeker, training_skill, training_end_min, progress,
                         world_rng or np.random.default_rng(0))


def _simulate(rng: np.random.Generator, cfg: DataConfig, seekers: Seekers, jobs: Jobs, training_seeker: np.ndarray,
              training_skill: np.ndarray, training_end_min: np.ndarray, progress: bool,
              world_rng: np.random.Generator) -> Interactions:
    S, J = seekers.arrays, jobs.arrays
    sp, sc, mk, world = cfg.search, cfg.screening, cfg.market, cfg.world
    n, m = len(S.age), len(J.age_max)
    # Exposure noise: a posting's fixed visibility in listings (log-normal, mean 1); None = all equally visible.
    # It weighs how often the posting is listed and, as log-visibility added to the opening score, how often a
    # listed posting is opened (placement on the page), but not the seeker's utility once it is opened.
    log_visibility = (world_rng.normal(-0.5 * world.exposure_noise ** 2, world.exposure_noise, m).astype(np.float32)
                      if world.exposure_noise > 0 else None)
    visibility = np.exp(log_visibility) if log_visibility is not None else None
    # Limited attention: an employer screens the first review_per_vacancy x vacancies applicants only.
    review_left = (jobs.vacancies.astype(np.int64) * world.review_per_vacancy if world.review_per_vacancy > 0
                   else None)
    # Attending a fair: on a fair's day its postings (posted that day) weigh fair_day_boost times more in listings.
    fair_day = (np.where(jobs.table["event_id"].notna().to_numpy(), np.floor_divide(jobs.posted_min, MIN_PER_DAY), -1)
                if world.fair_day_boost != 1.0 else None)
    bits = S.bits.copy()
    threshold = sp.apply_threshold + rng.normal(0.0, sp.apply_threshold_spread, n)
    rate = sp.session_rate * np.array([sp.segment_activity[s] for s in SEGMENTS])[seekers.segment]
    seg_channel = np.array([[sp.segment_channels[s][c] for c in CHANNELS] for s in SEGMENTS])
    channel_range = np.array([sp.channel_range_km[c] for c in CHANNELS])
    return_days = np.array([mk.full_time_return_days, mk.part_time_return_days, mk.gig_return_days])

    avail_min = np.maximum(seekers.registered_min, 0)  # may search from here on
    entered_day = seekers.registered_min // MIN_PER_DAY  # start of the current search spell (boost clock)
    spell_end_day = avail_min // MIN_PER_DAY + rng.exponential(sp.patience_days, n).astype(np.int64)
    remaining = jobs.vacancies.astype(np.int64).copy()
    last_hire = np.full(m, -1, dtype=np.int64)
    post_day = np.floor_divide(jobs.posted_min, MIN_PER_DAY)
    expires = jobs.expires_min.copy()
    applied = np.zeros(0, dtype=np.int64)  # sorted keys seeker * m + job of every application so far
    terms = UtilityTerms(S, J, cfg.utility)
    t_order = np.argsort(training_end_min, kind="stable")
    t_done = np.intp(0)
    out: list[tuple[np.ndarray, ...]] = []

    for day in tqdm(range(cfg.days), desc="simulate days", disable=not progress, leave=False):
        day_start = day * MIN_PER_DAY
        # Trainings completed by today add their skill.
        t_new = np.searchsorted(training_end_min[t_order], day_start, side="right")
        if t_new > t_done:
            k = t_order[t_done:t_new]
            sk = training_skill[k]
            np.bitwise_or.at(bits, (training_seeker[k], sk // 64), np.left_shift(np.uint64(1), (sk % 64).astype(np.uint64)))
            t_done = t_new

        active_jobs = np.flatnonzero((post_day <= day) & (expires > day_start + 1260))
        active_jobs = active_jobs[np.argsort(jobs.channel[active_jobs], kind="stable")]  # channel pools are slices
        channel_start = np.searchsorted(jobs.channel[active_jobs], np.arange(len(CHANNELS) + 1))
        searching = np.flatnonzero((avail_min < day_start + MIN_PER_DAY - 60) & (spell_end_day >= day))
        if len(active_jobs) == 0 or len(searching) == 0:
            continue
        since = day - entered_day[searching]
        p = rate[searching] * (1.0 + sp.new_seeker_boost * np.exp(-since / sp.new_seeker_decay_days))
        sess = searching[rng.random(len(searching)) < np.minimum(p, 0.95)]
        if len(sess) == 0:
            continue
        t0 = np.maximum(day_start + rng.integers(480, 1260, len(sess)), avail_min[sess] + 5)

        # Channel per session; fall back to online when the channel has nothing listed today.
        channel = np.argmax(np.log(seg_channel[seekers.segment[sess]] + 1e-12) + rng.gumbel(size=(len(sess), len(CHANNELS))), axis=1)
        has = np.diff(channel_start) > 0
        channel = np.where(has[channel], channel, ONLINE)

        # Sessions sharing a listing group (same weights over the same jobs) become contiguous.
        group = _listing_group(seekers, sess, channel)
        order = np.argsort(group, kind="stable")
        sess, t0, channel, group = sess[order], t0[order], channel[order], group[order]
        boost = (visibility[active_jobs] if visibility is not None else None)
        if fair_day is not None:
            today = np.where(fair_day[active_jobs] == day, world.fair_day_boost, 1.0)
            boost = today if boost is None else boost * today
        local = _sample_candidates(rng, cfg, day, group, jobs, active_jobs, channel_start, post_day, channel_range,
                                   sp.candidates_per_session, boost)
        parts = [_browse(rng, cfg, sess[c:c + SESSION_CHUNK], t0[c:c + SESSION_CHUNK], channel[c:c + SESSION_CHUNK],
                         local[c:c + SESSION_CHUNK], active_jobs, channel_start, bits, terms, log_visibility)
                 for c in range(0, len(sess), SESSION_CHUNK)]
        v_seeker, v_job, v_min, v_util, v_channel = (np.concatenate(x) for x in zip(*parts, strict=True))
        out.append((v_seeker, v_job, v_min, np.full(len(v_job), VIEW, np.int8), v_channel))

        # Applications: logit against the seeker's outside option, once per (seeker, job).
        surplus = v_util - threshold[v_seeker]
        go = rng.random(len(v_job)) < _sigmoid(surplus if world.apply_noise == 1.0 else surplus / world.apply_noise)
        a_idx = np.flatnonzero(go)
        keys = v_seeker[a_idx].astype(np.int64) * m + v_job[a_idx]
        keys, first = np.unique(keys, return_index=True)
        a_idx = a_idx[first]
        pos = np.searchsorted(applied, keys)
        fresh = applied[np.minimum(pos, len(applied) - 1)] != keys if len(applied) else np.ones(len(keys), bool)
        a_idx, pos = a_idx[fresh], pos[fresh]
        applied = np.insert(applied, pos, keys[fresh])  # stays sorted: positions come from searchsorted
        if len(a_idx) == 0:
            continue
        a_seeker, a_job, a_channel = v_seeker[a_idx], v_job[a_idx], v_channel[a_idx]
        a_min = v_min[a_idx] + rng.integers(1, 15, len(a_idx))
        out.append((a_seeker, a_job, a_min, np.full(len(a_idx), APPLY, np.int8), a_channel))

        # Screening -> interview -> hire.
        share = skill_share(bits[a_seeker], J.bits[a_job])
        age = S.age[a_seeker]
        outside_age = (age < J.age_min[a_job]) | (age > J.age_max[a_job])
        edu_gap = np.maximum(J.min_education[a_job] - S.education[a_seeker], 0)
        pref = jobs.preferred_gender[a_job]
        wrong_gender = (pref >= 0) & (pref != (~seekers.female[a_seeker]).astype(np.int64))
        screen = (sc.base + sc.skill * share - sc.education * edu_gap - sc.age_limit * outside_age
                  - sc.gender * wrong_gender - sc.worker_4050 * seekers.is_4050[a_seeker])
        interview = rng.random(len(a_idx)) < _sigmoid(screen)
        if review_left is not None:
            interview &= _reviewed(a_job, a_min, review_left)
        delay = (rng.exponential(mk.decision_delay_days, len(a_idx)) * MIN_PER_DAY).astype(np.int64) + 60
        i_min = np.minimum(a_min + delay, expires[a_job] - 2)
        interview &= i_min > a_min
        i_idx = np.flatnonzero(interview)
        out.append((a_seeker[i_idx], a_job[i_idx], i_min[i_idx], np.full(len(i_idx), INTERVIEW, np.int8), a_channel[i_idx]))
        hire_score = sc.hire_base + sc.hire_skill * share[i_idx] + sc.hire_experience * seekers.experience[a_seeker[i_idx]] / 10
        h_idx = i_idx[rng.random(len(i_idx)) < _sigmoid(hire_score)]
        delay = (rng.exponential(mk.decision_delay_days, len(h_idx)) * MIN_PER_DAY).astype(np.int64) + 60
        h_min = np.minimum(i_min[h_idx] + delay, expires[a_job[h_idx]] - 1)
        ok = h_min > i_min[h_idx]
        h_idx, h_min = h_idx[ok], h_min[ok]
        # One offer per seeker per day, then vacancies in order of hire time.
        perm = rng.permutation(len(h_idx))
        _, first = np.unique(a_seeker[h_idx[perm]], return_index=True)
        keep = perm[first]
        h_idx, h_min = h_idx[keep], h_min[keep]
        h_job = a_job[h_idx]
        by = np.lexsort((h_min, h_job))
        h_idx, h_min, h_job = h_idx[by], h_min[by], h_job[by]
        starts = np.r_[0, np.flatnonzero(np.diff(h_job)) + 1]
        rank = np.arange(len(h_job)) - np.repeat(starts, np.diff(np.r_[starts, len(h_job)]))
        accept = rank < remaining[h_job]
        h_idx, h_min, h_job = h_idx[accept], h_min[accept], h_job[accept]
        np.subtract.at(remaining, h_job, 1)
        np.maximum.at(last_hire, h_job, h_min)
        filled = np.unique(h_job[remaining[h_job] <= 0])
        expires[filled] = np.minimum(expires[filled], last_hire[filled] + 1)
        h_seeker = a_seeker[h_idx]
        out.append((h_seeker, h_job, h_min, np.full(len(h_idx), HIRE, np.int8), a_channel[h_idx]))
        away = rng.exponential(return_days[J.job_type[h_job]]) * MIN_PER_DAY
        avail_min[h_seeker] = h_min + away.astype(np.int64)
        entered_day[h_seeker] = avail_min[h_seeker] // MIN_PER_DAY
        spell_end_day[h_seeker] = avail_min[h_seeker] // MIN_PER_DAY + rng.exponential(sp.patience_days, len(h_seeker)).astype(np.int64)

    jobs.expires_min = expires
    dtypes = (np.int32, np.int32, np.int32, np.int8, np.int8)
    seeker, job, minute, stage, channel = (
        np.concatenate([part[i] for part in out]).astype(dt, copy=False) if out else np.zeros(0, dt)
        for i, dt in enumerate(dtypes))
    del out
    # A posting filled early closes at its last hire: drop what would happen after (later stages go with it).
    ok = (minute < expires[job]) & (minute >= jobs.posted_min[job]) & (minute < cfg.days * MIN_PER_DAY)
    return Interactions(seeker=seeker[ok], job=job[ok], minute=minute[ok], stage=stage[ok], channel=channel[ok])


def _browse(rng: np.random.Generator, cfg: DataConfig, sess: np.ndarray, t0: np.ndarray, channel: np.ndarray,
            local: np.ndarray, active: np.ndarray, channel_start: np.ndarray, bits: np.ndarray,
            terms: UtilityTerms, log_visibility: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """One chunk of sessions listing jobs ``active[local]`` (-1 = empty slot): utilities, then Gumbel top-v opens.

    ``active`` is sorted by channel (pool of channel c = ``active[channel_start[c]:channel_start[c + 1]]``) and
    the chunk's sessions by channel, so the latent term is one dense product per channel pool.

    Returns the views as (seeker, job, minute, utility, channel) arrays.
    """
    sp = cfg.search
    valid = local >= 0
    width = int(valid.sum(axis=1).max())  # rows are left-packed: columns past this are empty in this chunk
    valid, local = valid[:, :width], np.maximum(local[:, :width], 0)
    ci = active[local]
    si = sess[:, None]
    util = terms.observable(si, ci, bits[si])
    bounds = np.searchsorted(channel, np.arange(len(CHANNELS) + 1))
    for ch in np.flatnonzero(np.diff(bounds)).tolist():
        rows = slice(bounds[ch], bounds[ch + 1])
        start, end = channel_start[ch], channel_start[ch + 1]
        within = np.where(valid[rows], local[rows] - start, 0)
        util[rows] += terms.latent_in_pool(sess[rows], active[start:end], within)
    n_views = np.minimum(1 + rng.poisson(max(sp.views_per_session - 1.0, 0.0), len(sess)), valid.sum(axis=1))
    exponential = rng.standard_exponential(size=util.shape, dtype=np.float32)
    gumbel = np.log(np.maximum(exponential, np.finfo(np.float32).tiny, out=exponential), out=exponential)
    if cfg.world.choice_noise != 1.0:
        gumbel *= np.float32(cfg.world.choice_noise)
    score = np.where(valid, gumbel - util, np.inf)  # minus (utility + standard Gumbel): smallest opens first
    if log_visibility is not None:
        score -= log_visibility[ci]
    vmax = int(n_views.max())
    top = np.argpartition(score, vmax - 1, axis=1)[:, :vmax] if vmax < score.shape[1] else np.argsort(score, axis=1)
    top = np.take_along_axis(top, np.argsort(np.take_along_axis(score, top, axis=1), axis=1), axis=1)
    r, c = np.nonzero(np.arange(vmax)[None, :] < n_views[:, None])
    col = top[r, c]
    minute = t0[r] + c * rng.integers(1, 4, len(r)) + c
    return sess[r], ci[r, col], minute, util[r, col], channel[r]


def _reviewed(a_job: np.ndarray, a_min: np.ndarray, review_left: np.ndarray) -> np.ndarray:
    """Which of today's applications the employer screens: the earliest ones while attention lasts.

    ``review_left`` (per job, updated in place) is how many more applicants each employer will screen.
    """
    order = np.lexsort((a_min, a_job))
    job_sorted = a_job[order]
    starts = np.r_[0, np.flatnonzero(np.diff(job_sorted)) + 1] if len(job_sorted) else np.zeros(0, np.intp)
    rank = np.arange(len(job_sorted)) - np.repeat(starts, np.diff(np.r_[starts, len(job_sorted)]))
    keep_sorted = rank < review_left[job_sorted]
    keep = np.empty(len(a_job), dtype=bool)
    keep[order] = keep_sorted
    np.subtract.at(review_left, job_sorted[keep_sorted], 1)
    return keep


def _inverse_cdf(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``searchsorted(cum, u * cum[-1], side="right")`` for uniforms ``u`` in [0, 1), via a guide table.

    The table holds the answer at the start of each of ``GUIDE_CELLS_PER_JOB * len(cum)`` equal cells; a draw
    whose cell contains no step of the CDF takes that answer, the few others fall back to binary search.
    Few draws from a long CDF go straight to binary search (the table would cost more than it saves).
    """
    cells = GUIDE_CELLS_PER_JOB * len(cum)
    if u.size < cells:
        return np.minimum(np.searchsorted(cum, u * cum[-1], side="right"), len(cum) - 1)
    edges = np.searchsorted(cum, np.arange(cells + 1) * (cum[-1] / cells), side="right")
    cell = (u * cells).astype(np.intp)
    out = edges[cell]
    ambiguous = edges[cell + 1] != out
    out[ambiguous] = np.searchsorted(cum, u[ambiguous] * cum[-1], side="right")
    return np.minimum(out, len(cum) - 1)


def _listing_group(seekers: Seekers, sess: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Listing group of each session: (channel, home district[, desired job types for online/station])."""
    desired = seekers.arrays.desired_types[sess].astype(np.int64)
    type_key = np.where(np.isin(channel, [ONLINE, STATION]), desired, 0)
    return (channel * len(geo.DISTRICTS) + seekers.district[sess]) * 8 + type_key


def _sample_candidates(rng: np.random.Generator, cfg: DataConfig, day: int, group: np.ndarray, jobs: Jobs,
                       active: np.ndarray, channel_start: np.ndarray, post_day: np.ndarray, channel_range: np.ndarray,
                       k: int, listing_weight: np.ndarray | None = None) -> np.ndarray:
    """(sessions, width) distinct listings of each session as indices into ``active``, padded with -1.

    ``group`` (sorted) is each session's :func:`_listing_group`; sessions of a group share the weights over the
    group's channel pool ``active[channel_start[c]:channel_start[c + 1]]`` (``active`` is sorted by channel). Each session draws ``k`` listings with replacement; duplicates are dropped and rows
    left-packed, so ``width`` (<= k) is the largest number of distinct listings of any session.
    """
    sp = cfg.search
    recency = np.exp(-(day - np.maximum(post_day[active], day - 365)) / sp.recency_days)
    local = np.empty((len(group), k), dtype=np.int32)
    groups, starts = np.unique(group, return_index=True)
    for g, a, b in zip(groups.tolist(), starts.tolist(), [*starts[1:].tolist(), len(group)], strict=True):
        ch, d, tk = g // (8 * len(geo.DISTRICTS)), (g // 8) % len(geo.DISTRICTS), g % 8
        start, end = channel_start[ch], channel_start[ch + 1]
        pool = active[start:end]
        wgt = recency[start:end] * np.exp(-geo.DISTRICT_DISTANCE_KM[d, jobs.district[pool]] / channel_range[ch])
        if listing_weight is not None:  # aligned with ``active``: visibility x fair-day boost
            wgt = wgt * listing_weight[start:end]
        if tk:
            wgt *= np.where((tk >> jobs.arrays.job_type[pool]) & 1, 1.0, 0.25)
        local[a:b] = start + _inverse_cdf(np.cumsum(wgt), rng.random((b - a, k)))
    # Drop duplicates and left-pack: mark them past every index, sort them to the end, cut the empty columns.
    local.sort(axis=1)
    dup = np.zeros_like(local, dtype=bool)
    dup[:, 1:] = local[:, 1:] == local[:, :-1]
    local[dup] = np.iinfo(np.int32).max
    local.sort(axis=1)
    local = local[:, :k - int(dup.sum(axis=1).min())]
    local[local == np.iinfo(np.int32).max] = -1
    return local
