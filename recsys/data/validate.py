"""Validation of input tables against :mod:`recsys.data.schema`, reporting every problem at once.

:func:`validate_tables` makes one pass over the core tables and collects each :class:`Problem` (table,
column, rule, count, first bad rows) before raising one :class:`TableValidationError` with the full
list, so a user fixes their export once instead of once per error. On success it returns the tables
*normalised*: integer ids cast to strings, ISO-8601 strings and timezone-aware times converted to naive
``datetime64[ns]`` in the dataset's declared timezone.

Rules (the ``rule`` of a :class:`Problem`)
------------------------------------------
``not_a_table``, ``required`` (a required column is missing), ``pair`` (``lat`` without ``lon`` or the
reverse), ``missing`` (nulls in a column that cannot have them), ``type`` (wrong kind of value),
``finite`` (inf in a float column), ``vocabulary`` (a closed category's value is not allowed),
``event`` (an event that is not in the dataset's funnel), ``list_of_strings`` (a list column holds
something else), ``duplicate_id``, ``reference`` (an interaction names an unknown seeker or job),
``range`` (latitude/longitude, negative wages/ages/experience, ages that overflow int16, vacancies
< 1), ``order`` (``wage_min > wage_max``, ``age_min > age_max``, ``expires_at < posted_at``),
``window`` (an interaction outside its job's ``posted_at``..``expires_at``), ``registration`` (a
seeker registered after their own first interaction), ``timezone`` (timezone-aware times while the
dataset declares no timezone), ``mixed_timezone`` (naive and aware times in one column), ``future``
(interactions more than a day after the wall clock).

The optional ``trainings`` table (:func:`validate_trainings`) follows the same rules, and its
``seeker_id`` must name a seeker of ``seekers`` (``reference``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys.data import schema
from recsys.data.events import EventFunnel
from recsys.data.schema import INT16_MAX, SCHEMAS, UNKNOWN, TableSchema

MAX_ROWS_SHOWN = 5
FUTURE_MARGIN = pd.Timedelta(days=1)

# an offset after a time of day (a date-only "2025-03-05" must not read as offset "-05"), or Z / UTC / GMT
_AWARE_SUFFIX = r"(?:\d\s*(?:Z|UTC|GMT)|:\d{2}(?:\.\d+)?\s*[+-]\d{2}(?::?\d{2})?)\s*$"
_UTC_SUFFIX = r"\s*(?:UTC|GMT|Z)\s*$"


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (``table.column``), which ``rule``, how many rows and the first ones.

    ``rows`` are index labels of the input table (row positions for tables built from files).
    """

    table: str
    column: str | None
    rule: str
    detail: str
    count: int = 0
    rows: tuple[Any, ...] = ()

    @property
    def where(self) -> str:
        return self.table if self.column is None else f"{self.table}.{self.column}"

    def __str__(self) -> str:
        rows = f" ({self.count} row(s), first at index {list(self.rows)})" if self.count else ""
        return f"{self.where} [{self.rule}]: {self.detail}{rows}"


class TableValidationError(ValueError):
    """Input tables do not follow their schema; ``problems`` lists every broken rule.

    Raised once, after every check ran. ``str(error)`` is the full report, one problem per line.
    """

    def __init__(self, problems: str | Problem | Sequence[Problem]) -> None:
        if isinstance(problems, str):
            problems = [Problem("input", None, "read", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems in the input tables:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


@dataclass
class _Report:
    problems: list[Problem] = field(default_factory=list)
    unusable: set[str] = field(default_factory=set)
    """``table.column`` whose values could not be checked (wrong kind): later rules skip them."""

    def add(self, table: str, column: str | None, rule: str, detail: str, frame: pd.DataFrame | None = None,
            bad: np.ndarray | pd.Series | None = None) -> None:
        count, rows = 0, ()
        if frame is not None and bad is not None:
            bad = np.asarray(bad, dtype=bool)
            count = int(bad.sum())
            if count == 0:
                return
            rows = tuple(_plain(v) for v in frame.index[bad][:MAX_ROWS_SHOWN].tolist())
        self.problems.append(Problem(table, column, rule, detail, count, rows))

    def raise_if_any(self) -> None:
        if self.problems:
            raise TableValidationError(self.problems)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _first(values: pd.Series, bad: np.ndarray) -> Any:
    return _plain(values[np.asarray(bad, dtype=bool)].iloc[0])


# ---------------------------------------------------------------------------------------------- kinds
def _is_str_dtype(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values.dtype) and values.dtype != object


def _not_str(values: pd.Series) -> np.ndarray:
    """Boolean: present values that are not strings (vectorised for string and categorical dtypes)."""
    missing = values.isna().to_numpy()
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        if _is_str_dtype(pd.Series(cats)) or all(isinstance(c, str) for c in cats):
            return np.zeros(len(values), dtype=bool)
        ok = np.array([isinstance(c, str) for c in cats] + [True])
        return ~ok[values.cat.codes.to_numpy()] & ~missing
    if _is_str_dtype(values):
        return np.zeros(len(values), dtype=bool)
    if values.dtype != object:
        return ~missing
    return ~values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool) & ~missing


def _as_id_strings(values: pd.Series) -> pd.Series:
    """Integer ids (or integral floats) as strings; other values unchanged."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype("string").astype(str) if values.isna().any() else values.astype(str)
    if pd.api.types.is_float_dtype(values.dtype):
        present = values.dropna()
        if len(present) and np.all(np.mod(present.to_numpy(), 1) == 0):
            return values.map(lambda v: v if pd.isna(v) else str(int(v)))
        return values
    if values.dtype == object:
        ints = values.map(lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_))
        if ints.any():
            return values.where(~ints, values.map(str))
    return values


def _coerce_datetime(table: str, column: str, values: pd.Series, timezone: str | None, frame: pd.DataFrame,
                     report: _Report) -> pd.Series | None:
    """Naive ``datetime64[ns]`` in ``timezone``, or ``None`` after reporting why not."""
    how = ("declare the dataset's timezone (Dataset.from_frames(..., timezone='Europe/Berlin') or "
           "`timezone: Europe/Berlin` in the recsys-import mapping file) and they are converted to it")
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        if timezone is None:
            report.add(table, column, "timezone", f"timezone-aware times ({values.dtype.tz}); {how}",
                       frame, values.notna().to_numpy())
            return None
        return values.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[ns]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    missing = values.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        report.add(table, column, "type", f"expected datetimes or ISO-8601 strings, got dtype {values.dtype}",
                   frame, ~missing)
        return None
    is_str = ~_not_str(values) & ~missing
    is_time = values.map(lambda v: isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "tzinfo")
                         ).to_numpy(dtype=bool) & ~is_str & ~missing
    other = ~missing & ~is_str & ~is_time
    if other.any():
        report.add(table, column, "type", f"expected datetimes or ISO-8601 strings, e.g. {_first(values, other)!r}",
                   frame, other)
        return None
    text = values.where(is_str).astype("string")
    aware = np.where(is_str, text.str.contains(_AWARE_SUFFIX, regex=True).fillna(False).to_numpy(dtype=bool), False)
    aware |= is_time & values.map(lambda v: getattr(v, "tzinfo", None) is not None).to_numpy(dtype=bool)
    naive = ~missing & ~aware
    if aware.any() and naive.any():
        report.add(table, column, "mixed_timezone",
                   f"mixes timezone-aware and naive times ({int(aware.sum())} aware, {int(naive.sum())} naive, "
                   f"e.g. {_first(values, aware)!r} and {_first(values, naive)!r}); give every time an offset, "
                   f"or none", frame, naive if naive.sum() <= aware.sum() else aware)
        return None
    normalised = text.str.replace(_UTC_SUFFIX, "+00:00", regex=True)
    source = pd.Series(np.where(is_str, normalised.to_numpy(dtype=object), values.to_numpy(dtype=object)),
                       index=values.index, dtype=object)
    try:
        if aware.any():
            parsed = pd.to_datetime(source, utc=True, format="ISO8601", errors="coerce")
        else:
            parsed = pd.to_datetime(source, format="ISO8601", errors="coerce")
    except (ValueError, TypeError, OverflowError) as exc:
        report.add(table, column, "type", f"cannot parse times: {exc}", frame, ~missing)
        return None
    failed = parsed.isna().to_numpy() & ~missing
    if failed.any():
        report.add(table, column, "type", f"unparseable time(s), e.g. {_first(values, failed)!r} "
                   f"(expected ISO-8601 like '2024-03-01 09:30' or '2024-03-01T09:30:00+08:00')", frame, failed)
        return None
    if aware.any():
        if timezone is None:
            report.add(table, column, "timezone", f"timezone-aware times (e.g. {_first(values, aware)!r}); {how}",
                       frame, aware)
            return None
        parsed = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _list_state(value: Any) -> int:
    if not isinstance(value, list | tuple | np.ndarray):
        return 1
    return 0 if all(isinstance(x, str) for x in value) else 2


def _check_column(table: str, frame: pd.DataFrame, name: str, column: schema.Column, funnel: EventFunnel,
                  timezone: str | None, report: _Report) -> pd.Series | None:
    """Check one present column; return it normalised (``None``: unusable, already reported)."""
    values = frame[name]
    kind = column.kind
    if kind == "str":
        values = _as_id_strings(values)
    if kind == "datetime":
        converted = _coerce_datetime(table, name, values, timezone, frame, report)
        if converted is None:
            return None
        values = converted
    missing = values.isna().to_numpy()
    if missing.any() and not column.nullable:
        report.add(table, name, "missing", "missing values", frame, missing)
    if kind in ("int", "float"):
        if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            report.add(table, name, "type", f"expected {kind} numbers, got dtype {values.dtype}", frame, ~missing)
            return None
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        if kind == "int":
            fractional = np.isfinite(numbers) & (np.mod(numbers, 1) != 0)
            report.add(table, name, "type", f"expected whole numbers, e.g. {_first(values, fractional)!r}"
                       if fractional.any() else "", frame, fractional)
        infinite = np.isinf(numbers)
        report.add(table, name, "finite", "infinite values", frame, infinite)
    elif kind == "bool":
        if not pd.api.types.is_bool_dtype(values.dtype):
            report.add(table, name, "type", f"expected booleans, got dtype {values.dtype}", frame, ~missing)
            return None
    elif kind in ("str", "text", "region", "event") or kind.startswith("category:"):
        bad = _not_str(values)
        if bad.any():
            report.add(table, name, "type", f"expected strings, e.g. {_first(values, bad)!r} "
                       f"({type(_first(values, bad)).__name__})", frame, bad)
            return None
        if kind == "event":
            unknown = ~values.isin(list(funnel.events)).to_numpy() & ~missing
            if unknown.any():
                found = sorted(map(str, pd.unique(values[unknown])))[:10]
                report.add(table, name, "event", f"event(s) {found} are not in the dataset's funnel "
                           f"{list(funnel.events)}; declare them in the funnel or map them in the import "
                           f"mapping (events:)", frame, unknown)
        elif kind.startswith("category:"):
            allowed = (*getattr(schema, kind.split(":", 1)[1]), UNKNOWN)
            bad = ~values.isin(list(allowed)).to_numpy() & ~missing
            if bad.any():
                report.add(table, name, "vocabulary", f"value {_first(values, bad)!r} not in {list(allowed)}",
                           frame, bad)
    elif kind == "list":
        state = values.map(_list_state).to_numpy(dtype=np.int8)  # one pass: 0 ok, 1 not a list, 2 non-strings
        bad = (state == 1) & ~missing if column.nullable else state == 1
        if bad.any():
            report.add(table, name, "type", f"expected lists of strings, e.g. {_first(values, bad)!r}", frame, bad)
            return None
        non_str = state == 2
        if non_str.any():
            report.add(table, name, "list_of_strings", f"lists must hold strings only, e.g. "
                       f"{list(_first(values, non_str))!r}", frame, non_str)
    return values


# ---------------------------------------------------------------------------------------------- tables
def _check_table(frame: Any, table_schema: TableSchema, funnel: EventFunnel, timezone: str | None,
                 report: _Report) -> pd.DataFrame | None:
    table = table_schema.name
    if not isinstance(frame, pd.DataFrame):
        report.add(table, None, "not_a_table", f"expected a pandas DataFrame, got {type(frame).__name__}")
        return None
    missing = [c for c in table_schema.required if c not in frame.columns]
    if missing:
        report.add(table, None, "required", f"missing required column(s) {missing} (minimal contract: "
                   f"{list(table_schema.required)})")
    if ("lat" in frame.columns) != ("lon" in frame.columns) and {"lat", "lon"} <= set(table_schema.spec):
        present, absent = ("lat", "lon") if "lat" in frame.columns else ("lon", "lat")
        report.add(table, present, "pair", f"{present} without {absent}: give both coordinates or neither")
    out: dict[str, pd.Series] = {}
    for name, column in table_schema.spec.items():
        if name in frame.columns:
            values = _check_column(table, frame, name, column, funnel, timezone, report)
            if values is not None:
                out[name] = values
            else:
                report.unusable.add(f"{table}.{name}")
    if table_schema.id_column is not None and table_schema.id_column in out:
        ids = out[table_schema.id_column]
        dup = ids.duplicated(keep="first").to_numpy() & ids.notna().to_numpy()
        if dup.any():
            report.add(table, table_schema.id_column, "duplicate_id", f"duplicate id {_first(ids, dup)!r}", frame, dup)
    _check_ranges(table, frame, out, report)
    if not out and missing:
        return None
    changed = {name: values for name, values in out.items() if values is not frame[name]}
    return frame.assign(**changed) if changed else frame


_NON_NEGATIVE = ("wage_min", "wage_max", "reservation_wage", "experience_years", "max_commute_km")
_AGES = ("age", "age_min", "age_max")


def _check_ranges(table: str, frame: pd.DataFrame, cols: Mapping[str, pd.Series], report: _Report) -> None:
    def number(name: str) -> np.ndarray | None:
        values = cols.get(name)
        if values is None or not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values):
            return None
        return values.to_numpy(dtype=float, na_value=np.nan)

    for name, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        x = number(name)
        if x is not None:
            report.add(table, name, "range", f"outside {low:g}..{high:g} degrees", frame, (x < low) | (x > high))
    for name in _NON_NEGATIVE:
        x = number(name)
        if x is not None:
            report.add(table, name, "range", "negative values", frame, x < 0)
    for name in _AGES:
        x = number(name)
        if x is not None:
            report.add(table, name, "range", f"outside 0..{INT16_MAX} (ages are stored as int16)", frame,
                       (x < 0) | (x > INT16_MAX))
    x = number("vacancies")
    if x is not None:
        report.add(table, "vacancies", "range", "fewer than 1 vacancy", frame, x < 1)
    for lower, upper in (("wage_min", "wage_max"), ("age_min", "age_max")):
        a, b = number(lower), number(upper)
        if a is not None and b is not None:
            report.add(table, upper, "order", f"{upper} < {lower}", frame, b < a)
    if "posted_at" in cols and "expires_at" in cols:
        bad = (cols["expires_at"] < cols["posted_at"]).to_numpy(dtype=bool)
        report.add(table, "expires_at", "order", "expires_at before posted_at", frame, bad)


def _id_rows(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Positions of ``values`` in ``index`` (-1 if absent); categorical values look up categories only."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        lookup = np.append(index.get_indexer(values.cat.categories), -1)
        return lookup[values.cat.codes.to_numpy()]
    return index.get_indexer(pd.Index(values))


def validate_table(frame: pd.DataFrame, table_schema: TableSchema, *, funnel: EventFunnel | None = None,
                   timezone: str | None = None) -> pd.DataFrame:
    """Check one table's required columns, present columns' kinds, ranges and id uniqueness.

    Returns the table normalised (see the module docstring); raises :class:`TableValidationError`
    listing every problem.
    """
    from recsys.data.events import DEFAULT_FUNNEL

    report = _Report()
    out = _check_table(frame, table_schema, funnel or DEFAULT_FUNNEL, timezone, report)
    report.raise_if_any()
    assert out is not None
    return out


def validate_tables(seekers: pd.DataFrame, jobs: pd.DataFrame, interactions: pd.DataFrame, *,
                    funnel: EventFunnel | None = None, timezone: str | None = None,
                    now: pd.Timestamp | None = None, seeker_rows: np.ndarray | None = None,
                    job_rows: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Validate the core tables and the references between them; return them normalised.

    Checks every table (:func:`validate_table`), then that interactions name known seekers and jobs,
    happen while their job is posted (``posted_at <= ts < expires_at`` where those columns exist), not
    before the seeker registered (``registered_at``), and not in the far future (after ``now`` + 1 day;
    ``now`` defaults to the wall clock). ``seeker_rows`` / ``job_rows``: the interactions' rows when the
    caller already resolved them (-1 for unknown ids).

    Raises
    ------
    TableValidationError
        With every problem found (``.problems``).
    """
    from recsys.data.events import DEFAULT_FUNNEL

    funnel = funnel or DEFAULT_FUNNEL
    report = _Report()
    tables = [_check_table(frame, SCHEMAS[name], funnel, timezone, report)
              for name, frame in (("seekers", seekers), ("jobs", jobs), ("interactions", interactions))]
    s, j, i = tables
    if s is not None and j is not None and i is not None:
        _check_references(s, j, i, report, now, seeker_rows, job_rows)
    report.raise_if_any()
    assert s is not None and j is not None and i is not None
    return s, j, i


def _check_references(seekers: pd.DataFrame, jobs: pd.DataFrame, inter: pd.DataFrame, report: _Report,
                      now: pd.Timestamp | None, seeker_rows: np.ndarray | None, job_rows: np.ndarray | None) -> None:
    known = {c for c in inter.columns if f"interactions.{c}" not in report.unusable}
    unique = True  # with duplicate ids (already reported) rows are ambiguous: only references are checked
    if seeker_rows is None and "seeker_id" in known and "seekers.seeker_id" not in report.unusable \
            and "seeker_id" in seekers.columns:
        index = pd.Index(seekers["seeker_id"])
        unique &= index.is_unique
        seeker_rows = _id_rows(inter["seeker_id"], index if index.is_unique else index.drop_duplicates())
    if job_rows is None and "job_id" in known and "jobs.job_id" not in report.unusable and "job_id" in jobs.columns:
        index = pd.Index(jobs["job_id"])
        unique &= index.is_unique
        job_rows = _id_rows(inter["job_id"], index if index.is_unique else index.drop_duplicates())
    if seeker_rows is not None:
        bad = (seeker_rows < 0) & inter["seeker_id"].notna().to_numpy()  # missing ids are reported as such
        if bad.any():
            report.add("interactions", "seeker_id", "reference",
                       f"unknown seeker {_first(inter['seeker_id'], bad)!r} (not in seekers.seeker_id)", inter, bad)
    if job_rows is not None:
        bad = (job_rows < 0) & inter["job_id"].notna().to_numpy()
        if bad.any():
            report.add("interactions", "job_id", "reference",
                       f"unknown job {_first(inter['job_id'], bad)!r} (not in jobs.job_id)", inter, bad)
    ts_ok = "ts" in known and pd.api.types.is_datetime64_dtype(inter["ts"].dtype)
    if not ts_ok or not unique:
        return
    ts = inter["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    limit = (pd.Timestamp.now() if now is None else pd.Timestamp(now)) + FUTURE_MARGIN
    future = ts > limit.as_unit("ns").value
    if future.any():
        report.add("interactions", "ts", "future", f"after {limit:%Y-%m-%d %H:%M} (now + 1 day), e.g. "
                   f"{_first(inter['ts'], future)}", inter, future)
    # chunked so that checking 28M interactions needs no more than a few hundred MB of temporaries
    chunk = 1 << 22
    if job_rows is not None:
        bounds = [(column, jobs[column].to_numpy(dtype="datetime64[ns]").view(np.int64), before)
                  for column, before in (("posted_at", True), ("expires_at", False))
                  if column in jobs.columns and pd.api.types.is_datetime64_dtype(jobs[column].dtype)]
        if bounds:
            outside = np.zeros(len(ts), dtype=bool)
            for start in range(0, len(ts), chunk):
                part = slice(start, start + chunk)
                rows, times = job_rows[part], ts[part]
                valid = rows >= 0
                rows = np.where(valid, rows, 0)
                for _, values, before in bounds:
                    bound = values[rows]
                    has = valid & (bound != np.iinfo(np.int64).min)  # NaT: open-ended
                    outside[part] |= has & ((times < bound) if before else (times >= bound))
            if outside.any():
                report.add("interactions", "ts", "window", "outside the job's posted_at..expires_at window",
                           inter, outside)
    if seeker_rows is not None and "registered_at" in seekers.columns \
            and pd.api.types.is_datetime64_dtype(seekers["registered_at"].dtype):
        first = np.full(len(seekers), np.iinfo(np.int64).max, dtype=np.int64)
        for start in range(0, len(ts), chunk):
            rows, times = seeker_rows[start:start + chunk], ts[start:start + chunk]
            valid = rows >= 0
            np.minimum.at(first, rows[valid], times[valid])
        registered = seekers["registered_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        late = (registered != np.iinfo(np.int64).min) & (registered > first)
        if late.any():
            report.add("seekers", "registered_at", "registration",
                       "registered after the seeker's own first interaction", seekers, late)


def validate_trainings(trainings: Any, seekers: pd.DataFrame, *, timezone: str | None = None) -> pd.DataFrame:
    """Check the optional ``trainings`` table and that it names known seekers; return it normalised.

    The minimal columns are ``seeker_id``, ``skill`` and ``completed_at`` (missing: not completed); the
    others of :data:`recsys.data.schema.SCHEMAS` ``["trainings"]`` are checked when present. A training
    of a seeker who is not in ``seekers.seeker_id`` is a ``reference`` problem naming its row. A table
    without ``completed_at`` but with a boolean ``completed`` and a datetime ``end`` (synthetic worlds that
    publish post-hoc facts, such as ``easy``) gets ``completed_at = end`` where ``completed``.

    Raises
    ------
    TableValidationError
        With every problem found (``.problems``).
    """
    from recsys.data.events import DEFAULT_FUNNEL

    report = _Report()
    if isinstance(trainings, pd.DataFrame) and "completed_at" not in trainings.columns \
            and {"completed", "end"} <= set(trainings.columns) and pd.api.types.is_bool_dtype(trainings["completed"]) \
            and pd.api.types.is_datetime64_dtype(trainings["end"]):
        trainings = trainings.assign(completed_at=trainings["end"].where(trainings["completed"]))
    out = _check_table(trainings, SCHEMAS["trainings"], DEFAULT_FUNNEL, timezone, report)
    if out is not None and "seeker_id" in out.columns and "trainings.seeker_id" not in report.unusable \
            and "seeker_id" in seekers.columns:
        known = pd.Index(seekers["seeker_id"]).drop_duplicates()
        bad = (_id_rows(out["seeker_id"], known) < 0) & out["seeker_id"].notna().to_numpy()
        if bad.any():
            report.add("trainings", "seeker_id", "reference",
                       f"unknown seeker {_first(out['seeker_id'], bad)!r} (not in seekers.seeker_id)", out, bad)
    report.raise_if_any()
    assert out is not None
    return out
