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
from typing import TypeVar

import numpy as np

from recsys.data.geo import planar_km
from recsys.data.schema import EDUCATION_LEVELS, JOB_TYPES, SCHEDULES
from recsys.data.synthetic.config import UtilityWeights

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


ArraysT = TypeVar("ArraysT", SeekerArrays, JobArrays)


def load_arrays(path: Path, cls: type[ArraysT]) -> tuple[ArraysT, np.ndarray]:
    """Inverse of :func:`save_arrays`."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = cls(**{f.name: npz[f.name] for f in dataclasses.fields(cls)})
        return arrays, npz["ids"]


def skill_share(seeker_bits: np.ndarray, job_bits: np.ndarray) -> np.ndarray:
    """Share of the job's required skills the seeker holds; bit arrays broadcast over leading axes."""
    held = np.bitwise_count(seeker_bits & job_bits).sum(axis=-1, dtype=np.int16)
    required = np.bitwise_count(job_bits).sum(axis=-1, dtype=np.int16)
    return held / np.maximum(required, 1)


def _categorical_table(w: UtilityWeights) -> np.ndarray:
    """Job-type, schedule and education terms, float32 (seeker code, job code).

    Seeker code = (desired-types bitmask, preferred schedule, education); job code = (job type, schedule,
    minimum education); both row-major, as built in :class:`UtilityTerms`.
    """
    n_edu, n_sched, n_types = len(EDUCATION_LEVELS), len(SCHEDULES), len(JOB_TYPES)
    desired, s_sched, s_edu = (a.reshape(-1, 1) for a in np.meshgrid(
        np.arange(2 ** n_types), np.arange(n_sched), np.arange(n_edu), indexing="ij"))
    j_type, j_sched, j_edu = (a.reshape(1, -1) for a in np.meshgrid(
        np.arange(n_types), np.arange(n_sched), np.arange(n_edu), indexing="ij"))
    gap = s_edu - j_edu
    table = (-w.job_type * (1 - ((desired >> j_type) & 1))
             + w.schedule * ((j_sched == s_sched) + 0.5 * (j_sched == FLEXIBLE))
             - w.education_under * np.maximum(-gap, 0) - w.education_over * np.maximum(gap - 2, 0))
    return table.astype(np.float32)


class UtilityTerms:
    """The observable utility's per-seeker and per-job terms, prepared once (float32) to score many pairs.

    Same definition as the module docstring, arranged for speed: the job-type, schedule and education
    terms depend only on (desired types, preferred schedule, education) x (job type, schedule, minimum
    education), so they are one lookup in a small table; the employer term is a per-job constant; skill
    bitmasks are kept as one contiguous array per 64-bit word.
    """

    def __init__(self, s: SeekerArrays, j: JobArrays, w: UtilityWeights) -> None:
        n_edu, n_sched, n_types = len(EDUCATION_LEVELS), len(SCHEDULES), len(JOB_TYPES)
        self.seeker_x, self.seeker_y = planar_km(s.lat, s.lon)
        self.job_x, self.job_y = planar_km(j.lat, j.lon)
        self.seeker_beta = (np.asarray(s.beta) / 10.0).astype(np.float32)
        self.seeker_max_commute = np.asarray(s.max_commute, dtype=np.float32)
        self.seeker_log_reservation = np.log(s.reservation).astype(np.float32)
        self.job_log_wage = np.log(j.wage).astype(np.float32)
        self.seeker_age = np.asarray(s.age, dtype=np.int16)
        self.job_age_min = np.asarray(j.age_min, dtype=np.int16)
        self.job_age_max = np.asarray(j.age_max, dtype=np.int16)
        self.job_constant = (w.employer * np.asarray(j.attractiveness)).astype(np.float32)
        required = np.bitwise_count(j.bits).sum(axis=-1)
        self.job_skill_scale = (w.skill / np.maximum(required, 1)).astype(np.float32)
        self.job_words = [np.ascontiguousarray(j.bits[:, k]) for k in range(j.bits.shape[1])]
        n_job_codes = n_types * n_sched * n_edu
        # Seeker code pre-multiplied: seeker_code + job_code indexes the flattened categorical table directly.
        self.seeker_code = (((s.desired_types.astype(np.int32) * n_sched + s.schedule) * n_edu + s.education)
                            * n_job_codes).astype(np.int32)
        self.job_code = ((j.job_type.astype(np.int32) * n_sched + j.schedule) * n_edu + j.min_education).astype(np.int32)
        self.categorical = _categorical_table(w).ravel()
        self.seeker_latent = np.asarray(s.latent, dtype=np.float32)
        self.job_latent = np.asarray(j.latent, dtype=np.float32)
        self.weights = w

    def observable(self, si: np.ndarray, ji: np.ndarray, seeker_bits: np.ndarray) -> np.ndarray:
        """Observable utility of index arrays ``si`` (n, 1) and ``ji`` (n, k) or (1, m), float32.

        ``seeker_bits`` (n, 1, W): the seekers' skill bitmasks at the time of interest.
        """
        w = self.weights
        held = sum(np.bitwise_count(seeker_bits[..., k] & words[ji]) for k, words in enumerate(self.job_words))
        u = held * self.job_skill_scale[ji]
        dx = self.seeker_x[si] - self.job_x[ji]
        dy = self.seeker_y[si] - self.job_y[ji]
        km = np.sqrt(dx * dx + dy * dy, out=dx)
        u -= self.seeker_beta[si] * km
        km -= self.seeker_max_commute[si]
        np.maximum(km, 0.0, out=km)
        u -= np.float32(w.over_commute / 5.0) * km
        log_ratio = self.job_log_wage[ji] - self.seeker_log_reservation[si]
        np.clip(log_ratio, -1.0, 1.0, out=log_ratio)
        u += np.float32(w.wage) * log_ratio
        u += self.categorical[self.seeker_code[si] + self.job_code[ji]]
        age = self.seeker_age[si]
        outside = (age < self.job_age_min[ji]) | (age > self.job_age_max[ji])
        u -= np.float32(w.age_limit) * outside
        u += self.job_constant[ji]
        return u

    def breakdown(self, si: np.ndarray, ji: np.ndarray, seeker_bits: np.ndarray) -> dict[str, np.ndarray]:
        """Each term of the total utility separately (same shapes as :meth:`observable`), float32.

        Terms: ``skill``, ``distance``, ``over_commute``, ``wage``, ``categorical`` (job type, schedule,
        education), ``age_limit``, ``employer``, ``latent``; their sum is ``observable + latent``.
        """
        w = self.weights
        held = sum(np.bitwise_count(seeker_bits[..., k] & words[ji]) for k, words in enumerate(self.job_words))
        km = np.hypot(self.seeker_x[si] - self.job_x[ji], self.seeker_y[si] - self.job_y[ji])
        log_ratio = np.clip(self.job_log_wage[ji] - self.seeker_log_reservation[si], -1.0, 1.0)
        age = self.seeker_age[si]
        outside = (age < self.job_age_min[ji]) | (age > self.job_age_max[ji])
        shape = np.broadcast_shapes(np.shape(si), np.shape(ji))
        latent = np.einsum("...d,...d->...", self.seeker_latent[si], self.job_latent[ji])
        return {
            "skill": np.broadcast_to(held * self.job_skill_scale[ji], shape).astype(np.float32),
            "distance": (-self.seeker_beta[si] * km).astype(np.float32),
            "over_commute": (-np.float32(w.over_commute / 5.0) * np.maximum(km - self.seeker_max_commute[si], 0.0)),
            "wage": np.float32(w.wage) * log_ratio,
            "categorical": self.categorical[self.seeker_code[si] + self.job_code[ji]],
            "age_limit": -np.float32(w.age_limit) * outside.astype(np.float32),
            "employer": np.broadcast_to(self.job_constant[ji], shape).astype(np.float32),
            "latent": (np.float32(w.latent) * latent).astype(np.float32),
        }

    def latent_in_pool(self, seekers: np.ndarray, pool: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Latent utility of ``seekers`` (n,) for jobs ``pool[local]`` (``local`` (n, k) indexes ``pool``), float32.

        Unless the pool is several times larger than k, one dense (n, pool) product (BLAS) beats gathering
        (n, k, d) factors.
        """
        u = self.seeker_latent[seekers]
        if len(pool) <= 6 * local.shape[1]:
            dense = u @ self.job_latent[pool].T
            return self.weights.latent * np.take_along_axis(dense, local, axis=1)
        v = self.job_latent[pool[local]]
        return self.weights.latent * np.matmul(v, u[:, :, None])[..., 0]


def observable_utility(s: SeekerArrays, j: JobArrays, si: np.ndarray, ji: np.ndarray, w: UtilityWeights,
                       seeker_bits: np.ndarray | None = None) -> np.ndarray:
    """Observable utility for index arrays ``si`` (n, 1) and ``ji`` (n, k) or (1, m); float32 result.

    ``seeker_bits`` (n, 1, W) overrides the stored skills (skills gained in training up to some time).
    To score many batches, build :class:`UtilityTerms` once and call its ``observable``.
    """
    bits = s.bits[si] if seeker_bits is None else seeker_bits
    return UtilityTerms(s, j, w).observable(si, ji, bits)


def latent_utility(s: SeekerArrays, j: JobArrays, si: np.ndarray, ji: np.ndarray, w: UtilityWeights) -> np.ndarray:
    """Latent taste ``latent * <u_s, v_j>`` for the same index shapes as :func:`observable_utility`."""
    u = s.latent[si[:, 0]].astype(np.float32, copy=False)
    if ji.shape[0] == 1 and si.shape[0] != 1:
        return w.latent * (u @ j.latent[ji[0]].astype(np.float32, copy=False).T)
    v = j.latent[ji].astype(np.float32, copy=False)  # (n, k, d)
    return w.latent * np.matmul(v, u[:, :, None])[..., 0]
