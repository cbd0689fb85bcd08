"""Table schemas: the minimal contract every dataset follows, and the optional columns it may add.

A schema is the contract between the producers of tables (``recsys-import`` for real logs,
``recsys.data.synthetic`` for the synthetic market) and ``recsys.data.Dataset`` (which validates and
reads them).

Minimal contract
----------------
Only these columns are required::

    seekers(seeker_id)    jobs(job_id)    interactions(seeker_id, job_id, ts, event)

Every other column of :data:`SCHEMAS` is optional: when present it must have the documented kind and
meaning, and it switches on the features, filters and reasons listed in its ``enables``. Columns the
schema does not know are kept as they are.

Conventions
-----------
* Ids are strings (``"S000001"``, ``"42"``, ...); :meth:`Dataset.from_frames` casts integer ids.
* Times are timezone-naive ``datetime64[ns]`` in the dataset's declared timezone (``Asia/Shanghai`` for
  the synthetic market); timezone-aware inputs are converted to it on import.
* ``event`` values are the dataset's own funnel (:class:`recsys.data.events.EventFunnel`).
* Regions (``district``) are open: whatever the data says. :data:`DISTRICTS` are the synthetic preset's.
* Closed categories (education, gender, job type, schedule, wage unit) also accept :data:`UNKNOWN`.
* List-valued columns (skills, desired job types) are lists of strings.
* Wages are in the dataset's currency; ``wage_unit`` says per month, day or hour. :func:`monthly_wage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FORMAT_VERSION = 1

UNKNOWN = "unknown"
"""Accepted by every closed category (gender, education, ...): the value is not known."""

DISTRICTS = ("yuexiu", "haizhu", "liwan", "tianhe", "baiyun", "huangpu", "panyu", "huadu", "nansha",
             "conghua", "zengcheng")
"""The synthetic preset's regions (Guangzhou's 11 districts). Not a validation vocabulary: a dataset's
regions are whatever its ``district`` columns hold."""
EDUCATION_LEVELS = ("none", "junior_high", "high_school", "vocational", "associate", "bachelor", "master")
"""Ordered: ``EDUCATION_LEVELS.index(a) >= EDUCATION_LEVELS.index(b)`` means a meets b."""
JOB_TYPES = ("full_time", "part_time", "gig")
SCHEDULES = ("day", "shift", "night", "flexible", "weekend")
WAGE_UNITS = ("month", "day", "hour")
CHANNELS = ("gig_market", "key_enterprise_fair", "graduate_fair", "station", "online")
"""The synthetic preset's channels (open vocabulary in real data)."""
EVENT_KINDS = ("gig_fair", "key_enterprise_fair", "graduate_fair")
INTERACTION_EVENTS = ("view", "apply", "interview", "hire")
"""The synthetic market's funnel stages, in order (:data:`recsys.data.events.SYNTHETIC_FUNNEL`)."""
SEEKER_GROUPS = ("is_graduate", "is_4050", "is_unemployed", "is_flexible")
GENDERS = ("F", "M")

INT16_MAX = int(np.iinfo(np.int16).max)

# Working days / hours used to put day and hour wages on a monthly scale.
DAYS_PER_MONTH = 21.75
HOURS_PER_DAY = 8.0


def monthly_wage(wage: np.ndarray | float, unit: np.ndarray | str) -> np.ndarray:
    """Monthly-equivalent wage.

    ``month`` is kept, ``day`` is multiplied by 21.75 working days, ``hour`` by 21.75 x 8 hours.
    """
    wage = np.asarray(wage, dtype=float)
    unit = np.asarray(unit)
    factor = np.select([unit == "day", unit == "hour"], [DAYS_PER_MONTH, DAYS_PER_MONTH * HOURS_PER_DAY], 1.0)
    return wage * factor


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes
    ----------
    kind
        ``str``, ``int``, ``float``, ``bool``, ``datetime``, ``list`` (list of strings), ``text`` (free
        text), ``region`` (open vocabulary of places), ``event`` (an event of the dataset's funnel), or
        ``category:<NAME>`` (one of the tuple ``NAME`` of this module, or :data:`UNKNOWN`).
    meaning
        What the value is.
    enables
        Features, filters and reasons that need this column (empty for ids and bookkeeping).
    nullable
        Missing values (None / NaN / NaT) are allowed when the column is present. Most optional columns
        are all-or-nothing: a column with holes is refused (drop it, or fill it with ``unknown``).
    required
        Part of the minimal contract.
    """

    kind: str
    meaning: str
    enables: str = ""
    nullable: bool = False
    required: bool = False


def _req(kind: str, meaning: str) -> Column:
    return Column(kind, meaning, nullable=False, required=True)


@dataclass(frozen=True)
class TableSchema:
    """Columns of one table: the required ones (minimal contract) and the optional ones.

    Columns the schema does not know are allowed and kept.
    """

    name: str
    id_column: str | None
    spec: dict[str, Column] = field(default_factory=dict)

    @property
    def required(self) -> dict[str, Column]:
        return {name: col for name, col in self.spec.items() if col.required}

    @property
    def optional(self) -> dict[str, Column]:
        return {name: col for name, col in self.spec.items() if not col.required}

    @property
    def columns(self) -> dict[str, str]:
        """Kind of every known column (``"?"`` suffix: nullable), required and optional."""
        return {name: col.kind + ("?" if col.nullable else "") for name, col in self.spec.items()}


_LAT = Column("float", "latitude, degrees (-90..90); needs lon", "distance features, the commute filter")
_LON = Column("float", "longitude, degrees (-180..180); needs lat", "distance features, the commute filter")
_DISTRICT = Column("region", "region / district the row is located in (open vocabulary)",
                   "district features, the district filter and reason")

SCHEMAS: dict[str, TableSchema] = {
    "seekers": TableSchema("seekers", "seeker_id", {
        "seeker_id": _req("str", "seeker identifier"),
        "registered_at": Column("datetime", "registration time; never after the seeker's first interaction",
                                "tenure features; registration-time cold-start evaluation"),
        "age": Column("int", "age in years (0..32767)", "age band features, the age-limit filter and reason"),
        "gender": Column("category:GENDERS", "F, M or unknown", "gender features (fairness slices)"),
        "education": Column("category:EDUCATION_LEVELS", "highest education level or unknown",
                            "education features, the education filter and reason"),
        "is_graduate": Column("bool", "recent graduate", "group flags and slices"),
        "is_4050": Column("bool", "in the 40-50 employment-support group", "group flags and slices"),
        "is_unemployed": Column("bool", "registered as unemployed", "group flags and slices"),
        "is_flexible": Column("bool", "flexible (gig) worker", "group flags and slices"),
        "district": _DISTRICT,
        "lat": _LAT, "lon": _LON,
        "station_id": Column("str", "service point the seeker registered at", ""),
        "skills": Column("list", "skills (list of strings)", "skill features, the skill-match reason"),
        "experience_years": Column("float", "years of work experience (>= 0)", "experience features"),
        "desired_job_types": Column("list", "job types the seeker wants (values of JOB_TYPES)",
                                    "job-type features, the job-type filter"),
        "reservation_wage": Column("float", "lowest acceptable monthly wage (>= 0)",
                                   "wage features, the wage reason"),
        "max_commute_km": Column("float", "longest acceptable commute, km (>= 0)", "the commute filter"),
    }),
    "jobs": TableSchema("jobs", "job_id", {
        "job_id": _req("str", "posting identifier"),
        "employer_id": Column("str", "employer identifier (references employers when that table exists)",
                              "employer features", nullable=True),
        "occupation": Column("str", "occupation label", "occupation features"),
        "industry": Column("str", "industry label", "industry features"),
        "title": Column("text", "posting title (any script)", "text features, the title in reasons", nullable=True),
        "description": Column("text", "posting description (any script)", "text features", nullable=True),
        "skills": Column("list", "required skills (list of strings)", "skill features, the skill-match reason"),
        "min_education": Column("category:EDUCATION_LEVELS", "lowest accepted education or unknown",
                                "education features, the education filter"),
        "age_min": Column("int", "youngest accepted age (0..32767; missing: no limit)",
                          "the age-limit filter and features", nullable=True),
        "age_max": Column("int", "oldest accepted age (0..32767, >= age_min; missing: no limit)",
                          "the age-limit filter and features", nullable=True),
        "wage_min": Column("float", "lowest offered wage (>= 0)", "wage features and reasons"),
        "wage_max": Column("float", "highest offered wage (>= wage_min)", "wage features and reasons"),
        "wage_unit": Column("category:WAGE_UNITS", "wage per month, day or hour (default: month)",
                            "comparable monthly wages"),
        "job_type": Column("category:JOB_TYPES", "full_time, part_time, gig or unknown",
                           "job-type features, the job-type filter"),
        "schedule": Column("category:SCHEDULES", "working schedule or unknown", "schedule features"),
        "district": _DISTRICT,
        "lat": _LAT, "lon": _LON,
        "channel": Column("str", "channel the posting was published through", "channel features"),
        "event_id": Column("str", "recruitment event (fair) the posting belongs to", "", nullable=True),
        "posted_at": Column("datetime", "publication time (missing: active from the start)",
                            "active-job candidates, new-job (cold) splits, posting-age features", nullable=True),
        "expires_at": Column("datetime", "end of the posting (>= posted_at; missing: never expires)",
                             "active-job candidates", nullable=True),
        "vacancies": Column("int", "number of openings (>= 1)", "congestion-aware ranking"),
    }),
    "interactions": TableSchema("interactions", None, {
        "seeker_id": _req("str", "seeker (references seekers)"),
        "job_id": _req("str", "posting (references jobs)"),
        "ts": _req("datetime", "event time (not in the far future)"),
        "event": _req("event", "funnel stage reached (an event of the dataset's funnel)"),
        "channel": Column("str", "channel the interaction came through", "channel slices"),
    }),
    "districts": TableSchema("districts", "district", {
        "district": _req("region", "region identifier"), "name_zh": Column("str", "local name"),
        "lat": _LAT, "lon": _LON, "population_m": Column("float", "population, millions"),
        "pop_weight": Column("float", "share of the population"),
    }),
    "service_points": TableSchema("service_points", "point_id", {
        "point_id": _req("str", "service point identifier"), "kind": Column("str", "kind of point"),
        "name": Column("str", "name"), "district": _DISTRICT, "lat": _LAT, "lon": _LON,
    }),
    "employers": TableSchema("employers", "employer_id", {
        "employer_id": _req("str", "employer identifier"), "name": Column("str", "employer name"),
        "industry": Column("str", "industry label"), "size": Column("str", "size band"),
        "district": _DISTRICT, "lat": _LAT, "lon": _LON,
        "is_key_enterprise": Column("bool", "key enterprise of the employment service"),
    }),
    "events": TableSchema("events", "event_id", {
        "event_id": _req("str", "recruitment event identifier"), "kind": Column("category:EVENT_KINDS", "kind"),
        "date": Column("datetime", "date"), "district": _DISTRICT, "point_id": Column("str", "venue"),
    }),
    "trainings": TableSchema("trainings", "enrolment_id", {
        "seeker_id": _req("str", "seeker enrolled (references seekers)"),
        "skill": _req("str", "skill the course teaches"),
        "completed_at": Column("datetime", "when the enrolment was completed (missing: not completed); its "
                               "skill counts for the seeker from this time on",
                               "seeker skills as of a time (features with completed_trainings=true)",
                               nullable=True, required=True),
        "enrolment_id": Column("str", "enrolment identifier (unique when present)"),
        "course": Column("str", "course"),
        "start": Column("datetime", "start"), "end": Column("datetime", "end"),
        "completed": Column("bool", "completed"), "employer_id": Column("str", "partner employer", nullable=True),
    }),
    "job_events": TableSchema("job_events", None, {
        "job_id": _req("str", "posting (references jobs)"),
        "ts": _req("datetime", "when the posting closed"),
        "event": Column("str", "how it closed: filled or expired"),
    }),
    "event_listings": TableSchema("event_listings", None, {
        "event_id": _req("str", "recruitment event (references events)"),
        "job_id": _req("str", "posting the event lists (references jobs); a posting can be listed at several"),
    }),
    "event_attendance": TableSchema("event_attendance", None, {
        "event_id": _req("str", "recruitment event (references events)"),
        "seeker_id": _req("str", "seeker who attended (references seekers)"),
    }),
}
"""Every table a dataset may hold (the generator's ``truth/`` excepted): required and optional columns."""

CORE_TABLES = ("seekers", "jobs", "interactions")
"""Tables every dataset provides; the others are optional."""

MIN_COLUMNS: dict[str, tuple[str, ...]] = {name: tuple(SCHEMAS[name].required) for name in CORE_TABLES}
"""The minimal contract: required columns of the core tables."""


@dataclass(frozen=True)
class Capability:
    """A feature, filter, reason or evaluation that needs some optional columns (``table.column``).

    On when every column of ``all_of`` is present and, if ``any_of`` is given, at least one of those.
    """

    name: str
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()

    def enabled(self, present: set[str]) -> bool:
        return all(c in present for c in self.all_of) and (not self.any_of or any(c in present for c in self.any_of))

    @property
    def needs(self) -> str:
        parts = list(self.all_of) + ([" or ".join(self.any_of)] if self.any_of else [])
        return " and ".join(parts)


_GROUPS = tuple(f"seekers.{g}" for g in SEEKER_GROUPS)
CAPABILITIES: tuple[Capability, ...] = (
    Capability("active-job candidates (posting windows)", any_of=("jobs.posted_at", "jobs.expires_at")),
    Capability("new-job (cold_jobs) split", all_of=("jobs.posted_at",)),
    Capability("distance features", all_of=("seekers.lat", "seekers.lon", "jobs.lat", "jobs.lon")),
    Capability("commute filter", all_of=("seekers.lat", "seekers.lon", "seekers.max_commute_km", "jobs.lat", "jobs.lon")),
    Capability("district features", any_of=("seekers.district", "jobs.district")),
    Capability("district filter and reason", all_of=("jobs.district",)),
    Capability("job text features", any_of=("jobs.title", "jobs.description")),
    Capability("seeker skill features", all_of=("seekers.skills",)),
    Capability("job skill features", all_of=("jobs.skills",)),
    Capability("skill-match reason", all_of=("seekers.skills", "jobs.skills")),
    Capability("occupation features", all_of=("jobs.occupation",)),
    Capability("industry features", all_of=("jobs.industry",)),
    Capability("employer features", all_of=("jobs.employer_id",)),
    Capability("seeker age features", all_of=("seekers.age",)),
    Capability("age-limit filter and features", all_of=("seekers.age",), any_of=("jobs.age_min", "jobs.age_max")),
    Capability("education features", any_of=("seekers.education", "jobs.min_education")),
    Capability("education filter and reason", all_of=("seekers.education", "jobs.min_education")),
    Capability("job-type features", any_of=("seekers.desired_job_types", "jobs.job_type")),
    Capability("job-type filter", all_of=("seekers.desired_job_types", "jobs.job_type")),
    Capability("wage features", all_of=("jobs.wage_min", "jobs.wage_max")),
    Capability("wage reason", all_of=("jobs.wage_min", "jobs.wage_max", "seekers.reservation_wage")),
    Capability("schedule features", all_of=("jobs.schedule",)),
    Capability("experience features", all_of=("seekers.experience_years",)),
    Capability("gender slices", all_of=("seekers.gender",)),
    Capability("seeker group flags and slices", any_of=_GROUPS),
    Capability("registration-time checks", all_of=("seekers.registered_at",)),
    Capability("vacancies (congestion)", all_of=("jobs.vacancies",)),
    Capability("channel features and slices", any_of=("jobs.channel", "interactions.channel")),
    Capability("completed trainings in seeker skills (features.completed_trainings=true)",
               all_of=("trainings.seeker_id", "trainings.skill", "trainings.completed_at")),
)
"""What the optional columns switch on; :meth:`recsys.data.Dataset.describe` reports each as on or off."""
