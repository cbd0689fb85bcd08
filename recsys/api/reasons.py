"""Reasons: the model's score contributions grouped into factors a station worker can read aloud.

A job's score is ``seeker_bias + sum_f x[j, f] * (E[f] . u + b[f])`` over its weighted feature columns
``f`` (identity column first). Each column belongs to one *factor* (its feature block decides which);
a factor's contribution is the sum over its columns. Factor contributions plus the seeker's bias add up
to the score exactly; the reasons shown are the largest positive factors, worded in Chinese and English.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from recsys.api import kernels

FACTORS = ("similar_seekers", "skills", "distance", "pay", "schedule", "occupation", "requirements", "other")
"""Reason codes, in the order of the columns returned by :func:`factor_contributions`."""
PLACEMENT_FACTORS = ("hire_chance", "competition")
"""Reason codes of the placement objectives' terms (:mod:`recsys.api.objectives`): the hiring term
``log P(hire | apply)`` and the congestion term ``-λ log(1 + c)``. A term is a reason when it is above
the mean over the seeker's candidates; its contribution is that difference."""

BLOCK_FACTOR = {
    "job_id": "similar_seekers", "skills": "skills", "district": "distance", "wage_band": "pay",
    "schedule": "schedule", "job_type": "schedule", "occupation": "occupation", "industry": "occupation",
    "text": "occupation", "education": "requirements", "age_limit": "requirements",
}
"""Feature block (the part of a feature name before ``=`` or ``:``) -> factor; others count as "other"."""

SCHEDULE_ZH = {"day": "白班", "shift": "倒班", "night": "夜班", "flexible": "弹性时间", "weekend": "周末班"}
JOB_TYPE_ZH = {"full_time": "全职", "part_time": "兼职", "gig": "零工"}
JOB_TYPE_EN = {"full_time": "full-time", "part_time": "part-time", "gig": "gig"}


class Reason(NamedTuple):
    """One factor behind a recommendation (immutable).

    ``contribution`` is the factor's additive share of the score (sum over its feature columns).
    """

    code: str
    text_zh: str
    text_en: str
    contribution: float


class Recommendation(NamedTuple):
    """One recommended job (immutable): ``rank`` 1 is best; ``score`` is the model score (float32 precision)."""

    job_id: str
    score: float
    rank: int
    reasons: tuple[Reason, ...]


class JobFacts(NamedTuple):
    """What the reasons say about one job (:attr:`recsys.api.catalogue.Catalogue.wording`)."""

    title: str
    occupation: str
    skills: tuple[str, ...]
    schedule: str
    job_type: str
    monthly_wage: float


def feature_factors(feature_names: list[str]) -> np.ndarray:
    """Factor index (into :data:`FACTORS`) of each feature column, int8."""
    other = FACTORS.index("other")
    blocks = [name.split("=", 1)[0].split(":", 1)[0] for name in feature_names]
    return np.asarray([FACTORS.index(BLOCK_FACTOR[b]) if b in BLOCK_FACTOR else other for b in blocks],
                      dtype=np.int8)


def factor_contributions(job_features: sp.csr_matrix, seeker_embedding: np.ndarray,
                         feature_embeddings: np.ndarray, feature_biases: np.ndarray,
                         factors: np.ndarray, rows: np.ndarray | None = None,
                         seeker_of: np.ndarray | None = None) -> np.ndarray:
    """Contribution of each factor to each job's score, ``(n_jobs, len(FACTORS))`` float64.

    ``rows`` selects rows of ``job_features`` (default: all). ``seeker_embedding`` is one seeker's
    ``(d,)`` embedding, or ``(n_jobs, d)`` with the seeker of each selected job, or with ``seeker_of``
    any ``(n_seekers, >= d)`` matrix whose row ``seeker_of[i]`` starts with the seeker of job ``i``.
    """
    rows = np.arange(job_features.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    seekers = np.atleast_2d(np.asarray(seeker_embedding, dtype=np.float32))
    if seeker_of is None:
        seeker_of = np.zeros(len(rows), dtype=np.int64) if len(seekers) == 1 else np.arange(len(rows))
    return kernels.factor_contributions(job_features.indptr, job_features.indices, job_features.data, rows,
                                        np.ascontiguousarray(seekers), seeker_of, feature_embeddings,
                                        feature_biases, factors, len(FACTORS))


def describe(code: str, job: JobFacts, distance_km: float, seeker_skills: Collection[str],
             reservation_wage: float | None) -> tuple[str, str]:
    """Chinese and English sentence for factor ``code`` of ``job`` for a seeker living ``distance_km`` away.

    ``seeker_skills`` should be a set (membership tests); ``reservation_wage`` is the monthly wage the
    seeker expects (``None`` or NaN when unknown).
    """
    if code == "skills":
        shared = [s for s in job.skills if s in seeker_skills][:3]
        if shared:
            return f"技能对口：{'、'.join(shared)}", f"Uses your skills: {', '.join(shared)}"
        return "技能要求与您的背景相近", "Asks for skills close to your background"
    if code == "distance":
        if not math.isfinite(distance_km):  # no coordinates (the ranker gives no distance reason then)
            return "工作地点与您相近", "In an area that suits you"
        return f"离家约 {distance_km:.1f} 公里", f"About {distance_km:.1f} km from home"
    if code == "pay":
        wage, expected = job.monthly_wage, reservation_wage
        if not math.isfinite(wage):  # the posting gives no wage
            return "薪酬待遇与您的期望相符", "Its pay suits what you are looking for"
        pay = f"{wage:,.0f}"
        if expected is None or not math.isfinite(expected):
            return f"月薪约 {pay} 元", f"Pays about {pay} CNY a month"
        relation_zh, relation_en = ("高于", "above") if wage >= expected else ("接近", "close to")
        want = f"{expected:,.0f}"
        return (f"月薪约 {pay} 元，{relation_zh}您期望的 {want} 元",
                f"Pays about {pay} CNY a month, {relation_en} the {want} CNY you expect")
    if code == "schedule":
        schedule, job_type = job.schedule, job.job_type
        if not schedule or not job_type:
            return "工作时间安排合适", "Its working hours fit your time"
        return (f"{JOB_TYPE_ZH.get(job_type, job_type)}，{SCHEDULE_ZH.get(schedule, schedule)}，时间合适",
                f"{JOB_TYPE_EN.get(job_type, job_type).capitalize()}, {schedule} schedule: fits your time")
    if code == "occupation":
        if not job.title or not job.occupation:
            return "岗位与您的经历相符", "The work matches your background"
        return f"岗位「{job.title}」与您的经历相符", f"The {job.occupation.replace('_', ' ')} work matches your background"
    if code == "similar_seekers":
        return "经历和您相似的求职者申请过这个岗位", "Seekers with similar histories applied to this job"
    if code == "requirements":
        return "学历和年龄要求符合您的条件", "You meet its education and age requirements"
    return "综合其他因素推荐", "Recommended on other factors"


def describe_placement(code: str, hire_probability: float, competitors_per_opening: float) -> tuple[str, str]:
    """Chinese and English sentence for a placement reason (:data:`PLACEMENT_FACTORS`); NaN figures are
    left out of the sentence."""
    if code == "hire_chance":
        if math.isfinite(hire_probability):
            share = f"{hire_probability:.0%}"
            return f"录用可能性高（约 {share}）", f"Good chance of being hired (about {share})"
        return "录用可能性高", "Good chance of being hired"
    if code == "competition":
        if math.isfinite(competitors_per_opening) and competitors_per_opening < 0.05:
            return "招聘名额多，尚无人申请", "Few applicants per opening (none yet)"
        if math.isfinite(competitors_per_opening):
            figure = f"{competitors_per_opening:.1f}"
            return (f"招聘名额多，竞争较小（每个名额约 {figure} 人申请）",
                    f"Few applicants per opening (about {figure})")
        return "招聘名额多，竞争较小", "Few applicants per opening"
    raise ValueError(f"unknown placement reason {code!r}; known: {PLACEMENT_FACTORS}")


def top_reasons(contributions: np.ndarray, max_reasons: int) -> tuple[np.ndarray, np.ndarray]:
    """Factors to give reasons for, per row of ``contributions`` ``(n_jobs, len(FACTORS))``.

    Returns ``(factors, shares)``, both ``(n_jobs, max_reasons)``: factor indices, -1 padded, and their
    contributions. The largest positive factors, best first (ties: lower factor index); the largest
    factor alone if none is positive.
    """
    factors = kernels.top_factors(contributions, max_reasons)
    shares = np.take_along_axis(contributions, np.maximum(factors, 0), axis=1)
    return factors, shares
