"""Full-catalogue evaluation of a fitted model on a :class:`~recsys.evaluation.splits.Split`.

Each test seeker's list ranks *every* candidate job (active at the seeker's test time, not already
applied to). Seekers are taken in test-time order, ``batch_size`` at a time; each batch is scored
against the jobs active at some of its test times only (a
:class:`~recsys.models.base.CandidateBlock`), masked and partially sorted, so memory stays within
``batch_size x n_jobs`` floats. No sampled negatives. Metrics come from one hit matrix; all
intervals from one joint bootstrap over seekers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data.dataset import Dataset
from recsys.data.schema import SEEKER_GROUPS
from recsys.evaluation import metrics as m
from recsys.evaluation.significance import (
    DEFAULT_RESAMPLES,
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
        bootstrap over seekers; catalogue metrics ``coverage`` and ``gini`` have no interval), plus
        ``of_oracle`` = ``mean / oracle mean`` when an oracle was given.
    per_seeker
        One row per test seeker: ids, group flags, district, ``is_cold``, ``popularity_fallback``
        (served by the popularity fallback because the model cannot score it), relevant counts and
        one column per metric (``hr@10``, ``ndcg@5``, ``congestion@20``, ...).
    slices
        ``slice, value, metric, k, mean, ci_low, ci_high, n`` for seeker groups, districts, warm vs
        cold seekers and old vs new jobs. For ``slice == "job"``, relevance is restricted to old
        (``value="old"``) or new jobs, and only seekers with such a relevant job count.
    recommendations
        ``(n_test, max(ks))`` recommended job rows, ``-1`` padded, in split position order.
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

    def value(self, metric: str, k: int) -> float:
        """Mean of ``metric@k`` from the summary."""
        row = self.summary.loc[(self.summary["metric"] == metric) & (self.summary["k"] == k)]
        if row.empty:
            raise KeyError(f"no {metric}@{k} in this result (ks={self.ks})")
        return float(row["mean"].iloc[0])


def oversubscribed_jobs(train: Dataset) -> np.ndarray:
    """Jobs already over-subscribed: distinct seekers who applied in training ``>= vacancies``."""
    return applicants_per_job(train) >= train.jobs["vacancies"].to_numpy()


def evaluate(model: Recommender, split: Split, ks: Sequence[int] = (5, 10, 20), *, truth: Any = None,
             oracle: EvaluationResult | None = None, cold_seekers: ColdRule = "popular",
             batch_size: int = 512, slice_metrics: Sequence[str] = ("hr", "ndcg"),
             n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0, name: str | None = None) -> EvaluationResult:
    """Rank all candidates for every test seeker of ``split`` and compute metrics, intervals and slices.

    Parameters
    ----------
    model
        A recommender fitted on ``split.train`` (checked: fitting on other interactions raises).
        Models with ``set_test_times`` (the :class:`~recsys.evaluation.oracle.Oracle`) get the split's
        test times first.
    ks
        Cut-offs.
    truth, oracle
        Give ``truth`` (a ``GroundTruth`` or data directory) to also evaluate the oracle on this split,
        or a precomputed oracle ``EvaluationResult``; the summary then has ``of_oracle``.
    cold_seekers
        Seekers the model cannot serve: ``"popular"`` (default) ranks them by training popularity
        and flags them in ``per_seeker.popularity_fallback``; ``"raise"`` refuses.
    batch_size
        Seekers per scoring chunk.
    slice_metrics
        Metrics reported per slice (all cut-offs).
    n_resamples, seed
        Bootstrap resamples and seed of every interval (``n_resamples=0``: no intervals, ``NaN``).
    """
    ks = _check_ks(ks)
    unknown = set(slice_metrics) - set(m.RANKING_METRICS)
    if unknown:
        raise ValueError(f"slice_metrics: unknown metric(s) {sorted(unknown)}; known: {list(m.RANKING_METRICS)}")
    _check_fitted_on(model, split)
    if split.n_test == 0:
        raise ValueError(f"split {split.name!r} has no test seekers")
    if hasattr(model, "set_test_times"):
        model.set_test_times(split.seeker_rows, split.test_time)
    # Batches of seekers with close test times share most active jobs, so each scores fewer columns.
    by_time = np.argsort(split.test_time, kind="stable")
    ranked = np.empty((split.n_test, max(ks)), dtype=np.int64)
    # Candidates already exclude training applications (model.seen_ equals them: checked above).
    ranked[by_time], _ = model.recommend_rows(
        split.seeker_rows[by_time], max(ks), candidate_mask=lambda rows: split.candidate_block(split.positions(rows)),
        exclude_seen=False, cold_seekers=cold_seekers, batch_size=batch_size)
    fallback = model.unsupported_seekers(split.seeker_rows)
    hits = m.hit_matrix(ranked, split.relevant)
    per_seeker, metrics = _per_seeker_frame(split, ranked, hits, ks, fallback)
    summary_columns = _summary_columns(metrics, ks)
    slice_columns = _slice_columns(per_seeker, metrics, ranked, hits, split, ks, slice_metrics)
    # One joint bootstrap: every interval, summary and slices, uses the same resamples of seekers.
    stats = _interval_stats([values for _, values in summary_columns + slice_columns], n_resamples, seed)
    n_summary = len(summary_columns)
    catalogue = _catalogue_rows(ranked, split, ks)
    no_interval = np.full(len(catalogue), np.nan)
    summary = _table(["metric", "k"], [labels for labels, _ in summary_columns + catalogue],
                     np.concatenate([stats["mean"][:n_summary], [value for _, value in catalogue]]),
                     np.concatenate([stats["ci_low"][:n_summary], no_interval]),
                     np.concatenate([stats["ci_high"][:n_summary], no_interval]),
                     np.concatenate([stats["n"][:n_summary], np.full(len(catalogue), split.n_test)]))
    slices = _table(SLICE_COLUMNS[:4], [labels for labels, _ in slice_columns],
                    *(stats[name][n_summary:] for name in ("mean", "ci_low", "ci_high", "n"))) \
        if slice_columns else pd.DataFrame(columns=SLICE_COLUMNS)
    result = EvaluationResult(name or type(model).__name__, split.name, ks, summary, per_seeker, slices,
                              ranked, dict(model.get_params(deep=False)), split.describe())
    if truth is not None and oracle is None:
        from recsys.evaluation.oracle import Oracle

        oracle = evaluate(Oracle(truth).fit(split.train), split, ks, batch_size=batch_size,
                          slice_metrics=(), n_resamples=n_resamples, seed=seed)
    if oracle is not None:
        if not np.array_equal(oracle.per_seeker["seeker_id"].to_numpy(), per_seeker["seeker_id"].to_numpy()):
            raise ValueError(f"the oracle result is not on the test seekers of split {split.name!r}")
        result.summary = _with_oracle_fraction(result.summary, oracle)
    return result


def compare(results: Mapping[str, EvaluationResult], reference: str | None = None, metric: str = "hr@10", *,
            test: str = "t", confidence: float = 0.95, n_resamples: int = DEFAULT_RESAMPLES,
            seed: int = 0) -> pd.DataFrame:
    """Paired comparison of several models to a reference on one per-seeker metric.

    For each model other than ``reference`` (default: the first): the mean difference
    ``model - reference`` over the seekers where both are defined, its paired bootstrap interval,
    Cohen's d_z, a paired test (``"t"`` or ``"randomization"``) and Holm-adjusted p-values over the
    models compared. All results must come from the same split (same test seekers).
    """
    if len(results) < 2:
        raise ValueError("compare needs at least two results")
    names = list(results)
    reference = names[0] if reference is None else reference
    if reference not in results:
        raise ValueError(f"reference {reference!r} is not one of {names}")
    base = results[reference].per_seeker
    if metric not in base.columns:
        raise ValueError(f"unknown metric {metric!r}; per-seeker metrics are e.g. 'hr@10', 'ndcg@5'")
    rows = []
    for name in names:
        if name == reference:
            continue
        frame = results[name].per_seeker
        if not np.array_equal(frame["seeker_id"].to_numpy(), base["seeker_id"].to_numpy()):
            raise ValueError(f"results {name!r} and {reference!r} are not on the same test seekers (same split?)")
        values, ref = frame[metric].to_numpy(dtype=float), base[metric].to_numpy(dtype=float)
        both = ~np.isnan(values) & ~np.isnan(ref)
        values, ref = values[both], ref[both]
        low, high = paired_bootstrap_ci(values, ref, confidence=confidence, n_resamples=n_resamples, seed=seed)
        effect = paired_effect_size(values, ref)
        rows.append({"model": name, "reference": reference, "metric": metric, "mean": values.mean(),
                     "reference_mean": ref.mean(), "difference": effect.mean_difference, "ci_low": low,
                     "ci_high": high, "cohens_d": effect.cohens_d,
                     "p_value": paired_test(values, ref, method=test, seed=seed), "n": int(both.sum())})
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_value"].to_numpy())
    return table


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


def _per_seeker_frame(split: Split, ranked: np.ndarray, hits: np.ndarray, ks: tuple[int, ...],
                      fallback: np.ndarray) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The per-seeker table and its metric columns (``"hr@10"`` -> values) as arrays."""
    seekers = split.train.seekers
    n_relevant = np.diff(split.relevant.indptr)
    relevant_row = np.repeat(np.arange(split.n_test), n_relevant)
    n_relevant_new = np.bincount(relevant_row[split.job_is_new[split.relevant.indices]],
                                 minlength=split.n_test).astype(n_relevant.dtype)
    metrics = m.metrics_from_hits(hits, n_relevant, ks)
    if "vacancies" in split.train.jobs.columns:  # congestion needs vacancies; without them it is not defined
        # oversubscribed_jobs(split.train), with applicants counted once per split
        vacancies = split.train.jobs["vacancies"].to_numpy(dtype=float, na_value=np.inf)
        oversubscribed = split.train_applicants >= vacancies
        metrics.update({f"congestion@{k}": m.congestion_share(ranked, oversubscribed, k) for k in ks})
    # optional seeker columns: slices exist only for the ones the data has
    district = (seekers["district"].take(split.seeker_rows).reset_index(drop=True)
                if "district" in seekers.columns else None)
    groups = {group: seekers[group].fillna(False).to_numpy(dtype=bool)[split.seeker_rows]
              for group in SEEKER_GROUPS if group in seekers.columns}
    frame = pd.DataFrame({
        # Series.take keeps pandas' string arrays (converting object arrays back is slow)
        "seeker_id": seekers["seeker_id"].take(split.seeker_rows).reset_index(drop=True),
        "test_time": split.test_time,
        **({} if district is None else {"district": district}),
        **groups,
        "is_cold": split.seeker_is_cold, "popularity_fallback": fallback,
        "n_relevant": n_relevant, "n_relevant_new": n_relevant_new, **metrics,
    })
    return frame, metrics


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
    # Restricting relevance to old (new) jobs keeps exactly the hits on old (new) jobs.
    ranked_is_new = split.job_is_new[ranked]  # padding (-1) is never a hit, whatever it indexes here
    n_relevant, n_relevant_new = per_seeker["n_relevant"].to_numpy(), per_seeker["n_relevant_new"].to_numpy()
    for value, job_hits, n_job_relevant in (("old", hits & ~ranked_is_new, n_relevant - n_relevant_new),
                                            ("new", hits & ranked_is_new, n_relevant_new)):
        for column, values in m.metrics_from_hits(job_hits, n_job_relevant, ks, slice_metrics).items():
            name, k = column.split("@")
            columns.append((("job", value, name, int(k)), values))
    return columns
def _with_oracle_fraction(summary: pd.DataFrame, oracle: EvaluationResult) -> pd.DataFrame:
    reference = oracle.summary.set_index(["metric", "k"])["mean"]
    keys = pd.MultiIndex.from_frame(summary[["metric", "k"]])
    oracle_mean = reference.reindex(keys).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = summary["mean"].to_numpy() / oracle_mean
    return summary.assign(of_oracle=np.where(oracle_mean > 0, fraction, np.nan))
