"""Small hand-made tables following the schema, for unit tests of features and models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset

OCCUPATIONS = {  # occupation -> (industry, skills, title)
    "cook": ("catering", ["cooking", "food_safety"], "厨师 粤菜 厨房"),
    "cleaner": ("facility", ["cleaning"], "保洁员 清洁"),
    "courier": ("logistics", ["delivery", "e_bike"], "快递员 配送 电动车"),
    "coder": ("tech", ["programming_python", "databases"], "软件工程师 Python 数据库"),
}


def toy_seekers(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    occ = list(OCCUPATIONS)
    taste = rng.integers(0, len(occ), n)
    return pd.DataFrame({
        "seeker_id": [f"S{i:04d}" for i in range(n)],
        "registered_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 30, n), unit="D"),
        "age": rng.integers(18, 60, n),
        "gender": rng.choice(["F", "M"], n),
        "education": rng.choice(["junior_high", "high_school", "bachelor"], n),
        "is_graduate": rng.random(n) < 0.3, "is_4050": rng.random(n) < 0.3,
        "is_unemployed": rng.random(n) < 0.5, "is_flexible": rng.random(n) < 0.2,
        "district": rng.choice(["tianhe", "haizhu", "baiyun"], n),
        "lat": 23.1 + rng.normal(0, 0.05, n), "lon": 113.3 + rng.normal(0, 0.05, n),
        "station_id": "P1",
        "skills": [list(OCCUPATIONS[occ[t]][1]) for t in taste],
        "experience_years": rng.uniform(0, 20, n),
        "desired_job_types": [["full_time"] if t % 2 else ["full_time", "gig"] for t in taste],
        "reservation_wage": rng.uniform(3000, 8000, n),
        "max_commute_km": rng.uniform(5, 30, n),
    })


def toy_jobs(n: int = 30, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    occ = np.asarray(list(OCCUPATIONS))[np.arange(n) % len(OCCUPATIONS)]
    posted = pd.Timestamp("2025-02-01") + pd.to_timedelta(np.arange(n) * 2, unit="D")
    return pd.DataFrame({
        "job_id": [f"J{i:04d}" for i in range(n)],
        "employer_id": [f"E{i % 5}" for i in range(n)],
        "occupation": occ, "industry": [OCCUPATIONS[o][0] for o in occ],
        "title": [OCCUPATIONS[o][2].split()[0] for o in occ],
        "description": [OCCUPATIONS[o][2] for o in occ],
        "skills": [list(OCCUPATIONS[o][1]) for o in occ],
        "min_education": rng.choice(["none", "junior_high", "bachelor"], n),
        "age_min": pd.array(np.where(rng.random(n) < 0.5, 18, None), dtype="Int64"),
        "age_max": pd.array(np.where(rng.random(n) < 0.5, 45, None), dtype="Int64"),
        "wage_min": rng.uniform(3000, 6000, n), "wage_max": rng.uniform(6000, 9000, n),
        "wage_unit": np.where(np.arange(n) % 7 == 0, "day", "month"),
        "job_type": rng.choice(["full_time", "part_time", "gig"], n),
        "schedule": rng.choice(["day", "shift", "night"], n),
        "district": rng.choice(["tianhe", "haizhu", "baiyun"], n),
        "lat": 23.1 + rng.normal(0, 0.05, n), "lon": 113.3 + rng.normal(0, 0.05, n),
        "channel": rng.choice(["online", "station"], n), "event_id": None,
        "posted_at": posted, "expires_at": posted + pd.Timedelta(days=40),
        "vacancies": rng.integers(1, 5, n),
    })


def toy_dataset(n_seekers: int = 40, n_jobs: int = 30, seed: int = 0) -> Dataset:
    """Seekers apply to jobs of their own occupation (by skills), a few times each, over time."""
    rng = np.random.default_rng(seed)
    seekers, jobs = toy_seekers(n_seekers, seed), toy_jobs(n_jobs, seed + 1)
    rows = []
    for s, skills in enumerate(seekers["skills"]):
        matching = np.flatnonzero(jobs["skills"].map(lambda js, sk=skills: js == sk).to_numpy())
        for j in rng.choice(matching, size=min(3, len(matching)), replace=False):
            ts = jobs["posted_at"].iloc[j] + pd.Timedelta(days=int(rng.integers(0, 10)))
            for event in ("view", "apply"):
                rows.append((seekers["seeker_id"].iloc[s], jobs["job_id"].iloc[j], ts, event, "online"))
    interactions = pd.DataFrame(rows, columns=["seeker_id", "job_id", "ts", "event", "channel"])
    return Dataset(seekers, jobs, interactions)
