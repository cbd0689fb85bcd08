"""``recsys-import``: turn CSV / Parquet exports into a validated dataset directory.

Usage::

    recsys-import mapping.yaml --out data/my_board
    recsys-import mapping.yaml --out data/my_board --interactions logs/2024-*.csv --jobs postings.parquet

The mapping file (YAML) says where each table is and how its columns map onto the schema::

    source: exports              # folder of the files (relative to the mapping file, the default)
    timezone: America/Chicago    # the data's local time: tz-aware times are converted to it
    funnel:                      # the dataset's events, weakest first (weights optional)
      events: [view, apply]
      weights: {view: 1, apply: 3}
    tables:
      seekers:
        file: users.csv          # a file, a folder (every CSV / Parquet in it) or a glob
        columns: {user_id: seeker_id, state: district, signup_time: registered_at}
        lists: {skills: "|"}     # CSV list columns: separator
      jobs:
        file: postings.parquet
        columns: {posting_id: job_id, title: title, state: district}
      interactions:
        file: events.csv
        columns: {user_id: seeker_id, posting_id: job_id, time: ts, action: event}
        events: {page_view: view, applied: apply}   # source value -> funnel event

Only ``interactions`` is required (``seekers`` / ``jobs`` default to the ids it names). An optional
``trainings`` table (``seeker_id``, ``skill``, ``completed_at``: completed trainings, docs/data.md) is mapped
the same way and written as ``trainings.parquet``. ``columns``
maps source column -> schema column; without it the source names are used as they are; source columns
that are not mapped are dropped unless ``keep_unmapped: true``. Id columns are read as strings.
``event: rate`` gives every interaction that event (files without an event column);
``epoch_unit: s`` reads numeric time columns as Unix times (UTC; declare ``timezone``); ``csv:`` passes
options to ``pandas.read_csv`` (e.g. ``{sep: "\t", names: [user, item, rating, time]}``).

Every problem in the data is reported at once (exit status 2) and nothing is written; on success the
dataset directory is written atomically and its :meth:`~recsys.data.Dataset.describe_text` printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from recsys.data.dataset import Dataset
from recsys.data.events import EventFunnel, FunnelError
from recsys.data.schema import SCHEMAS
from recsys.data.validate import TableValidationError

log = logging.getLogger(__name__)

TABLES = ("seekers", "jobs", "interactions", "trainings")
TOP_KEYS = {"source", "timezone", "funnel", "tables"}
TABLE_KEYS = {"file", "columns", "events", "event", "lists", "keep_unmapped", "csv", "epoch_unit"}
EPOCH_UNITS = ("s", "ms", "us", "ns")
SUFFIXES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class MappingError(ValueError):
    """The mapping file (or a command-line override) is malformed; the message names the key."""


# ---------------------------------------------------------------------------------------------- mapping
def read_mapping(path: str | Path) -> dict[str, Any]:
    """Parse and check a mapping file; raise :class:`MappingError` naming the bad key."""
    path = Path(path)
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MappingError(f"mapping file {str(path)!r} does not exist") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping file {str(path)!r} is not valid YAML: {exc}") from exc
    return check_mapping(mapping, base=path.parent)


def check_mapping(mapping: Any, base: Path | None = None) -> dict[str, Any]:
    """Check a mapping's structure; relative paths are resolved against ``base``."""
    if not isinstance(mapping, Mapping):
        raise MappingError(f"mapping: expected a YAML mapping at the top level, got {type(mapping).__name__}")
    unknown = sorted(set(mapping) - TOP_KEYS)
    if unknown:
        raise MappingError(f"mapping: unknown key(s) {unknown}; expected {sorted(TOP_KEYS)}")
    out: dict[str, Any] = {"timezone": mapping.get("timezone"), "tables": {}}
    if out["timezone"] is not None:
        try:
            pd.Timestamp("2024-01-01", tz=str(out["timezone"]))
        except Exception as exc:
            raise MappingError(f"timezone: {out['timezone']!r} is not an IANA timezone name "
                               f"(e.g. 'Asia/Shanghai', 'Europe/Berlin', 'UTC')") from exc
        out["timezone"] = str(out["timezone"])
    try:
        out["funnel"] = None if mapping.get("funnel") is None else EventFunnel.from_dict(mapping["funnel"])
    except FunnelError as exc:
        raise MappingError(f"funnel: {exc}") from exc
    source = mapping.get("source")  # files are relative to it, else to the mapping file's folder
    out["source"] = base if source is None else (base or Path.cwd()) / str(source)
    tables = mapping.get("tables") or {}
    if not isinstance(tables, Mapping):
        raise MappingError("tables: expected a mapping of table name -> settings")
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise MappingError(f"tables: unknown table(s) {unknown}; expected some of {list(TABLES)}")
    for table, settings in tables.items():
        settings = settings or {}
        if not isinstance(settings, Mapping):
            raise MappingError(f"tables.{table}: expected a mapping, got {settings!r}")
        unknown = sorted(set(settings) - TABLE_KEYS)
        if unknown:
            raise MappingError(f"tables.{table}: unknown key(s) {unknown}; expected some of {sorted(TABLE_KEYS)}")
        for key in ("columns", "events", "lists", "csv"):
            if settings.get(key) is not None and not isinstance(settings[key], Mapping):
                raise MappingError(f"tables.{table}.{key}: expected a mapping, got {settings[key]!r}")
        columns = {str(k): str(v) for k, v in (settings.get("columns") or {}).items()}
        targets = list(columns.values())
        duplicated = sorted({t for t in targets if targets.count(t) > 1})
        if duplicated:
            raise MappingError(f"tables.{table}.columns: several source columns map to {duplicated}")
        for key in ("events", "event"):
            if settings.get(key) and table != "interactions":
                raise MappingError(f"tables.{table}.{key}: events only apply to interactions")
        if settings.get("epoch_unit") is not None and settings["epoch_unit"] not in EPOCH_UNITS:
            raise MappingError(f"tables.{table}.epoch_unit: expected one of {list(EPOCH_UNITS)}, "
                               f"got {settings['epoch_unit']!r}")
        file = settings.get("file")
        out["tables"][table] = {
            "file": None if file is None else str(file), "columns": columns,
            "events": {str(k): str(v) for k, v in (settings.get("events") or {}).items()},
            "lists": {str(k): str(v) for k, v in (settings.get("lists") or {}).items()},
            "keep_unmapped": bool(settings.get("keep_unmapped", False)), "csv": dict(settings.get("csv") or {}),
            "event": None if settings.get("event") is None else str(settings["event"]),
            "epoch_unit": settings.get("epoch_unit"),
        }
    return out


# ---------------------------------------------------------------------------------------------- reading
def _files(spec: str | Path, base: Path | None) -> list[Path]:
    """Files named by ``spec``: a file, a folder (its CSV / Parquet files) or a glob pattern."""
    path = Path(spec)
    if not path.is_absolute() and base is not None:
        path = base / path
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise MappingError(f"folder {str(path)!r} holds no .csv or .parquet files")
        return files
    if any(ch in str(path) for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(str(path)))
        if not files:
            raise MappingError(f"no file matches {str(path)!r}")
        return files
    if not path.exists():
        raise MappingError(f"file {str(path)!r} does not exist")
    return [path]


def _default_file(table: str, base: Path | None) -> list[Path] | None:
    """``<table>.csv`` / ``<table>.parquet`` (or a ``<table>/`` folder) in the source folder, if any."""
    if base is None:
        return None
    for candidate in (base / f"{table}.parquet", base / f"{table}.csv", base / table):
        if candidate.exists():
            return _files(candidate, None)
    return None


def _read(files: Sequence[Path], id_columns: Sequence[str], csv_options: Mapping[str, Any]) -> pd.DataFrame:
    frames = []
    for file in files:
        kind = SUFFIXES.get(file.suffix.lower(), "csv" if csv_options else None)  # e.g. MovieLens' ua.base
        if kind == "parquet":
            frames.append(pd.read_parquet(file))
        elif kind == "csv":
            options: dict[str, Any] = {"sep": "\t"} if file.suffix.lower() == ".tsv" else {}
            options.update(csv_options)
            header = pd.read_csv(file, nrows=0, **options).columns
            frames.append(pd.read_csv(file, dtype={c: str for c in id_columns if c in header},
                                      keep_default_na=True, **options))
        else:
            raise MappingError(f"{str(file)!r}: only .csv, .tsv and .parquet files can be imported (give csv: "
                               f"options to read another suffix as delimited text)")
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _apply(table: str, frame: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    columns = settings["columns"]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MappingError(f"tables.{table}.columns: source column(s) {missing} not in the file "
                           f"(it has {list(frame.columns)})")
    if columns:
        keep = list(columns) + ([c for c in frame.columns if c not in columns] if settings["keep_unmapped"] else [])
        frame = frame[keep].rename(columns=columns)
    for column, separator in settings["lists"].items():
        if column not in frame.columns:
            raise MappingError(f"tables.{table}.lists: column {column!r} not in the table")
        values = frame[column]
        frame[column] = values.map(lambda v, sep=separator: [] if pd.isna(v) or v == "" else
                                   [part.strip() for part in str(v).split(sep) if part.strip()]
                                   if isinstance(v, str) else v)
    if settings["event"] is not None:
        if "event" in frame.columns:
            raise MappingError(f"tables.{table}.event: the table already has an 'event' column; use events: "
                               f"to map its values instead")
        frame["event"] = settings["event"]
    if settings["epoch_unit"] is not None:
        for column, spec in SCHEMAS[table].spec.items():
            if spec.kind == "datetime" and column in frame.columns \
                    and pd.api.types.is_numeric_dtype(frame[column].dtype):
                frame[column] = pd.to_datetime(frame[column], unit=settings["epoch_unit"], utc=True)
    if settings["events"]:
        if "event" not in frame.columns:
            raise MappingError(f"tables.{table}.events: the table has no 'event' column (map one in columns)")
        frame["event"] = frame["event"].map(lambda v: settings["events"].get(str(v), v) if pd.notna(v) else v)
    return frame


def load_sources(mapping: Mapping[str, Any], overrides: Mapping[str, Sequence[str]] | None = None
                 ) -> dict[str, pd.DataFrame]:
    """Read and map the tables named by ``mapping`` (``overrides``: table -> explicit files)."""
    overrides = overrides or {}
    out: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        settings = mapping["tables"].get(table) or check_mapping({"tables": {table: {}}})["tables"][table]
        files: list[Path] | None
        if overrides.get(table):
            files = [f for spec in overrides[table] for f in _files(spec, None)]
        elif settings["file"] is not None:
            files = _files(settings["file"], mapping["source"])
        else:
            files = _default_file(table, mapping["source"])
        if files is None:
            if table == "interactions":
                raise MappingError("interactions: no file given (tables.interactions.file, --interactions, or "
                                   "interactions.csv / .parquet in the source folder)")
            continue
        id_targets = {"seeker_id", "job_id", "employer_id"}
        sources = {src for src, dst in settings["columns"].items() if dst in id_targets}
        id_columns = sorted(sources | (id_targets - set(settings["columns"].values())))
        out[table] = _apply(table, _read(files, id_columns, settings["csv"]), settings)
    return out


def import_dataset(mapping: Mapping[str, Any] | str | Path, out_dir: str | Path,
                   overrides: Mapping[str, Sequence[str]] | None = None, *, now: Any = None) -> Dataset:
    """Read, map, validate and write a dataset directory; return the :class:`~recsys.data.Dataset`.

    Raises :class:`MappingError` for a bad mapping and
    :class:`~recsys.data.validate.TableValidationError` (every problem) for bad data; nothing is
    written in either case.
    """
    if not isinstance(mapping, Mapping):
        mapping = read_mapping(mapping)
    tables = load_sources(mapping, overrides)
    extras = {"trainings": tables["trainings"]} if "trainings" in tables else None
    dataset = Dataset.from_frames(seekers=tables.get("seekers"), jobs=tables.get("jobs"),
                                  interactions=tables["interactions"], funnel=mapping.get("funnel"),
                                  timezone=mapping.get("timezone"), extras=extras, now=now)
    unknown = {t: sorted(set(f.columns) - set(SCHEMAS[t].spec)) for t, f in tables.items()}
    dataset.save(out_dir, meta={
        "generator": "recsys-import", "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "extra_columns": {t: c for t, c in unknown.items() if c},
    })
    return dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recsys-import", description=__doc__.split("\n\n")[0],
                                     epilog="See docs/data.md for the mapping file.")
    parser.add_argument("mapping", type=Path, help="YAML mapping file")
    parser.add_argument("--out", type=Path, required=True, help="dataset directory to write")
    for table in TABLES:
        parser.add_argument(f"--{table}", nargs="+", default=None, metavar="FILE",
                            help=f"{table} file(s) or folder, overriding the mapping's")
    args = parser.parse_args(argv)
    try:
        dataset = import_dataset(args.mapping, args.out, {t: getattr(args, t) for t in TABLES})
    except MappingError as exc:
        print(f"recsys-import: mapping error: {exc}", file=sys.stderr)
        return 2
    except TableValidationError as exc:
        print(f"recsys-import: the data was not imported (nothing written):\n{exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}\n{dataset.describe_text()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
