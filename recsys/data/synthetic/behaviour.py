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

The day is a sequence of step functions over one :class:`Market` (what does not change) and one
:class:`MarketState` (what the funnel changes): :func:`complete_trainings`, :func:`active_pool`,
:func:`open_sessions`, :func:`organic_listings`, :func:`browse`, :func:`apply_to_views` and
:func:`screen_and_hire`. The generator's day loop (:func:`simulate`) and the closed-loop market of
:mod:`recsys.simulation` are their two callers: the simulator replaces the listing of some sessions (the
recommendation channel) and draws its noise from per-seeker streams (:class:`Draws`), nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

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
    """Funnel rows: seeker row, job row, minutes since start (int32), stage (0..3) and channel index (int8); and
    fair attendance: event row, seeker row and arrival minute of each attendee."""

    seeker: np.ndarray
    job: np.ndarray
    minute: np.ndarray
    stage: np.ndarray
    channel: np.ndarray
    attended_event: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    attended_seeker: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    attended_minute: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------------------- randomness
class Draws(Protocol):
    """Where the day steps take their randomness: one draw per row (or ``cols`` per row) of ``keys`` (seeker rows).

    ``stream`` names the purpose of a draw (``"session"``, ``"open"``, ...). :class:`GeneratorDraws` (the
    generator) ignores keys and stream and draws from one sequential generator; the simulator's
    :class:`recsys.simulation.streams.SeekerStreams` makes each row's draw a function of (seed, day, stream,
    seeker, occurrence) only, so two policies see the same noise (common random numbers).
    """

    def uniform(self, stream: str, keys: np.ndarray, cols: int | None = None) -> np.ndarray: ...

    def integers(self, stream: str, keys: np.ndarray, low: int, high: int) -> np.ndarray: ...

    def gumbel(self, stream: str, keys: np.ndarray, cols: int) -> np.ndarray: ...

    def exponential(self, stream: str, keys: np.ndarray, scale: float | np.ndarray) -> np.ndarray: ...

    def poisson(self, stream: str, keys: np.ndarray, lam: float) -> np.ndarray: ...

    def standard_exponential32(self, stream: str, keys: np.ndarray, cols: int) -> np.ndarray: ...

    def permutation(self, stream: str, keys: np.ndarray) -> np.ndarray: ...


class GeneratorDraws:
    """:class:`Draws` from one ``numpy`` generator, in call order (the generator's own draws, exactly)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def uniform(self, stream: str, keys: np.ndarray, cols: int | None = None) -> np.ndarray:
        return self.rng.random(len(keys) if cols is None else (len(keys), cols))

    def integers(self, stream: str, keys: np.ndarray, low: int, high: int) -> np.ndarray:
        return self.rng.integers(low, high, len(keys))

    def gumbel(self, stream: str, keys: np.ndarray, cols: int) -> np.ndarray:
        return self.rng.gumbel(size=(len(keys), cols))

    def exponential(self, stream: str, keys: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
        return self.rng.exponential(scale, len(keys)) if np.ndim(scale) == 0 else self.rng.exponential(scale)

    def poisson(self, stream: str, keys: np.ndarray, lam: float) -> np.ndarray:
        return self.rng.poisson(lam, len(keys))

    def standard_exponential32(self, stream: str, keys: np.ndarray, cols: int) -> np.ndarray:
        return self.rng.standard_exponential(size=(len(keys), cols), dtype=np.float32)

    def permutation(self, stream: str, keys: np.ndarray) -> np.ndarray:
        return self.rng.permutation(len(keys))


# ---------------------------------------------------------------------------------------------- market
@dataclass
class Market:
    """What the funnel reads and never changes: config, population, prepared utility terms and rates."""

    cfg: DataConfig
    seekers: Seekers
    jobs: Jobs
    terms: UtilityTerms
    rate: np.ndarray  # base session probability per seeker
    seg_channel: np.ndarray  # (segments, channels) channel shares
    channel_range: np.ndarray
    return_days: np.ndarray
    post_day: np.ndarray
    log_visibility: np.ndarray | None  # exposure noise per job (None: all equally visible)
    visibility: np.ndarray | None
    fair_listed: np.ndarray | None  # sorted keys fair day x n_jobs + job of fair listings; None: fairs do not boost
    results_per_search: int  # postings one search returns (0: the whole channel pool)
    search_key: np.ndarray | None  # per seeker, in [0, 1): where its searches fall (None: no bounded search)
    posting_key: np.ndarray | None  # per job, in [0, 1): which searches return it
    training_seeker: np.ndarray
    training_skill: np.ndarray
    training_end_min: np.ndarray
    training_order: np.ndarray


@dataclass
class MarketState:
    """What the funnel changes day by day (all arrays; :meth:`copy` makes an independent state)."""

    bits: np.ndarray  # seekers' skills including completed trainings
    threshold: np.ndarray  # outside option per seeker
    avail_min: np.ndarray  # may search from this minute on
    entered_day: np.ndarray  # start of the current search spell (boost clock)
    spell_end_day: np.ndarray
    remaining: np.ndarray  # vacancies left per job
    last_hire: np.ndarray
    expires: np.ndarray  # closing minute per job (a filled posting closes at its last hire)
    applied: np.ndarray  # sorted keys seeker * n_jobs + job of every application so far
    review_left: np.ndarray | None  # applicants each employer will still screen (None: no limit)
    trainings_done: int
    attendance: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    """Fair attendance so far, one part per fair day: (event rows, seeker rows, minutes)."""

    def copy(self) -> MarketState:
        return MarketState(
            bits=self.bits.copy(), threshold=self.threshold.copy(), avail_min=self.avail_min.copy(),
            entered_day=self.entered_day.copy(), spell_end_day=self.spell_end_day.copy(),
            remaining=self.remaining.copy(), last_hire=self.last_hire.copy(), expires=self.expires.copy(),
            applied=self.applied.copy(), review_left=None if self.review_left is None else self.review_left.copy(),
            trainings_done=self.trainings_done, attendance=list(self.attendance))


@dataclass
class Pool:
    """Jobs active on a day, sorted by channel: channel c lists ``active[channel_start[c]:channel_start[c + 1]]``."""

    active: np.ndarray
    channel_start: np.ndarray


@dataclass
class Sessions:
    """Sessions of a day: seeker row, start minute, channel index and, for a seeker at a fair, the fair."""

    seeker: np.ndarray
    t0: np.ndarray
    channel: np.ndarray
    fair: np.ndarray | None = None  # event row of the fair the session is at (-1: none); None: no one at a fair

    def take(self, rows: np.ndarray) -> Sessions:
        return Sessions(self.seeker[rows], self.t0[rows], self.channel[rows],
                        None if self.fair is None else self.fair[rows])


@dataclass
class Views:
    """Opened postings: seeker, job, minute, true utility at the time, channel."""

    seeker: np.ndarray
    job: np.ndarray
    minute: np.ndarray
    util: np.ndarray
    channel: np.ndarray


@dataclass
class Applications:
    """Applications of a day (a subset of the views): seeker, job, minute, channel, utility, view row."""

    seeker: np.ndarray
    job: np.ndarray
    minute: np.ndarray
    channel: np.ndarray
    util: np.ndarray
    view_row: np.ndarray


@dataclass
class Outcomes:
    """Interviews and hires of a day's applications, as row indices into the :class:`Applications`."""

    interview_row: np.ndarray
    interview_min: np.ndarray
    hire_row: np.ndarray
    hire_min: np.ndarray


def prepare_market(rng: np.random.Generator, cfg: DataConfig, seekers: Seekers, jobs: Jobs,
                   training_seeker: np.ndarray, training_skill: np.ndarray, training_end_min: np.ndarray,
                   world_rng: np.random.Generator) -> tuple[Market, MarketState]:
    """The fixed market and its state before day 0 (draws posting visibility, outside options, patience)."""
    S, J = seekers.arrays, jobs.arrays
    sp, mk, world = cfg.search, cfg.market, cfg.world
    n, m = len(S.age), len(J.age_max)
    # Exposure noise: a posting's fixed visibility in listings (log-normal, mean 1); None = all equally visible.
    # It weighs how often the posting is listed and, as log-visibility added to the opening score, how often a
    # listed posting is opened (placement on the page), but not the seeker's utility once it is opened.
    log_visibility = (world_rng.normal(-0.5 * world.exposure_noise ** 2, world.exposure_noise, m).astype(np.float32)
                      if world.exposure_noise > 0 else None)
    visibility = np.exp(log_visibility) if log_visibility is not None else None
    # Bounded search: drawn after visibility (and only when used), so the worlds without it draw exactly as before.
    search_key, posting_key = ((world_rng.random(n), world_rng.random(m)) if world.results_per_search > 0
                               else (None, None))
    # Limited attention: an employer screens the first review_per_vacancy x vacancies applicants only.
    review_left = (jobs.vacancies.astype(np.int64) * world.review_per_vacancy if world.review_per_vacancy > 0
                   else None)
    # Attending a fair: for a seeker at a fair, the postings listed at that day's fairs weigh fair_day_boost times more.
    fair_listed = (np.unique(jobs.fairs.listing_day * m + jobs.fairs.listing_job) if world.fair_day_boost != 1.0
                   else None)
    bits = S.bits.copy()
    threshold = sp.apply_threshold + rng.normal(0.0, sp.apply_threshold_spread, n)
    rate = sp.session_rate * np.array([sp.segment_activity[s] for s in SEGMENTS])[seekers.segment]
    seg_channel = np.array([[sp.segment_channels[s][c] for c in CHANNELS] for s in SEGMENTS])
    channel_range = np.array([sp.channel_range_km[c] for c in CHANNELS])
    return_days = np.array([mk.full_time_return_days, mk.part_time_return_days, mk.gig_return_days])

    avail_min = np.maximum(seekers.registered_min, 0)
    entered_day = seekers.registered_min // MIN_PER_DAY
    spell_end_day = avail_min // MIN_PER_DAY + rng.exponential(sp.patience_days, n).astype(np.int64)
    market = Market(cfg=cfg, seekers=seekers, jobs=jobs, terms=UtilityTerms(S, J, cfg.utility), rate=rate,
                    seg_channel=seg_channel, channel_range=channel_range, return_days=return_days,
                    post_day=np.floor_divide(jobs.posted_min, MIN_PER_DAY), log_visibility=log_visibility,
                    visibility=visibility, fair_listed=fair_listed, results_per_search=world.results_per_search,
                    search_key=search_key, posting_key=posting_key, training_seeker=training_seeker,
                    training_skill=training_skill, training_end_min=training_end_min,
                    training_order=np.argsort(training_end_min, kind="stable"))
    state = MarketState(bits=bits, threshold=threshold, avail_min=avail_min, entered_day=entered_day,
                        spell_end_day=spell_end_day, remaining=jobs.vacancies.astype(np.int64).copy(),
                        last_hire=np.full(m, -1, dtype=np.int64), expires=jobs.expires_min.copy(),
                        applied=np.zeros(0, dtype=np.int64), review_left=review_left, trainings_done=0)
    return market, state


# ---------------------------------------------------------------------------------------------- day steps
def complete_trainings(market: Market, state: MarketState, day: int) -> None:
    """Trainings completed by the start of ``day`` add their skill to ``state.bits``."""
    order, end_min = market.training_order, market.training_end_min
    t_new = int(np.searchsorted(end_min[order], day * MIN_PER_DAY, side="right"))
    if t_new > state.trainings_done:
        k = order[state.trainings_done:t_new]
        _add_skills(state.bits, market.training_seeker[k], market.training_skill[k])
        state.trainings_done = t_new


def _add_skills(bits: np.ndarray, rows: np.ndarray, skills: np.ndarray) -> None:
    """Set skill bit ``skills[i]`` of ``bits[rows[i]]`` (in place; rows may repeat)."""
    np.bitwise_or.at(bits, (rows, skills // 64), np.left_shift(np.uint64(1), (skills % 64).astype(np.uint64)))


def skills_at(market: Market, seekers: np.ndarray, day: int) -> np.ndarray:
    """Skill bitmasks ``(len(seekers), W)`` at the start of ``day``: what :func:`complete_trainings` has made
    ``state.bits`` by then (base skills plus every training completed at or before the day's first minute)."""
    unique, inverse = np.unique(np.asarray(seekers, dtype=np.int64), return_inverse=True)
    bits = market.seekers.arrays.bits[unique].copy()
    done = np.flatnonzero((market.training_end_min <= day * MIN_PER_DAY) & np.isin(market.training_seeker, unique))
    _add_skills(bits, np.searchsorted(unique, market.training_seeker[done]), market.training_skill[done])
    return bits[inverse]


def active_pool(market: Market, state: MarketState, day: int) -> Pool:
    """Postings open on ``day`` (posted by then, closing after 21:00), grouped by channel."""
    jobs = market.jobs
    active = np.flatnonzero((market.post_day <= day) & (state.expires > day * MIN_PER_DAY + 1260))
    active = active[np.argsort(jobs.channel[active], kind="stable")]  # channel pools are slices
    return Pool(active, np.searchsorted(jobs.channel[active], np.arange(len(CHANNELS) + 1)))


def searching_seekers(market: Market, state: MarketState, day: int) -> np.ndarray:
    """Seekers in an active search spell on ``day``."""
    day_start = day * MIN_PER_DAY
    return np.flatnonzero((state.avail_min < day_start + MIN_PER_DAY - 60) & (state.spell_end_day >= day))


def open_sessions(draws: Draws, market: Market, state: MarketState, day: int, pool: Pool,
                  searching: np.ndarray) -> Sessions:
    """Who of ``searching`` opens a session today, when, and in which channel (online if the channel is empty).

    On a fair's day some searching seekers go to it instead (:func:`fair_attendees`): their session is at the
    fair, in its channel, from its opening, and is recorded in ``state.attendance``.
    """
    sp = market.cfg.search
    since = day - state.entered_day[searching]
    p = market.rate[searching] * (1.0 + sp.new_seeker_boost * np.exp(-since / sp.new_seeker_decay_days))
    sess = searching[draws.uniform("session", searching) < np.minimum(p, 0.95)]
    has = np.diff(pool.channel_start) > 0
    if len(sess) == 0:
        sessions = Sessions(sess, np.zeros(0, np.int64), np.zeros(0, np.int64))
    else:
        t0 = np.maximum(day * MIN_PER_DAY + draws.integers("session_time", sess, 480, 1260), state.avail_min[sess] + 5)
        seg = market.seekers.segment[sess]
        channel = np.argmax(np.log(market.seg_channel[seg] + 1e-12) + draws.gumbel("channel", sess, len(CHANNELS)),
                            axis=1)
        sessions = Sessions(sess, t0, np.where(has[channel], channel, ONLINE))
    if market.cfg.world.fair_attendance <= 0 or not (market.jobs.fairs.day == day).any():
        return sessions
    who, fair = fair_attendees(draws, market, day, searching)
    if len(who) == 0:
        return sessions
    fairs = market.jobs.fairs
    opens = day * MIN_PER_DAY + FAIR_OPENS_MIN
    t0 = np.maximum(opens + draws.integers("fair_time", who, 0, FAIR_HOURS * 60), state.avail_min[who] + 5)
    channel = np.where(has[fairs.channel[fair]], fairs.channel[fair], ONLINE)
    state.attendance.append((fair, who, t0))
    stay = sessions.take(np.flatnonzero(~np.isin(sessions.seeker, who)))  # one session a day: the fair's
    return Sessions(np.concatenate([stay.seeker, who]), np.concatenate([stay.t0, t0]),
                    np.concatenate([stay.channel, channel]),
                    np.concatenate([np.full(len(stay.seeker), -1, np.int64), fair]))


FAIR_OPENS_MIN = 540
"""Fairs open at 9:00 (minutes after midnight of their day)."""
FAIR_HOURS = 4
"""Attendees arrive within this many hours of the opening."""


def fair_attendees(draws: Draws, market: Market, day: int, searching: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seekers of ``searching`` who attend one of the fairs held on ``day``: ``(seeker rows, event rows)``.

    A fair draws from its target group (searching seekers whose segment uses its channel), nearest to its venue
    first: the seeker of distance rank ``r`` (0 = nearest) attends with probability ``world.fair_attendance x
    exp(-r / world.fair_reach)``. The reach is a number of seekers, not of km: a fair of a preset with a fraction
    of the city's population stands for that many more of the city's fairs (their number follows the
    population), so what it draws must not depend on the preset's density. Of several fairs the same day a
    seeker considers the one it is likeliest to attend.
    """
    fairs, seekers, world = market.jobs.fairs, market.seekers, market.cfg.world
    segment = seekers.segment[searching]
    lat, lon = seekers.arrays.lat[searching], seekers.arrays.lon[searching]
    best, fair = np.zeros(len(searching)), np.full(len(searching), -1, np.int64)
    for e in np.flatnonzero(fairs.day == day):
        target = np.flatnonzero(market.seg_channel[segment, fairs.channel[e]] > 0)
        rank = np.empty(len(target))
        rank[np.argsort(geo.distance_km(lat[target], lon[target], fairs.lat[e], fairs.lon[e]), kind="stable")] = (
            np.arange(len(target)))
        p = world.fair_attendance * np.exp(-rank / world.fair_reach)
        likelier = p > best[target]
        best[target[likelier]], fair[target[likelier]] = p[likelier], e
    go = draws.uniform("fair", searching) < best
    return searching[go], fair[go]


def channel_probabilities(market: Market, segment: np.ndarray, pool: Pool) -> np.ndarray:
    """``(len(segment), channels)``: the distribution of :func:`open_sessions`' channel for seekers of these
    segments (Gumbel-max over ``log(share + 1e-12)``; a channel with an empty pool sends its sessions online)."""
    share = market.seg_channel[segment] + 1e-12
    share = share / share.sum(axis=1, keepdims=True)
    has = np.diff(pool.channel_start) > 0
    out = np.where(has[None, :], share, 0.0)
    out[:, ONLINE] += share[:, ~has].sum(axis=1)
    return out


def listing_boost(market: Market, day: int, active: np.ndarray, at_fair: bool = False) -> np.ndarray | None:
    """Listing-weight multiplier of postings ``active`` on ``day``: visibility, x the fair-day boost of the
    postings listed at the day's fairs for a session ``at_fair`` (``None``: all 1)."""
    boost = market.visibility[active] if market.visibility is not None else None
    if at_fair and market.fair_listed is not None:
        listed = sorted_position(market.fair_listed, day * len(market.jobs.vacancies) + active.astype(np.int64)) >= 0
        today = np.where(listed, market.cfg.world.fair_day_boost, 1.0)
        boost = today if boost is None else boost * today
    return boost


def sorted_position(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Position of each of ``keys`` in the sorted array ``sorted_keys`` (-1 where it is not there)."""
    if len(sorted_keys) == 0:
        return np.full(len(keys), -1, np.int64)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[at] == keys, at, -1)


def organic_listings(draws: Draws, market: Market, day: int, pool: Pool, sessions: Sessions
                     ) -> tuple[Sessions, np.ndarray]:
    """The channel's own listing of each session: sessions reordered by listing group (by channel, then those at a
    fair after the others), and (sessions, width) indices into ``pool.active`` (-1 = empty slot)."""
    at_fair = sessions.fair >= 0 if sessions.fair is not None else np.zeros(len(sessions.seeker), bool)
    parts = [_listings(draws, market, day, pool, sessions.take(np.flatnonzero(at_fair == flag)), flag)
             for flag in (False, True) if (at_fair == flag).any()]
    if len(parts) == 1:
        return parts[0]
    width = max(p[1].shape[1] for p in parts)
    both = Sessions(*(np.concatenate([getattr(p[0], f) for p in parts]) for f in ("seeker", "t0", "channel", "fair")))
    local = np.concatenate([np.pad(p[1], ((0, 0), (0, width - p[1].shape[1])), constant_values=-1) for p in parts])
    order = np.argsort(both.channel, kind="stable")  # :func:`browse` takes sessions sorted by channel
    return both.take(order), local[order]


def _listings(draws: Draws, market: Market, day: int, pool: Pool, sessions: Sessions, at_fair: bool
              ) -> tuple[Sessions, np.ndarray]:
    cfg = market.cfg
    group = _listing_group(market.seekers, sessions.seeker, sessions.channel)
    order = np.argsort(group, kind="stable")  # sessions sharing a listing group become contiguous
    sessions, group = sessions.take(order), group[order]
    boost = listing_boost(market, day, pool.active, at_fair)
    local = _sample_candidates(draws, cfg, day, group, market.jobs, pool.active, pool.channel_start, market.post_day,
                               market.channel_range, cfg.search.candidates_per_session, boost, sess=sessions.seeker,
                               results_per_search=market.results_per_search,
                               search_key=market.search_key, posting_key=market.posting_key)
    return sessions, local


def browse(draws: Draws, market: Market, state: MarketState, pool: Pool, sessions: Sessions, local: np.ndarray,
           whole_pool: bool = False) -> Views:
    """Sessions open postings ``pool.active[local]`` (Plackett-Luce on utility), in blocks of ``SESSION_CHUNK``.

    ``whole_pool``: ``local`` indexes all of ``pool.active`` (a recommendation list) rather than the session's
    channel pool (sessions sorted by channel).
    """
    parts = [_browse(draws, market.cfg, sessions.seeker[c:c + SESSION_CHUNK], sessions.t0[c:c + SESSION_CHUNK],
                     sessions.channel[c:c + SESSION_CHUNK], local[c:c + SESSION_CHUNK], pool.active,
                     pool.channel_start, state.bits, market.terms, market.log_visibility, whole_pool)
             for c in range(0, len(sessions.seeker), SESSION_CHUNK)]
    if not parts:
        empty = np.zeros(0, np.int64)
        return Views(empty, empty, empty, np.zeros(0, np.float32), empty)
    return Views(*(np.concatenate(x) for x in zip(*parts, strict=True)))


def apply_probability(market: Market, surplus: np.ndarray) -> np.ndarray:
    """Probability that a seeker applies to an opened posting, given utility minus their outside option:
    logistic noise of scale ``world.apply_noise`` on the surplus."""
    noise = market.cfg.world.apply_noise
    return _sigmoid(surplus if noise == 1.0 else surplus / noise)


def apply_to_views(draws: Draws, market: Market, state: MarketState, views: Views) -> Applications:
    """Applications: logit of utility against the seeker's outside option, once per (seeker, job) ever.

    Adds the new applications to ``state.applied``.
    """
    m = len(state.remaining)
    go = draws.uniform("apply", views.seeker) < apply_probability(market, views.util - state.threshold[views.seeker])
    a_idx = np.flatnonzero(go)
    keys = views.seeker[a_idx].astype(np.int64) * m + views.job[a_idx]
    keys, first = np.unique(keys, return_index=True)
    a_idx = a_idx[first]
    applied = state.applied
    pos = np.searchsorted(applied, keys)
    fresh = applied[np.minimum(pos, len(applied) - 1)] != keys if len(applied) else np.ones(len(keys), bool)
    a_idx, pos = a_idx[fresh], pos[fresh]
    state.applied = np.insert(applied, pos, keys[fresh])  # stays sorted: positions come from searchsorted
    a_seeker = views.seeker[a_idx]
    minute = views.minute[a_idx] + (draws.integers("apply_time", a_seeker, 1, 15) if len(a_idx) else 0)
    return Applications(a_seeker, views.job[a_idx], minute, views.channel[a_idx], views.util[a_idx], a_idx)


def screen_score(market: Market, state: MarketState, seeker: np.ndarray, job: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Employer's screening logit and the skill share, for (seeker, job) pairs (any broadcastable shapes)."""
    S, J, sc = market.seekers, market.jobs, market.cfg.screening
    share = skill_share(state.bits[seeker], J.arrays.bits[job])
    age = S.arrays.age[seeker]
    outside_age = (age < J.arrays.age_min[job]) | (age > J.arrays.age_max[job])
    edu_gap = np.maximum(J.arrays.min_education[job] - S.arrays.education[seeker], 0)
    pref = J.preferred_gender[job]
    wrong_gender = (pref >= 0) & (pref != (~S.female[seeker]).astype(np.int64))
    screen = (sc.base + sc.skill * share - sc.education * edu_gap - sc.age_limit * outside_age
              - sc.gender * wrong_gender - sc.worker_4050 * S.is_4050[seeker])
    return screen, share


def hire_score(market: Market, seeker: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Hiring logit after an interview, from the skill share and the seeker's experience."""
    sc = market.cfg.screening
    return sc.hire_base + sc.hire_skill * share + sc.hire_experience * market.seekers.experience[seeker] / 10


def screen_and_hire(draws: Draws, market: Market, state: MarketState, apps: Applications) -> Outcomes:
    """Screening -> interview -> hire up to the vacancies; filled postings close; hired seekers leave for a while."""
    mk = market.cfg.market
    J = market.jobs.arrays
    expires = state.expires
    a_seeker, a_job, a_min = apps.seeker, apps.job, apps.minute
    screen, share = screen_score(market, state, a_seeker, a_job)
    interview = draws.uniform("interview", a_seeker) < _sigmoid(screen)
    if state.review_left is not None:
        interview &= _reviewed(a_job, a_min, state.review_left)
    delay = (draws.exponential("interview_delay", a_seeker, mk.decision_delay_days) * MIN_PER_DAY).astype(np.int64) + 60
    i_min = np.minimum(a_min + delay, expires[a_job] - 2)
    interview &= i_min > a_min
    i_idx = np.flatnonzero(interview)
    h_idx = i_idx[draws.uniform("hire", a_seeker[i_idx]) < _sigmoid(hire_score(market, a_seeker[i_idx], share[i_idx]))]
    delay = (draws.exponential("hire_delay", a_seeker[h_idx], mk.decision_delay_days) * MIN_PER_DAY).astype(np.int64) + 60
    h_min = np.minimum(i_min[h_idx] + delay, expires[a_job[h_idx]] - 1)
    ok = h_min > i_min[h_idx]
    h_idx, h_min = h_idx[ok], h_min[ok]
    # One offer per seeker per day, then vacancies in order of hire time.
    perm = draws.permutation("offer", a_seeker[h_idx])
    _, first = np.unique(a_seeker[h_idx[perm]], return_index=True)
    keep = perm[first]
    h_idx, h_min = h_idx[keep], h_min[keep]
    h_job = a_job[h_idx]
    by = np.lexsort((h_min, h_job))
    h_idx, h_min, h_job = h_idx[by], h_min[by], h_job[by]
    starts = np.r_[0, np.flatnonzero(np.diff(h_job)) + 1]
    rank = np.arange(len(h_job)) - np.repeat(starts, np.diff(np.r_[starts, len(h_job)]))
    accept = rank < state.remaining[h_job]
    h_idx, h_min, h_job = h_idx[accept], h_min[accept], h_job[accept]
    np.subtract.at(state.remaining, h_job, 1)
    np.maximum.at(state.last_hire, h_job, h_min)
    filled = np.unique(h_job[state.remaining[h_job] <= 0])
    expires[filled] = np.minimum(expires[filled], state.last_hire[filled] + 1)
    h_seeker = a_seeker[h_idx]
    away = draws.exponential("away", h_seeker, market.return_days[J.job_type[h_job]]) * MIN_PER_DAY
    state.avail_min[h_seeker] = h_min + away.astype(np.int64)
    state.entered_day[h_seeker] = state.avail_min[h_seeker] // MIN_PER_DAY
    state.spell_end_day[h_seeker] = (state.avail_min[h_seeker] // MIN_PER_DAY
                                     + draws.exponential("patience", h_seeker, market.cfg.search.patience_days
                                                         ).astype(np.int64))
    return Outcomes(i_idx, i_min[i_idx], h_idx, h_min)


# ---------------------------------------------------------------------------------------------- expectations
def session_apply_probability(market: Market, day: int, pool: Pool, seekers: np.ndarray, seeker_bits: np.ndarray,
                              threshold: np.ndarray, at_fair: np.ndarray | None = None) -> np.ndarray:
    """``(len(seekers), len(pool.active))``: probability that a session of each seeker on ``day`` applies to each
    posting of ``pool``, in expectation over the session's draws; ``at_fair`` (event row per seeker, -1 none)
    marks seekers whose session that day is at a fair (:func:`open_sessions`): in its channel, with the fair-day
    boost.

    The organic session of :func:`open_sessions`, :func:`organic_listings`, :func:`browse` and
    :func:`apply_to_views`, with the world's dials (they are in ``market``): ``P(apply to j) = P(channel c_j)
    * P(listed) * P(opened | listed) * P(apply | opened)``, where

    * ``P(channel)`` is :func:`channel_probabilities` (exact), or the fair's channel for a seeker at a fair;
    * ``P(listed) = 1 - (1 - w_j / sum w)^K``: ``K`` draws with replacement with the weights of
      :func:`listing_weights` (recency, distance over the world's channel range, visibility and fair-day
      boost, type filter) over the channel's pool (exact);
    * ``P(opened | listed) = 1 - exp(-a_j tau)``: Plackett-Luce top-``N`` with weights
      ``a_j = exp((U + log visibility) / choice_noise)`` (the Gumbel top-v of :func:`_browse`) as an
      exponential race cut at the time ``tau`` by which ``E[N]`` listed postings are expected to have
      arrived, ``sum_i P(listed_i) (1 - exp(-a_i tau)) = E[min(1 + Poisson(v - 1), listed)]`` (an
      approximation; the rest is exact);
    * ``P(apply | opened)`` is :func:`apply_probability` at the utility ``U`` with ``seeker_bits`` (skills at
      the start of ``day``, :func:`skills_at`) and the seeker's own outside option ``threshold``.

    Noise integrated out: the channel draw, the listing draws, the number of views, the Gumbel opening
    noise and the logistic apply noise. Fixed (the realised world): population, utilities, posting
    visibility, outside options and ``pool``.
    """
    sp, world, terms = market.cfg.search, market.cfg.world, market.terms
    active, seekers = pool.active, np.asarray(seekers, dtype=np.int64)
    out = np.zeros((len(seekers), len(active)))
    if len(seekers) == 0 or len(active) == 0:
        return out
    everything = np.broadcast_to(np.arange(len(active)), (len(seekers), len(active)))
    util = (terms.observable(seekers[:, None], active[None, :], seeker_bits[:, None, :])
            + terms.latent_in_pool(seekers, active, everything)).astype(np.float64)
    apply = apply_probability(market, util - np.asarray(threshold, dtype=np.float64)[:, None])
    channel = channel_probabilities(market, market.seekers.segment[seekers], pool)
    fair = np.zeros(len(seekers), bool) if at_fair is None else np.asarray(at_fair) >= 0
    if fair.any():
        has = np.diff(pool.channel_start) > 0
        fair_channel = market.jobs.fairs.channel[np.asarray(at_fair)[fair]]
        channel[fair] = 0.0
        channel[np.flatnonzero(fair), np.where(has[fair_channel], fair_channel, ONLINE)] = 1.0
    recency = listing_recency(market.cfg, day, market.post_day[active])
    plain = listing_boost(market, day, active)
    boosts = (plain, listing_boost(market, day, active, at_fair=True) if fair.any() else plain)
    district = market.seekers.district[seekers][:, None]
    desired = market.seekers.arrays.desired_types[seekers].astype(np.int64)[:, None]
    for c in np.flatnonzero(np.diff(pool.channel_start) > 0).tolist():
        lo, hi = int(pool.channel_start[c]), int(pool.channel_start[c + 1])
        jobs = active[lo:hi]
        weight = np.empty((len(seekers), hi - lo))
        for flag, boost in zip((False, True), boosts, strict=True):
            rows = np.flatnonzero(fair == flag)
            if len(rows):
                weight[rows] = listing_weights(
                    recency[lo:hi], market.jobs.district[jobs], market.jobs.arrays.job_type[jobs], district[rows],
                    market.channel_range[c], None if boost is None else boost[lo:hi],
                    desired[rows] if c in (ONLINE, STATION) else 0)
        draw = np.minimum(weight / np.maximum(weight.sum(axis=1, keepdims=True), 1e-300), 1.0)
        with np.errstate(divide="ignore"):  # a posting drawn with certainty: log1p(-1) = -inf, listed = 1
            listed = -np.expm1(sp.candidates_per_session * np.log1p(-draw))
        score = util[:, lo:hi] + (0.0 if market.log_visibility is None else market.log_visibility[jobs])
        score = score / world.choice_noise
        attraction = np.exp(score - score.max(axis=1, keepdims=True))  # a_j up to a per-row factor
        opened = _top_n_inclusion(listed, attraction, _expected_views(sp.views_per_session, listed.sum(axis=1)))
        out[:, lo:hi] = channel[:, c, None] * listed * opened * apply[:, lo:hi]
    return out


def _expected_views(views_per_session: float, n_listed: np.ndarray) -> np.ndarray:
    """``E[min(1 + Poisson(v - 1), L)]`` for each (real) number of listed postings ``L``."""
    from scipy.stats import poisson

    lam = max(views_per_session - 1.0, 0.0)
    support = np.arange(int(poisson.ppf(1 - 1e-12, lam)) + 2)
    pmf = poisson.pmf(support, lam)
    return (pmf[None, :] * np.minimum(1.0 + support[None, :], n_listed[:, None])).sum(axis=1) + (
        (1.0 - pmf.sum()) * n_listed)


def _top_n_inclusion(listed: np.ndarray, attraction: np.ndarray, n_views: np.ndarray,
                     iterations: int = 60) -> np.ndarray:
    """``1 - exp(-a_j tau)`` with ``tau`` per row solving ``sum_j p_j (1 - exp(-a_j tau)) = n`` (``p`` = listed).

    Newton from ``tau_0 = n / sum(p a)``: the left side is concave and increasing in ``tau`` and below ``n`` at
    ``tau_0``, so the iterates rise monotonically to the root. Rows that list no more than ``n`` postings in
    expectation open every listed posting (``tau`` infinite).
    """
    everything = listed.sum(axis=1) <= n_views * (1 + 1e-9)
    rate = (listed * attraction).sum(axis=1)
    tau = np.where(everything, 0.0, n_views / np.maximum(rate, 1e-300))
    active = np.flatnonzero(~everything)
    for _ in range(iterations):
        if len(active) == 0:
            break
        p, a, t = listed[active], attraction[active], tau[active, None]
        decay = np.exp(-a * t)
        gap = n_views[active] - (p * (1.0 - decay)).sum(axis=1)
        step = gap / np.maximum((p * a * decay).sum(axis=1), 1e-300)
        tau[active] += step
        active = active[np.abs(step) > 1e-9 * tau[active]]
    opened = -np.expm1(-attraction * tau[:, None])
    opened[everything] = 1.0
    return opened


# ---------------------------------------------------------------------------------------------- generator loop
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
        market, state = prepare_market(rng, cfg, seekers, jobs, training_seeker, training_skill, training_end_min,
                                       world_rng or np.random.default_rng(0))
        out = run_days(GeneratorDraws(rng), market, state, range(cfg.days), progress)
    jobs.expires_min = state.expires
    return finish(market, state, out, cfg.days)


def run_days(draws: Draws, market: Market, state: MarketState, days: range, progress: bool = False
             ) -> list[tuple[np.ndarray, ...]]:
    """The generator's day loop over ``days``: funnel rows (seeker, job, minute, stage, channel) per day and stage."""
    out: list[tuple[np.ndarray, ...]] = []
    for day in tqdm(days, desc="simulate days", disable=not progress, leave=False):
        complete_trainings(market, state, day)
        pool = active_pool(market, state, day)
        searching = searching_seekers(market, state, day)
        if len(pool.active) == 0 or len(searching) == 0:
            continue
        sessions = open_sessions(draws, market, state, day, pool, searching)
        if len(sessions.seeker) == 0:
            continue
        sessions, local = organic_listings(draws, market, day, pool, sessions)
        views = browse(draws, market, state, pool, sessions, local)
        out.append((views.seeker, views.job, views.minute, np.full(len(views.job), VIEW, np.int8), views.channel))
        apps = apply_to_views(draws, market, state, views)
        if len(apps.seeker) == 0:
            continue
        out.append((apps.seeker, apps.job, apps.minute, np.full(len(apps.job), APPLY, np.int8), apps.channel))
        res = screen_and_hire(draws, market, state, apps)
        i, h = res.interview_row, res.hire_row
        out.append((apps.seeker[i], apps.job[i], res.interview_min, np.full(len(i), INTERVIEW, np.int8), apps.channel[i]))
        out.append((apps.seeker[h], apps.job[h], res.hire_min, np.full(len(h), HIRE, np.int8), apps.channel[h]))
    return out


def finish(market: Market, state: MarketState, out: list[tuple[np.ndarray, ...]], end_day: int) -> Interactions:
    """Concatenate the day parts and drop what happens after a posting closed or after ``end_day``."""
    dtypes = (np.int32, np.int32, np.int32, np.int8, np.int8)
    seeker, job, minute, stage, channel = (
        np.concatenate([part[i] for part in out]).astype(dt, copy=False) if out else np.zeros(0, dt)
        for i, dt in enumerate(dtypes))
    del out
    # A posting filled early closes at its last hire: drop what would happen after (later stages go with it).
    ok = ((minute < state.expires[job]) & (minute >= market.jobs.posted_min[job])
          & (minute < end_day * MIN_PER_DAY))
    event, who, arrived = (np.concatenate([part[i] for part in state.attendance]).astype(np.int64)
                           if state.attendance else np.zeros(0, np.int64) for i in range(3))
    came = arrived < end_day * MIN_PER_DAY
    return Interactions(seeker=seeker[ok], job=job[ok], minute=minute[ok], stage=stage[ok], channel=channel[ok],
                        attended_event=event[came], attended_seeker=who[came], attended_minute=arrived[came])


def _browse(draws: Draws | np.random.Generator, cfg: DataConfig, sess: np.ndarray, t0: np.ndarray, channel: np.ndarray,
            local: np.ndarray, active: np.ndarray, channel_start: np.ndarray, bits: np.ndarray,
            terms: UtilityTerms, log_visibility: np.ndarray | None = None, whole_pool: bool = False
            ) -> tuple[np.ndarray, ...]:
    """One chunk of sessions listing jobs ``active[local]`` (-1 = empty slot): utilities, then Gumbel top-v opens.

    ``active`` is sorted by channel (pool of channel c = ``active[channel_start[c]:channel_start[c + 1]]``) and
    the chunk's sessions by channel, so the latent term is one dense product per channel pool. ``whole_pool``:
    ``local`` indexes all of ``active`` whatever the session's channel (a recommendation list). ``draws`` may be
    a ``numpy`` generator (as before the step functions existed).

    Returns the views as (seeker, job, minute, utility, channel) arrays.
    """
    if isinstance(draws, np.random.Generator):
        draws = GeneratorDraws(draws)
    sp = cfg.search
    valid = local >= 0
    width = int(valid.sum(axis=1).max())  # rows are left-packed: columns past this are empty in this chunk
    valid, local = valid[:, :width], np.maximum(local[:, :width], 0)
    ci = active[local]
    si = sess[:, None]
    util = terms.observable(si, ci, bits[si])
    if whole_pool:
        util += terms.latent_in_pool(sess, active, local)
    else:
        bounds = np.searchsorted(channel, np.arange(len(CHANNELS) + 1))
        for ch in np.flatnonzero(np.diff(bounds)).tolist():
            rows = slice(bounds[ch], bounds[ch + 1])
            start, end = channel_start[ch], channel_start[ch + 1]
            within = np.where(valid[rows], local[rows] - start, 0)
            util[rows] += terms.latent_in_pool(sess[rows], active[start:end], within)
    n_views = np.minimum(1 + draws.poisson("views", sess, max(sp.views_per_session - 1.0, 0.0)), valid.sum(axis=1))
    exponential = draws.standard_exponential32("open", sess, util.shape[1])
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
    minute = t0[r] + c * draws.integers("view_time", sess[r], 1, 4) + c
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


def _result_sets(posting_key: np.ndarray, size: int) -> list[np.ndarray]:
    """Positions in a channel pool split into ``ceil(n / size)`` sets of equal size by ``posting_key`` (sorted).

    Set ``s`` holds the postings whose keys rank in the ``s``-th slice, so it is what a search key in
    ``[s / n_sets, (s + 1) / n_sets)`` returns; the sets depend on the day's pool only (not on the sessions).
    """
    order = np.argsort(posting_key, kind="stable")
    return [np.sort(part) for part in np.array_split(order, -(-len(posting_key) // size))]


def _listing_group(seekers: Seekers, sess: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Listing group of each session: (channel, home district[, desired job types for online/station])."""
    desired = seekers.arrays.desired_types[sess].astype(np.int64)
    type_key = np.where(np.isin(channel, [ONLINE, STATION]), desired, 0)
    return (channel * len(geo.DISTRICTS) + seekers.district[sess]) * 8 + type_key


def listing_recency(cfg: DataConfig, day: int, post_day: np.ndarray) -> np.ndarray:
    """Recency factor of the listing weight: ``exp(-age / recency_days)``, age in days capped at 365."""
    return np.exp(-(day - np.maximum(post_day, day - 365)) / cfg.search.recency_days)


def listing_weights(recency: np.ndarray, job_district: np.ndarray, job_type: np.ndarray, district: int | np.ndarray,
                    channel_range_km: float, boost: np.ndarray | None, desired_types: int | np.ndarray
                    ) -> np.ndarray:
    """Unnormalised weights with which a session lists each posting of one channel pool (draws with replacement).

    Per posting: ``recency`` (:func:`listing_recency`), district and job type; ``boost`` (:func:`listing_boost`,
    ``None``: 1). Per session (scalars, or arrays of shape ``(n, 1)`` for ``n`` sessions): home ``district``
    and ``desired_types`` bitmask (0 for channels without the type filter, else postings of an undesired type
    weigh 0.25). Distance decays as ``exp(-km / channel_range_km)``.
    """
    wgt = recency * np.exp(-geo.DISTRICT_DISTANCE_KM[district, job_district] / channel_range_km)
    if boost is not None:
        wgt = wgt * boost
    if np.ndim(desired_types) == 0:
        if desired_types:
            wgt *= np.where((desired_types >> job_type) & 1, 1.0, 0.25)
    else:
        wgt = wgt * np.where((desired_types == 0) | ((desired_types >> job_type) & 1 == 1), 1.0, 0.25)
    return wgt


def _sample_candidates(draws: Draws | np.random.Generator, cfg: DataConfig, day: int, group: np.ndarray, jobs: Jobs,
                       active: np.ndarray, channel_start: np.ndarray, post_day: np.ndarray, channel_range: np.ndarray,
                       k: int, listing_weight: np.ndarray | None = None, sess: np.ndarray | None = None,
                       results_per_search: int = 0, search_key: np.ndarray | None = None,
                       posting_key: np.ndarray | None = None) -> np.ndarray:
    """(sessions, width) distinct listings of each session as indices into ``active``, padded with -1.

    ``group`` (sorted) is each session's :func:`_listing_group` (``sess`` its seeker, which keys the draws of
    per-seeker :class:`Draws`; default: the session's position); sessions of a group share the weights over the
    group's channel pool ``active[channel_start[c]:channel_start[c + 1]]`` (``active`` is sorted by channel). Each session draws ``k`` listings with replacement; duplicates are dropped and rows
    left-packed, so ``width`` (<= k) is the largest number of distinct listings of any session.

    Bounded search (``results_per_search`` > 0, with ``search_key`` per seeker and ``posting_key`` per job): a
    channel pool of ``N`` postings is split by posting key into ``ceil(N / results_per_search)`` result sets of
    equal size (:func:`_result_sets`); a session searches the set its seeker's key falls in and draws its listings
    within it. So a search compares at most ``results_per_search`` postings whatever the size of the catalogue, and
    a seeker's searches keep returning the same part of the market (the postings its query matches). A pool no
    larger than that is one set: the listings are exactly those without the bound.
    """
    if isinstance(draws, np.random.Generator):
        draws = GeneratorDraws(draws)
    sess = np.arange(len(group)) if sess is None else sess
    recency = listing_recency(cfg, day, post_day[active])
    local = np.empty((len(group), k), dtype=np.int32)
    groups, starts = np.unique(group, return_index=True)
    result_sets: dict[int, list[np.ndarray]] = {}
    for g, a, b in zip(groups.tolist(), starts.tolist(), [*starts[1:].tolist(), len(group)], strict=True):
        ch, d, tk = g // (8 * len(geo.DISTRICTS)), (g // 8) % len(geo.DISTRICTS), g % 8
        start, end = channel_start[ch], channel_start[ch + 1]
        pool = active[start:end]
        wgt = listing_weights(recency[start:end], jobs.district[pool], jobs.arrays.job_type[pool], d,
                              channel_range[ch], None if listing_weight is None else listing_weight[start:end], tk)
        u = draws.uniform("listing", sess[a:b], k)
        if results_per_search <= 0 or end - start <= results_per_search:
            local[a:b] = start + _inverse_cdf(np.cumsum(wgt), u)
            continue
        assert search_key is not None and posting_key is not None, "bounded search needs search and posting keys"
        if ch not in result_sets:
            result_sets[ch] = _result_sets(posting_key[pool], results_per_search)
        sets = result_sets[ch]
        searched = np.minimum((search_key[sess[a:b]] * len(sets)).astype(np.int64), len(sets) - 1)
        for s, members in enumerate(sets):
            rows = np.flatnonzero(searched == s)
            if len(rows):
                local[a + rows] = start + members[_inverse_cdf(np.cumsum(wgt[members]), u[rows])]
    # Drop duplicates and left-pack: mark them past every index, sort them to the end, cut the empty columns.
    local.sort(axis=1)
    dup = np.zeros_like(local, dtype=bool)
    dup[:, 1:] = local[:, 1:] == local[:, :-1]
    local[dup] = np.iinfo(np.int32).max
    local.sort(axis=1)
    local = local[:, :k - int(dup.sum(axis=1).min())]
    local[local == np.iinfo(np.int32).max] = -1
    return local
