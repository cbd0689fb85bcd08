"""Top level: :func:`generate` (composed config -> dataset directory) and :func:`generate_preset`.

Output layout under ``out_dir``: one Parquet file per table of :data:`recsys.data.schema.SCHEMAS`,
``truth/`` (npz + json), ``calibration.json``, ``calibration.md``, ``README.md`` (datasheet) and
``manifest.json``. Everything is written to a temporary sibling directory first and renamed into place.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf

import recsys.paths
from recsys.data.schema import CHANNELS, FORMAT_VERSION, INTERACTION_EVENTS, SCHEMAS
from recsys.data.synthetic import calibration, datasheet, funnel_stats
from recsys.data.synthetic import geography as geo
from recsys.data.synthetic import population as pop
from recsys.data.synthetic.behaviour import Interactions, simulate
from recsys.data.synthetic.config import DataConfig, WorldParams
from recsys.data.synthetic.occupations import SKILL_INDEX
from recsys.data.synthetic.truth import GroundTruth
from recsys.io import atomic_dir

SPLIT_DAYS = 30
TOP_LEVEL_KEYS = ("seed", "out_dir", "progress", "overwrite")


def _check_out_dir(out_dir: Any) -> Path:
    if out_dir is None or str(out_dir).strip() == "":
        raise ValueError(f"out_dir: must be a directory path, got {out_dir!r}")
    path = Path(str(out_dir)).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ValueError(f"out_dir: {str(path)!r} exists and is not a directory")
    return path


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    return int(seed)


GENERATOR_VERSION = 2
"""Bump when a code change alters the generated data for the same config and seed: a dataset whose
manifest holds another version is stale (:func:`stale_reason`) and ``make run`` regenerates it."""


def fingerprint(data: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """What determines a generated dataset: generator version, seed, world (name and parameter hash) and data
    config (without ``dir``). Raises ``ValueError`` for an invalid ``data.world``."""
    config = json.loads(json.dumps({k: v for k, v in data.items() if k != "dir"}, default=str))
    world = _world(data)
    return {"generator_version": GENERATOR_VERSION, "seed": int(seed),
            "world": {"name": world.name, "hash": world.digest()}, "data_config": config}


def _world(data: Mapping[str, Any]) -> WorldParams:
    """The validated ``data.world`` node (the neutral easy world when absent: a data config written before
    worlds existed; composed configs always carry one, ``realistic`` by default)."""
    node = data.get("world", {})
    if not isinstance(node, Mapping):
        raise ValueError(f"data.world: expected a world preset (data/world=<name>, one of {available_worlds()}), "
                         f"got {node!r}")
    return WorldParams.from_mapping(node)


def stale_reason(data_dir: Path | str, cfg: DictConfig | Mapping[str, Any]) -> str | None:
    """Why the dataset in ``data_dir`` is not what ``cfg`` (keys ``seed``, ``data``) generates, or ``None``.

    Missing data, a manifest without a fingerprint (an older generator), another generator version,
    seed or data config are reasons.
    """
    manifest_path = Path(data_dir) / "manifest.json"
    if not manifest_path.is_file():
        return "no dataset there"
    container = _as_dict(cfg)
    expected = fingerprint(container["data"], _check_seed(container.get("seed", 0)))
    found = json.loads(manifest_path.read_text(encoding="utf-8")).get("fingerprint")
    if found is None:
        return "it was written by an older generator (no fingerprint in manifest.json)"
    for key, what in (("generator_version", "generator version"), ("seed", "seed"), ("world", "world"),
                      ("data_config", "data config")):
        if found.get(key) != expected[key]:
            if key == "data_config":
                changed = sorted(k for k in {*found[key], *expected[key]}
                                 if found[key].get(k) != expected[key].get(k))
                return f"its data config differs in {changed}"
            return f"its {what} is {found.get(key)!r}, expected {expected[key]!r}"
    return None


def _as_dict(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """``cfg`` as a plain dict (a Hydra config resolved)."""
    if isinstance(cfg, DictConfig):
        return cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    return dict(cfg)


def generate(cfg: DictConfig | Mapping[str, Any]) -> Path:
    """Generate the dataset described by ``cfg`` (keys ``seed``, ``out_dir``, ``data``); return its path.

    Raises ``ValueError`` naming the bad field before anything is written.
    """
    container = _as_dict(cfg)
    if not isinstance(container.get("data"), Mapping):
        raise ValueError(f"data: expected the data config group, got {container.get('data')!r}")
    data = DataConfig.from_mapping(container["data"])
    seed = _check_seed(container.get("seed", 0))
    out_dir = _check_out_dir(container.get("out_dir", data.dir))
    progress = bool(container.get("progress", False))

    with atomic_dir(out_dir, kind="dataset", overwrite=bool(container.get("overwrite", False))) as tmp:
        _write_dataset(tmp, data, seed, progress, fingerprint(container["data"], seed))
    return out_dir


def available_worlds() -> list[str]:
    """Names of the world presets in ``configs/data/world/`` (select one with ``data/world=<name>``)."""
    return sorted(p.stem for p in (recsys.paths.config_dir() / "data" / "world").glob("*.yaml"))


def available_presets() -> list[str]:
    """Names of the presets in ``configs/data/``."""
    return sorted(p.stem for p in (recsys.paths.config_dir() / "data").glob("*.yaml"))


def compose_config(preset: str, out_dir: Path | str | None = None, seed: int = 0, **overrides: Any) -> DictConfig:
    """Compose ``generate.yaml`` with ``data=<preset>`` through Hydra's compose API.

    ``overrides``: ``n_seekers=500`` or ``search__session_rate=0.2`` set ``data.n_seekers`` /
    ``data.search.session_rate``; ``world="easy"`` selects a world preset (``data/world=easy``; without it the
    default world, ``realistic``), and ``world__choice_noise=2`` changes one of its parameters; ``progress`` (default ``False`` here, ``True`` in
    the CLI) shows tqdm bars.
    """
    from hydra import compose, initialize_config_dir

    if preset not in available_presets():
        raise ValueError(f"data.preset: unknown preset {preset!r}; available: {available_presets()}")
    items = [f"data={preset}", f"seed={_check_seed(seed)}"]
    if "progress" not in overrides:
        items.append("progress=false")
    if out_dir is not None:
        items.append(f"out_dir={json.dumps(str(_check_out_dir(out_dir)))}")
    for key, value in overrides.items():
        if key == "world":
            if value not in available_worlds():
                raise ValueError(f"data.world: unknown world {value!r}; available: {available_worlds()}")
            items.append(f"data/world={value}")
            continue
        key = key.replace("__", ".")
        if key.split(".")[0] not in TOP_LEVEL_KEYS and not key.startswith("data."):
            key = f"data.{key}"
        items.append(f"{key}={json.dumps(value) if isinstance(value, str) else value}")
    with initialize_config_dir(config_dir=str(recsys.paths.config_dir()), version_base="1.3"):
        return compose(config_name="generate", overrides=items)


def generate_preset(preset: str, out_dir: Path | str, seed: int = 0, **overrides: Any) -> Path:
    """Generate ``preset`` into ``out_dir`` without the CLI, in the default ``realistic`` world unless
    ``world=`` names another (see :func:`compose_config` for overrides)."""
    return generate(compose_config(preset, out_dir, seed, **overrides))


# ---------------------------------------------------------------------------------------------- writing
def _strings(ids: np.ndarray, idx: np.ndarray) -> pa.Array:
    """String column ``ids[idx]`` built without Python objects per row."""
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(ids)).cast(pa.string())


def _categories(labels: tuple[str, ...], codes: np.ndarray) -> pa.DictionaryArray:
    """Low-cardinality string column as codes into ``labels`` (written as a Parquet dictionary column)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels))


def _write_table(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="zstd")


def _interactions_table(inter: Interactions, seekers: pop.Seekers, jobs: pop.Jobs, cfg: DataConfig) -> pa.Table:
    """Funnel rows ordered by time, then stage (ties keep simulation order)."""
    n = max(len(inter.minute), 1)
    # Stable argsort by (minute, stage) as one plain sort of packed keys: value sorts are much faster than argsorts.
    packed = (inter.minute.astype(np.int64) * len(INTERACTION_EVENTS) + inter.stage) * n + np.arange(len(inter.minute))
    packed.sort()
    order = packed % n
    del packed
    start_ns = cfg.start_ns.astype("datetime64[ns]").astype(np.int64)
    ts = (start_ns + inter.minute[order].astype(np.int64) * 60_000_000_000).view("datetime64[ns]")
    return pa.table({
        "seeker_id": _strings(seekers.table["seeker_id"].to_numpy(dtype=str), inter.seeker[order]),
        "job_id": _strings(jobs.table["job_id"].to_numpy(dtype=str), inter.job[order]),
        "ts": pa.array(ts),
        "event": _categories(INTERACTION_EVENTS, inter.stage[order]),
        "channel": _categories(CHANNELS, inter.channel[order]),
    })


POST_HOC_JOB_COLUMNS = ("planned_expires_at", "filled")
POST_HOC_SEEKER_COLUMNS = ("segment",)


def _public_tables(tables: dict[str, pd.DataFrame], cfg: DataConfig) -> dict[str, pd.DataFrame]:
    """The tables as published without post-hoc facts (worlds with ``hide_post_hoc_facts``).

    ``jobs.expires_at`` is the planned expiry (known when posted); when and how a posting closed is the
    ``job_events`` table (``filled`` at the last hire, ``expired`` at the planned expiry; postings still open at
    the end have no row), so a model trained before a cutoff sees only closures before it. ``jobs.filled`` and
    ``seekers.segment`` (the generator's hidden class) stay in ``truth/post_hoc.npz``. ``trainings`` gains
    ``completed_at`` (the end of a completed enrolment, missing otherwise).
    """
    jobs, end = tables["jobs"], cfg.start_ns + np.timedelta64(cfg.days, "D")
    closed = jobs["expires_at"].to_numpy(dtype="datetime64[ns]")
    planned = jobs["planned_expires_at"].to_numpy(dtype="datetime64[ns]")
    filled = jobs["filled"].to_numpy(dtype=bool)
    happened = closed < end
    job_events = pd.DataFrame({
        "job_id": jobs["job_id"].to_numpy()[happened], "ts": closed[happened],
        "event": np.where(filled[happened], "filled", "expired"),
    }).sort_values(["ts", "job_id"], ignore_index=True)
    trainings = tables["trainings"].copy()
    trainings["completed_at"] = trainings["end"].where(trainings["completed"])
    return {**tables,
            "jobs": jobs.drop(columns=list(POST_HOC_JOB_COLUMNS)).assign(expires_at=planned),
            "seekers": tables["seekers"].drop(columns=list(POST_HOC_SEEKER_COLUMNS)),
            "trainings": trainings, "job_events": job_events}


def _listings_table(events: pd.DataFrame, jobs: pop.Jobs) -> pd.DataFrame:
    """``event_listings``: which postings each fair lists (:func:`recsys.data.synthetic.population.fair_listings`)."""
    return pd.DataFrame({"event_id": events["event_id"].to_numpy()[jobs.fairs.listing_event],
                         "job_id": jobs.table["job_id"].to_numpy()[jobs.fairs.listing_job]})


def _attendance(inter: Interactions, events: pd.DataFrame, seekers: pop.Seekers, cfg: DataConfig) -> pd.DataFrame:
    """``event_attendance``: who attended which fair and when they arrived (:func:`behaviour.fair_attendees`)."""
    start_ns = cfg.start_ns.astype("datetime64[ns]").astype(np.int64)
    return pd.DataFrame({
        "event_id": events["event_id"].to_numpy()[inter.attended_event],
        "seeker_id": seekers.table["seeker_id"].to_numpy()[inter.attended_seeker],
        "ts": (start_ns + inter.attended_minute * 60_000_000_000).view("datetime64[ns]"),
    }).sort_values(["ts", "event_id", "seeker_id"], ignore_index=True)


def fair_counts(events: pd.DataFrame, jobs: pd.DataFrame, listings: pd.DataFrame,
                attendance: pd.DataFrame) -> pd.DataFrame:
    """``events`` with its counts as they came out of the simulation (worlds with ``fairs_follow_population``).

    ``n_employers``: distinct employers of the postings the fair lists (``event_listings``); ``n_positions``: the
    sum of their vacancies (a posting listed at several fairs counts at each, as in the published tallies);
    ``n_seekers_served``: distinct seekers in ``attendance`` (``event_attendance``). A fair without listings or
    attendees counts 0.
    """
    listed = listings.merge(jobs[["job_id", "employer_id", "vacancies"]], on="job_id", how="left")
    by_fair = listed.groupby("event_id")
    index = events["event_id"]
    counts = {
        "n_employers": by_fair["employer_id"].nunique(),
        "n_positions": by_fair["vacancies"].sum(),
        "n_seekers_served": attendance.groupby("event_id")["seeker_id"].nunique(),
    }
    return events.assign(**{name: c.reindex(index, fill_value=0).to_numpy(dtype=np.int64)
                            for name, c in counts.items()})


def _interactions_frame(inter: Interactions, seeker_ids: np.ndarray, job_ids: np.ndarray, cfg: DataConfig) -> pd.DataFrame:
    """The interactions table as categoricals over the simulation's arrays (unordered; no per-row strings)."""
    start_ns = cfg.start_ns.astype("datetime64[ns]").astype(np.int64)
    return pd.DataFrame({
        "seeker_id": pd.Categorical.from_codes(inter.seeker, dtype=pd.CategoricalDtype(pd.Index(seeker_ids))),
        "job_id": pd.Categorical.from_codes(inter.job, dtype=pd.CategoricalDtype(pd.Index(job_ids))),
        "ts": (start_ns + inter.minute.astype(np.int64) * 60_000_000_000).view("datetime64[ns]"),
        "event": pd.Categorical.from_codes(inter.stage, dtype=pd.CategoricalDtype(list(INTERACTION_EVENTS))),
        "channel": pd.Categorical.from_codes(inter.channel, dtype=pd.CategoricalDtype(list(CHANNELS))),
    })


def _write_interactions(table: pa.Table, path: Path) -> None:
    """Ids are nearly unique per page, so only ``event``/``channel`` are dictionary-encoded (faster, smaller).

    Without the stored Arrow schema the dictionary columns read back as plain strings, like every other table.
    """
    pq.write_table(table, path, compression="zstd", use_dictionary=["event", "channel"], store_schema=False)


@dataclasses.dataclass
class Population:
    """Everything the generator draws before the day loop, and the generators the day loop draws from."""

    cfg: DataConfig  # in its world
    points: pd.DataFrame
    events: pd.DataFrame
    employers: pd.DataFrame
    jobs: pop.Jobs
    seekers: pop.Seekers
    trainings: pd.DataFrame
    completed: pd.DataFrame  # completed trainings
    training_seeker: np.ndarray
    training_skill: np.ndarray
    training_end_min: np.ndarray
    rng_sim: np.random.Generator
    rng_world: np.random.Generator


def build_population(cfg: DataConfig, seed: int) -> Population:
    """The population of ``cfg`` (not yet in its world) and ``seed``: what :func:`generate` draws before simulating.

    Also what :mod:`recsys.simulation` replays to continue a generated market.
    """
    # The 8th stream is the world's own: the first 7 are those of the easy generator, unchanged (spawn is prefix-stable).
    rng_points, rng_events, rng_emp, rng_jobs, rng_seekers, rng_train, rng_sim, rng_world = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8))
    cfg = cfg.in_world()
    points = geo.service_points_table(rng_points)
    events = pop.make_events(rng_events, cfg, points)
    employers, attract, emp_latent = pop.make_employers(rng_emp, cfg)
    jobs = pop.make_jobs(rng_jobs, cfg, employers, attract, emp_latent, events, points)
    seekers = pop.make_seekers(rng_seekers, cfg, points)
    trainings = pop.make_trainings(rng_train, cfg, seekers, employers)
    done = trainings[trainings["completed"]]
    t_seeker = pd.Index(seekers.table["seeker_id"]).get_indexer(done["seeker_id"]).astype(np.int64)
    t_skill = done["skill"].map(SKILL_INDEX).to_numpy(dtype=np.int64)
    t_end_min = ((done["end"].to_numpy() - cfg.start_ns) // np.timedelta64(1, "m")).astype(np.int64)
    return Population(cfg, points, events, employers, jobs, seekers, trainings, done, t_seeker, t_skill, t_end_min,
                      rng_sim, rng_world)


def _write_dataset(out: Path, cfg: DataConfig, seed: int, progress: bool, identity: dict[str, Any]) -> None:
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    world = cfg.world
    p = build_population(cfg, seed)
    cfg, points, events, employers, jobs, seekers, trainings = (p.cfg, p.points, p.events, p.employers, p.jobs,
                                                               p.seekers, p.trainings)
    districts, rng_sim, rng_world = geo.districts_table(), p.rng_sim, p.rng_world
    t_seeker, t_skill, t_end_min, done = p.training_seeker, p.training_skill, p.training_end_min, p.completed
    timings["population_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    inter = simulate(rng_sim, cfg, seekers, jobs, t_seeker, t_skill, t_end_min, progress=progress, world_rng=rng_world)
    timings["simulation_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    jobs.table["planned_expires_at"] = jobs.table["expires_at"]
    jobs.table["expires_at"] = cfg.start_ns + jobs.expires_min.astype("timedelta64[m]")
    jobs.table["filled"] = np.bincount(inter.job[inter.stage == 3], minlength=len(jobs.table)) >= jobs.vacancies
    tables = {"districts": districts, "service_points": points, "employers": employers, "jobs": jobs.table,
              "seekers": seekers.table, "events": events, "trainings": trainings}
    public = _public_tables(tables, cfg) if world.hide_post_hoc_facts else dict(tables)
    if world.fairs_follow_population:
        public["event_listings"] = tables["event_listings"] = _listings_table(events, jobs)
        public["event_attendance"] = tables["event_attendance"] = _attendance(inter, events, seekers, cfg)
        public["events"] = tables["events"] = events = fair_counts(events, jobs.table, tables["event_listings"],
                                                                   tables["event_attendance"])
    for name, df in public.items():
        _write_table(df, out / f"{name}.parquet")
    inter_table = _interactions_table(inter, seekers, jobs, cfg)
    _write_interactions(inter_table, out / "interactions.parquet")

    truth = GroundTruth(seekers.arrays, jobs.arrays, seekers.table["seeker_id"].to_numpy(dtype=str),
                        jobs.table["job_id"].to_numpy(dtype=str), cfg.utility, t_seeker, t_skill,
                        done["end"].to_numpy(dtype="datetime64[ns]"))
    truth.save(out, meta={
        "latent_dim": cfg.latent_dim, "latent_employer_share": cfg.latent_employer_share,
        "seeker_apply_threshold_mean": cfg.search.apply_threshold,
        "world": {**dataclasses.asdict(world), "hash": world.digest()},
        "job_preferred_gender": {"job_ids": "jobs.npz ids order", "values": jobs.preferred_gender.tolist()},
        "note": "Models must never read this directory; it exists for oracle evaluation only.",
    })
    if world.hide_post_hoc_facts:
        np.savez(out / "truth" / "post_hoc.npz", job_ids=jobs.table["job_id"].to_numpy(dtype=str),
                 filled=jobs.table["filled"].to_numpy(dtype=bool),
                 closed_ns=jobs.table["expires_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
                 seeker_ids=seekers.table["seeker_id"].to_numpy(dtype=str),
                 segment=seekers.table["segment"].to_numpy(dtype=str))

    end = cfg.start_ns + np.timedelta64(cfg.days, "D")
    split = end - np.timedelta64(SPLIT_DAYS, "D")
    seeker_ids, job_ids = seekers.table["seeker_id"].to_numpy(dtype=str), jobs.table["job_id"].to_numpy(dtype=str)
    emergent = funnel_stats.figures(funnel_stats.measure(
        seekers.table, jobs.table, _interactions_frame(inter, seeker_ids, job_ids, cfg), cfg.start_ns, end, split))
    drivers = funnel_stats.utility_drivers(truth, seeker_ids, job_ids, seed=seed)
    rows = calibration.calibrate(cfg, points, events, trainings)
    report = {**calibration.to_json(rows, cfg), "world": world.name, "world_hash": world.digest(),
              "emergent": funnel_stats.to_json(emergent)}
    (out / "calibration.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "calibration.md").write_text(calibration.to_markdown(rows, cfg) + "\n" + funnel_stats.to_markdown(
        emergent, world.name), encoding="utf-8")

    counts = {**{name: len(df) for name, df in public.items()}, "interactions": inter_table.num_rows}
    timings["write_s"] = time.perf_counter() - clock
    manifest = {
        "format_version": FORMAT_VERSION, "generator": "recsys.data.synthetic", "preset": cfg.preset, "seed": seed,
        "world": world.name, "world_hash": world.digest(),
        "start": str(cfg.start_ns.astype("datetime64[s]")), "end": str(end.astype("datetime64[s]")), "days": cfg.days,
        "split_date": str(split.astype("datetime64[s]")),
        "row_counts": counts,
        "interaction_counts": {e: int((inter.stage == i).sum()) for i, e in enumerate(INTERACTION_EVENTS)},
        "tables": sorted({*SCHEMAS, *public}), "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "fingerprint": identity,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "README.md").write_text(datasheet.render(cfg, manifest, tables, inter, rows, emergent, drivers, world,
                                                    public=public), encoding="utf-8")
