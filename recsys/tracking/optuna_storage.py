"""Where an Optuna study lives: in memory (one process), or in a database several workers share.

``recsys-tune storage=postgresql://user@host:5432/optuna`` (or ``sqlite:////abs/path/optuna.db`` on one
machine) makes every worker that names the same ``study_name`` join one study through Optuna's
:class:`~optuna.storages.RDBStorage`: trials are numbered once across workers and TPE sees every
worker's finished trials. Start as many workers (processes, Slurm jobs or Ray tasks) as you like with the
same command line and a different ``worker`` number each: worker ``i`` seeds its sampler with
``sampler_seed + i``, so workers do not propose the same first configurations. A shared study is not
reproducible run to run (which worker sees which finished trials depends on timing).

Several workers opening a *fresh* database race on Optuna's schema creation (``CREATE TABLE``);
:func:`open_study` retries the connection a few times, so workers can be started together.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import optuna

DEFAULT_STUDY_NAME = "recsys-tune"
"""Study name used when a storage is given without ``study_name``."""

SCHEMA_RETRIES = 5


class StudyStorageError(ValueError):
    """``storage`` is not a database URL Optuna can share (e.g. a relative SQLite path)."""


def check_storage_url(url: str) -> str:
    """``url`` if it is an absolute SQLAlchemy URL (``postgresql://``, ``postgresql+psycopg2://``,
    ``mysql://``, ``sqlite:////abs``); raises :class:`StudyStorageError` naming the field otherwise."""
    if "://" not in url:
        raise StudyStorageError(f"storage: {url!r} is not a database URL (expected postgresql://user@host:port/db "
                                f"or sqlite:////absolute/path.db)")
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_absolute():
        raise StudyStorageError(f"storage: SQLite path in {url!r} is relative; use sqlite:////absolute/path.db")
    return url


def rdb_storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage at ``url``, with connection checks (``pool_pre_ping``) for long studies and a
    heartbeat so trials of a worker that died are marked failed instead of staying ``RUNNING``."""
    import sqlalchemy.exc

    check_storage_url(url)
    engine_kwargs = {} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(SCHEMA_RETRIES):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=60,
                                              grace_period=180)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):
            # another worker is creating the schema at this moment; it will be there on the next try
            if attempt == SCHEMA_RETRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def open_study(direction: Literal["minimize", "maximize"], sampler: optuna.samplers.BaseSampler, storage: str | None = None,
               study_name: str | None = None) -> optuna.Study:
    """A new in-memory study (``storage`` null), or the shared study ``study_name`` in ``storage``,
    created by whichever worker comes first (``load_if_exists``)."""
    if storage is None:
        return optuna.create_study(direction=direction, sampler=sampler, study_name=study_name)
    return optuna.create_study(storage=rdb_storage(storage), study_name=study_name or DEFAULT_STUDY_NAME,
                               direction=direction, sampler=sampler, load_if_exists=True)
