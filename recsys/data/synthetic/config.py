"""Typed, validated parameters of the generator (the ``data`` config group).

:meth:`DataConfig.from_mapping` turns the composed ``data`` node into frozen dataclasses and raises a
``ValueError`` naming the field and the value for anything out of range, so bad input fails before a
single file is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsys.data.schema import CHANNELS, EVENT_KINDS

SEGMENTS = ("graduate", "prime", "older_4050", "gig")
"""Mutually exclusive seeker segments; group flags (``is_4050`` ...) are derived from them and age."""


@dataclass(frozen=True)
class UtilityWeights:
    """Weights of the seeker's utility for a job (see :mod:`recsys.data.synthetic.utility`)."""

    skill: float = 2.5  # x share of the job's required skills the seeker has
    distance: float = 1.0  # per 10 km, at base sensitivity
    over_commute: float = 0.6  # per 5 km beyond the seeker's stated max commute
    wage: float = 2.0  # x log(monthly wage midpoint / reservation wage), clipped to +-1
    job_type: float = 1.2  # penalty when the job type is not among the desired ones
    schedule: float = 0.6  # bonus for the preferred schedule (half for flexible jobs)
    education_under: float = 0.8  # per level below the job's minimum
    education_over: float = 0.3  # per level above minimum + 2
    age_limit: float = 1.5  # penalty when outside the posted age limits
    employer: float = 0.7  # x employer attractiveness (standardised)
    latent: float = 1.8  # x low-rank taste (unit variance)


@dataclass(frozen=True)
class Sensitivity:
    """Multipliers of distance sensitivity (1 + sum of the applicable ones) and its log-normal spread."""

    distance_4050: float = 0.6
    distance_female: float = 0.4
    distance_gig: float = 0.5
    distance_spread: float = 0.35


def _default_segment_channels() -> dict[str, dict[str, float]]:
    return {
        "graduate": {"gig_market": 0.0, "key_enterprise_fair": 0.05, "graduate_fair": 0.3, "station": 0.15, "online": 0.5},
        "prime": {"gig_market": 0.1, "key_enterprise_fair": 0.15, "graduate_fair": 0.0, "station": 0.25, "online": 0.5},
        "older_4050": {"gig_market": 0.3, "key_enterprise_fair": 0.1, "graduate_fair": 0.0, "station": 0.4, "online": 0.2},
        "gig": {"gig_market": 0.45, "key_enterprise_fair": 0.05, "graduate_fair": 0.0, "station": 0.15, "online": 0.35},
    }


@dataclass(frozen=True)
class SearchParams:
    """How often seekers search, what they see and how they choose."""

    session_rate: float = 0.12  # sessions per active day, before boosts
    new_seeker_boost: float = 3.0  # extra rate multiplier right after registration ...
    new_seeker_decay_days: float = 14.0  # ... decaying with this time constant
    patience_days: float = 60.0  # mean length of a search spell before giving up
    candidates_per_session: int = 100  # jobs listed in one session (sampled from the channel's pool)
    views_per_session: float = 4.0  # mean jobs opened per session (Plackett-Luce on utility)
    apply_threshold: float = 2.0  # outside option: apply to a viewed job if U + logistic > threshold
    apply_threshold_spread: float = 0.5  # seeker-level sd of the threshold
    recency_days: float = 10.0  # listings decay in visibility with this time constant
    channel_range_km: dict[str, float] = field(default_factory=lambda: {
        "gig_market": 6.0, "key_enterprise_fair": 15.0, "graduate_fair": 25.0, "station": 4.0, "online": 20.0})
    segment_activity: dict[str, float] = field(default_factory=lambda: {
        "graduate": 1.3, "prime": 1.0, "older_4050": 0.8, "gig": 1.4})
    segment_channels: dict[str, dict[str, float]] = field(default_factory=_default_segment_channels)


@dataclass(frozen=True)
class ScreeningParams:
    """Employer screening (logit of interview) and hiring (logit of hire given interview)."""

    base: float = -0.5
    skill: float = 2.0
    education: float = 1.2  # penalty per level below minimum
    age_limit: float = 3.0  # penalty when outside the posted age limits
    gender: float = 1.5  # penalty when the employer (privately) prefers the other gender
    worker_4050: float = 0.8  # unposted penalty on 4050 workers
    hire_base: float = -0.3
    hire_skill: float = 1.5
    hire_experience: float = 0.4  # per 10 years


@dataclass(frozen=True)
class MarketParams:
    """Posting lifetimes, vacancies, delays and time out of the market after a hire."""

    job_life_days: dict[str, float] = field(default_factory=lambda: {
        "gig_market": 10.0, "key_enterprise_fair": 25.0, "graduate_fair": 30.0, "station": 30.0, "online": 30.0})
    vacancies_mean: float = 2.0
    decision_delay_days: float = 2.0
    gig_return_days: float = 10.0
    part_time_return_days: float = 45.0
    full_time_return_days: float = 240.0
    training_completion: float = 0.85
    order_training_share: float = 0.15
    key_enterprise_share: float = 0.06


WORLD_UTILITY_TERMS = tuple(f.name for f in dataclasses.fields(UtilityWeights))


@dataclass(frozen=True)
class WorldParams:
    """How hard the market is: the ``data.world`` node (presets in ``configs/data/world/``).

    The default world of the package is ``realistic`` (``configs/data/small.yaml``, so every command and
    ``generate_preset``). The field defaults here are the neutral values, those of the ``easy`` world (the
    generator as it was before worlds existed): what a world node leaves out, or a data config without one
    (written before worlds), means. With them :meth:`DataConfig.in_world` changes nothing and the same seed
    gives the same tables.
    """

    name: str = "easy"
    choice_noise: float = 1.0  # scale of the Gumbel noise on which listed jobs a seeker opens (1 = standard)
    apply_noise: float = 1.0  # scale of the logistic noise of the apply decision (1 = standard)
    exposure_noise: float = 0.0  # sd of a posting's log visibility in listings (0 = all equally visible)
    review_per_vacancy: int = 0  # applicants an employer screens per vacancy, first come (0 = all of them)
    results_per_search: int = 0  # postings one search returns: a random part of the channel's pool (0 = all of it)
    utility_scale: dict[str, float] = field(default_factory=dict)  # multiplier of each utility weight (default 1)
    apply_threshold_shift: float = 0.0  # added to search.apply_threshold (the outside option)
    screening_base_shift: float = 0.0  # added to screening.base (logit of an interview)
    hire_base_shift: float = 0.0  # added to screening.hire_base (logit of a hire after an interview)
    channel_range_scale: float = 1.0  # multiplier of search.channel_range_km (how far listings reach)
    posting_life_scale: float = 1.0  # multiplier of market.job_life_days (planned posting lifetimes)
    fairs_follow_population: bool = False  # fairs per year x population_scale instead of x fair_scale
    fair_day_boost: float = 1.0  # listing weight of its listed postings for a seeker at a fair (1 = like any posting)
    fair_attendance: float = 0.0  # chance that the searching seeker of a fair's target group nearest to it attends
    fair_reach: float = 1000.0  # ... decaying as exp(-distance rank / fair_reach) (a number of seekers, not km)
    gig_fair_share: float = 0.5  # share of gig-market postings (not open at the start) first posted at a gig fair
    fair_vacancies_mean: dict[str, float] = field(default_factory=dict)  # per fair kind: mean vacancies of the
    # postings first posted at such a fair (geometric tail above 1; a kind left out: like any posting)
    hide_post_hoc_facts: bool = False  # publish planned expiry + job_events; filled and segment only in truth/

    @property
    def neutral(self) -> bool:
        """True when the world changes nothing (the ``easy`` generator)."""
        return dataclasses.replace(self, name="easy", utility_scale={}) == WorldParams() and all(
            float(v) == 1.0 for v in self.utility_scale.values())

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field of ``data.world``."""
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"data.world.name: must be a non-empty string, got {self.name!r}")
        _keys_within("data.world.utility_scale", self.utility_scale, WORLD_UTILITY_TERMS)
        for key, value in self.utility_scale.items():
            _finite_at_least(f"data.world.utility_scale.{key}", value, 0.0)
        for name in ("choice_noise", "apply_noise", "channel_range_scale", "posting_life_scale", "fair_day_boost",
                     "fair_reach"):
            _finite_at_least(f"data.world.{name}", getattr(self, name), 0.0, strict=True)
        _finite_at_least("data.world.exposure_noise", self.exposure_noise, 0.0)
        _keys_within("data.world.fair_vacancies_mean", self.fair_vacancies_mean, EVENT_KINDS)
        for key, value in self.fair_vacancies_mean.items():
            _finite_at_least(f"data.world.fair_vacancies_mean.{key}", value, 1.0)
        for name in ("gig_fair_share", "fair_attendance"):
            share = getattr(self, name)
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
                raise ValueError(f"data.world.{name}: must be a number in [0, 1], got {share!r}")
        for name in ("apply_threshold_shift", "screening_base_shift", "hire_base_shift"):
            _finite_at_least(f"data.world.{name}", getattr(self, name), -math.inf)
        for name in ("fairs_follow_population", "hide_post_hoc_facts"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"data.world.{name}: must be true or false, got {getattr(self, name)!r}")
        for name in ("review_per_vacancy", "results_per_search"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"data.world.{name}: must be an integer >= 0, got {value!r}")

    @classmethod
    def from_mapping(cls, node: Mapping[str, Any]) -> WorldParams:
        """Build and validate the ``data.world`` node."""
        if not isinstance(node, Mapping):
            raise ValueError(f"data.world: expected a world preset mapping (select one with data/world=<name>), "
                             f"got {node!r}")
        world = _build(cls, dict(node), "data.world")
        world.validate()
        return world

    def digest(self) -> str:
        """Short hash of every parameter (recorded in the manifest beside the name)."""
        payload = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class DataConfig:
    """All parameters of one preset (the composed ``data`` node)."""

    preset: str
    dir: str
    start: str = "2024-01-01"
    days: int = 182
    n_seekers: int = 20_000
    n_jobs: int = 5_000
    n_employers: int = 1_500
    initial_seeker_share: float = 0.3
    initial_job_share: float = 0.1
    fair_scale: float = 1.0
    reference_seekers_per_year: float = 1_000_000.0
    latent_dim: int = 12
    latent_employer_share: float = 0.4
    seeker_segments: dict[str, float] = field(default_factory=lambda: {
        "graduate": 0.22, "prime": 0.38, "older_4050": 0.22, "gig": 0.18})
    job_channels: dict[str, float] = field(default_factory=lambda: {
        "gig_market": 0.15, "key_enterprise_fair": 0.12, "graduate_fair": 0.13, "station": 0.25, "online": 0.35})
    utility: UtilityWeights = field(default_factory=UtilityWeights)
    sensitivity: Sensitivity = field(default_factory=Sensitivity)
    search: SearchParams = field(default_factory=SearchParams)
    screening: ScreeningParams = field(default_factory=ScreeningParams)
    market: MarketParams = field(default_factory=MarketParams)
    world: WorldParams = field(default_factory=WorldParams)

    def in_world(self) -> DataConfig:
        """The parameters the generator runs with: the world's multipliers and shifts applied.

        Identity for a neutral world (``easy``), so the easy world reproduces the old generator exactly.
        """
        w = self.world
        if w.neutral:
            return self
        scaled = {k: getattr(self.utility, k) * float(v) for k, v in w.utility_scale.items()}
        return dataclasses.replace(
            self,
            fair_scale=self.population_scale if w.fairs_follow_population else self.fair_scale,
            utility=dataclasses.replace(self.utility, **scaled),
            search=dataclasses.replace(
                self.search, apply_threshold=self.search.apply_threshold + w.apply_threshold_shift,
                channel_range_km={k: v * w.channel_range_scale for k, v in self.search.channel_range_km.items()}),
            screening=dataclasses.replace(self.screening, base=self.screening.base + w.screening_base_shift,
                                          hire_base=self.screening.hire_base + w.hire_base_shift),
            market=dataclasses.replace(
                self.market, job_life_days={k: v * w.posting_life_scale for k, v in self.market.job_life_days.items()}),
        )

    @property
    def start_ns(self) -> np.datetime64:
        """Start of the simulated span (midnight)."""
        return np.datetime64(self.start, "D").astype("datetime64[ns]")

    @property
    def population_scale(self) -> float:
        """Seekers per year of this preset over the reference (whole city service volume = 1)."""
        return self.n_seekers / (self.days / 365.0) / self.reference_seekers_per_year

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DataConfig:
        """Build and validate from a plain mapping (``OmegaConf.to_container(cfg.data, resolve=True)``)."""
        config = _build(cls, dict(data), "data")
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        for name in ("days", "n_seekers", "n_jobs", "n_employers", "latent_dim"):
            _positive_int(f"data.{name}", getattr(self, name))
        _positive_int("data.search.candidates_per_session", self.search.candidates_per_session)
        try:
            np.datetime64(self.start, "D")
        except ValueError as exc:
            raise ValueError(f"data.start: not a date: {self.start!r}") from exc
        for name in ("initial_seeker_share", "initial_job_share", "latent_employer_share"):
            _share(f"data.{name}", getattr(self, name))
        _shares("data.seeker_segments", self.seeker_segments, SEGMENTS)
        _shares("data.job_channels", self.job_channels, CHANNELS)
        for segment, shares in self.search.segment_channels.items():
            _shares(f"data.search.segment_channels.{segment}", shares, CHANNELS)
        _keys("data.search.segment_channels", self.search.segment_channels, SEGMENTS)
        _keys("data.search.segment_activity", self.search.segment_activity, SEGMENTS)
        _keys("data.search.channel_range_km", self.search.channel_range_km, CHANNELS)
        _keys("data.market.job_life_days", self.market.job_life_days, CHANNELS)
        for group in ("utility", "sensitivity", "search", "screening", "market"):
            for f in dataclasses.fields(getattr(self, group)):
                value = getattr(getattr(self, group), f.name)
                values = value.values() if isinstance(value, dict) else [value]
                for v in values:
                    if isinstance(v, dict):
                        continue
                    if not math.isfinite(float(v)):
                        raise ValueError(f"data.{group}.{f.name}: must be finite, got {v!r}")
                    if group not in ("utility", "screening") and float(v) < 0:
                        raise ValueError(f"data.{group}.{f.name}: must be >= 0, got {v!r}")
        for name in ("fair_scale", "reference_seekers_per_year"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"data.{name}: must be > 0, got {getattr(self, name)!r}")
        for name in ("training_completion", "order_training_share", "key_enterprise_share"):
            _share(f"data.market.{name}", getattr(self.market, name))
        self.world.validate()


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        factory = known[name].default_factory
        default = None if factory is dataclasses.MISSING else factory()
        if dataclasses.is_dataclass(default):
            if not isinstance(value, Mapping):
                raise ValueError(f"{where}.{name}: expected a mapping, got {value!r}")
            kwargs[name] = _build(type(default), dict(value), f"{where}.{name}")
        else:
            kwargs[name] = dict(value) if isinstance(value, Mapping) else value
            if isinstance(value, Mapping):
                kwargs[name] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _keys_within(name: str, mapping: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{name}: expected a mapping, got {mapping!r}")
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {unknown}; known: {list(allowed)}")


def _finite_at_least(name: str, value: Any, low: float, strict: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
            or not math.isfinite(float(value)) or float(value) < low or (strict and float(value) == low):
        bound = f"> {low:g}" if strict else (f">= {low:g}" if math.isfinite(low) else "finite")
        raise ValueError(f"{name}: must be a number {bound}, got {value!r}")


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")


def _share(name: str, value: Any) -> None:
    if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name}: must be a share in [0, 1], got {value!r}")


def _keys(name: str, mapping: Mapping[str, Any], expected: tuple[str, ...]) -> None:
    if set(mapping) != set(expected):
        raise ValueError(f"{name}: keys must be exactly {list(expected)}, got {sorted(mapping)}")


def _shares(name: str, mapping: Mapping[str, float], expected: tuple[str, ...]) -> None:
    _keys(name, mapping, expected)
    for key, value in mapping.items():
        _share(f"{name}.{key}", value)
    total = float(sum(mapping.values()))
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{name}: shares must sum to 1, got {total:.6g} ({dict(mapping)})")
