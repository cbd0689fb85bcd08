"""Ranking objectives for placements: what the ranker orders the candidate jobs of a seeker by.

Every objective is a thin layer over two fitted models: the apply model (the ranker's factor model,
score ``s``) and the hiring model (:class:`recsys.models.hiring.HiringModel`, ``p = P(hire | apply)``).
The ranking key of job ``j`` for a seeker (higher is better; it is the ``score`` of a
:class:`~recsys.api.reasons.Recommendation`):

* ``apply``: ``s`` (today's ranking: how likely the seeker is to apply);
* ``hire``: ``log P(apply) + log p`` with ``P(apply) = sigmoid(a * s + b)`` (:class:`ApplyCalibration`),
  i.e. the log of the probability that showing the job ends in a hire;
* ``surplus``: ``log Γ`` with the expected-surplus index of Bied et al. (2026),
  ``Γ(p, U) = p * σ * log(1 + exp(Δ / σ))``. We read the apply model as a logit choice between applying
  and the outside option with logistic taste shocks: ``Δ = a * s + b`` is the calibrated log-odds of
  applying, the seeker's surplus of applying over the outside option in units of the apply model's
  shock scale, and ``σ`` (``surplus_sigma``) rescales the shocks. ``σ → 0`` ranks by ``p * max(Δ, 0)``
  (utility-weighted success), a large ``σ`` by ``p`` alone (hiring probability only).

**Congestion** (``congestion = λ >= 0``) subtracts ``λ * log(1 + c_j)`` from any key, where ``c_j`` is the
expected competition per remaining opening: ``c_j = (n_j + n̂_j) / v_j``, with ``n_j`` the applications
the posting received so far (live: :meth:`recsys.api.ranker.Ranker.record_applications`), ``n̂_j`` the
applications it is predicted to receive before it closes (its rate so far, ``n_j`` over its age in days
(at least one), times its remaining days, at most ``horizon_days``) and ``v_j`` its openings.

**Two stages** (exactness trade-off): the compiled kernel first takes the seeker's best ``candidates``
jobs by the apply score under the request's rules (exact), then the objective re-ranks them. A job outside
the apply model's top ``candidates`` is never shown, so the result equals ranking every job by the
objective only when the objective's top ``k`` lies within them. The hiring features of a pair cannot all
be precomputed (skills, distance, age limits depend on both sides), and ``candidates`` bounds how many
pairs a request evaluates the hiring trees on.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.api.errors import InvalidFilterError, InvalidRequestError

OBJECTIVES = ("apply", "hire", "surplus")
"""Names of the ranking objectives."""
OBJECTIVE_CODES = {name: code for code, name in enumerate(OBJECTIVES)}
"""Objective name -> the code of the compiled second stage (:func:`recsys.api.kernels.placement_keys`)."""
NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class Objective:
    """A ranking objective and its parameters (Hydra: ``configs/objective/*.yaml``).

    Parameters
    ----------
    name
        ``"apply"``, ``"hire"`` or ``"surplus"`` (see the module docstring).
    congestion
        Strength ``λ >= 0`` of the congestion discount (0: none).
    candidates
        Jobs re-ranked per seeker (the apply model's top ``candidates``), at least ``k``.
    surplus_sigma
        Taste-shock scale ``σ > 0`` of the expected-surplus index.
    horizon_days
        Longest look-ahead of the predicted applications ``n̂`` (days).
    """

    name: str = "apply"
    congestion: float = 0.0
    candidates: int = 50
    surplus_sigma: float = 1.0
    horizon_days: float = 14.0

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise InvalidFilterError("objective", f"must be one of {list(OBJECTIVES)}", value=self.name)
        for field, value, low in (("congestion", self.congestion, 0.0), ("surplus_sigma", self.surplus_sigma, 0.0),
                                  ("horizon_days", self.horizon_days, 0.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value) or value < low or (field == "surplus_sigma" and value == 0):
                raise InvalidFilterError(field, f"must be a finite number {'>' if field == 'surplus_sigma' else '>='} "
                                         f"{low}", value=value)
        if isinstance(self.candidates, bool) or not isinstance(self.candidates, (int, np.integer)) \
                or not 1 <= self.candidates <= 10_000:
            raise InvalidFilterError("candidates", "must be an integer in [1, 10000]", value=self.candidates)

    @property
    def plain(self) -> bool:
        """True when the objective is today's ranking (apply, no congestion): the single-stage path."""
        return self.name == "apply" and self.congestion == 0

    @property
    def needs_hiring(self) -> bool:
        return self.name in ("hire", "surplus")


_APPLY = Objective()

NAMED_PARAMETERS: dict[str, dict[str, Any]] = {"surplus": {"candidates": 14, "surplus_sigma": 0.5}}
"""Parameters a named objective (``objective="surplus"`` or a mapping without them) starts from, where they
differ from the :class:`Objective` field defaults: the setting tuned on simulations that end before the test
window (experiment 06; ``configs/objective/surplus.yaml`` holds the same values, and a test keeps them equal)."""


def as_objective(objective: Any = None, congestion: Any = None) -> Objective:
    """An :class:`Objective` from a name, an :class:`Objective` or a mapping of its fields; ``congestion``
    (if given) overrides the objective's strength. ``None`` is ``"apply"``. A name, or a mapping without
    some fields, starts from :data:`NAMED_PARAMETERS` (the tuned setting); an :class:`Objective` is taken
    as it is."""
    if objective is None and congestion is None:
        return _APPLY
    if objective is None or isinstance(objective, str):
        return _named_objective(objective or "apply", 0.0 if congestion is None else congestion)
    elif isinstance(objective, dict):
        unknown = sorted(set(objective) - {"name", "congestion", "candidates", "surplus_sigma", "horizon_days"})
        if unknown:
            raise InvalidFilterError("objective", f"unknown field(s) {unknown}", show_value=False)
        name = objective.get("name", "apply")
        objective = Objective(**{**(NAMED_PARAMETERS.get(name, {}) if isinstance(name, str) else {}), **objective})
    elif not isinstance(objective, Objective):
        raise InvalidFilterError("objective", "must be a name, an Objective or a mapping", value=objective)
    if congestion is not None:
        objective = Objective(objective.name, congestion, objective.candidates, objective.surplus_sigma,
                              objective.horizon_days)
    return objective


def _named_objective(name: str, congestion: Any) -> Objective:
    """``Objective(name, congestion)``, validated once per distinct request value (per-request reuse)."""
    try:
        return _cached_objective(name, congestion)
    except TypeError:  # unhashable: let the dataclass name the field
        return Objective(name=name, congestion=congestion, **NAMED_PARAMETERS.get(name, {}))


@functools.lru_cache(maxsize=256, typed=True)  # typed: True and 1 stay apart (a bool is refused)
def _cached_objective(name: str, congestion: Any) -> Objective:
    return Objective(name=name, congestion=congestion, **NAMED_PARAMETERS.get(name, {}))


@dataclass(frozen=True)
class ApplyCalibration:
    """``P(apply) = sigmoid(slope * score + intercept)`` for a (seeker, active posting) pair.

    Fitted by :meth:`fit` with a logistic regression of "applied" on the apply model's score over the
    training applications and ``negatives`` random active postings per application (same time), and
    the intercept corrected for the sampling of the negatives (case-control correction:
    ``intercept += log(negatives / (active postings - 1))``).
    """

    slope: float = 1.0
    intercept: float = 0.0

    def logit(self, scores: np.ndarray) -> np.ndarray:
        return self.slope * np.asarray(scores, float) + self.intercept

    @classmethod
    def fit(cls, model: Any, dataset: Any, cutoff: Any = None, *, negatives: int = 20, seed: int = 0
            ) -> ApplyCalibration:
        """Fit on the applications at or before ``cutoff`` (default: all) of ``dataset``; ``model`` is a
        fitted :class:`~recsys.models.protocols.FactorModel` of the dataset."""
        from sklearn.linear_model import LogisticRegression

        rng = np.random.default_rng(seed)
        interactions = dataset.interactions
        ts = interactions["ts"].to_numpy("datetime64[ns]")
        limit = ts.max() if cutoff is None else np.datetime64(pd.Timestamp(cutoff).to_datetime64())
        applied = interactions[(interactions["event"].to_numpy() == "apply") & (ts <= limit)]
        if len(applied) == 0:
            raise InvalidRequestError("ApplyCalibration.fit: no 'apply' events at or before the cutoff")
        seekers = applied["seeker_row"].to_numpy(np.int64)
        jobs = applied["job_row"].to_numpy(np.int64)
        times = applied["ts"].to_numpy("datetime64[ns]")
        posted = pd.to_datetime(dataset.jobs.get("posted_at", pd.Series(pd.NaT, index=dataset.jobs.index)))
        expires = pd.to_datetime(dataset.jobs.get("expires_at", pd.Series(pd.NaT, index=dataset.jobs.index)))
        posted_ns = posted.to_numpy("datetime64[ns]").astype(np.int64)
        posted_ns = np.where(posted.isna().to_numpy(), np.iinfo(np.int64).min, posted_ns)
        expires_ns = expires.to_numpy("datetime64[ns]").astype(np.int64)
        expires_ns = np.where(expires.isna().to_numpy(), np.iinfo(np.int64).max, expires_ns)
        # negatives: postings active at the application time, by rejection from uniform draws
        n_pos, n_jobs = len(seekers), dataset.n_jobs
        draws = rng.integers(0, n_jobs, (n_pos, negatives * 4))
        t = times.astype(np.int64)[:, None]
        active = (posted_ns[draws] <= t) & (expires_ns[draws] > t) & (draws != jobs[:, None])
        take = np.cumsum(active, axis=1) <= negatives
        neg_seekers = np.broadcast_to(seekers[:, None], draws.shape)[active & take]
        neg_jobs = draws[active & take]
        active_share = active.mean()
        s_emb, s_bias = model.seeker_representations()
        j_emb, j_bias = model.job_representations()

        def score(s: np.ndarray, j: np.ndarray) -> np.ndarray:
            return np.einsum("ij,ij->i", s_emb[s], j_emb[j]) + s_bias[s] + j_bias[j]

        x = np.concatenate([score(seekers, jobs), score(neg_seekers, neg_jobs)])[:, None].astype(float)
        y = np.r_[np.ones(n_pos), np.zeros(len(neg_jobs))]
        fitted = LogisticRegression(C=1e4).fit(x, y)
        population = max(active_share * n_jobs - 1, 1.0)  # active postings a seeker could have applied to
        sampled = len(neg_jobs) / n_pos
        return cls(float(fitted.coef_[0, 0]), float(fitted.intercept_[0] + np.log(sampled / population)))


def competition(applications: np.ndarray, vacancies: np.ndarray, posted_ns: np.ndarray, expires_ns: np.ndarray,
                now_ns: int, horizon_days: float) -> np.ndarray:
    """Expected competitors per remaining opening ``c = (n + n̂) / v`` (see the module docstring)."""
    known = posted_ns > np.iinfo(np.int64).min + 1
    age_days = np.where(known, (now_ns - np.where(known, posted_ns, now_ns)) / NS_PER_DAY, 1.0)
    remaining = np.clip((expires_ns.astype(float) - now_ns) / NS_PER_DAY, 0.0, horizon_days)
    predicted = applications / np.maximum(age_days, 1.0) * remaining
    return (applications + predicted) / np.maximum(vacancies, 1.0)


def objective_keys(objective: Objective, scores: np.ndarray, hire_probability: np.ndarray | None,
                   calibration: ApplyCalibration | None, crowding: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(key, hire_term, congestion_term)`` of candidate jobs (any shape, aligned).

    ``key = base + hire_term + congestion_term``: ``hire_term`` is ``log p`` (0 for ``apply``),
    ``congestion_term`` is ``-λ log(1 + c)`` (0 without congestion) and ``base`` is the apply part
    (``s``, ``log P(apply)`` or ``log(σ softplus(Δ / σ))``).
    """
    scores = np.asarray(scores, float)
    hire_term = np.zeros_like(scores)
    if objective.name == "apply":
        base = scores
    else:
        assert hire_probability is not None and calibration is not None
        hire_term = np.log(np.clip(hire_probability, 1e-9, 1.0))
        logit = calibration.logit(scores)
        if objective.name == "hire":
            base = -np.logaddexp(0.0, -logit)  # log sigmoid
        else:
            sigma = objective.surplus_sigma
            base = np.log(sigma) + np.log(np.maximum(np.logaddexp(0.0, logit / sigma), 1e-300))
    congestion_term = (np.zeros_like(scores) if objective.congestion == 0 or crowding is None
                       else -objective.congestion * np.log1p(crowding))
    return base + hire_term + congestion_term, hire_term, congestion_term
