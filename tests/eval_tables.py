"""A hand-made market small enough to compute every split and metric by hand.

Cut-off ``T = 2025-03-10``. Jobs (posted .. expires, vacancies)::

    J0  03-01 .. 04-30  1      J3  03-15 .. 04-30  2   (posted after T)
    J1  03-01 .. 04-30  5      J4  03-01 .. 04-30  2   (never interacted with)
    J2  03-01 .. 03-12  2      J5  03-20 .. 04-30  2   (posted after T)

Seekers S0, S1 live in tianhe, S2, S3 in haizhu, S4 in baiyun. Interactions are in :data:`EVENTS`.
"""

from __future__ import annotations

import pandas as pd

from recsys.data.dataset import Dataset

CUTOFF = pd.Timestamp("2025-03-10")

JOBS = [  # job_id, posted_at, expires_at, vacancies
    ("J0", "2025-03-01", "2025-04-30", 1), ("J1", "2025-03-01", "2025-04-30", 5),
    ("J2", "2025-03-01", "2025-03-12", 2), ("J3", "2025-03-15", "2025-04-30", 2),
    ("J4", "2025-03-01", "2025-04-30", 2), ("J5", "2025-03-20", "2025-04-30", 2),
]
SEEKERS = [  # seeker_id, district, is_graduate, is_4050
    ("S0", "tianhe", True, False), ("S1", "tianhe", False, True), ("S2", "haizhu", True, False),
    ("S3", "haizhu", False, False), ("S4", "baiyun", False, True),
]
EVENTS = [  # seeker_id, job_id, ts, event
    # training period (before T)
    ("S0", "J0", "2025-03-02 10:00", "view"), ("S0", "J0", "2025-03-02 12:00", "apply"),
    ("S0", "J0", "2025-03-05 09:00", "interview"),
    ("S1", "J0", "2025-03-03 09:00", "apply"), ("S1", "J1", "2025-03-04 09:00", "apply"),
    ("S2", "J1", "2025-03-05 09:00", "apply"), ("S2", "J2", "2025-03-06 09:00", "view"),
    # test period (T and after)
    ("S0", "J1", "2025-03-11 09:00", "apply"), ("S0", "J0", "2025-03-12 09:00", "hire"),
    ("S0", "J3", "2025-03-16 09:00", "apply"), ("S0", "J5", "2025-03-21 09:00", "apply"),
    ("S1", "J3", "2025-03-15 09:00", "apply"),
    ("S2", "J1", "2025-03-12 09:00", "apply"), ("S2", "J0", "2025-03-13 09:00", "apply"),
    ("S3", "J2", "2025-03-11 09:00", "apply"),
    ("S4", "J1", "2025-03-11 09:00", "view"),
]


def seekers_table() -> pd.DataFrame:
    n = len(SEEKERS)
    return pd.DataFrame({
        "seeker_id": [s[0] for s in SEEKERS], "registered_at": pd.to_datetime(["2025-01-01"] * n),
        "age": [25, 45, 23, 30, 50], "gender": ["F", "M", "F", "M", "F"], "education": ["bachelor"] * n,
        "is_graduate": [s[2] for s in SEEKERS], "is_4050": [s[3] for s in SEEKERS],
        "is_unemployed": [True] * n, "is_flexible": [False] * n, "district": [s[1] for s in SEEKERS],
        "lat": [23.1] * n, "lon": [113.3] * n, "station_id": ["P1"] * n, "skills": [["cooking"]] * n,
        "experience_years": [1.0] * n, "desired_job_types": [["full_time"]] * n,
        "reservation_wage": [4000.0] * n, "max_commute_km": [10.0] * n,
    })


def jobs_table() -> pd.DataFrame:
    n = len(JOBS)
    return pd.DataFrame({
        "job_id": [j[0] for j in JOBS], "employer_id": ["E0"] * n, "occupation": ["cook"] * n,
        "industry": ["catering"] * n, "title": ["厨师"] * n, "description": ["厨师 粤菜"] * n,
        "skills": [["cooking"]] * n, "min_education": ["none"] * n,
        "age_min": pd.array([18] * n, dtype="Int64"), "age_max": pd.array([None] * n, dtype="Int64"),
        "wage_min": [4000.0] * n, "wage_max": [6000.0] * n, "wage_unit": ["month"] * n,
        "job_type": ["full_time"] * n, "schedule": ["day"] * n, "district": ["tianhe"] * n,
        "lat": [23.1] * n, "lon": [113.3] * n, "channel": ["online"] * n, "event_id": [None] * n,
        "posted_at": pd.to_datetime([j[1] for j in JOBS]), "expires_at": pd.to_datetime([j[2] for j in JOBS]),
        "vacancies": [j[3] for j in JOBS],
    })


def interactions_table(events: list[tuple[str, str, str, str]] | None = None) -> pd.DataFrame:
    events = EVENTS if events is None else events
    return pd.DataFrame({
        "seeker_id": [e[0] for e in events], "job_id": [e[1] for e in events],
        "ts": pd.to_datetime([e[2] for e in events]), "event": [e[3] for e in events],
        "channel": ["online"] * len(events),
    })


def hand_dataset() -> Dataset:
    return Dataset(seekers_table(), jobs_table(), interactions_table())
