"""The exposure-aware ceiling: rank by the probability that the generator's seeker applies to the job.

The synthetic data come from a funnel (:mod:`recsys.data.synthetic.behaviour`): a session picks a channel
by the seeker's segment, lists ``candidates_per_session`` draws from that channel's active postings
(weights decaying with posting age and district distance over the channel's range, times the posting's
visibility and fair-day boost, a type filter on online and station listings), opens about
``views_per_session`` of the listed postings by Plackett-Luce on utility plus log-visibility (Gumbel
top-v, noise scale ``choice_noise``), and applies to an opened posting with probability
``sigmoid((U - outside option) / apply_noise)``. Ranking by expected utility alone
(:class:`~recsys.evaluation.oracle.Oracle`) ignores everything but the last step.
:class:`ExposureCeiling` rebuilds the generator's market for the dataset (same config, world and seed)
and ranks by :func:`recsys.data.synthetic.behaviour.session_apply_probability`: the whole funnel of one
session at the query's day, under every dial of the world that generated the data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset
from recsys.data.synthetic.behaviour import (
    Market,
    MarketState,
    active_pool,
    prepare_market,
    session_apply_probability,
    skills_at,
    sorted_position,
)
from recsys.data.synthetic.config import DataConfig
from recsys.data.synthetic.population import MIN_PER_DAY
from recsys.evaluation.oracle import Oracle
from recsys.evaluation.ranked import RankedLists, rank_by_scores
from recsys.evaluation.splits import Split

_DAY_KEY = 1 << 20
"""Days per seeker in the attendance keys (more than any span)."""


class CeilingUnavailableError(ValueError):
    """The generator's market cannot be rebuilt for this dataset (no manifest, another generator version,
    or the rebuilt population does not match the dataset's rows or its ``truth/``)."""


class ExposureCeiling(Oracle):
    """Ranks jobs by the probability that the seeker applies to them in a session at the query's time.

    For a query (seeker ``s`` at time ``t`` on day ``d``), the score of job ``j`` is the probability that
    one organic session of ``s`` on day ``d`` applies to ``j``, under the market that generated the data:
    the expectation over the session's channel draw, listing draws, number of views, the Gumbel opening
    noise (scale ``choice_noise``) and the logistic apply noise (scale ``apply_noise``), conditional on the
    realised world (the population and its utilities with the world's ``utility_scale``, skills at the start
    of ``d``, each seeker's own outside option including ``apply_threshold_shift``, each posting's
    visibility, channel ranges scaled by ``channel_range_scale``, and the postings open on ``d``; a seeker
    who was at a fair on ``d`` (``event_attendance``) had that day's session there, in the fair's channel with
    its fair-day boost); :func:`recsys.data.synthetic.behaviour.session_apply_probability` computes it (closed form except
    the Plackett-Luce top-N opening step, which is approximated).

    Why it is the reference: if the query's relevant job is one application of that session, drawn in
    proportion to these probabilities, then ranking by them maximises the expected HR@k and the expected
    number of relevant jobs in the top k for every k, over that noise; no list built from less information
    does better in expectation. It is not a bound on every realised test set (a model may tie or beat it
    within noise), and the opening approximation, the seeker's earlier applications of the same session and
    postings filled on the query's day make it approximate.

    A :class:`~recsys.evaluation.ranked.ListProducer` like the utility :class:`~recsys.evaluation.oracle.Oracle`:
    :meth:`produce` ranks each query of a split at its time (``evaluate`` and ``rank_split`` call it); it has
    no time-free ``score``. It rebuilds the generator's population and market from the data directory's
    ``manifest.json`` (config, world and seed, :func:`recsys.data.synthetic.generate.build_population`) and
    checks them against ``truth/``; raises :class:`CeilingUnavailableError` where it cannot.

    Parameters
    ----------
    truth
        A ``GroundTruth`` or the generated data directory; ``None`` uses the fitted dataset's directory.
    config
        The generator's ``DataConfig`` (not yet in its world) or its mapping; ``None`` reads
        ``fingerprint.data_config`` from ``manifest.json``.
    seed
        The generator's seed; ``None`` reads it from ``manifest.json``.
    """

    def __init__(self, truth: Any = None, config: Any = None, seed: int | None = None) -> None:
        super().__init__(truth, "total")
        self.config = config
        self.seed = seed

    def _fit(self, dataset: Dataset) -> None:
        from recsys.data.synthetic.generate import GENERATOR_VERSION, build_population

        directory = Path(self.truth) if isinstance(self.truth, (str, Path)) else dataset.source
        manifest = self._manifest(directory)
        super()._fit(dataset)
        fingerprint = manifest.get("fingerprint") or {}
        if self.config is None or self.seed is None:
            if fingerprint.get("generator_version") != GENERATOR_VERSION:
                raise CeilingUnavailableError(
                    f"{directory}/manifest.json: field 'fingerprint.generator_version' is "
                    f"{fingerprint.get('generator_version')!r}, this generator is {GENERATOR_VERSION}: regenerate the data")
        config = self._generator_config(fingerprint, directory)
        seed = int(self.seed if self.seed is not None else fingerprint.get("seed", manifest.get("seed", 0)))
        population = build_population(config, seed)
        market, state = prepare_market(population.rng_sim, population.cfg, population.seekers, population.jobs,
                                       population.training_seeker, population.training_skill,
                                       population.training_end_min, population.rng_world)
        self._check_rebuilt(market, dataset)
        self.market_, self.threshold_ = market, state.threshold
        self.seeker_generator_row_ = self._generator_rows(market.seekers.table["seeker_id"], dataset.seeker_ids.ids,
                                                          "seeker")
        self.job_generator_row_ = self._generator_rows(market.jobs.table["job_id"], dataset.job_ids.ids, "job")
        # the pools list a posting until it closed (its planned expiry, or its last hire when filled)
        closes = market.jobs.expires_min.astype(np.int64)  # planned expiries
        expires = dataset.posting_window()[1]
        known = expires < np.iinfo(np.int64).max
        start = np.int64(population.cfg.start_ns.astype("datetime64[ns]").astype(np.int64))
        closes[self.job_generator_row_[known]] = (expires[known] - start) // (60 * 10**9)
        self.closing_state_ = MarketState(
            bits=state.bits, threshold=state.threshold, avail_min=state.avail_min, entered_day=state.entered_day,
            spell_end_day=state.spell_end_day, remaining=state.remaining, last_hire=state.last_hire, expires=closes,
            applied=state.applied, review_left=state.review_left, trainings_done=state.trainings_done)
        self.start_ns_ = population.cfg.start_ns
        self.fair_day_key_, self.fair_event_ = self._attendance(directory, market, population.cfg.start_ns)

    @staticmethod
    def _attendance(directory: Path | None, market: Market, start_ns: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
        """Who was at which fair on which day (``event_attendance``): sorted keys ``generator seeker row x days +
        day`` and the fair's event row of each (empty when the dataset has no attendance)."""
        file = None if directory is None else Path(directory) / "event_attendance.parquet"
        if file is None or not file.is_file():
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        attendance = pd.read_parquet(file, columns=["event_id", "seeker_id", "ts"])
        events = pd.read_parquet(file.with_name("events.parquet"), columns=["event_id"])["event_id"]
        event = pd.Index(events.astype(str)).get_indexer(pd.Index(attendance["event_id"].astype(str)))
        seeker = pd.Index(market.seekers.table["seeker_id"].astype(str)).get_indexer(
            pd.Index(attendance["seeker_id"].astype(str)))
        if (event < 0).any() or (seeker < 0).any() or len(events) != len(market.jobs.fairs.day):
            raise CeilingUnavailableError(f"{file}: attendance names events or seekers the rebuilt market does not have")
        day = ((attendance["ts"].to_numpy(dtype="datetime64[ns]") - start_ns) // np.timedelta64(MIN_PER_DAY, "m"))
        key = seeker.astype(np.int64) * _DAY_KEY + day.astype(np.int64)
        order = np.argsort(key, kind="stable")
        return key[order], event[order].astype(np.int64)

    def _at_fair(self, seekers: np.ndarray, day: int) -> np.ndarray:
        """Event row of the fair each generator seeker row was at on ``day`` (-1: none)."""
        at = sorted_position(self.fair_day_key_, np.asarray(seekers, dtype=np.int64) * _DAY_KEY + day)
        return np.where(at >= 0, self.fair_event_[np.maximum(at, 0)], -1) if len(self.fair_event_) else at

    @staticmethod
    def _manifest(directory: Path | None) -> dict[str, Any]:
        file = None if directory is None else Path(directory) / "manifest.json"
        if file is None or not file.is_file():
            raise CeilingUnavailableError("ExposureCeiling needs the generated data directory (with manifest.json): "
                                          "pass truth=<data dir> or fit on a dataset loaded from it")
        manifest: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        return manifest

    def _generator_config(self, fingerprint: dict[str, Any], directory: Path | None) -> DataConfig:
        if isinstance(self.config, DataConfig):
            return self.config
        if self.config is not None:
            return DataConfig.from_mapping({"dir": "", **dict(self.config)})
        if "data_config" not in fingerprint:
            raise CeilingUnavailableError(f"{directory}/manifest.json: field 'fingerprint.data_config' is missing "
                                          f"(an older generator); pass config= and seed=")
        return DataConfig.from_mapping({"dir": str(directory), **fingerprint["data_config"]})

    def _check_rebuilt(self, market: Market, dataset: Dataset) -> None:
        """The rebuilt population must be the one in ``truth/`` (same ids, same latent tastes)."""
        truth = self.truth_
        same = (np.array_equal(truth.seeker_ids, market.seekers.table["seeker_id"].to_numpy(dtype=str))
                and np.array_equal(truth.job_ids, market.jobs.table["job_id"].to_numpy(dtype=str))
                and np.array_equal(truth.seekers.latent, market.seekers.arrays.latent)
                and np.array_equal(truth.jobs.latent, market.jobs.arrays.latent))
        if not same:
            raise CeilingUnavailableError("ExposureCeiling: the generator's population rebuilt from manifest.json "
                                          "differs from truth/ (other config, seed or generator code)")

    @staticmethod
    def _generator_rows(generator_ids: pd.Series, ids: np.ndarray, kind: str) -> np.ndarray:
        rows = pd.Index(generator_ids.astype(str)).get_indexer(pd.Index(np.asarray(ids).astype(str)))
        if (rows < 0).any():
            raise CeilingUnavailableError(f"ExposureCeiling: {int((rows < 0).sum())} {kind} id(s) of the dataset are "
                                          f"not in the generator's population, e.g. {np.asarray(ids)[rows < 0][0]!r}")
        return rows.astype(np.int64)

    def apply_probability_at(self, seeker_rows: np.ndarray, times: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        """Probability that a session of each seeker on the day of its own time (``datetime64``) applies to
        each of ``job_rows`` (0 for postings not listed that day); see the class docstring."""
        self._check_fitted()
        seeker_rows, job_rows = np.asarray(seeker_rows, dtype=np.int64), np.asarray(job_rows, dtype=np.int64)
        times = np.asarray(times, dtype="datetime64[ns]")
        if np.isnat(times).any():
            raise ValueError(f"ExposureCeiling: {int(np.isnat(times).sum())} query time(s) are missing (NaT)")
        day = ((times - self.start_ns_) // np.timedelta64(MIN_PER_DAY, "m")).astype(np.int64)
        market, gen_seeker = self.market_, self.seeker_generator_row_[seeker_rows]
        gen_job = self.job_generator_row_[job_rows]
        position = np.full(len(market.jobs.posted_min), -1, dtype=np.int64)
        out = np.zeros((len(seeker_rows), len(job_rows)))
        for d in np.unique(day).tolist():
            rows = np.flatnonzero(day == d)
            pool = active_pool(market, self.closing_state_, d)
            seekers = gen_seeker[rows]
            probability = session_apply_probability(market, d, pool, seekers, skills_at(market, seekers, d),
                                                    self.threshold_[seekers], at_fair=self._at_fair(seekers, d))
            position[pool.active] = np.arange(len(pool.active))
            column = position[gen_job]
            listed = column >= 0
            out[np.ix_(rows, np.flatnonzero(listed))] = probability[:, column[listed]]
            position[pool.active] = -1
        return out

    def produce(self, split: Split, k_max: int) -> RankedLists:
        """Each query's candidates ranked by :meth:`apply_probability_at` at the query's time (top ``k_max``)."""
        self._check_fitted()
        if len(self.job_ids_) != split.train.n_jobs or not np.array_equal(self.job_ids_.ids, split.train.job_ids.ids):
            raise ValueError(f"{type(self).__name__} was fitted on other job rows than split {split.name!r}")
        # a batch holds several (queries x pool) float64 arrays: smaller batches bound memory on city
        return rank_by_scores(split, self.apply_probability_at, k_max, name=type(self).__name__, batch_size=128)

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        raise ValueError("ExposureCeiling scores sessions at a time: use apply_probability_at(seeker_rows, times, "
                         "job_rows), or evaluate / rank_split, which rank each query at its own time")
