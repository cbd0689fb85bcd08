"""Validation of input tables against :mod:`recsys.data.schema`.

Every failure raises :class:`TableValidationError` naming the table, the column and the first offending
rows, before anything downstream reads the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.data import schema
from recsys.data.schema import SCHEMAS, TableSchema


class TableValidationError(ValueError):
    """An input table does not follow its schema."""


def _rows(frame: pd.DataFrame, bad: np.ndarray | pd.Series, limit: int = 5) -> str:
    bad = np.asarray(bad, dtype=bool)
    index = frame.index[bad][:limit].tolist()
    return f"{int(bad.sum())} row(s), first at index {index}"


def _check_kind(table: str, frame: pd.DataFrame, column: str, kind: str) -> None:
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    values = frame[column]
    missing = values.isna().to_numpy()
    if missing.any() and not nullable:
        raise TableValidationError(f"{table}.{column}: missing values in {_rows(frame, missing)}")
    present = values[~missing]
    where = f"{table}.{column}"
    if kind in ("int", "float"):
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise TableValidationError(f"{where}: expected {kind}, got dtype {values.dtype}")
        if kind == "float":
            finite = np.isfinite(present.to_numpy(dtype=float))
            if not finite.all():
                raise TableValidationError(f"{where}: non-finite values in {_rows(frame.loc[~missing], ~finite)}")
    elif kind == "bool":
        if not pd.api.types.is_bool_dtype(values):
            raise TableValidationError(f"{where}: expected bool, got dtype {values.dtype}")
    elif kind == "datetime":
        if not pd.api.types.is_datetime64_any_dtype(values):
            raise TableValidationError(f"{where}: expected datetime, got dtype {values.dtype}")
    elif kind == "str":
        if len(present) and not present.map(lambda v: isinstance(v, str)).all():
            bad = ~values.map(lambda v: isinstance(v, str) or v is None or v is pd.NA).to_numpy()
            raise TableValidationError(f"{where}: expected strings, got other types in {_rows(frame, bad)}")
    elif kind == "list":
        ok = values.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).to_numpy()
        if not ok.all():
            raise TableValidationError(f"{where}: expected lists of strings in {_rows(frame, ~ok)}")
    elif kind.startswith("category:"):
        allowed = getattr(schema, kind.split(":", 1)[1])
        bad = ~values.isin(allowed).to_numpy() & ~missing
        if bad.any():
            first = values[bad].iloc[0]
            raise TableValidationError(
                f"{where}: value {first!r} not in {list(allowed)} ({_rows(frame, bad)})")
    else:  # pragma: no cover - schema typo
        raise AssertionError(f"unknown kind {kind!r} in schema for {where}")


def validate_table(frame: pd.DataFrame, table_schema: TableSchema) -> None:
    """Check required columns, their kinds and id uniqueness of one table."""
    table = table_schema.name
    if not isinstance(frame, pd.DataFrame):
        raise TableValidationError(f"{table}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in table_schema.columns if c not in frame.columns]
    if missing:
        raise TableValidationError(f"{table}: missing column(s) {missing}")
    for column, kind in table_schema.columns.items():
        _check_kind(table, frame, column, kind)
    if table_schema.id_column is not None:
        dup = frame[table_schema.id_column].duplicated(keep="first").to_numpy()
        if dup.any():
            first = frame[table_schema.id_column][dup].iloc[0]
            raise TableValidationError(
                f"{table}.{table_schema.id_column}: duplicate id {first!r} ({_rows(frame, dup)})")


def validate_tables(seekers: pd.DataFrame, jobs: pd.DataFrame, interactions: pd.DataFrame) -> None:
    """Validate the core tables and the references between them.

    Checks each table's schema, that interactions name known seekers and jobs, and that each
    interaction happens while its job is posted (``posted_at <= ts < expires_at``).
    """
    validate_table(seekers, SCHEMAS["seekers"])
    validate_table(jobs, SCHEMAS["jobs"])
    validate_table(interactions, SCHEMAS["interactions"])
    bad_window = (jobs["expires_at"] <= jobs["posted_at"]).to_numpy()
    if bad_window.any():
        raise TableValidationError(f"jobs.expires_at: not after posted_at in {_rows(jobs, bad_window)}")
    unknown = ~interactions["seeker_id"].isin(seekers["seeker_id"]).to_numpy()
    if unknown.any():
        raise TableValidationError(
            f"interactions.seeker_id: unknown seeker {interactions['seeker_id'][unknown].iloc[0]!r} "
            f"({_rows(interactions, unknown)})")
    job_index = pd.Index(jobs["job_id"])
    job_rows = job_index.get_indexer(interactions["job_id"])
    unknown = job_rows < 0
    if unknown.any():
        raise TableValidationError(
            f"interactions.job_id: unknown job {interactions['job_id'][unknown].iloc[0]!r} "
            f"({_rows(interactions, unknown)})")
    ts = interactions["ts"].to_numpy()
    posted = jobs["posted_at"].to_numpy()[job_rows]
    expires = jobs["expires_at"].to_numpy()[job_rows]
    outside = (ts < posted) | (ts >= expires)
    if outside.any():
        raise TableValidationError(
            f"interactions.ts: outside the job's posted_at..expires_at window in {_rows(interactions, outside)}")
