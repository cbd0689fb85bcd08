"""Recommendation policies inside the simulated market: the :class:`Policy` protocol and its adapters.

A policy answers one :class:`RankRequest` per simulated day: for the seekers whose session today is a
recommendation session, the top ``k`` of the candidate postings (those open at that moment). Anything that
ranks fits through a small adapter: a fitted :class:`~recsys.models.base.Recommender`
(:class:`RecommenderPolicy`), a :class:`~recsys.api.Ranker` (:class:`RankerPolicy`), or the reference
policies :class:`OrganicPolicy`, :class:`RandomPolicy`, :class:`UtilityOracle`, :class:`SurplusOracle`.
Policies are frozen at the cutoff: nothing here learns from the simulated days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import clone

from recsys.data.dataset import Dataset
from recsys.data.synthetic.behaviour import Market, MarketState, hire_score, screen_score
from recsys.models.base import CandidateBlock, Recommender, top_k

if TYPE_CHECKING:
    from recsys.api import Ranker

SCORE_CHUNK = 2_000_000
"""Seeker x posting pairs scored per block by the oracles (bounds memory)."""


class PolicyError(TypeError):
    """An object given as a policy is not one (names what was given and what is expected)."""


@dataclass(frozen=True)
class MarketTruth:
    """The market's ground truth and current state: for reference policies (oracles) only; models never see it."""

    market: Market
    state: MarketState


@dataclass(frozen=True)
class RankRequest:
    """One day's ranking request.

    seekers, seeker_ids
        Market seeker rows (and external ids) of today's recommendation sessions.
    candidates, job_ids
        Market job rows (and ids) of the postings open now (the ranking API's ``now`` filter).
    applied
        ``(len(seekers), len(candidates))`` bool: the seeker already applied there (the API's
        ``exclude_applied``); a policy must not list these.
    k, day, now
        List length, simulated day (index from the dataset start) and its time.
    truth
        Ground truth and live state, read only by policies whose ``reads_truth`` is ``True``.
    applications
        Per candidate: applications it received so far, every channel (what the service logs and feeds the
        ranking API with ``Ranker.record_applications``); ``None`` when not known. Observable, not truth.
    """

    seekers: np.ndarray
    seeker_ids: np.ndarray
    candidates: np.ndarray
    job_ids: np.ndarray
    applied: np.ndarray
    k: int
    day: int
    now: np.datetime64
    truth: MarketTruth
    applications: np.ndarray | None = None


@runtime_checkable
class MarketObserver(Protocol):
    """A model that reads the live market the service observes: the ranking time and application counts.

    :class:`RecommenderPolicy` calls :meth:`observe_market` before each ranking when the request carries
    ``applications`` (e.g. :class:`~recsys.placement.offline.PlacementRecommender`, whose hiring features
    and congestion term use posting ages at ``now`` and applications so far). ``seeker_rows`` and
    ``job_rows`` are the model's own rows.
    """

    def observe_market(self, seeker_rows: np.ndarray, now: np.datetime64, job_rows: np.ndarray,
                       applications: np.ndarray) -> None: ...


@runtime_checkable
class Policy(Protocol):
    """What :func:`recsys.simulation.simulate` needs from a policy.

    ``name`` labels results; ``reads_truth`` says whether it is a reference policy built on the ground truth;
    ``recommends`` is ``False`` only for the organic policy (no recommendation channel). :meth:`rank` returns
    ``(len(request.seekers), request.k)`` market job rows taken from ``request.candidates``, best first,
    padded with ``-1``.
    """

    name: str
    reads_truth: bool
    recommends: bool

    def rank(self, request: RankRequest) -> np.ndarray: ...


def _top_candidates(scores: np.ndarray, request: RankRequest) -> np.ndarray:
    """Market job rows of the top ``k`` scores per row (applied postings and ``-inf`` never listed)."""
    scores = np.where(request.applied, -np.inf, scores)
    idx, _ = top_k(scores, request.k)
    return np.where(idx >= 0, request.candidates[np.maximum(idx, 0)], -1)


class OrganicPolicy:
    """No recommendation channel: every session lists what its channel lists (the generator's market)."""

    name = "organic"
    reads_truth = False
    recommends = False

    def rank(self, request: RankRequest) -> np.ndarray:
        return np.full((len(request.seekers), request.k), -1, dtype=np.int64)


class RandomPolicy:
    """Uniformly random open postings (never one applied to); seeded by (seed, day)."""

    reads_truth = False
    recommends = True

    def __init__(self, seed: int = 0, name: str = "random") -> None:
        self.seed, self.name = int(seed), name

    def rank(self, request: RankRequest) -> np.ndarray:
        rng = np.random.default_rng([self.seed, request.day])
        return _top_candidates(rng.random((len(request.seekers), len(request.candidates))), request)


def true_utility(truth: MarketTruth, seekers: np.ndarray, jobs: np.ndarray) -> np.ndarray:
    """Noise-free utility ``U(s, j)`` (observable + latent, skills as of now), shape (seekers, jobs), float32."""
    terms, bits = truth.market.terms, truth.state.bits
    out = np.empty((len(seekers), len(jobs)), dtype=np.float32)
    step = max(1, SCORE_CHUNK // max(len(jobs), 1))
    for a in range(0, len(seekers), step):
        si = seekers[a:a + step]
        block = terms.observable(si[:, None], jobs[None, :], bits[si][:, None, :])
        block += terms.weights.latent * (terms.seeker_latent[si] @ terms.job_latent[jobs].T)
        out[a:a + step] = block
    return out


def hiring_probability(truth: MarketTruth, seekers: np.ndarray, jobs: np.ndarray) -> np.ndarray:
    """True probability that an application of seeker ``s`` to posting ``j`` made now ends in a hire.

    ``p = sigmoid(screen) * sigmoid(hire) * [vacancies left] * [employer still reviews]``: the employer's
    screening logit (skills, education, posted age limits, hidden gender preference, 4050 penalty), the hiring
    logit after an interview (skills, experience), zero when the posting has no vacancy left or its employer's
    review capacity is spent. Competition with other applicants for the last vacancies is not included.
    """
    market, state = truth.market, truth.state
    out = np.empty((len(seekers), len(jobs)))
    open_now = state.remaining[jobs] > 0
    if state.review_left is not None:
        open_now &= state.review_left[jobs] > 0
    step = max(1, SCORE_CHUNK // max(len(jobs), 1))
    for a in range(0, len(seekers), step):
        si = seekers[a:a + step, None]
        screen, share = screen_score(market, state, si, jobs[None, :])
        hire = hire_score(market, np.broadcast_to(si, share.shape), share)
        out[a:a + step] = 1.0 / (1.0 + np.exp(-screen)) / (1.0 + np.exp(-hire))
    return out * open_now


def expected_surplus(truth: MarketTruth, seekers: np.ndarray, jobs: np.ndarray) -> np.ndarray:
    """Expected surplus index of Bied et al. (2026), ``Gamma(p, U) = p * sigma * log(1 + exp(Delta / sigma))``.

    ``Delta = U(s, j) - theta_s``: the true utility minus the seeker's outside option (the apply threshold of
    the behaviour model); ``sigma``: the scale of the logistic apply noise (``world.apply_noise``), so that
    ``sigma * log(1 + exp(Delta / sigma)) = E[max(Delta + eps, 0)]`` for logistic ``eps`` is the value of having
    the option to apply; ``p``: :func:`hiring_probability`. A posting ranks high when the seeker likes it
    enough to apply and can get it.
    """
    sigma = float(truth.market.cfg.world.apply_noise)
    delta = true_utility(truth, seekers, jobs) - truth.state.threshold[seekers][:, None]
    return hiring_probability(truth, seekers, jobs) * sigma * np.logaddexp(0.0, delta / sigma)


class _TruthRanking:
    """A reference policy ranking by a score read from the truth (``score(truth, seekers, jobs)``)."""

    reads_truth = True
    recommends = True
    score: Callable[[MarketTruth, np.ndarray, np.ndarray], np.ndarray]

    def rank(self, request: RankRequest) -> np.ndarray:
        return _top_candidates(type(self).score(request.truth, request.seekers, request.candidates), request)


class UtilityOracle(_TruthRanking):
    """Rank by the true expected utility ``U(s, j)`` (what the seeker likes, ignoring whether they get it)."""

    name = "utility_oracle"
    score = staticmethod(true_utility)


class SurplusOracle(_TruthRanking):
    """Rank by the true expected surplus :func:`expected_surplus` (Bied et al. 2026's welfare index)."""

    name = "surplus_oracle"
    score = staticmethod(expected_surplus)


class RecommenderPolicy:
    """A fitted :class:`~recsys.models.base.Recommender` (fitted before the cutoff) as a policy.

    Seekers the model cannot serve fall back to its training popularity (``cold_seekers="popular"``);
    postings it cannot score (new ones for warm-only models) are never listed. ``train``: the dataset it was
    fitted on; needed only to retrain during the simulation (:meth:`refitted`, ``simulate(refit_every=...)``).
    """

    reads_truth = False
    recommends = True

    def __init__(self, model: Recommender, name: str | None = None, train: Dataset | None = None) -> None:
        if not isinstance(model, Recommender):
            raise PolicyError(f"RecommenderPolicy expects a fitted Recommender, got {type(model).__name__}")
        self.model, self.name, self.train = model, name or type(model).__name__, train

    def refitted(self, simulated: pd.DataFrame) -> RecommenderPolicy:
        """A new policy: a fresh copy of the model fitted on ``train`` plus ``simulated`` interactions.

        ``simulated``: ``seeker_id, job_id, ts, event, channel`` rows (the simulation's funnel before the refit
        time; the caller guarantees nothing later is in it). The policy itself is not changed.
        """
        if self.train is None:
            raise PolicyError(f"policy {self.name!r}: refitting needs the training dataset (RecommenderPolicy(train=))")
        train = self.train
        extra = simulated.assign(seeker_row=train.seeker_ids.to_rows(simulated["seeker_id"], kind="seeker"),
                                 job_row=train.job_ids.to_rows(simulated["job_id"], kind="job"))
        base = train.interactions.assign(event=train.interactions["event"].astype(str),
                                         channel=train.interactions["channel"].astype(str)) \
            if "channel" in train.interactions else train.interactions.assign(event=train.interactions["event"].astype(str))
        combined = pd.concat([base.assign(seeker_id=base["seeker_id"].astype(str), job_id=base["job_id"].astype(str)),
                              extra[[c for c in base.columns if c in extra.columns]]], ignore_index=True)
        dataset = Dataset(train.seekers, train.jobs, combined, train.extras, funnel=train.funnel,
                          timezone=train.timezone, validate=False)
        return RecommenderPolicy(clone(self.model).fit(dataset), self.name, train)

    def rank(self, request: RankRequest) -> np.ndarray:
        model = self.model
        seeker_rows = model.seeker_ids_.to_rows(request.seeker_ids, strict=False)
        job_rows = model.job_ids_.to_rows(request.job_ids, strict=False)
        out = np.full((len(request.seekers), request.k), -1, dtype=np.int64)
        known_jobs = np.flatnonzero(job_rows >= 0)
        ok = np.flatnonzero(seeker_rows >= 0)
        if len(known_jobs) == 0 or len(ok) == 0:
            return out
        order = known_jobs[np.argsort(job_rows[known_jobs], kind="stable")]  # ascending model job rows
        if request.applications is not None and isinstance(model, MarketObserver):
            model.observe_market(seeker_rows[ok], request.now, job_rows[order], request.applications[order])
        block = CandidateBlock(job_rows[order], ~request.applied[np.ix_(ok, order)])
        idx, _ = model.recommend_rows(seeker_rows[ok], request.k, candidate_mask=lambda _batch: block,
                                      exclude_seen=False, cold_seekers="popular", batch_size=max(len(ok), 1))
        position = pd.Series(order, index=job_rows[order])  # model job row -> candidate position
        found = idx >= 0
        out[ok[:, None].repeat(request.k, 1)[found], np.nonzero(found)[1]] = request.candidates[
            position.loc[idx[found]].to_numpy()]
        return out


class RankerPolicy:
    """A :class:`~recsys.api.Ranker` as a policy: ``rank_many`` with ``now`` at the session's day.

    The ranker's own filters apply (requirements, commute limit, applied jobs it knows of); postings outside
    its catalogue (posted after it was built, unless added with ``add_jobs``) are never listed, and applications
    made in the simulation are removed afterwards (the ranker asks for ``2 k`` to keep lists full).
    """

    reads_truth = False
    recommends = True

    def __init__(self, ranker: Ranker, name: str = "ranker", **filters: Any) -> None:
        self.ranker, self.name, self.filters = ranker, name, filters

    def rank(self, request: RankRequest) -> np.ndarray:
        from recsys.api import MAX_K

        wanted = min(2 * request.k, MAX_K)
        now = pd.Timestamp(request.now)
        clock = self.ranker.now
        now = now.tz_localize(clock.tz) if clock.tz is not None else now
        out = np.full((len(request.seekers), request.k), -1, dtype=np.int64)
        rows = np.arange(len(request.seekers))
        lists = self.ranker.rank_many(list(request.seeker_ids), wanted, reasons=False, now=max(now, clock),
                                      **self.filters)
        position = pd.Index(request.job_ids)
        for r, ranking in zip(rows.tolist(), lists, strict=True):
            pos = position.get_indexer([rec.job_id for rec in ranking])
            pos = pos[pos >= 0]
            pos = pos[~request.applied[r, pos]][:request.k]
            out[r, :len(pos)] = request.candidates[pos]
        return out


REFERENCE_POLICIES: dict[str, type] = {"organic": OrganicPolicy, "random": RandomPolicy,
                                       "utility_oracle": UtilityOracle, "surplus_oracle": SurplusOracle}


def as_policy(obj: Any, name: str | None = None) -> Policy:
    """A :class:`Policy` from a reference name, a fitted Recommender, a Ranker or an object with the protocol."""
    if isinstance(obj, str):
        if obj not in REFERENCE_POLICIES:
            raise PolicyError(f"policy: unknown reference policy {obj!r}; available: {sorted(REFERENCE_POLICIES)} "
                              f"(models: pass a fitted Recommender or a Ranker)")
        policy = REFERENCE_POLICIES[obj]()
        if name:
            policy.name = name
        return policy
    if isinstance(obj, Recommender):
        return RecommenderPolicy(obj, name)
    from recsys.api import Ranker

    if isinstance(obj, Ranker):
        return RankerPolicy(obj, name or "ranker")
    if not isinstance(obj, Policy):
        raise PolicyError(f"policy {obj!r}: expected a reference name, a fitted Recommender, a Ranker or an object "
                          f"with the Policy protocol (name, reads_truth, recommends, rank)")
    return obj

