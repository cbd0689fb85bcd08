"""Full-catalogue evaluation: produce ranked lists for a split's queries, then assess them.

:func:`rank_split` produces :class:`~recsys.evaluation.ranked.RankedLists`: for a fitted
:class:`~recsys.models.base.Recommender`, each query (a test seeker at a time) ranks *every* candidate
job (active at the query's time, not already reached by the seeker before it); queries are taken in
time order, ``batch_size`` at a time, each batch scored against the jobs active at some of its times
only (a :class:`~recsys.models.base.CandidateBlock`), so memory stays within ``batch_size x n_jobs``
floats. No sampled negatives. Any :class:`~recsys.evaluation.ranked.ListProducer` (ceilings, other
libraries, production logs) produces lists the same way.

:func:`assess` computes metrics from one hit matrix over queries, averages each seeker's queries,
then averages over seekers (the headline ``mean``; ``mean_per_query`` averages queries directly), and
gives every interval from one joint bootstrap over seekers. :func:`evaluate` is
``assess(rank_split(...))``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from recsys.data.dataset import Dataset
from recsys.data.schema import SEEKER_GROUPS
from recsys.evaluation import metrics as m
from recsys.evaluation.ranked import ListProducer, RankedLists
from recsys.evaluation.significance import (
    DEFAULT_RESAMPLES,
    benjamini_hochberg,
    bootstrap_mean_intervals,
    holm,
    paired_bootstrap_ci,
    paired_effect_size,
    paired_test,
)
from recsys.evaluation.splits import Split, applicants_per_job
from recsys.models.base import ColdRule, Recommender

GROUP_LABELS = {"is_graduate": "graduate", "is_4050": "4050", "is_unemployed": "unemployed",
                "is_flexible": "flexible"}
SUMMARY_COLUMNS = ["metric", "k", "mean", "ci_low", "ci_high", "n"]
SLICE_COLUMNS = ["slice", "value", *SUMMARY_COLUMNS]


@dataclass
class EvaluationResult:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    model, split
        Names of the model (class name unless given) and the split.
    summary
        One row per metric and cut-off: ``metric, k, mean, ci_low, ci_high, n`` (95% percentile
        bootstrap over seekers; catalogue metrics ``coverage`` and ``gini`` have no interval),
        ``mean_per_query`` (mean over queries rather than seekers), plus ``of_oracle`` /
        ``of_reference`` = ``mean / reference mean`` when an oracle / reference result was given.
        ``mean`` is the headline: each seeker's queries are averaged first, then seekers.
    per_seeker
        One row per test seeker: ids, group flags, district, ``is_cold``, ``popularity_fallback``
        (some list came from the popularity fallback because the model cannot score the seeker),
        ``n_queries``, relevant counts and one column per metric (``hr@10``, ``ndcg@5``,
        ``congestion@20``, ...), each the mean over the seeker's queries.
    slices
        ``slice, value, metric, k, mean, ci_low, ci_high, n`` for seeker groups, districts, warm vs
        cold seekers and old vs new jobs. For ``slice == "job"``, relevance is restricted to old
        (``value="old"``) or new jobs, and only seekers with such a relevant job count.
    recommendations
        ``(n_queries, max(ks))`` recommended job rows, ``-1`` padded, in split query order (one query
        per test seeker for the one-time protocol).
    per_query
        One row per query: ``query, seeker_id, time, n_relevant`` and one column per metric.
    params, split_info
        ``model.get_params()`` and :meth:`Split.describe`.
    """

    model: str
    split: str
    ks: tuple[int, ...]
    summary: pd.DataFrame
    per_seeker: pd.DataFrame
    slices: pd.DataFrame
    recommendations: np.ndarray = field(repr=False)
    params: dict[str, Any] = field(default_factory=dict)
    split_info: dict[str, Any] = field(default_factory=dict)
    per_query: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def value(self, metric: str, k: int) -> float:
        """Mean of ``metric@k`` from the summary."""
        row = self.summary.loc[(self.summary["metric"] == metric) & (self.summary["k"] == k)]
        if row.empty:
            raise KeyError(f"no {metric}@{k} in this result (ks={self.ks})")
        return float(row["mean"].iloc[0])


def oversubscribed_jobs(train: Dataset) -> np.ndarray:
    """Jobs already over-subscribed: distinct seekers who applied in training ``>= vacancies``."""
    return applicants_per_job(train) >= train.jobs["vacancies"].to_numpy()


def rank_split(producer: Recommender | ListProducer, split: Split, k_max: int = 20, *,
               cold_seekers: ColdRule = "popular", batch_size: int = 512, refit_every: float | None = None,
               name: str | None = None) -> RankedLists:
    """Top-``k_max`` lists for every query of ``split``.

    Parameters
    ----------
    producer
        A :class:`~recsys.evaluation.ranked.ListProducer` (its ``produce(split, k_max)`` is called), or
        a :class:`~recsys.models.base.Recommender` fitted on ``split.train`` (checked: fitting on other
        interactions raises), which scores each query's candidates (:meth:`Split.query_candidates`).
        A model is frozen at the cutoff: every query uses the same fitted model.
    k_max
        Length of each list (the largest cut-off to assess).
    cold_seekers
        Seekers the model cannot serve: ``"popular"`` (default) ranks them by training popularity and
        flags them in ``RankedLists.fallback``; ``"raise"`` refuses.
    batch_size
        Queries per scoring chunk.
    refit_every
        Days between refits (models only; needs a split that keeps its source data, e.g.
        :func:`~recsys.evaluation.splits.rolling_split`). Queries in ``[T + i d, T + (i+1) d)`` are
        ranked by ``sklearn.base.clone(producer)`` fitted on every interaction before ``T + i d``
        (the given fitted model serves ``i = 0``). Candidates still come from the split. ``None``
        (default): frozen at ``T``.
    name
        Name of the lists (default: the producer's class name).
    """
    if k_max < 1:
        raise ValueError(f"k_max must be positive, got {k_max}")
    label = name or type(producer).__name__
    if isinstance(producer, ListProducer):
        if refit_every is not None:
            raise ValueError("refit_every applies to Recommender models, not to list producers")
        ranked = producer.produce(split, k_max)
        if not isinstance(ranked, RankedLists):
            raise TypeError(f"{label}.produce returned {type(ranked).__name__}, expected RankedLists")
        return ranked if name is None else replace(ranked, name=name)
    if not isinstance(producer, Recommender):
        raise TypeError(f"producer must be a fitted Recommender or have produce(split, k_max) (ListProducer), "
                        f"got {type(producer).__name__}")
    _check_fitted_on(producer, split)
    if split.n_queries == 0:
        raise ValueError(f"split {split.name!r} has no queries")
    models, window_of_query = _refit_windows(producer, split, refit_every)
    seekers, by_time = split.query_seeker_rows, np.argsort(split.query_time, kind="stable")
    job_rows = np.full((split.n_queries, k_max), -1, dtype=np.int64)
    scores = np.full((split.n_queries, k_max), -np.inf)
    fallback = np.zeros(split.n_queries, dtype=bool)
    for window, model in enumerate(models):
        in_window = by_time[window_of_query[by_time] == window]
        for start in range(0, len(in_window), batch_size):
            batch = in_window[start:start + batch_size]
            block = split.query_candidates(batch)
            # one recommend_rows batch per query batch, so the block matches the batch
            job_rows[batch], scores[batch] = model.recommend_rows(
                seekers[batch], k_max, candidate_mask=lambda rows, block=block: block, exclude_seen=False,
                cold_seekers=cold_seekers, batch_size=len(batch))
            fallback[batch] = model.unsupported_seekers(seekers[batch])
    return RankedLists(np.arange(split.n_queries), seekers, split.query_time, job_rows, scores,
                       name=label, fallback=fallback)


def assess(ranked: RankedLists, split: Split, ks: Sequence[int] = (5, 10, 20), *,
           reference: EvaluationResult | None = None, oracle: EvaluationResult | None = None,
           slice_metrics: Sequence[str] = ("hr", "ndcg"), n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
           name: str | None = None, params: Mapping[str, Any] | None = None) -> EvaluationResult:
    """Metrics, bootstrap intervals by seeker and slices of ranked lists on ``split``.

    Each query's metrics come from its list and its relevant jobs; a seeker's value is the mean over
    its queries, and the headline ``mean`` is the mean over seekers (each seeker weighs the same
    however many applications it made); ``mean_per_query`` is the mean over queries. Intervals are
    95% percentile bootstraps resampling *seekers* (all their queries together). For the one-time
    protocol a seeker has one query, so both means coincide. Queries without a list count as misses.

    Parameters
    ----------
    ranked
        Lists for the split's queries (:func:`rank_split`, a :class:`ListProducer`,
        :meth:`RankedLists.from_frame`). Lists shorter than ``max(ks)`` are padded (misses).
    ks
        Cut-offs.
    reference
        A result on the same split (e.g. a ceiling): the summary gets ``of_reference`` = ``mean /
        reference mean`` per metric and cut-off.
    oracle
        As ``reference``, but the column is named ``of_oracle`` (kept for existing reports).
    slice_metrics
        Metrics reported per slice (all cut-offs).
    n_resamples, seed
        Bootstrap resamples and seed of every interval (``n_resamples=0``: no intervals, ``NaN``).
    name, params
        Name of the result (default ``ranked.name``) and the producer's parameters to record.
    """
    ks = _check_ks(ks)
    unknown = set(slice_metrics) - set(m.RANKING_METRICS)
    if unknown:
        raise ValueError(f"slice_metrics: unknown metric(s) {sorted(unknown)}; known: {list(m.RANKING_METRICS)}")
    if split.n_queries == 0:
        raise ValueError(f"split {split.name!r} has no queries")
    job_rows, fallback = ranked.aligned(split)
    length = max(ks)
    if job_rows.shape[1] < length:
        job_rows = np.hstack([job_rows, np.full((len(job_rows), length - job_rows.shape[1]), -1, dtype=np.int64)])
    job_rows = job_rows[:, :length]
    hits = m.hit_matrix(job_rows, split.query_relevant)
    per_seeker, per_query, metrics, query_metrics = _per_seeker_frame(split, job_rows, hits, ks, fallback)
    summary_columns = _summary_columns(metrics, ks)
    slice_columns = _slice_columns(per_seeker, metrics, job_rows, hits, split, ks, slice_metrics)
    # One joint bootstrap: every interval, summary and slices, uses the same resamples of seekers.
    stats = _interval_stats([values for _, values in summary_columns + slice_columns], n_resamples, seed)
    n_summary = len(summary_columns)
    catalogue = _catalogue_rows(job_rows, split, ks)
    no_interval = np.full(len(catalogue), np.nan)
    summary = _table(["metric", "k"], [labels for labels, _ in summary_columns + catalogue],
                     np.concatenate([stats["mean"][:n_summary], [value for _, value in catalogue]]),
                     np.concatenate([stats["ci_low"][:n_summary], no_interval]),
                     np.concatenate([stats["ci_high"][:n_summary], no_interval]),
                     np.concatenate([stats["n"][:n_summary], np.full(len(catalogue), split.n_test)]))
    with np.errstate(invalid="ignore"):
        per_query_means = [float(np.nanmean(query_metrics[f"{metric}@{k}"])) if np.isfinite(
            query_metrics[f"{metric}@{k}"]).any() else np.nan for (metric, k), _ in summary_columns]
    summary["mean_per_query"] = np.concatenate([per_query_means, [value for _, value in catalogue]])
    slices = _table(SLICE_COLUMNS[:4], [labels for labels, _ in slice_columns],
                    *(stats[name][n_summary:] for name in ("mean", "ci_low", "ci_high", "n"))) \
        if slice_columns else pd.DataFrame(columns=SLICE_COLUMNS)
    result = EvaluationResult(name or ranked.name, split.name, ks, summary, per_seeker, slices,
                              job_rows, dict(params or {}), split.describe(), per_query)
    for other, column in ((oracle, "of_oracle"), (reference, "of_reference")):
        if other is not None:
            if not np.array_equal(other.per_seeker["seeker_id"].to_numpy(), per_seeker["seeker_id"].to_numpy()) \
                    or len(other.per_query) != len(per_query):
                raise ValueError(f"the {column[3:]} result {other.model!r} is not on the queries of split "
                                 f"{split.name!r}")
            result.summary = _with_fraction(result.summary, other, column)
    return result


def evaluate(model: Recommender | ListProducer, split: Split, ks: Sequence[int] = (5, 10, 20), *,
             truth: Any = None, oracle: EvaluationResult | None = None, reference: EvaluationResult | None = None,
             cold_seekers: ColdRule = "popular", batch_size: int = 512, slice_metrics: Sequence[str] = ("hr", "ndcg"),
             n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0, name: str | None = None,
             refit_every: float | None = None) -> EvaluationResult:
    """``assess(rank_split(model, split, max(ks), ...), split, ks, ...)``: rank every query, then assess.

    Parameters
    ----------
    model
        A recommender fitted on ``split.train`` or any :class:`~recsys.evaluation.ranked.ListProducer`
        (e.g. :class:`~recsys.evaluation.oracle.Oracle`).
    truth, oracle
        ``truth`` (a ``GroundTruth`` or data directory) also evaluates the utility
        :class:`~recsys.evaluation.oracle.Oracle` on this split; or pass a precomputed ``oracle``
        result. The summary then has ``of_oracle``.
    reference
        Any result on the same split (e.g. an exposure ceiling): the summary gets ``of_reference``.
    cold_seekers, batch_size, refit_every
        As :func:`rank_split`.
    slice_metrics, n_resamples, seed
        As :func:`assess`.
    """
    ks = _check_ks(ks)
    unknown = set(slice_metrics) - set(m.RANKING_METRICS)
    if unknown:  # before any scoring
        raise ValueError(f"slice_metrics: unknown metric(s) {sorted(unknown)}; known: {list(m.RANKING_METRICS)}")
    ranked = rank_split(model, split, max(ks), cold_seekers=cold_seekers, batch_size=batch_size,
                        refit_every=refit_every, name=name)
    if truth is not None and oracle is None:
        from recsys.evaluation.oracle import Oracle

        oracle = assess(rank_split(Oracle(truth).fit(split.train), split, max(ks), batch_size=batch_size),
                        split, ks, slice_metrics=(), n_resamples=n_resamples, seed=seed)
    params = model.get_params(deep=False) if isinstance(model, Recommender) else {}
    return assess(ranked, split, ks, reference=reference, oracle=oracle, slice_metrics=slice_metrics,
                  n_resamples=n_resamples, seed=seed, params=params)


def compare(results: Mapping[str, EvaluationResult], reference: str | None = None, metric: str = "hr@10", *,
            metrics: Sequence[str] | None = None, test: str = "t", confidence: float = 0.95,
            n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """Paired comparison of several models to a reference on per-seeker metrics, Holm over the table.

    For each model other than ``reference`` (default: the first) and each metric (``metrics``, e.g.
    ``["hr@5", "hr@10", "ndcg@10"]``; default ``[metric]``): the mean difference ``model - reference``
    over the seekers where both are defined, its paired bootstrap interval, Cohen's d_z, a paired test
    (``"t"`` or ``"randomization"``) on per-seeker values, and ``p_holm``: Holm-adjusted over *every
    row of the table* (all models x metrics), so the table's family-wise error rate is controlled.
    All results must come from the same split (same test seekers).
    """
    wanted = [metric] if metrics is None else list(metrics)
    reference, base, others = _paired_inputs(results, reference, wanted, "compare")
    rows = []
    for name, frame in others:
        for column in wanted:
            rows.append({"model": name, "reference": reference, "metric": column,
                         **_paired_row(frame[column].to_numpy(dtype=float), base[column].to_numpy(dtype=float),
                                       test, confidence, n_resamples, seed)})
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_value"].to_numpy())
    return table


def compare_slices(results: Mapping[str, EvaluationResult], reference: str | None = None, metric: str = "hr@10", *,
                   test: str = "t", confidence: float = 0.95, n_resamples: int = DEFAULT_RESAMPLES,
                   seed: int = 0) -> pd.DataFrame:
    """Exploratory paired comparisons within seeker slices (groups, districts, warm/cold seekers).

    One row per model x slice: as :func:`compare` on the seekers of the slice, with ``p_bh``
    (Benjamini-Hochberg over every row, :func:`scipy.stats.false_discovery_control`; controls the
    false discovery rate, not the family-wise error) and ``exploratory = True``: slice findings
    are leads to confirm on other data, not headline results.
    """
    reference, base, others = _paired_inputs(results, reference, [metric], "compare_slices")
    slices: list[tuple[str, str, np.ndarray]] = [
        ("group", label, base[column].to_numpy(dtype=bool)) for column, label in GROUP_LABELS.items()
        if column in base.columns]
    if "district" in base.columns:
        for district in sorted(base["district"].dropna().unique()):
            slices.append(("district", str(district), (base["district"] == district).to_numpy()))
    is_cold = base["is_cold"].to_numpy(dtype=bool)
    slices += [("seeker", "warm", ~is_cold), ("seeker", "cold", is_cold)]
    rows = []
    for name, frame in others:
        values, ref = frame[metric].to_numpy(dtype=float), base[metric].to_numpy(dtype=float)
        for kind, value, inside in slices:
            if inside.sum() < 2:
                continue
            rows.append({"model": name, "reference": reference, "slice": kind, "value": value, "metric": metric,
                         **_paired_row(values[inside], ref[inside], test, confidence, n_resamples, seed)})
    table = pd.DataFrame(rows)
    table["p_bh"] = benjamini_hochberg(table["p_value"].to_numpy()) if len(table) else []
    table["exploratory"] = True
    return table


def _paired_inputs(results: Mapping[str, EvaluationResult], reference: str | None, metrics: Sequence[str],
                   caller: str) -> tuple[str, pd.DataFrame, list[tuple[str, pd.DataFrame]]]:
    """The reference's name and per-seeker frame, and every other model's per-seeker frame, after checking
    that there are two results or more, that ``reference`` (default: the first) and ``metrics`` exist and
    that every result is on the reference's test seekers and queries."""
    if len(results) < 2:
        raise ValueError(f"{caller} needs at least two results")
    names = list(results)
    reference = names[0] if reference is None else reference
    if reference not in results:
        raise ValueError(f"reference {reference!r} is not one of {names}")
    base = results[reference].per_seeker
    for name in metrics:
        if name not in base.columns:
            raise ValueError(f"unknown metric {name!r}; per-seeker metrics are e.g. 'hr@10', 'ndcg@5'")
    others = []
    for name in names:
        if name != reference:
            _check_same_queries(results[name], results[reference], name, reference)
            others.append((name, results[name].per_seeker))
    return reference, base, others


def _check_same_queries(result: EvaluationResult, reference: EvaluationResult, name: str, reference_name: str) -> None:
    """Paired comparisons need the same split: same test seekers and the same number of queries."""
    same_seekers = np.array_equal(result.per_seeker["seeker_id"].to_numpy(), reference.per_seeker["seeker_id"].to_numpy())
    if not same_seekers or result.split != reference.split or len(result.per_query) != len(reference.per_query):
        raise ValueError(f"results {name!r} ({result.split}) and {reference_name!r} ({reference.split}) are not on the "
                         f"same test seekers and queries (same split?)")


def _paired_row(values: np.ndarray, ref: np.ndarray, test: str, confidence: float, n_resamples: int,
                seed: int) -> dict[str, Any]:
    both = ~np.isnan(values) & ~np.isnan(ref)
    values, ref = values[both], ref[both]
    low, high = paired_bootstrap_ci(values, ref, confidence=confidence, n_resamples=n_resamples, seed=seed)
    effect = paired_effect_size(values, ref)
    return {"mean": values.mean(), "reference_mean": ref.mean(), "difference": effect.mean_difference,
            "ci_low": low, "ci_high": high, "cohens_d": effect.cohens_d,
            "p_value": paired_test(values, ref, method=test, seed=seed), "n": int(both.sum())}


def _refit_windows(model: Recommender, split: Split, refit_every: float | None
                   ) -> tuple[list[Recommender], np.ndarray]:
    """Models per refit window and the window of each query (one window without refits)."""
    window = np.zeros(split.n_queries, dtype=np.int64)
    if refit_every is None:
        return [model], window
    if not refit_every > 0:
        raise ValueError(f"refit_every must be a positive number of days, got {refit_every!r}")
    if split.source is None or split.cutoff is None:
        raise ValueError(f"refit_every needs a time-based split that keeps its source data (rolling_split); "
                         f"split {split.name!r} does not")
    step = pd.Timedelta(days=refit_every).value
    elapsed = split.query_time.view(np.int64) - pd.Timestamp(split.cutoff).as_unit("ns").value
    window = elapsed // step
    models = [model]
    ts = split.source.interactions["ts"]
    for i in range(1, int(window.max()) + 1):
        refit_at = pd.Timestamp(split.cutoff) + pd.Timedelta(days=refit_every * i)
        models.append(clone(model).fit(split.source.with_interactions((ts < refit_at).to_numpy(), as_of=refit_at)))
    return models, window


# ---------------------------------------------------------------------- internals
def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    ks = tuple(int(k) for k in ks)
    if not ks or min(ks) <= 0:
        raise ValueError(f"ks must be positive integers, got {ks}")
    return tuple(sorted(set(ks)))


def _check_fitted_on(model: Recommender, split: Split) -> None:
    """Refuse models fitted on other rows or other interactions than ``split.train`` (leakage guard)."""
    model._check_fitted()
    train = split.train
    if len(model.seeker_ids_) != train.n_seekers or len(model.job_ids_) != train.n_jobs or \
            not np.array_equal(model.job_ids_.ids, train.job_ids.ids):
        raise ValueError(f"{type(model).__name__} was fitted on a different dataset than split "
                         f"{split.name!r} (seeker/job rows differ)")
    seen, train_seen = sp.csr_matrix(model.seen_), split.train_seen
    same_arrays = all(np.array_equal(getattr(seen, name), getattr(train_seen, name))
                      for name in ("indptr", "indices", "data"))  # fast path; else compare as matrices
    if seen.shape != train_seen.shape or not same_arrays and (seen != train_seen).nnz:
        raise ValueError(f"{type(model).__name__} was fitted on other interactions than split.train of "
                         f"{split.name!r}; fit it on split.train (fitting on all data leaks the test set)")


def _seeker_means(split: Split, values: np.ndarray) -> np.ndarray:
    """Mean of per-query ``values`` over each seeker's queries, ``NaN`` values left out (all NaN: NaN)."""
    present = ~np.isnan(values)
    sums = np.bincount(split.query_position, weights=np.where(present, values, 0.0), minlength=split.n_test)
    counts = np.bincount(split.query_position, weights=present, minlength=split.n_test)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _per_seeker_frame(split: Split, ranked: np.ndarray, hits: np.ndarray, ks: tuple[int, ...],
                      fallback: np.ndarray
                      ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-seeker and per-query tables and their metric columns (``"hr@10"`` -> values) as arrays."""
    seekers = split.train.seekers
    relevant = split.query_relevant
    n_relevant_q = np.diff(relevant.indptr)
    relevant_row = np.repeat(np.arange(split.n_queries), n_relevant_q)
    n_relevant_new_q = np.bincount(relevant_row[split.job_is_new[relevant.indices]], minlength=split.n_queries)
    query_metrics = m.metrics_from_hits(hits, n_relevant_q, ks)
    if "vacancies" in split.train.jobs.columns:  # congestion needs vacancies; without them it is not defined
        # oversubscribed_jobs(split.train), with applicants counted once per split
        vacancies = split.train.jobs["vacancies"].to_numpy(dtype=float, na_value=np.inf)
        oversubscribed = split.train_applicants >= vacancies
        query_metrics.update({f"congestion@{k}": m.congestion_share(ranked, oversubscribed, k) for k in ks})
    metrics = {column: _seeker_means(split, values) for column, values in query_metrics.items()}
    position = split.query_position
    n_queries = np.bincount(position, minlength=split.n_test)
    # optional seeker columns: slices exist only for the ones the data has
    district = (seekers["district"].take(split.seeker_rows).reset_index(drop=True)
                if "district" in seekers.columns else None)
    groups = {group: seekers[group].fillna(False).to_numpy(dtype=bool)[split.seeker_rows]
              for group in SEEKER_GROUPS if group in seekers.columns}
    # Series.take keeps pandas' string arrays (converting object arrays back is slow)
    seeker_ids = seekers["seeker_id"].take(split.seeker_rows).reset_index(drop=True)
    frame = pd.DataFrame({
        "seeker_id": seeker_ids,
        "test_time": split.test_time,
        **({} if district is None else {"district": district}),
        **groups,
        "is_cold": split.seeker_is_cold,
        "popularity_fallback": np.bincount(position, weights=fallback, minlength=split.n_test) > 0,
        "n_queries": n_queries,
        "n_relevant": np.bincount(position, weights=n_relevant_q, minlength=split.n_test).astype(np.int64),
        "n_relevant_new": np.bincount(position, weights=n_relevant_new_q, minlength=split.n_test).astype(np.int64),
        **metrics,
    })
    per_query = pd.DataFrame({
        "query": np.arange(split.n_queries), "seeker_id": seeker_ids.take(position).reset_index(drop=True),
        "time": split.query_time, "n_relevant": n_relevant_q, "n_relevant_new": n_relevant_new_q,
        **query_metrics,
    })
    return frame, per_query, metrics, query_metrics


Column = tuple[tuple[Any, ...], np.ndarray]
"""Labels of one table row (e.g. ``("hr", 10)``) and the per-seeker values (``NaN``: left out) it summarises."""


def _interval_stats(columns: list[np.ndarray], n_resamples: int, seed: int) -> dict[str, np.ndarray]:
    """``mean``, bootstrap ``ci_low``/``ci_high`` and count ``n`` of each per-seeker vector.

    ``NaN`` values (undefined metric, seeker outside the slice) are left out. All intervals share the
    same resamples of seekers (one joint bootstrap), which keeps evaluation fast and seeded.
    """
    if not columns:
        return {name: np.empty(0) for name in ("mean", "ci_low", "ci_high", "n")}
    values = np.column_stack(columns)
    n = (~np.isnan(values)).sum(axis=0)
    with np.errstate(invalid="ignore"):
        mean = np.where(n > 0, np.nansum(values, axis=0) / np.maximum(n, 1), np.nan)
    if n_resamples > 0:
        low, high = bootstrap_mean_intervals(values, n_resamples=n_resamples, seed=seed)
    else:
        low = high = np.full(len(columns), np.nan)
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": n}


def _table(label_names: list[str], labels: list[tuple[Any, ...]], mean: np.ndarray, ci_low: np.ndarray,
           ci_high: np.ndarray, n: np.ndarray) -> pd.DataFrame:
    """Summary-style table: one column per label, then ``mean, ci_low, ci_high, n``."""
    return pd.DataFrame({**{name: [row[i] for row in labels] for i, name in enumerate(label_names)},
                         "mean": mean, "ci_low": ci_low, "ci_high": ci_high, "n": n})


def _summary_columns(metrics: dict[str, np.ndarray], ks: tuple[int, ...]) -> list[Column]:
    return [((name, k), metrics[f"{name}@{k}"]) for name in [*m.RANKING_METRICS, "congestion"] for k in ks
            if f"{name}@{k}" in metrics]


def _catalogue_rows(ranked: np.ndarray, split: Split, ks: tuple[int, ...]) -> list[tuple[tuple[str, int], float]]:
    """Coverage and Gini per cut-off: one value for the whole catalogue, no interval."""
    eligible, n_jobs = split.jobs_active_during_test(), split.train.n_jobs
    return [((name, k), value) for k in ks
            for name, value in (("coverage", m.catalogue_coverage(ranked, n_jobs, k, eligible)),
                                ("gini", m.exposure_gini(ranked, n_jobs, k, eligible)))]


def _slice_columns(per_seeker: pd.DataFrame, metrics: dict[str, np.ndarray], ranked: np.ndarray, hits: np.ndarray,
                   split: Split, ks: tuple[int, ...], slice_metrics: Sequence[str]) -> list[Column]:
    """Seeker slices (groups, districts, warm/cold) mask seekers; job slices restrict relevance."""
    if not slice_metrics:
        return []
    seeker_slices: list[tuple[str, str, np.ndarray]] = [
        ("group", label, per_seeker[column].to_numpy(dtype=bool)) for column, label in GROUP_LABELS.items()
        if column in per_seeker.columns]
    if "district" in per_seeker.columns:
        district_code, districts = pd.factorize(per_seeker["district"], sort=True)
        seeker_slices += [("district", district, district_code == code) for code, district in enumerate(districts)]
    is_cold = per_seeker["is_cold"].to_numpy(dtype=bool)
    seeker_slices += [("seeker", "warm", ~is_cold), ("seeker", "cold", is_cold)]
    columns = [((kind, value, name, k), np.where(inside, metrics[f"{name}@{k}"], np.nan))
               for kind, value, inside in seeker_slices for name in slice_metrics for k in ks]
    # Restricting relevance to old (new) jobs keeps exactly the hits on old (new) jobs; per query, then
    # averaged over the seeker's queries that have such a relevant job.
    ranked_is_new = split.job_is_new[ranked]  # padding (-1) is never a hit, whatever it indexes here
    relevant = split.query_relevant
    n_relevant = np.diff(relevant.indptr)
    n_relevant_new = np.bincount(np.repeat(np.arange(split.n_queries), n_relevant)[split.job_is_new[relevant.indices]],
                                 minlength=split.n_queries)
    for value, job_hits, n_job_relevant in (("old", hits & ~ranked_is_new, n_relevant - n_relevant_new),
                                            ("new", hits & ranked_is_new, n_relevant_new)):
        for column, values in m.metrics_from_hits(job_hits, n_job_relevant, ks, slice_metrics).items():
            name, k = column.split("@")
            columns.append((("job", value, name, int(k)), _seeker_means(split, values)))
    return columns
def _with_fraction(summary: pd.DataFrame, reference: EvaluationResult, column: str) -> pd.DataFrame:
    """``summary`` with ``column`` = ``mean / reference mean`` per metric and cut-off (``NaN`` where the
    reference mean is not positive)."""
    means = reference.summary.set_index(["metric", "k"])["mean"]
    keys = pd.MultiIndex.from_frame(summary[["metric", "k"]])
    reference_mean = means.reindex(keys).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = summary["mean"].to_numpy() / reference_mean
    return summary.assign(**{column: np.where(reference_mean > 0, fraction, np.nan)})
