"""The closed-loop market: a generated market replayed to a cutoff, then continued under a policy.

:func:`load_snapshot` rebuilds the generator's market from a dataset's manifest (same config, seed and code:
:func:`recsys.data.synthetic.generate.build_population`) and runs the generator's own day loop
(:func:`recsys.data.synthetic.behaviour.run_days`) up to the cutoff; it checks that the replay reproduces the
dataset's interactions before the cutoff. :func:`run_policy` continues from that state for ``days`` days with
the same step functions; only two things differ from the generator: a share of sessions (the recommendation
channel) lists the policy's top ``k`` instead of the channel's listing, and randomness comes from per-seeker
streams (:class:`recsys.simulation.streams.SeekerStreams`) so that policies share arrivals, sessions and noise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from recsys.data.schema import CHANNELS, INTERACTION_EVENTS, SEEKER_GROUPS
from recsys.data.synthetic import behaviour as bh
from recsys.data.synthetic.config import DataConfig
from recsys.data.synthetic.generate import GENERATOR_VERSION, build_population
from recsys.data.synthetic.population import MIN_PER_DAY
from recsys.simulation.policies import MarketTruth, Policy, RankRequest
from recsys.simulation.streams import SeekerStreams


class SimulationInputError(ValueError):
    """Bad input to the simulator (names the field or file)."""


@dataclass(frozen=True)
class RecommendationChannel:
    """Which sessions show the policy's list.

    share
        Probability that an eligible session is a recommendation session (0..1).
    channels
        Channels whose sessions are eligible (``None``: all of :data:`recsys.data.schema.CHANNELS`).
    groups
        Seeker groups eligible (``None``: everyone; else seekers with any of these flags of
        :data:`recsys.data.schema.SEEKER_GROUPS`, e.g. ``("is_graduate",)``).
    """

    share: float = 0.5
    channels: tuple[str, ...] | None = None
    groups: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.share, bool) or not isinstance(self.share, int | float) or not 0 <= self.share <= 1:
            raise SimulationInputError(f"recommendation_share: must be a number in [0, 1], got {self.share!r}")
        for field, values, allowed in (("channels", self.channels, CHANNELS), ("groups", self.groups, SEEKER_GROUPS)):
            bad = [v for v in values or () if v not in allowed]
            if bad:
                raise SimulationInputError(f"recommendation_{field}: unknown {bad}; allowed: {list(allowed)}")

    @classmethod
    def of(cls, value: float | Mapping | RecommendationChannel) -> RecommendationChannel:
        if isinstance(value, RecommendationChannel):
            return value
        if isinstance(value, Mapping):
            return cls(share=value.get("share", 0.5), channels=_tuple(value.get("channels")),
                       groups=_tuple(value.get("groups")))
        return cls(share=float(value))


def _tuple(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@dataclass
class Snapshot:
    """A generated market at the start of ``cutoff_day``: fixed market, state, and what the dataset logged after.

    pending
        Funnel rows decided before the cutoff that happen after it (interviews and hires of earlier
        applications); every policy's run starts with them.
    logged
        The dataset's own funnel rows from the cutoff to its end (``seeker``, ``job`` rows, ``minute``, ``stage``).
    """

    data_dir: Path
    market: bh.Market
    state: bh.MarketState
    cutoff_day: int
    end_day: int
    pending: bh.Interactions
    logged: pd.DataFrame
    seeker_ids: np.ndarray
    job_ids: np.ndarray
    groups: pd.DataFrame  # per seeker row: the SEEKER_GROUPS flags and district name

    @property
    def start_ns(self) -> np.datetime64:
        return self.market.cfg.start_ns

    def time_at(self, minute: int) -> np.datetime64:
        """The time of a simulation minute (minutes since the dataset start), ns precision."""
        return (self.start_ns + np.timedelta64(int(minute), "m")).astype("datetime64[ns]")


def load_snapshot(data_dir: Path | str, cutoff_day: int | None = None) -> Snapshot:
    """Replay the generated market in ``data_dir`` to ``cutoff_day`` (default: the dataset's split date).

    Raises :class:`SimulationInputError` when the directory is not a generated dataset of this generator
    version, or when the replay does not reproduce its interactions before the cutoff.
    """
    data_dir = Path(data_dir)
    manifest_path = data_dir / "manifest.json"
    if not manifest_path.is_file() or not (data_dir / "truth").is_dir():
        raise SimulationInputError(f"data_dir: {str(data_dir)!r} is not a generated dataset (needs manifest.json "
                                   f"and truth/)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    fp = manifest.get("fingerprint")
    if not fp or fp.get("generator_version") != GENERATOR_VERSION:
        raise SimulationInputError(f"data_dir: {str(data_dir)!r} was written by generator version "
                                   f"{(fp or {}).get('generator_version')!r}, this code is {GENERATOR_VERSION}; "
                                   f"regenerate it (recsys-generate overwrite=true)")
    cfg = DataConfig.from_mapping({**fp["data_config"], "dir": str(data_dir)})
    days = cfg.days
    if cutoff_day is None:
        split = np.datetime64(manifest["split_date"], "ns")
        cutoff_day = int((split - cfg.start_ns) // np.timedelta64(1, "D"))
    if not 0 < cutoff_day < days:
        raise SimulationInputError(f"cutoff_day: must be within (0, {days}), got {cutoff_day!r}")
    pop = build_population(cfg, int(fp["seed"]))
    seeker_ids = pop.seekers.table["seeker_id"].to_numpy(dtype=str)
    job_ids = pop.jobs.table["job_id"].to_numpy(dtype=str)
    with np.load(data_dir / "truth" / "seekers.npz", allow_pickle=False) as npz:
        if not np.array_equal(npz["ids"], seeker_ids):
            raise SimulationInputError(f"data_dir: the replayed population differs from {data_dir}/truth (other code?)")
    with threadpool_limits(limits=1, user_api="blas"):
        market, state = bh.prepare_market(pop.rng_sim, pop.cfg, pop.seekers, pop.jobs, pop.training_seeker,
                                          pop.training_skill, pop.training_end_min, pop.rng_world)
        out = bh.run_days(bh.GeneratorDraws(pop.rng_sim), market, state, range(cutoff_day))
    replay = bh.finish(market, state, out, days)
    cut = cutoff_day * MIN_PER_DAY
    logged = _logged(data_dir, seeker_ids, job_ids, cfg.start_ns)
    before = np.bincount(replay.stage[replay.minute < cut], minlength=4)
    logged_before = np.bincount(logged["stage"].to_numpy()[logged["minute"].to_numpy() < cut], minlength=4)
    if not np.array_equal(before, logged_before):
        raise SimulationInputError(f"data_dir: replaying the generator to day {cutoff_day} gives {before.tolist()} "
                                   f"views/applications/interviews/hires, the dataset has {logged_before.tolist()}; "
                                   f"it was not generated by this code")
    after = replay.minute >= cut
    pending = bh.Interactions(*(getattr(replay, f)[after] for f in ("seeker", "job", "minute", "stage", "channel")))
    table = pop.seekers.table
    groups = pd.DataFrame({g: table[g].to_numpy(dtype=bool) for g in SEEKER_GROUPS if g in table})
    groups["district"] = table["district"].to_numpy() if "district" in table else pop.seekers.district
    return Snapshot(data_dir, market, state, cutoff_day, days, pending,
                    logged[logged["minute"] >= cut].reset_index(drop=True), seeker_ids, job_ids, groups)


def _logged(data_dir: Path, seeker_ids: np.ndarray, job_ids: np.ndarray, start_ns: np.datetime64) -> pd.DataFrame:
    """The dataset's interactions as market rows, minutes and stage codes."""
    inter = pd.read_parquet(data_dir / "interactions.parquet", columns=["seeker_id", "job_id", "ts", "event"])
    minute = (inter["ts"].to_numpy(dtype="datetime64[ns]") - start_ns) // np.timedelta64(1, "m")
    return pd.DataFrame({
        "seeker": _market_rows(inter["seeker_id"], seeker_ids),
        "job": _market_rows(inter["job_id"], job_ids),
        "minute": minute.astype(np.int64),
        "stage": pd.Categorical(inter["event"], categories=list(INTERACTION_EVENTS)).codes.astype(np.int8),
    })


def _market_rows(values: pd.Series, ids: np.ndarray) -> np.ndarray:
    """Row of each value in ``ids`` (-1: not there), looking each distinct value up once: a city's tens of
    millions of interactions name a few hundred thousand ids, and a fixed-width string array of all of
    them took gigabytes."""
    codes, distinct = pd.factorize(values)
    rows = pd.Index(ids).get_indexer(np.asarray(distinct, dtype=str))
    return np.where(codes >= 0, rows[codes], -1)


@dataclass
class Run:
    """Everything one (policy, seed) run produced.

    events
        Funnel rows: ``seeker``, ``job``, ``minute``, ``stage`` (0 view .. 3 hire), ``channel``,
        ``recommended`` (the row comes from a recommendation session), ``util`` (true utility at the view),
        ``remaining`` (vacancies left when applying; apply rows only, -1 otherwise).
    first_search_day
        Per seeker row: first day searching in the window (-1: never searched).
    sessions, recommended_sessions
        Session counts.
    final_remaining, final_expires
        Vacancies left and closing minute per posting at the end.
    """

    policy: str
    seed: int
    events: pd.DataFrame
    first_search_day: np.ndarray
    sessions: int
    recommended_sessions: int
    final_remaining: np.ndarray
    final_expires: np.ndarray
    seconds: float = 0.0


def _eligible(snapshot: Snapshot, channel_cfg: RecommendationChannel, sessions: bh.Sessions) -> np.ndarray:
    ok = np.ones(len(sessions.seeker), dtype=bool)
    if channel_cfg.channels is not None:
        ok &= np.isin(sessions.channel, [CHANNELS.index(c) for c in channel_cfg.channels])
    if channel_cfg.groups is not None:
        flags = snapshot.groups[list(channel_cfg.groups)].to_numpy(dtype=bool)
        ok &= flags[sessions.seeker].any(axis=1)
    return ok


def applied_mask(state: bh.MarketState, seekers: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(seekers, candidates) bool: the seeker has applied to the posting (from ``state.applied`` keys)."""
    m = len(state.remaining)
    lo = np.searchsorted(state.applied, seekers.astype(np.int64) * m)
    hi = np.searchsorted(state.applied, (seekers.astype(np.int64) + 1) * m)
    counts = hi - lo
    idx = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    rows = np.repeat(np.arange(len(seekers)), counts)
    position = np.full(m, -1, dtype=np.int64)
    position[candidates] = np.arange(len(candidates))
    cols = position[state.applied[idx] % m]
    mask = np.zeros((len(seekers), len(candidates)), dtype=bool)
    mask[rows[cols >= 0], cols[cols >= 0]] = True
    return mask


def applications_so_far(state: bh.MarketState, candidates: np.ndarray) -> np.ndarray:
    """Applications each candidate posting received so far (every seeker and channel), from ``state.applied``."""
    counts = np.bincount(state.applied % len(state.remaining), minlength=len(state.remaining))
    return counts[candidates].astype(np.float64)


def _left_pack(local: np.ndarray) -> np.ndarray:
    order = np.argsort(local < 0, axis=1, kind="stable")
    return np.take_along_axis(local, order, axis=1)


def simulated_interactions(snapshot: Snapshot, parts: list[pd.DataFrame], before_min: int) -> pd.DataFrame:
    """The simulation's funnel rows so far as public interactions (``seeker_id, job_id, ts, event, channel``),
    keeping only rows before minute ``before_min`` (later interviews and hires are already decided but have
    not happened yet)."""
    ev = pd.concat(parts, ignore_index=True) if parts else _rows(*(np.zeros(0, np.int64),) * 3, 0,
                                                                  np.zeros(0, np.int8), np.zeros(0, bool),
                                                                  np.zeros(0, np.float32))
    ev = ev[ev["minute"].to_numpy() < before_min]
    return pd.DataFrame({
        "seeker_id": snapshot.seeker_ids[ev["seeker"].to_numpy()], "job_id": snapshot.job_ids[ev["job"].to_numpy()],
        "ts": snapshot.start_ns + ev["minute"].to_numpy().astype("timedelta64[m]"),
        "event": np.asarray(INTERACTION_EVENTS)[ev["stage"].to_numpy()],
        "channel": np.asarray(CHANNELS)[ev["channel"].to_numpy()],
    })


def run_policy(snapshot: Snapshot, policy: Policy, seed: int, days: int, channel: RecommendationChannel,
               k: int = 10, refit_every: int | None = None) -> Run:
    """Continue ``snapshot`` for ``days`` days under ``policy`` with simulation seed ``seed``.

    ``refit_every``: a :class:`~recsys.simulation.policies.RecommenderPolicy` with its training dataset is
    retrained every so many days on the training data plus the simulated funnel before that day (a fresh copy
    per run: the policy given is not changed); other policies stay frozen.
    """
    from recsys.simulation.policies import RecommenderPolicy

    clock = time.perf_counter()
    market, state = snapshot.market, snapshot.state.copy()
    m = len(state.remaining)
    first_search = np.full(len(state.threshold), -1, dtype=np.int64)
    p = snapshot.pending  # decided before the cutoff, happening after it: the same for every policy
    parts = [_rows(p.seeker, p.job, p.minute, p.stage, p.channel, np.zeros(len(p.seeker), bool),
                   _pair_utility(snapshot, p.seeker, p.job))]
    n_sessions = n_recommended = 0
    position = np.full(m, -1, dtype=np.int64)
    with threadpool_limits(limits=1, user_api="blas"):
        for day in range(snapshot.cutoff_day, snapshot.cutoff_day + days):
            draws = SeekerStreams(seed, day)
            if (refit_every and isinstance(policy, RecommenderPolicy) and policy.train is not None
                    and day > snapshot.cutoff_day and (day - snapshot.cutoff_day) % refit_every == 0):
                policy = policy.refitted(simulated_interactions(snapshot, parts, day * MIN_PER_DAY))
            bh.complete_trainings(market, state, day)
            pool = bh.active_pool(market, state, day)
            searching = bh.searching_seekers(market, state, day)
            first_search[searching[first_search[searching] < 0]] = day
            if len(pool.active) == 0 or len(searching) == 0:
                continue
            sessions = bh.open_sessions(draws, market, state, day, pool, searching)
            if len(sessions.seeker) == 0:
                continue
            n_sessions += len(sessions.seeker)
            rec = _eligible(snapshot, channel, sessions) & (draws.uniform("recommend", sessions.seeker) < channel.share)
            rec &= policy.recommends
            local_r = np.zeros((0, k), dtype=np.int64)
            if rec.any():
                who = sessions.seeker[rec]
                now = snapshot.time_at(int(sessions.t0[rec].min()))
                request = RankRequest(seekers=who, seeker_ids=snapshot.seeker_ids[who], candidates=pool.active,
                                      job_ids=snapshot.job_ids[pool.active],
                                      applied=applied_mask(state, who, pool.active), k=k, day=day,
                                      now=now, truth=MarketTruth(market, state),
                                      applications=applications_so_far(state, pool.active))
                lists = np.asarray(policy.rank(request), dtype=np.int64)
                if lists.shape != (len(who), k):
                    raise SimulationInputError(f"policy {policy.name!r}: rank returned shape {lists.shape}, "
                                               f"expected {(len(who), k)}")
                position[pool.active] = np.arange(len(pool.active))
                mapped = np.where(lists >= 0, position[np.clip(lists, 0, m - 1)], -1)
                position[pool.active] = -1
                if ((lists >= 0) & (mapped < 0)).any() or (lists >= m).any():
                    raise SimulationInputError(f"policy {policy.name!r} listed postings that are not open today")
                local_r = _left_pack(mapped)
                listed = (local_r >= 0).any(axis=1)
                rec[np.flatnonzero(rec)[~listed]] = False  # an empty list: the session lists its channel instead
                local_r = local_r[listed]
            n_recommended += int(rec.sum())
            organic = sessions.take(np.flatnonzero(~rec))
            views = []
            if len(organic.seeker):
                organic, local_o = bh.organic_listings(draws, market, day, pool, organic)
                views.append(bh.browse(draws, market, state, pool, organic, local_o))
            if rec.any():
                views.append(bh.browse(draws, market, state, pool, sessions.take(np.flatnonzero(rec)), local_r,
                                       whole_pool=True))
            flags = np.concatenate([np.full(len(v.seeker), i == 1 or not len(organic.seeker), bool)
                                    for i, v in enumerate(views)])
            v = bh.Views(*(np.concatenate([getattr(x, f) for x in views])
                           for f in ("seeker", "job", "minute", "util", "channel")))
            parts.append(_rows(v.seeker, v.job, v.minute, bh.VIEW, v.channel, flags, v.util))
            apps = bh.apply_to_views(draws, market, state, v)
            if len(apps.seeker) == 0:
                continue
            a_flag = flags[apps.view_row]
            parts.append(_rows(apps.seeker, apps.job, apps.minute, bh.APPLY, apps.channel, a_flag, apps.util,
                               state.remaining[apps.job]))
            res = bh.screen_and_hire(draws, market, state, apps)
            for rows, minute, stage in ((res.interview_row, res.interview_min, bh.INTERVIEW),
                                        (res.hire_row, res.hire_min, bh.HIRE)):
                parts.append(_rows(apps.seeker[rows], apps.job[rows], minute, stage, apps.channel[rows],
                                   a_flag[rows], apps.util[rows]))
    events = pd.concat(parts, ignore_index=True)
    end_min = (snapshot.cutoff_day + days) * MIN_PER_DAY
    ok = ((events["minute"].to_numpy() < state.expires[events["job"].to_numpy()])
          & (events["minute"].to_numpy() < end_min))
    events = events[ok].reset_index(drop=True)
    return Run(policy.name, seed, events, first_search, n_sessions, n_recommended, state.remaining.copy(),
               state.expires.copy(), time.perf_counter() - clock)


def _pair_utility(snapshot: Snapshot, seeker: np.ndarray, job: np.ndarray) -> np.ndarray:
    """True utility of (seeker, job) pairs with skills as of the cutoff."""
    if len(seeker) == 0:
        return np.zeros(0, np.float32)
    terms, bits = snapshot.market.terms, snapshot.state.bits
    obs = terms.observable(seeker[:, None], job[:, None], bits[seeker][:, None, :])[:, 0]
    lat = np.einsum("nd,nd->n", terms.seeker_latent[seeker], terms.job_latent[job])
    return (obs + terms.weights.latent * lat).astype(np.float32)


def _rows(seeker: np.ndarray, job: np.ndarray, minute: np.ndarray, stage: int | np.ndarray, channel: np.ndarray,
          recommended: np.ndarray, util: np.ndarray, remaining: np.ndarray | None = None) -> pd.DataFrame:
    n = len(seeker)
    return pd.DataFrame({
        "seeker": seeker.astype(np.int64), "job": job.astype(np.int64), "minute": minute.astype(np.int64),
        "stage": np.broadcast_to(np.asarray(stage, dtype=np.int8), (n,)),
        "channel": channel.astype(np.int8), "recommended": recommended.astype(bool),
        "util": util.astype(np.float32),
        "remaining": (np.full(n, -1, np.int64) if remaining is None else remaining.astype(np.int64)),
    })
