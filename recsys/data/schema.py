"""Table schemas shared by the generator, the loader and every model.

A schema is the contract between ``recsys.data.synthetic`` (which writes the tables) and
``recsys.data.Dataset`` (which validates and reads them). A user's own tables must follow it too.

Conventions
-----------
* Ids are strings (``"S000001"``, ``"J000001"``, ...). Row order inside a ``Dataset`` is internal.
* Times are timezone-naive ``datetime64[ns]`` (local time, Asia/Shanghai implied).
* List-valued columns (skills, desired job types) are Parquet lists of strings.
* Wages are CNY; ``wage_unit`` says per month, day or hour. :func:`monthly_wage` converts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FORMAT_VERSION = 1

DISTRICTS = ("yuexiu", "haizhu", "liwan", "tianhe", "baiyun", "huangpu", "panyu", "huadu", "nansha",
             "conghua", "zengcheng")
EDUCATION_LEVELS = ("none", "junior_high", "high_school", "vocational", "associate", "bachelor", "master")
"""Ordered: ``EDUCATION_LEVELS.index(a) >= EDUCATION_LEVELS.index(b)`` means a meets b."""
JOB_TYPES = ("full_time", "part_time", "gig")
SCHEDULES = ("day", "shift", "night", "flexible", "weekend")
WAGE_UNITS = ("month", "day", "hour")
CHANNELS = ("gig_market", "key_enterprise_fair", "graduate_fair", "station", "online")
EVENT_KINDS = ("gig_fair", "key_enterprise_fair", "graduate_fair")
INTERACTION_EVENTS = ("view", "apply", "interview", "hire")
"""Funnel stages, in order. Each later stage implies the earlier ones happened."""
SEEKER_GROUPS = ("is_graduate", "is_4050", "is_unemployed", "is_flexible")
GENDERS = ("F", "M")

# Working days / hours used to put day and hour wages on a monthly scale.
DAYS_PER_MONTH = 21.75
HOURS_PER_DAY = 8.0


def monthly_wage(wage: np.ndarray | float, unit: np.ndarray | str) -> np.ndarray:
    """Monthly-equivalent wage in CNY.

    ``month`` is kept, ``day`` is multiplied by 21.75 working days, ``hour`` by 21.75 x 8 hours.
    """
    wage = np.asarray(wage, dtype=float)
    unit = np.asarray(unit)
    factor = np.select([unit == "day", unit == "hour"], [DAYS_PER_MONTH, DAYS_PER_MONTH * HOURS_PER_DAY], 1.0)
    return wage * factor


@dataclass(frozen=True)
class TableSchema:
    """Required columns of one table and the kind of each.

    Kinds: ``str``, ``int``, ``float``, ``bool``, ``datetime``, ``list`` (list of strings),
    ``category:<NAME>`` (values must be in the tuple ``NAME`` of this module), and a ``?`` suffix
    for nullable columns. Extra columns are allowed and kept.
    """

    name: str
    id_column: str | None
    columns: dict[str, str]


SCHEMAS: dict[str, TableSchema] = {
    "districts": TableSchema("districts", "district", {
        "district": "category:DISTRICTS", "name_zh": "str", "lat": "float", "lon": "float",
        "population_m": "float", "pop_weight": "float",
    }),
    "service_points": TableSchema("service_points", "point_id", {
        "point_id": "str", "kind": "str", "name": "str", "district": "category:DISTRICTS",
        "lat": "float", "lon": "float",
    }),
    "employers": TableSchema("employers", "employer_id", {
        "employer_id": "str", "name": "str", "industry": "str", "size": "str",
        "district": "category:DISTRICTS", "lat": "float", "lon": "float", "is_key_enterprise": "bool",
    }),
    "jobs": TableSchema("jobs", "job_id", {
        "job_id": "str", "employer_id": "str", "occupation": "str", "industry": "str", "title": "str",
        "description": "str", "skills": "list", "min_education": "category:EDUCATION_LEVELS",
        "age_min": "int?", "age_max": "int?", "wage_min": "float", "wage_max": "float",
        "wage_unit": "category:WAGE_UNITS", "job_type": "category:JOB_TYPES",
        "schedule": "category:SCHEDULES", "district": "category:DISTRICTS", "lat": "float", "lon": "float",
        "channel": "category:CHANNELS", "event_id": "str?", "posted_at": "datetime",
        "expires_at": "datetime", "vacancies": "int",
    }),
    "seekers": TableSchema("seekers", "seeker_id", {
        "seeker_id": "str", "registered_at": "datetime", "age": "int", "gender": "category:GENDERS",
        "education": "category:EDUCATION_LEVELS", "is_graduate": "bool", "is_4050": "bool",
        "is_unemployed": "bool", "is_flexible": "bool", "district": "category:DISTRICTS",
        "lat": "float", "lon": "float", "station_id": "str", "skills": "list",
        "experience_years": "float", "desired_job_types": "list", "reservation_wage": "float",
        "max_commute_km": "float",
    }),
    "events": TableSchema("events", "event_id", {
        "event_id": "str", "kind": "category:EVENT_KINDS", "date": "datetime",
        "district": "category:DISTRICTS", "point_id": "str",
    }),
    "trainings": TableSchema("trainings", "enrolment_id", {
        "enrolment_id": "str", "seeker_id": "str", "course": "str", "skill": "str", "start": "datetime",
        "end": "datetime", "completed": "bool", "employer_id": "str?",
    }),
    "interactions": TableSchema("interactions", None, {
        "seeker_id": "str", "job_id": "str", "ts": "datetime", "event": "category:INTERACTION_EVENTS",
        "channel": "category:CHANNELS",
    }),
}
"""Every table the generator writes (``truth/`` excepted) and its required columns."""

CORE_TABLES = ("seekers", "jobs", "interactions")
"""Tables a user's own data must provide; the others are optional."""
