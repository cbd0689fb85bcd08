"""The seeker's utility for a job: one definition shared by the simulation and the ground truth.

``U(s, j) = observable(s, j) + latent(s, j)``; the choice model adds Gumbel / logistic noise to ``U``.

observable
    ``skill * |S_s & R_j| / |R_j|`` (share of required skills held)
    ``- beta_s * km / 10`` (seeker-specific distance sensitivity, already scaled by the weight)
    ``- over_commute * max(0, km - max_commute_s) / 5``
    ``+ wage * clip(log(wage_j / reservation_s), -1, 1)`` (monthly equivalents)
    ``- job_type * [type_j not desired]`` ``+ schedule * ([sched_j = pref_s] + 0.5 [sched_j = flexible])``
    ``- education_under * levels below minimum - education_over * max(0, levels above minimum - 2)``
    ``- age_limit * [age_s outside the posted limits]`` ``+ employer * attractiveness_j``
latent
    ``latent * <u_s, v_j>`` with unit-variance factors of dimension ``latent_dim``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.data.synthetic.config import UtilityWeights
from recsys.data.synthetic.geography import distance_km

FLEXIBLE = 3  # index of "flexible" in schema.SCHEDULES


@dataclass
class SeekerArrays:
    """Per-seeker arrays the utility needs (row i = seeker i)."""

    bits: np.ndarray  # (n, W) uint64 skill bitmask (without trainings)
    lat: np.ndarray
    lon: np.ndarray
    age: np.ndarray
    education: np.ndarray  # index into EDUCATION_LEVELS
    desired_types: np.ndarray  # bitmask over JOB_TYPES
    schedule: np.ndarray  # preferred schedule index
    reservation: np.ndarray  # monthly CNY
    max_commute: np.ndarray  # km
    beta: np.ndarray  # distance weight per 10 km (includes UtilityWeights.distance)
    latent: np.ndarray  # (n, d)


@dataclass
class JobArrays:
    """Per-job arrays the utility needs (row j = job j)."""

    bits: np.ndarray  # (m, W) uint64 required skills
    lat: np.ndarray
    lon: np.ndarray
    wage: np.ndarray  # monthly-equivalent midpoint, CNY
    job_type: np.ndarray  # index into JOB_TYPES
    schedule: np.ndarray  # index into SCHEDULES
    min_education: np.ndarray
    age_min: np.ndarray  # 0 when not posted
    age_max: np.ndarray  # 200 when not posted
    attractiveness: np.ndarray  # employer attractiveness, standardised
    latent: np.ndarray  # (m, d)


def save_arrays(path: Path, arrays: SeekerArrays | JobArrays, ids: np.ndarray) -> None:
    """Write the arrays and their string ids to ``path`` (npz, no pickle)."""
    np.savez(path, ids=np.asarray(ids, dtype=str), **dataclasses.asdict(arrays))


def load_arrays(path: Path, cls: type[SeekerArrays] | type[JobArrays]) -> tuple[SeekerArrays | JobArrays, np.ndarray]:
    """Inverse of :func:`save_arrays`."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = cls(**{f.name: npz[f.name] for f in dataclasses.fields(cls)})
        return arrays, npz["ids"]


def skill_share(seeker_bits: np.ndarray, job_bits: np.ndarray) -> np.ndarray:
    """Share of the job's required skills the seeker holds; bit arrays broadcast over leading axes."""
    held = np.bitwise_count(seeker_bits & job_bits).sum(axis=-1, dtype=np.int16)
    required = np.bitwise_count(job_bits).sum(axis=-1, dtype=np.int16)
    return held / np.maximum(required, 1)


def observable_utility(s: SeekerArrays, j: JobArrays, si: np.ndarray, ji: np.ndarray, w: UtilityWeights,
                       seeker_bits: np.ndarray | None = None) -> np.ndarray:
    """Observable utility for index arrays ``si`` (n, 1) and ``ji`` (n, k) or (1, m); float32 result.

    ``seeker_bits`` (n, 1, W) overrides the stored skills (skills gained in training up to some time).
    """
    bits = s.bits[si] if seeker_bits is None else seeker_bits
    km = distance_km(s.lat[si], s.lon[si], j.lat[ji], j.lon[ji])
    age = s.age[si]
    u = w.skill * skill_share(bits, j.bits[ji])
    u -= s.beta[si] * (km / 10.0)
    u -= w.over_commute * np.maximum(km - s.max_commute[si], 0.0) / 5.0
    u += w.wage * np.clip(np.log(j.wage[ji] / s.reservation[si]), -1.0, 1.0)
    type_ok = (s.desired_types[si] >> j.job_type[ji]) & 1
    u -= w.job_type * (1 - type_ok)
    job_schedule = j.schedule[ji]
    u += w.schedule * ((job_schedule == s.schedule[si]) + 0.5 * (job_schedule == FLEXIBLE))
    gap = s.education[si].astype(np.int16) - j.min_education[ji].astype(np.int16)
    u -= w.education_under * np.maximum(-gap, 0) + w.education_over * np.maximum(gap - 2, 0)
    u -= w.age_limit * ((age < j.age_min[ji]) | (age > j.age_max[ji]))
    u += w.employer * j.attractiveness[ji]
    return u.astype(np.float32)


def latent_utility(s: SeekerArrays, j: JobArrays, si: np.ndarray, ji: np.ndarray, w: UtilityWeights) -> np.ndarray:
    """Latent taste ``latent * <u_s, v_j>`` for the same index shapes as :func:`observable_utility`."""
    u = s.latent[si[:, 0]].astype(np.float32, copy=False)
    if ji.shape[0] == 1 and si.shape[0] != 1:
        return w.latent * (u @ j.latent[ji[0]].astype(np.float32, copy=False).T)
    v = j.latent[ji].astype(np.float32, copy=False)  # (n, k, d)
    return w.latent * np.matmul(v, u[:, :, None])[..., 0]
