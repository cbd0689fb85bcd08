"""The exposure-aware ceiling: rank by the probability that the generator's seeker applies to the job.

The synthetic data come from a funnel (:mod:`recsys.data.synthetic.behaviour`): a session picks a channel
by the seeker's segment, lists ``candidates_per_session`` draws from that channel's active postings
(weights decaying with posting age and district distance, a type filter on online and station
listings), opens about ``views_per_session`` of the listed postings by Plackett-Luce on utility
(Gumbel top-v), and applies to an opened posting with probability ``sigmoid(U - threshold)``. Ranking
by expected utility alone (:class:`~recsys.evaluation.oracle.Oracle`) ignores everything but the last
step; :class:`ExposureCeiling` ranks by the probability of an application in a session at the test
time under the whole funnel: an approximation of the best achievable ordering for predicting the logged
applications (closed form for one session; the seeker's own apply threshold is not in the truth, its mean
is used). It is a reference, not a bound proven for every list: a model may tie it within noise.

Everything the ceiling takes from the generator's behaviour is in :func:`session_apply_probability`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset
from recsys.data.schema import CHANNELS
from recsys.data.synthetic import geography as geo
from recsys.data.synthetic.behaviour import ONLINE, STATION, _sigmoid
from recsys.data.synthetic.config import SEGMENTS, DataConfig
from recsys.data.synthetic.population import MIN_PER_DAY
from recsys.evaluation.oracle import Oracle
from recsys.evaluation.ranked import RankedLists, rank_by_scores
from recsys.evaluation.splits import Split
from recsys.models.nearest import MissingColumnsError

_NEEDED = ("seekers.segment", "seekers.district", "jobs.channel", "jobs.district", "jobs.posted_at",
           "jobs.expires_at")


def session_apply_probability(cfg: DataConfig, utility: np.ndarray, day: np.ndarray, seeker_segment: np.ndarray,
                              seeker_district: np.ndarray, seeker_desired_types: np.ndarray,
                              job_channel: np.ndarray, job_district: np.ndarray, job_type: np.ndarray,
                              job_post_day: np.ndarray, job_active: np.ndarray) -> np.ndarray:
    """Probability that a session of each seeker on ``day`` ends in an application to each job.

    Shapes: ``utility``, ``job_active`` ``(n, m)`` (expected utility, and the job is listable that day);
    per seeker ``(n,)``: ``day`` (days since the start), segment / district indices (generator codes),
    desired-types bitmask; per job ``(m,)``: channel, district, job type indices, day posted.

    Mirrors :func:`recsys.data.synthetic.behaviour._simulate` for one session:
    ``P = sum_c P(channel c | segment) * P(listed | c) * P(opened | listed) * sigmoid(U - mean threshold)``
    with ``P(listed | c) = 1 - (1 - w_j / sum w)^K`` over the channel pool (listing weights of
    ``_sample_candidates``), ``P(opened | listed) = 1 - exp(-v e^U / E)`` where ``E`` is the expected sum
    of ``e^U`` over the listed postings and ``v`` the mean views per session (a Poisson approximation of
    Gumbel top-v), and the seeker's threshold at its population mean (its spread is not in the truth).
    A channel with no listable posting that day sends its sessions online, as the simulation does.
    This is the one place the ceiling depends on the generator's behaviour model.
    """
    search = cfg.search
    n, m = utility.shape
    share = np.array([[search.segment_channels[s][c] for c in CHANNELS] for s in SEGMENTS])[seeker_segment]
    # each posting is listed on one channel: a channel's terms are computed on its own postings only
    members = [np.flatnonzero(job_channel == c) for c in range(len(CHANNELS))]
    empty = np.stack([~job_active[:, cols].any(axis=1) for cols in members], axis=1)  # (n, channels)
    share = np.where(empty, 0.0, share)
    share[:, ONLINE] += 1.0 - share.sum(axis=1)
    total = np.zeros((n, m))
    for c, channel in enumerate(CHANNELS):
        cols = members[c]
        if not len(cols):
            continue
        post_day = job_post_day[cols]
        weight = np.exp(-(day[:, None] - np.maximum(post_day[None, :], day[:, None] - 365)) / search.recency_days)
        weight *= np.exp(-geo.DISTRICT_DISTANCE_KM[seeker_district[:, None], job_district[cols][None, :]]
                         / search.channel_range_km[channel])
        weight *= job_active[:, cols]
        if c in (ONLINE, STATION):
            desired = ((seeker_desired_types[:, None] >> job_type[cols][None, :]) & 1).astype(bool)
            weight *= np.where(desired | (seeker_desired_types[:, None] == 0), 1.0, 0.25)
        draw = weight / np.maximum(weight.sum(axis=1, keepdims=True), 1e-300)
        listed = -np.expm1(search.candidates_per_session * np.log1p(-np.minimum(draw, 1.0 - 1e-12)))
        channel_utility = utility[:, cols].astype(np.float64)
        attraction = np.exp(np.minimum(channel_utility, 50.0))
        expected_sum = (listed * attraction).sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # empty pool: nothing listed
            opened = np.nan_to_num(-np.expm1(-search.views_per_session * (attraction / expected_sum)), nan=0.0)
        total[:, cols] = share[:, c, None] * listed * opened * _sigmoid(channel_utility - search.apply_threshold)
    return total


class ExposureCeiling(Oracle):
    """Ranks jobs by the generator's probability of an application in a session at each seeker's test time.

    Built from the truth (expected utility at the test time, trainings included) plus the generator's
    exposure and choice model (:func:`session_apply_probability`, parameters from the dataset's
    ``manifest.json``). A :class:`~recsys.evaluation.ranked.ListProducer` like the utility
    :class:`~recsys.evaluation.oracle.Oracle`: :meth:`produce` ranks each query of a split at the query's
    time (``evaluate`` and ``rank_split`` call it); it has no time-free ``score``. Serves every seeker
    and job. Needs the generator's columns ``seekers.segment/district`` and ``jobs.channel/district/
    posted_at/expires_at`` (else :class:`~recsys.models.nearest.MissingColumnsError`).

    Parameters
    ----------
    truth
        A ``GroundTruth`` or the generated data directory; ``None`` uses the fitted dataset's directory.
    config
        The generator's ``DataConfig`` (or its mapping); ``None`` reads ``fingerprint.data_config`` from
        ``manifest.json`` of the data directory.
    """

    def __init__(self, truth: Any = None, config: Any = None) -> None:
        super().__init__(truth, "total")
        self.config = config

    def _fit(self, dataset: Dataset) -> None:
        super()._fit(dataset)
        self.config_ = self._generator_config(dataset)
        seekers, jobs = dataset.seekers, dataset.jobs
        hidden = None if "segment" in seekers.columns else self._hidden_segments(dataset)
        if hidden is not None:  # worlds that hide post-hoc facts keep it in truth/post_hoc.npz
            seekers = seekers.assign(segment=hidden)
        tables = {"seekers": seekers, "jobs": jobs}
        missing = [c for c in _NEEDED if c.split(".")[1] not in tables[c.split(".")[0]].columns]
        if missing:
            raise MissingColumnsError(type(self).__name__, missing, "the generator's listing model")
        self.seeker_segment_ = _codes(seekers["segment"], SEGMENTS, "seekers.segment")
        self.seeker_district_ = _codes(seekers["district"], [d.code for d in geo.DISTRICT_TABLE], "seekers.district")
        self.job_channel_ = _codes(jobs["channel"], CHANNELS, "jobs.channel")
        self.job_district_ = _codes(jobs["district"], [d.code for d in geo.DISTRICT_TABLE], "jobs.district")
        truth_seekers = self.truth_.seeker_rows(dataset.seeker_ids.ids)
        truth_jobs = self.truth_.job_rows(dataset.job_ids.ids)
        self.seeker_desired_ = self.truth_.seekers.desired_types[truth_seekers].astype(np.int64)
        self.job_type_ = self.truth_.jobs.job_type[truth_jobs].astype(np.int64)
        start = self.config_.start_ns
        minutes = np.timedelta64(1, "m")
        self.job_posted_min_ = ((jobs["posted_at"].to_numpy(dtype="datetime64[ns]") - start) // minutes).astype(np.int64)
        # the end of a posting's listing: its planned expiry, or its closing in job_events when it was filled
        expires = dataset.posting_window()[1].view("datetime64[ns]")
        self.job_expires_min_ = ((expires - start) // minutes).astype(np.int64)

    def _hidden_segments(self, dataset: Dataset) -> np.ndarray | None:
        """``seekers.segment`` from ``truth/post_hoc.npz`` (the ceiling reads the truth; models never do),
        ``None`` where the truth has no such file; missing for seekers it does not list."""
        directory = Path(self.truth) if isinstance(self.truth, (str, Path)) else dataset.source
        file = None if directory is None else Path(directory) / "truth" / "post_hoc.npz"
        if file is None or not file.is_file():
            return None
        with np.load(file, allow_pickle=False) as facts:
            segment = pd.Series(facts["segment"].astype(str), index=facts["seeker_ids"].astype(str))
        return segment.reindex(dataset.seeker_ids.ids.astype(str)).to_numpy(dtype=object)

    def _generator_config(self, dataset: Dataset) -> DataConfig:
        if isinstance(self.config, DataConfig):
            return self.config
        if self.config is not None:
            return DataConfig.from_mapping({"dir": "", **dict(self.config)})
        directory = Path(self.truth) if isinstance(self.truth, (str, Path)) else dataset.source
        manifest = None if directory is None else Path(directory) / "manifest.json"
        if manifest is None or not manifest.is_file():
            raise ValueError("ExposureCeiling needs config= (the generator's DataConfig) or a data directory "
                             "with manifest.json")
        fingerprint = json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint") or {}
        if "data_config" not in fingerprint:
            raise ValueError(f"{str(manifest)!r}: field 'fingerprint.data_config' is missing (an older generator); "
                             f"pass config=")
        return DataConfig.from_mapping({"dir": str(directory), **fingerprint["data_config"]})

    def apply_probability_at(self, seeker_rows: np.ndarray, times: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        """Probability that a session of each seeker at its own time (``datetime64``) applies to each of ``job_rows``.

        The listing pools are the jobs the simulation lists on each seeker's day (posted by then, open
        until at least 21:00), whether or not they are in ``job_rows``.
        """
        self._check_fitted()
        seeker_rows, job_rows = np.asarray(seeker_rows, dtype=np.int64), np.asarray(job_rows, dtype=np.int64)
        times = np.asarray(times, dtype="datetime64[ns]")
        if np.isnat(times).any():
            raise ValueError(f"ExposureCeiling: {int(np.isnat(times).sum())} query time(s) are missing (NaT)")
        minute = (times - self.config_.start_ns) // np.timedelta64(1, "m")
        day = (minute // MIN_PER_DAY).astype(np.int64)
        post_day = np.floor_divide(self.job_posted_min_, MIN_PER_DAY)
        listable = ((post_day[None, :] <= day[:, None])
                    & (self.job_expires_min_[None, :] > day[:, None] * MIN_PER_DAY + 1260))
        wanted = np.zeros(len(post_day), dtype=bool)
        wanted[job_rows] = True
        pool = np.flatnonzero(listable.any(axis=0) | wanted)
        utility = self.truth_.expected_utility(self.seeker_ids_.to_ids(seeker_rows), self.job_ids_.to_ids(pool),
                                               at=times, part="total")
        probability = session_apply_probability(
            self.config_, utility, day, self.seeker_segment_[seeker_rows], self.seeker_district_[seeker_rows],
            self.seeker_desired_[seeker_rows], self.job_channel_[pool], self.job_district_[pool],
            self.job_type_[pool], post_day[pool], listable[:, pool])
        return probability[:, np.searchsorted(pool, job_rows)]

    def produce(self, split: Split, k_max: int) -> RankedLists:
        """Each query's candidates ranked by :meth:`apply_probability_at` at the query's time (top ``k_max``)."""
        self._check_fitted()
        if len(self.job_ids_) != split.train.n_jobs or not np.array_equal(self.job_ids_.ids, split.train.job_ids.ids):
            raise ValueError(f"{type(self).__name__} was fitted on other job rows than split {split.name!r}")
        # a batch makes many passes over (queries x pool) arrays: at 128 queries they stay near the cache
        # (512 ran 1.6x slower per query on city) and memory stays bounded
        return rank_by_scores(split, self.apply_probability_at, k_max, name=type(self).__name__, batch_size=128)

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        raise ValueError("ExposureCeiling scores sessions at a time: use apply_probability_at(seeker_rows, times, "
                         "job_rows), or evaluate / rank_split, which rank each query at its own time")


def _codes(values: Any, labels: Any, column: str) -> np.ndarray:
    """Generator indices of ``values`` in ``labels``; ``ValueError`` naming the column for anything else."""
    codes = pd.Categorical(values.astype(str), categories=list(labels)).codes.astype(np.int64)
    if (codes < 0).any():
        unknown = sorted(set(values.astype(str)[codes < 0]))
        raise ValueError(f"ExposureCeiling: column {column!r} holds values the generator does not know: "
                         f"{unknown[:5]}")
    return codes
