"""Value checks where input enters the ranking API: filters, ``k``, times, profiles and new postings.

The one place both the Python API (:class:`~recsys.api.ranker.Ranker`) and the HTTP layer (the MLflow
pyfunc model) validate requests, so a request means the same through either door. Every rejection is
an :class:`~recsys.api.errors.InvalidValueError` subclass whose ``field``, ``row`` and ``rule`` name
what broke which rule (also in the message).

Rules
-----
* ``k``: an integer (``bool`` and floats refused, ``2.7`` is not read as 2) in ``[1, MAX_K]``.
* Booleans (``meets_requirements``, ``exclude_applied``, profile flags) are ``bool`` / ``numpy.bool_``;
  ``'false'``, ``0`` or ``None`` are refused rather than read as truthy or falsy.
* ``max_commute_km``: a real number ``> 0`` (``inf`` for no limit), not a string or boolean.
* ``job_types`` / ``districts``: a non-empty list of non-empty strings (a single string is a list of one).
  Vocabularies are open (whatever the data says); the ranker refuses values no posting it has held carries.
* Times (``now``, ``expire()``, ``posted_at``/``expires_at``): a ``datetime``, ``pandas.Timestamp``,
  ``numpy.datetime64`` or an ISO-8601 string; numbers are refused (``now=12345`` is not 1970). A time
  with an offset is converted to the ranker's timezone (:data:`DEFAULT_TIMEZONE` unless the ranker was
  built with another) and made naive; a naive time is read in that timezone.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.api.errors import (
    InvalidFilterError,
    InvalidJobsError,
    InvalidKError,
    InvalidProfileError,
    InvalidTimeError,
)
from recsys.data.schema import EDUCATION_LEVELS, SCHEMAS

MAX_K = 1000
"""Largest ``k`` a request may ask for (a page of a job board is far shorter; this bounds the work)."""
DEFAULT_TIMEZONE = "Asia/Shanghai"
"""Timezone of naive times (the synthetic market's; a ranker may declare another)."""
FILTER_FIELDS = ("now", "max_commute_km", "job_types", "districts", "meets_requirements", "exclude_applied")
"""Names :func:`validate_filters` accepts."""
UNKNOWN = "unknown"
"""Category value meaning "not known" (education, gender...): the rules that need it are not applied."""

PROFILE_DEFAULTS: dict[str, Any] = {"seeker_id": None, "station_id": "", "registered_at": None}
"""Seeker fields a profile may omit (``registered_at`` defaults to the request time)."""
PROFILE_OPTIONAL = ("lat", "lon", "max_commute_km")
"""Fields a profile may omit even when the ranker's seekers have them: without a home location or a
limit, the seeker's own commute rule is off (an explicit ``max_commute_km`` is then refused)."""
PROFILE_RANGES: dict[str, tuple[float, float]] = {
    "age": (14, 100), "max_commute_km": (0.0, math.inf), "reservation_wage": (0.0, 1e7),
    "experience_years": (0.0, 80.0), "lat": (-90.0, 90.0), "lon": (-180.0, 180.0)}
"""Allowed closed ranges of numeric profile fields (``max_commute_km`` must be strictly positive)."""
JOB_RANGES: dict[str, tuple[float, float]] = {
    "lat": (-90.0, 90.0), "lon": (-180.0, 180.0), "wage_min": (0.0, 1e7), "wage_max": (0.0, 1e7),
    "age_min": (0, 120), "age_max": (0, 120), "vacancies": (1, 1_000_000)}
"""Allowed closed ranges of numeric posting columns (``add_jobs``); age limits fit int16 by far."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Validated business rules of one request (see :meth:`recsys.api.ranker.Ranker.rank`).

    ``now`` is naive, in the ranker's timezone (``None``: the ranker's clock); ``job_types`` /
    ``districts`` are tuples of values (``None``: no filter); ``max_commute_km`` ``None`` means each
    seeker's own limit, ``inf`` none.
    """

    now: pd.Timestamp | None = None
    max_commute_km: float | None = None
    job_types: tuple[str, ...] | None = None
    districts: tuple[str, ...] | None = None
    meets_requirements: bool = True
    exclude_applied: bool = True


def validate_k(k: Any, *, row: int | None = None) -> int:
    """``k`` as an ``int`` if it is an integer in ``[1, MAX_K]``; else :class:`InvalidKError`.

    ``bool`` and floats (even ``3.0``) are refused: a JSON ``2.7`` must not silently become 2.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise InvalidKError("k", f"must be an integer in [1, {MAX_K}], got {type(k).__name__}", row=row, value=k)
    if not 1 <= int(k) <= MAX_K:
        raise InvalidKError("k", f"must be a positive integer in [1, {MAX_K}]", row=row, value=k)
    return int(k)


def validate_filters(filters: Mapping[str, Any] | None = None, *, timezone: str = DEFAULT_TIMEZONE,
                     row: int | None = None) -> Filters:
    """:class:`Filters` from a mapping of filter names (:data:`FILTER_FIELDS`) to values.

    Missing names take the defaults of :class:`Filters`; ``None`` values mean "default" too. Raises
    :class:`InvalidFilterError` (unknown name, wrong type, out of range) or :class:`InvalidTimeError`
    (``now``), naming the field and ``row`` (the request row, for batch callers such as HTTP).
    """
    filters = dict(filters or {})
    unknown = sorted(set(filters) - set(FILTER_FIELDS))
    if unknown:
        raise InvalidFilterError(", ".join(map(str, unknown)), f"unknown filter; known: {list(FILTER_FIELDS)}",
                                 row=row, show_value=False)
    now = filters.get("now")
    return Filters(
        now=None if now is None else validate_time(now, "now", timezone=timezone, row=row),
        max_commute_km=_commute_limit(filters.get("max_commute_km"), row),
        job_types=_values(filters.get("job_types"), "job_types", row),
        districts=_values(filters.get("districts"), "districts", row),
        meets_requirements=_boolean(filters.get("meets_requirements", True), "meets_requirements", row),
        exclude_applied=_boolean(filters.get("exclude_applied", True), "exclude_applied", row))


def validate_time(value: Any, field: str = "now", *, timezone: str = DEFAULT_TIMEZONE,
                  row: int | None = None) -> pd.Timestamp:
    """A naive :class:`pandas.Timestamp` in ``timezone`` from a datetime, Timestamp, datetime64 or ISO string.

    Numbers and booleans are refused (``12345`` is not a time); an offset is converted to ``timezone``.
    """
    if not isinstance(value, (str, dt.datetime, dt.date, np.datetime64)):
        raise InvalidTimeError(field, f"must be a datetime or an ISO-8601 string, got {type(value).__name__}",
                               row=row, value=value)
    if isinstance(value, str) and not (len(value) >= 10 and value[:4].isdigit() and value[4] == "-"):
        raise InvalidTimeError(field, "must be an ISO-8601 time such as '2024-05-01T09:00' or "
                               "'2024-05-01T09:00+08:00'", row=row, value=value)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidTimeError(field, f"cannot be read as a time ({exc})", row=row, value=value) from exc
    if pd.isna(stamp):
        raise InvalidTimeError(field, "is not a time (NaT)", row=row, value=value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(timezone).tz_localize(None)
    return stamp


def validate_profiles(profiles: Sequence[Any], now: pd.Timestamp, *, required: Iterable[str],
                      timezone: str = DEFAULT_TIMEZONE) -> pd.DataFrame:
    """A seekers table from profile mappings, every value checked; :class:`InvalidProfileError` otherwise.

    ``required`` are the fields a profile must give (the ranker asks for the seeker columns its data
    had, minus :data:`PROFILE_DEFAULTS`). Other seekers-schema fields may be given; unknown fields are
    refused. Numbers must be real and finite within :data:`PROFILE_RANGES`, flags ``bool``, lists lists
    of strings, ``education`` one of ``EDUCATION_LEVELS`` or ``'unknown'``; ``lat`` and ``lon`` come
    together. A profile's ``seeker_id`` is kept (the ranker then uses that seeker's applications).
    """
    kinds = SCHEMAS["seekers"].columns
    required = [f for f in required if f not in PROFILE_DEFAULTS and f not in PROFILE_OPTIONAL]
    records = []
    for i, profile in enumerate(profiles):
        if not isinstance(profile, Mapping):
            raise InvalidProfileError("profile", f"expected a mapping of seeker fields or a seeker id, got "
                                      f"{type(profile).__name__}", row=i, show_value=False)
        missing = [f for f in required if f not in profile]
        if missing:
            raise InvalidProfileError(", ".join(missing), "missing field (the ranker's seekers have it)",
                                      row=i, show_value=False)
        unknown = sorted(str(f) for f in profile if f not in kinds)
        if unknown:
            raise InvalidProfileError(", ".join(unknown), f"unknown field; known: {sorted(kinds)}", row=i,
                                      show_value=False)
        record = {**PROFILE_DEFAULTS, **dict(profile)}
        for field, value in list(record.items()):
            if field in PROFILE_DEFAULTS and value is None:
                continue
            record[field] = _profile_value(field, kinds[field].rstrip("?"), value, i, timezone)
        if ("lat" in record) != ("lon" in record):
            raise InvalidProfileError("lat, lon", "give both coordinates or neither", row=i, show_value=False)
        record["seeker_id"] = record["seeker_id"] if record["seeker_id"] is not None else f"<profile {i}>"
        record["registered_at"] = now if record["registered_at"] is None else record["registered_at"]
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    frame["registered_at"] = pd.to_datetime(frame["registered_at"])
    return frame


def validate_jobs(jobs: Any, *, timezone: str = DEFAULT_TIMEZONE) -> pd.DataFrame:
    """New postings for ``add_jobs``: a copy with times converted, every value checked.

    Only ``job_id`` is required (unique, non-empty strings); optional columns, when present, must hold
    values of their kind within :data:`JOB_RANGES`, with ``wage_min <= wage_max``, ``age_min <= age_max``,
    ``posted_at < expires_at``, ``lat``/``lon`` together, ``skills`` lists of strings. Raises
    :class:`InvalidJobsError` naming the column, the first bad row and the rule.
    """
    if not isinstance(jobs, pd.DataFrame):
        raise InvalidJobsError("jobs", f"expected a pandas DataFrame, got {type(jobs).__name__}", show_value=False)
    if "job_id" not in jobs.columns:
        raise InvalidJobsError("job_id", "missing column (required)", show_value=False)
    if len(jobs) == 0:
        raise InvalidJobsError("jobs", "no postings given", show_value=False)
    jobs = jobs.reset_index(drop=True).copy()
    ids = jobs["job_id"]
    _first_bad(~ids.map(lambda v: isinstance(v, str) and v.strip() != "").to_numpy(), ids, "job_id",
               "must be a non-empty string")
    _first_bad(ids.duplicated().to_numpy(), ids, "job_id", "duplicate id in the postings given")
    if ("lat" in jobs.columns) != ("lon" in jobs.columns):
        raise InvalidJobsError("lat, lon", "give both coordinate columns or neither", show_value=False)
    for column, (low, high) in JOB_RANGES.items():
        if column not in jobs.columns:
            continue
        values = jobs[column]
        if pd.api.types.is_bool_dtype(values) or not (pd.api.types.is_numeric_dtype(values)
                                                       or values.isna().all()):
            raise InvalidJobsError(column, f"expected numbers, got dtype {values.dtype}", show_value=False)
        numeric = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(numeric)
        _first_bad(present & ~np.isfinite(numeric), values, column, "must be finite")
        _first_bad(present & ((numeric < low) | (numeric > high)), values, column, f"must lie in [{low}, {high}]")
        if column in ("age_min", "age_max", "vacancies"):
            _first_bad(present & (numeric != np.round(numeric)), values, column, "must be a whole number")
    for lower, upper in (("wage_min", "wage_max"), ("age_min", "age_max")):
        if lower in jobs.columns and upper in jobs.columns:
            bad = (jobs[lower].astype("Float64") > jobs[upper].astype("Float64")).fillna(False).to_numpy(bool)
            _first_bad(bad, jobs[lower], f"{lower}, {upper}", f"{lower} must not exceed {upper}")
    for column in ("posted_at", "expires_at"):
        if column in jobs.columns:
            jobs[column] = _time_column(jobs[column], column, timezone)
    if "posted_at" in jobs.columns and "expires_at" in jobs.columns:
        bad = (jobs["expires_at"] <= jobs["posted_at"]).fillna(False).to_numpy(bool)
        _first_bad(bad, jobs["expires_at"], "posted_at, expires_at", "expires_at must be after posted_at")
    for column in ("skills",):
        if column in jobs.columns:
            ok = jobs[column].map(_string_list).to_numpy(bool)
            _first_bad(~ok, jobs[column], column, "must be a list of strings")
    for column in ("title", "occupation", "schedule", "job_type", "district", "min_education", "wage_unit"):
        if column in jobs.columns:
            ok = jobs[column].map(lambda v: v is None or v is pd.NA or isinstance(v, str)
                                  or (isinstance(v, float) and math.isnan(v))).to_numpy(bool)
            _first_bad(~ok, jobs[column], column, "must be a string (or missing)")
    if "min_education" in jobs.columns:
        ok = jobs["min_education"].map(lambda v: not isinstance(v, str) or v in EDUCATION_LEVELS
                                       or v == UNKNOWN).to_numpy(bool)
        _first_bad(~ok, jobs["min_education"], "min_education", f"must be one of {list(EDUCATION_LEVELS)}")
    if "wage_unit" in jobs.columns:
        from recsys.data.schema import WAGE_UNITS

        ok = jobs["wage_unit"].map(lambda v: not isinstance(v, str) or v in WAGE_UNITS).to_numpy(bool)
        _first_bad(~ok, jobs["wage_unit"], "wage_unit", f"must be one of {list(WAGE_UNITS)}")
    return jobs


# ---------------------------------------------------------------------- helpers
def _first_bad(bad: np.ndarray, values: pd.Series, column: str, rule: str) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidJobsError(column, f"{rule} ({int(bad.sum())} bad row(s))", row=row, value=values.iloc[row])


def _time_column(values: pd.Series, column: str, timezone: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            return values.dt.tz_convert(timezone).dt.tz_localize(None)
        return values
    out: list[Any] = []  # Timestamps and NaT
    for row, value in enumerate(values.tolist()):
        if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
            out.append(pd.NaT)
            continue
        try:
            out.append(validate_time(value, column, timezone=timezone, row=row))
        except InvalidTimeError as exc:
            raise InvalidJobsError(column, exc.rule, row=row, value=value) from exc
    return pd.Series(pd.to_datetime(out), index=values.index, name=column)


def _commute_limit(value: Any, row: int | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidFilterError("max_commute_km", f"must be a number > 0 (inf for no limit), got "
                                 f"{type(value).__name__}", row=row, value=value)
    if not float(value) > 0:  # NaN fails too
        raise InvalidFilterError("max_commute_km", "must be > 0 (inf for no limit)", row=row, value=value)
    return float(value)


def _values(value: Any, field: str, row: int | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if isinstance(items, Mapping) or not isinstance(items, (list, tuple, set, frozenset, np.ndarray)):
        raise InvalidFilterError(field, f"must be a list of strings, got {type(value).__name__}", row=row,
                                 value=value)
    items = list(items)
    if not items:
        raise InvalidFilterError(field, "is empty (it would match no job); omit the filter to allow all",
                                 row=row, value=value)
    bad = [v for v in items if not isinstance(v, str) or not v]
    if bad:
        raise InvalidFilterError(field, f"must hold non-empty strings only, got {bad[0]!r}", row=row, value=value)
    return tuple(dict.fromkeys(items))


def _boolean(value: Any, field: str, row: int | None) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidFilterError(field, f"must be a boolean (true or false), got {type(value).__name__}",
                                 row=row, value=value)
    return bool(value)


def _string_list(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _profile_value(field: str, kind: str, value: Any, row: int, timezone: str) -> Any:
    def refuse(rule: str) -> InvalidProfileError:
        return InvalidProfileError(field, rule, row=row, value=value)

    if kind in ("int", "float"):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise refuse(f"must be a number, got {type(value).__name__}")
        number = float(value)
        if not math.isfinite(number):
            raise refuse("must be finite")
        low, high = PROFILE_RANGES.get(field, (-math.inf, math.inf))
        if number < low or number > high or (field == "max_commute_km" and number <= 0):
            raise refuse(f"must lie in {'(' if field == 'max_commute_km' else '['}{low}, {high}]")
        if kind == "int":
            if number != round(number):
                raise refuse("must be a whole number")
            return int(number)
        return number
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise refuse(f"must be a boolean, got {type(value).__name__}")
        return bool(value)
    if kind == "list":
        if not _string_list(value):
            raise refuse("must be a list of strings")
        return list(value)
    if kind == "datetime":
        try:
            return validate_time(value, field, timezone=timezone, row=row)
        except InvalidTimeError as exc:
            raise refuse(exc.rule) from exc
    if not isinstance(value, str):
        raise refuse(f"must be a string, got {type(value).__name__}")
    if kind.startswith("category:") and not value:
        raise refuse("must be a non-empty string")
    if field == "education" and value not in EDUCATION_LEVELS and value != UNKNOWN:
        raise refuse(f"must be one of {list(EDUCATION_LEVELS)} or {UNKNOWN!r}")
    return value
